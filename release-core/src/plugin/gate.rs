//! Gates: may a release enter (or leave) an environment now? Every verdict carries
//! structured reasons a person can read.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::id::{EnvironmentName, PersonId, PhaseName};
use crate::ledger::Record;
use crate::model::{GateSpec, Platform, Release};

/// Whether a gate guards the way into a phase or out of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatePosition {
    /// Evaluated before the phase's first environment is deployed.
    Entry,
    /// Evaluated after the phase's last environment is deployed.
    Exit,
}

/// One reason behind a verdict.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reason {
    /// A stable code hosts can match (`approval.missing`, `window.closed`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

impl Reason {
    /// A reason with a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// A gate's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum GateVerdict {
    /// Go on.
    Pass {
        /// Why.
        reasons: Vec<Reason>,
    },
    /// Stop: the release may not proceed.
    Fail {
        /// Why.
        reasons: Vec<Reason>,
    },
    /// Not yet: wait for a time or for a person.
    Wait {
        /// When to ask again; `None` means until an operator acts.
        until: Option<DateTime<Utc>>,
        /// Why.
        reasons: Vec<Reason>,
    },
}

impl GateVerdict {
    /// The reasons, whatever the verdict.
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Self::Pass { reasons } | Self::Fail { reasons } | Self::Wait { reasons, .. } => reasons,
        }
    }

    /// True for [`GateVerdict::Pass`].
    pub fn passed(&self) -> bool {
        matches!(self, Self::Pass { .. })
    }
}

/// What a gate is asked about.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GateContext {
    /// The platform.
    pub platform: Arc<Platform>,
    /// The release.
    pub release: Arc<Release>,
    /// The environment being entered or left.
    pub environment: EnvironmentName,
    /// Its lifecycle phase.
    pub phase: PhaseName,
    /// Entry or exit.
    pub position: GatePosition,
    /// The gate as written in the manifest.
    pub spec: GateSpec,
    /// The time of evaluation (from the engine's clock).
    pub now: DateTime<Utc>,
    /// Who started the release.
    pub started_by: Option<PersonId>,
    /// The release's journal so far: approvals, sign-offs and evidence are events in it.
    pub events: Arc<[Record]>,
}

impl GateContext {
    /// A context for evaluating `spec` at `now` (hosts and tests build these; the engine fills
    /// the journal and who started the release).
    pub fn new(
        platform: Arc<Platform>,
        release: Arc<Release>,
        environment: EnvironmentName,
        phase: PhaseName,
        position: GatePosition,
        spec: GateSpec,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            platform,
            release,
            environment,
            phase,
            position,
            spec,
            now,
            started_by: None,
            events: Arc::from(Vec::new()),
        }
    }

    /// Sets the journal the gate reads evidence from.
    pub fn with_events(mut self, events: impl Into<Arc<[Record]>>) -> Self {
        self.events = events.into();
        self
    }

    /// Sets who started the release.
    pub fn with_started_by(mut self, person: Option<PersonId>) -> Self {
        self.started_by = person;
        self
    }
}

/// A promotion gate.
#[async_trait]
pub trait Gate: Send + Sync {
    /// Evaluates the gate. The same context must give the same verdict.
    async fn evaluate(&self, context: &GateContext) -> Result<GateVerdict>;
}

fn _assert_object_safe(_: &dyn Gate) {}

/// The name a gate spec is registered under (`approval`, `window`, or a custom name).
pub fn gate_name(spec: &GateSpec) -> &str {
    match spec {
        GateSpec::SignOff { .. } => "sign_off",
        GateSpec::Approval { .. } => "approval",
        GateSpec::Window {} => "window",
        GateSpec::Junit { .. } => "junit",
        GateSpec::Sarif { .. } => "sarif",
        GateSpec::ChangeRequest {} => "change_request",
        GateSpec::ConfigBaseline {} => "config_baseline",
        GateSpec::BackupVerified { .. } => "backup_verified",
        GateSpec::RunbookAck { .. } => "runbook_ack",
        GateSpec::MigrationRehearsal { .. } => "migration_rehearsal",
        GateSpec::Analysis { .. } => "analysis",
        GateSpec::RcaClosed {} => "rca_closed",
        GateSpec::Custom { name, .. } => name,
    }
}
