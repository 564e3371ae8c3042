//! Errors of reading manifests: every one names the file, line and column, and how to fix it.

use std::fmt;

use super::Location;

/// What went wrong reading a manifest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file could not be read.
    #[error("{file}: cannot read the manifest: {source}; check the path and its permissions")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file's extension says neither YAML nor TOML.
    #[error("{file}: unknown manifest format; name the file `.yaml`, `.yml` or `.toml`")]
    UnknownFormat {
        /// The file.
        file: String,
    },
    /// The file holds no document.
    #[error(
        "{file}:1:1: the file holds no manifest document; add a `Platform` or `Release` document"
    )]
    Empty {
        /// The file.
        file: String,
    },
    /// The text is not well-formed YAML or TOML.
    #[error("{location}: {format} syntax error: {message}")]
    Syntax {
        /// Where.
        location: Location,
        /// `YAML` or `TOML`.
        format: Format,
        /// What the parser said.
        message: String,
    },
    /// A document lacks `apiVersion` or `kind`.
    #[error(
        "{location}: the document has no `{field}`; start it with `apiVersion: release/v1` and `kind: Platform` or `kind: Release`"
    )]
    MissingHeader {
        /// Where the document starts.
        location: Location,
        /// `apiVersion` or `kind`.
        field: &'static str,
    },
    /// `apiVersion` names a version this library does not read.
    #[error("{location}: apiVersion `{found}` is not supported; write `apiVersion: release/v1`")]
    UnsupportedApiVersion {
        /// Where.
        location: Location,
        /// What was written.
        found: String,
    },
    /// `kind` is neither `Platform` nor `Release`.
    #[error(
        "{location}: unknown document kind `{found}`; write `kind: Platform` or `kind: Release`"
    )]
    UnknownKind {
        /// Where.
        location: Location,
        /// What was written.
        found: String,
    },
    /// A field is unknown, missing or of the wrong type.
    #[error("{location}: {message}{}{fix}", if fix.is_empty() { "" } else { "; " })]
    Invalid {
        /// Where.
        location: Location,
        /// What the deserializer said.
        message: String,
        /// How to fix it.
        fix: &'static str,
    },
}

impl ManifestError {
    /// The location the error points at, when it has one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Syntax { location, .. }
            | Self::MissingHeader { location, .. }
            | Self::UnsupportedApiVersion { location, .. }
            | Self::UnknownKind { location, .. }
            | Self::Invalid { location, .. } => Some(location),
            Self::Read { .. } | Self::UnknownFormat { .. } | Self::Empty { .. } => None,
        }
    }
}

/// The format of a manifest file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML, possibly several documents separated by `---`.
    Yaml,
    /// TOML, one document per file.
    Toml,
}

impl Format {
    /// The format a file name's extension says, if any.
    pub fn from_path(path: &str) -> Option<Self> {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match ext.as_str() {
            "yaml" | "yml" => Some(Self::Yaml),
            "toml" => Some(Self::Toml),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yaml => "YAML",
            Self::Toml => "TOML",
        })
    }
}

/// The fix offered for a deserialization error, from what the message says. Messages of
/// this crate's own value types already say what to write; they get no second fix.
pub(crate) fn fix_for(message: &str) -> &'static str {
    if message.contains("unknown field") {
        "remove the field or correct its spelling (`releasectl schema` lists every field)"
    } else if message.contains("missing field") {
        "add the field (`releasectl schema` lists the required ones)"
    } else if message.contains("unknown variant") {
        "use one of the values listed"
    } else if message.contains("version number") || message.contains("semver") {
        "write a semantic version such as `1.4.2`"
    } else if message.contains("input contains invalid characters")
        || message.contains("premature end of input")
        || message.contains("trailing input")
        || message.contains("input is out of range")
        || message.contains("input is not enough")
    {
        "write an RFC 3339 timestamp with an offset, such as `2026-12-01T09:30:00+01:00`"
    } else if message.contains("write ") {
        ""
    } else {
        "correct the value to the type `releasectl schema` gives for this field"
    }
}
