//! The result of rehearsing a migration set on a clone (M4.5): evidence tied to the set's
//! digest.
//!
//! A [`Migrator`](crate::plugin::Migrator) clones the environment's database, applies the up
//! migrations, runs the integrity checks (referential integrity always, then the declared
//! [`DataCheck`](crate::model::DataCheck)s), applies the down migrations, compares the schema
//! and data digest with the original's, and drops the clone. The [`RehearsalReport`] it
//! returns is recorded as an `EvidenceRecorded` event of kind [`REHEARSAL_EVIDENCE_KIND`]
//! (with the environment whose database was cloned); the `migration_rehearsal` gate of
//! release-gates requires a passing one for exactly the digest the release pins.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::id::{ComponentId, EnvironmentName};
use crate::ledger::Event;

/// The `kind` of the evidence a rehearsal is recorded as.
pub const REHEARSAL_EVIDENCE_KIND: &str = "migration_rehearsal";

/// One check of a rehearsal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckOutcome {
    /// The check (`up`, `foreign_keys`, `row_count(orders)`, `down`, `restores_original`…).
    pub name: String,
    /// True when it passed.
    pub passed: bool,
    /// What was found.
    pub message: String,
}

impl CheckOutcome {
    /// A passed check.
    pub fn pass(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            passed: true,
            message: message.into(),
        }
    }

    /// A failed check.
    pub fn fail(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            passed: false,
            message: message.into(),
        }
    }
}

/// What a rehearsal on a clone found, tied to the set's digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RehearsalReport {
    /// The component whose migrations were rehearsed.
    pub component: ComponentId,
    /// The environment whose database was cloned.
    pub environment: EnvironmentName,
    /// The database (resource id).
    pub resource: String,
    /// The digest of the migration set rehearsed.
    pub set_digest: Sha256Digest,
    /// The versions the up pass applied, in order.
    pub applied: Vec<u64>,
    /// Schema and data digest of the clone before the up pass.
    pub original_digest: Sha256Digest,
    /// The same digest after the down pass (`None` when the rehearsal did not get there).
    pub restored_digest: Option<Sha256Digest>,
    /// Every check, in the order run.
    pub checks: Vec<CheckOutcome>,
    /// When the rehearsal ran.
    pub rehearsed_at: DateTime<Utc>,
}

impl RehearsalReport {
    /// A report with no checks yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        component: ComponentId,
        environment: EnvironmentName,
        resource: impl Into<String>,
        set_digest: Sha256Digest,
        original_digest: Sha256Digest,
        rehearsed_at: DateTime<Utc>,
    ) -> Self {
        Self {
            component,
            environment,
            resource: resource.into(),
            set_digest,
            applied: Vec::new(),
            original_digest,
            restored_digest: None,
            checks: Vec::new(),
            rehearsed_at,
        }
    }

    /// True when every check passed and the down pass restored the original digest.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty()
            && self.checks.iter().all(|c| c.passed)
            && self.restored_digest == Some(self.original_digest)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckOutcome> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// The check with this name.
    pub fn check(&self, name: &str) -> Option<&CheckOutcome> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The `EvidenceRecorded` event that records it, for the cloned environment.
    pub fn evidence(&self) -> Event {
        Event::EvidenceRecorded {
            kind: REHEARSAL_EVIDENCE_KIND.to_owned(),
            environment: Some(self.environment.clone()),
            // A struct of strings, numbers and digests always serializes.
            payload: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Reads a report back from an evidence payload.
    pub fn from_evidence(payload: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(payload.clone()).ok()
    }
}
