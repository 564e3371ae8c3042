//! Reading manifests: YAML (serde-saphyr) and TOML into one model, with every error at
//! `file:line:column`.
//!
//! A YAML file may hold several documents separated by `---` lines; a TOML file holds one.
//! Each document starts with `apiVersion: release/v1` and `kind: Platform` or `kind: Release`.
//! Unknown fields are rejected. Every document keeps a [`DocumentSource`] so that validation
//! can report a violation at the line that causes it.
//!
//! Decision: documents are split at lines that start with `---` (or `...`) in column 1. Inside
//! a YAML block scalar such a line would have to be indented, so this never cuts a value.

mod error;
mod source;
mod toml_doc;
mod yaml_doc;

use std::path::Path;
use std::sync::Arc;

pub use error::{Format, ManifestError};
pub use source::{DocumentSource, Location, escape_segment};

use crate::model::{Platform, Release};

/// A document read from a file, with where it came from.
#[derive(Clone, Debug)]
pub struct Sourced<T> {
    /// The document.
    pub value: T,
    /// Where its parts sit in the file.
    pub source: Arc<DocumentSource>,
}

impl<T> Sourced<T> {
    /// A document built in code: locations point at `<code>:1:1`.
    pub fn in_code(value: T) -> Self {
        Self {
            value,
            source: Arc::new(DocumentSource::new("<code>".into())),
        }
    }
}

/// One document of a manifest file.
#[derive(Clone, Debug)]
pub enum Document {
    /// A `kind: Platform` document.
    Platform(Sourced<Platform>),
    /// A `kind: Release` document.
    Release(Sourced<Release>),
}

/// All documents read from one or more files.
#[derive(Clone, Debug, Default)]
pub struct ManifestSet {
    /// Platform documents, in reading order.
    pub platforms: Vec<Sourced<Platform>>,
    /// Release documents, in reading order.
    pub releases: Vec<Sourced<Release>>,
}

impl ManifestSet {
    /// Adds documents.
    pub fn extend(&mut self, docs: impl IntoIterator<Item = Document>) {
        for doc in docs {
            match doc {
                Document::Platform(p) => self.platforms.push(p),
                Document::Release(r) => self.releases.push(r),
            }
        }
    }

    /// The platform a release names in its `platform` field.
    pub fn platform_for(&self, release: &Release) -> Option<&Sourced<Platform>> {
        self.platforms
            .iter()
            .find(|p| p.value.metadata.name == release.platform)
    }

    /// Reads several files; returns every error of every file when any fails.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Self, Vec<ManifestError>> {
        let mut set = Self::default();
        let mut errors = Vec::new();
        for path in paths {
            match load_file(path.as_ref()) {
                Ok(docs) => set.extend(docs),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }
}

/// Reads one file; the format comes from its extension.
pub fn load_file(path: &Path) -> Result<Vec<Document>, Vec<ManifestError>> {
    let name = path.display().to_string();
    let format = Format::from_path(&name)
        .ok_or_else(|| vec![ManifestError::UnknownFormat { file: name.clone() }])?;
    let text = std::fs::read_to_string(path).map_err(|source| {
        vec![ManifestError::Read {
            file: name.clone(),
            source,
        }]
    })?;
    parse_str(&text, &name, format)
}

/// Parses manifest text; `file` names it in errors. Returns the first error of every
/// document that has one.
pub fn parse_str(
    text: &str,
    file: &str,
    format: Format,
) -> Result<Vec<Document>, Vec<ManifestError>> {
    let file: Arc<str> = file.into();
    let results = match format {
        Format::Yaml => yaml_doc::parse(text, &file),
        Format::Toml => vec![toml_doc::parse(text, &file)],
    };
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(d) => docs.push(d),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if docs.is_empty() {
        return Err(vec![ManifestError::Empty {
            file: file.to_string(),
        }]);
    }
    Ok(docs)
}

/// The document kind, decided from the header before the typed parse.
pub(crate) enum Kind {
    Platform,
    Release,
}

/// Checks `apiVersion` and `kind` (values and their locations as found in the document).
pub(crate) fn check_header(
    source: &DocumentSource,
    api_version: Option<&str>,
    kind: Option<&str>,
) -> Result<Kind, ManifestError> {
    let api = api_version.ok_or_else(|| ManifestError::MissingHeader {
        location: source.start(),
        field: "apiVersion",
    })?;
    if api != "release/v1" {
        return Err(ManifestError::UnsupportedApiVersion {
            location: source.locate("/apiVersion"),
            found: api.to_owned(),
        });
    }
    match kind {
        None => Err(ManifestError::MissingHeader {
            location: source.start(),
            field: "kind",
        }),
        Some("Platform") => Ok(Kind::Platform),
        Some("Release") => Ok(Kind::Release),
        Some(other) => Err(ManifestError::UnknownKind {
            location: source.locate("/kind"),
            found: other.to_owned(),
        }),
    }
}

/// The JSON Schema of a manifest document (either kind), generated with schemars.
pub fn json_schema() -> serde_json::Value {
    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    #[serde(untagged)]
    /// A release manifest document: a `Platform` or a `Release`.
    enum ManifestDocument {
        Platform(Platform),
        Release(Release),
    }
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<ManifestDocument>();
    serde_json::to_value(schema).unwrap_or(serde_json::Value::Null)
}
