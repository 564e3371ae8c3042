//! Licence policy (M3.4): each component's SPDX expression evaluated by the `spdx` crate
//! against allow and deny lists.
//!
//! Decisions:
//! - List entries are licence ids (`MIT`) or an id with an exception
//!   (`GPL-2.0-only WITH Classpath-exception-2.0`). A term is acceptable when its exact text
//!   is allowed, or its licence id is allowed and neither the term nor the id is denied
//!   (an exception only adds permissions, so an allowed licence stays allowed with one).
//! - `OR` needs one acceptable side, `AND` both. A failing expression is `Denied` when a
//!   failing term is on the deny list and `Unknown` (needs review) when it is merely unlisted;
//!   no licence at all is `Missing`, a broken expression `Unparseable`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use spdx::{Expression, LicenseReq};

use super::sbom::Sbom;

/// Allowed and denied licences.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct LicencePolicy {
    /// Acceptable licences.
    pub allow: BTreeSet<String>,
    /// Refused licences.
    pub deny: BTreeSet<String>,
}

/// The verdict on one expression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
#[non_exhaustive]
pub enum LicenceVerdict {
    /// Acceptable.
    Allowed,
    /// A required term is denied.
    Denied {
        /// The failing terms.
        terms: Vec<String>,
    },
    /// A required term is on neither list.
    Unknown {
        /// The unlisted terms.
        terms: Vec<String>,
    },
    /// No licence declared.
    Missing,
    /// Not an SPDX expression.
    Unparseable {
        /// The parser's message.
        problem: String,
    },
}

impl LicenceVerdict {
    /// True for [`LicenceVerdict::Allowed`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// The verdict on one component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LicenceFinding {
    /// The component.
    pub component: String,
    /// Its version.
    pub version: Option<String>,
    /// Its expression.
    pub expression: Option<String>,
    /// The verdict.
    pub verdict: LicenceVerdict,
}

/// Every component's verdict, sorted by component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LicenceReport {
    /// One per component.
    pub findings: Vec<LicenceFinding>,
}

impl LicenceReport {
    /// True when every component is allowed.
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.verdict.is_allowed())
    }

    /// The components that are not allowed.
    pub fn violations(&self) -> impl Iterator<Item = &LicenceFinding> {
        self.findings.iter().filter(|f| !f.verdict.is_allowed())
    }
}

#[derive(PartialEq)]
enum Term {
    Allowed,
    Denied,
    Unlisted,
}

impl LicencePolicy {
    /// A policy from two lists.
    pub fn new<A: Into<String>, D: Into<String>>(
        allow: impl IntoIterator<Item = A>,
        deny: impl IntoIterator<Item = D>,
    ) -> Self {
        Self {
            allow: allow.into_iter().map(Into::into).collect(),
            deny: deny.into_iter().map(Into::into).collect(),
        }
    }

    fn term(&self, req: &LicenseReq) -> Term {
        let full = req.to_string();
        let id = req.license.to_string();
        if self.allow.contains(&full) {
            Term::Allowed
        } else if self.deny.contains(&full) || self.deny.contains(&id) {
            Term::Denied
        } else if self.allow.contains(&id) {
            Term::Allowed
        } else {
            Term::Unlisted
        }
    }

    /// Evaluates one SPDX expression.
    pub fn evaluate(&self, expression: Option<&str>) -> LicenceVerdict {
        let Some(text) = expression.map(str::trim).filter(|t| !t.is_empty()) else {
            return LicenceVerdict::Missing;
        };
        let parsed =
            Expression::parse(text).or_else(|_| Expression::parse_mode(text, spdx::ParseMode::LAX));
        let expr = match parsed {
            Ok(e) => e,
            Err(e) => {
                return LicenceVerdict::Unparseable {
                    problem: e.to_string(),
                };
            }
        };
        match expr.evaluate_with_failures(|req| self.term(req) == Term::Allowed) {
            Ok(()) => LicenceVerdict::Allowed,
            Err(failed) => {
                let denied: Vec<String> = failed
                    .iter()
                    .filter(|r| self.term(&r.req) == Term::Denied)
                    .map(|r| r.req.to_string())
                    .collect();
                if denied.is_empty() {
                    LicenceVerdict::Unknown {
                        terms: failed.iter().map(|r| r.req.to_string()).collect(),
                    }
                } else {
                    LicenceVerdict::Denied { terms: denied }
                }
            }
        }
    }

    /// Checks every component of an SBOM.
    pub fn check(&self, sbom: &Sbom) -> LicenceReport {
        LicenceReport {
            findings: sbom
                .components
                .iter()
                .map(|c| LicenceFinding {
                    component: c.name.clone(),
                    version: c.version.clone(),
                    expression: c.licence.clone(),
                    verdict: self.evaluate(c.licence.as_deref()),
                })
                .collect(),
        }
    }
}
