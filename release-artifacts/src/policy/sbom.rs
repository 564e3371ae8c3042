//! SBOMs: CycloneDX JSON and SPDX JSON read into one component list.
//!
//! Decisions:
//! - CycloneDX: a component's `expression` is taken as is; several `license` entries are
//!   joined with `AND` (each must be acceptable — the conservative reading); a licence given
//!   only by `name` is kept as `LicenseRef-<name>` so it is never mistaken for an SPDX id.
//!   Nested components are included.
//! - SPDX: `licenseConcluded`, else `licenseDeclared`; `NOASSERTION` and `NONE` count as no
//!   licence.

use serde_json::Value;

use crate::error::{ArtifactError, Result};

/// Which SBOM format a file was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomFormat {
    /// CycloneDX JSON.
    CycloneDx,
    /// SPDX JSON.
    Spdx,
}

/// One component of an SBOM.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct SbomComponent {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: Option<String>,
    /// Its licence as an SPDX expression.
    pub licence: Option<String>,
    /// Its package URL.
    pub purl: Option<String>,
}

/// A parsed SBOM.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sbom {
    /// The format it was read from.
    pub format: SbomFormat,
    /// Components, sorted by name then version.
    pub components: Vec<SbomComponent>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn licence_ref(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("LicenseRef-{clean}")
}

fn cyclonedx_licence(component: &Value) -> Option<String> {
    let entries = component.get("licenses")?.as_array()?;
    let mut parts = Vec::new();
    for e in entries {
        if let Some(x) = text(e, "expression") {
            parts.push(x);
        } else if let Some(l) = e.get("license") {
            if let Some(id) = text(l, "id") {
                parts.push(id);
            } else if let Some(name) = text(l, "name") {
                parts.push(licence_ref(&name));
            }
        }
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(
            parts
                .iter()
                .map(|p| format!("({p})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

fn cyclonedx_components(list: &Value, out: &mut Vec<SbomComponent>) {
    for c in list.as_array().into_iter().flatten() {
        if let Some(name) = text(c, "name") {
            out.push(SbomComponent {
                name,
                version: text(c, "version"),
                licence: cyclonedx_licence(c),
                purl: text(c, "purl"),
            });
        }
        if let Some(nested) = c.get("components") {
            cyclonedx_components(nested, out);
        }
    }
}

impl Sbom {
    /// Reads a CycloneDX or SPDX JSON SBOM; `file` names it in errors.
    pub fn parse(file: &str, json: &[u8]) -> Result<Self> {
        let bad = |problem: String| ArtifactError::Parse {
            file: file.to_owned(),
            problem,
        };
        let doc: Value = serde_json::from_slice(json).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut components = Vec::new();
        let format = if doc.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
            if let Some(list) = doc.get("components") {
                cyclonedx_components(list, &mut components);
            }
            SbomFormat::CycloneDx
        } else if doc.get("spdxVersion").is_some() {
            for p in doc
                .get("packages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = text(p, "name") else {
                    continue;
                };
                let usable = |k: &str| text(p, k).filter(|l| l != "NOASSERTION" && l != "NONE");
                let purl = p
                    .get("externalRefs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find(|r| text(r, "referenceType").as_deref() == Some("purl"))
                    .and_then(|r| text(r, "referenceLocator"));
                components.push(SbomComponent {
                    name,
                    version: text(p, "versionInfo"),
                    licence: usable("licenseConcluded").or_else(|| usable("licenseDeclared")),
                    purl,
                });
            }
            SbomFormat::Spdx
        } else {
            return Err(bad(
                "neither CycloneDX (`bomFormat: CycloneDX`) nor SPDX (`spdxVersion`) JSON; export the SBOM in one of them"
                    .into(),
            ));
        };
        components.sort();
        Ok(Self { format, components })
    }
}
