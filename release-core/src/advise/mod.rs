//! Advisors that explain themselves: the release type (M1.3) and how changes are bundled
//! (M1.4). Each is a pure, deterministic function of the documents; its output serializes
//! with serde for tools and prints with `Display` for people, every recommendation with the
//! reasons that led to it.
//!
//! Advice never blocks anything: validation (`crate::validate`) enforces the rules, the
//! advisors only suggest. See each submodule for the policy it applies.

mod bundle;
mod kind;

use std::fmt;

use serde::Serialize;

pub use bundle::{Bundle, BundleLink, Bundling, DecoupleAdvice, LinkKind, bundle_changes};
pub use kind::{
    ReleaseKindAdvice, ReleaseKindInput, RiskTolerance, RollbackComplexity, recommend_release_kind,
};

/// One reason behind a recommendation: a stable code for tools and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Reason {
    /// Stable machine-readable code (`emergency-request`).
    pub code: &'static str,
    /// The reason, for people.
    pub message: String,
}

impl Reason {
    /// A reason with a code and a sentence.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}
