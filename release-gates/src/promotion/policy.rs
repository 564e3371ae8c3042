//! Policy as a pure function (`may_enter`), the gates' configuration and their registration
//! with the engine.
//!
//! Every gate has a pure core, `decide(&GateInput)`; its `Gate` impl builds the input from the
//! engine's `GateContext`. [`may_enter`] runs every entry gate of the environment's phase
//! (not stopping at the first) plus the lifecycle order, and returns all reasons. Every gate
//! registered by [`register`] honours break-glass overrides.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use release_core::engine::EngineBuilder;
use release_core::id::{EnvironmentName, PersonId, PhaseName, TeamName};
use release_core::ledger::Record;
use release_core::model::{GateSpec, Platform, Release};
use release_core::plugin::{Gate, GateContext, GatePosition, GateVerdict, Reason, gate_name};
use serde::{Deserialize, Serialize};

use super::GatesError;
use super::break_glass::{Overridable, active_override, apply_override};
use super::checks::{BackupVerifiedGate, ChangeRequestGate, ConfigBaselineGate, RunbookAckGate};
use super::junit::JunitGate;
use super::lifecycle::{LifecycleGate, may_enter_phase};
use super::load_test::LoadTestGate;
use super::people::{ApprovalGate, RoleDirectory, SignOffGate};
use super::rca::{RcaGate, rca_verdict};
use super::rehearsal::MigrationRehearsalGate;
use super::sarif::SarifGate;
use super::window::WindowGate;

/// What a gate decides on: the fields of core's `GateContext`, borrowed, so gates can be
/// evaluated outside the engine (core's `GateContext` cannot be built outside release-core).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct GateInput<'a> {
    /// The platform.
    pub platform: &'a Platform,
    /// The release.
    pub release: &'a Release,
    /// The environment entered or left.
    pub environment: &'a EnvironmentName,
    /// Its phase.
    pub phase: &'a PhaseName,
    /// Entry or exit.
    pub position: GatePosition,
    /// The gate as written.
    pub spec: &'a GateSpec,
    /// The time of evaluation.
    pub now: DateTime<Utc>,
    /// Who started the release (or asks to enter).
    pub started_by: Option<&'a PersonId>,
    /// The release's journal.
    pub events: &'a [Record],
}

impl<'a> GateInput<'a> {
    /// The input a context describes.
    pub fn from_context(context: &'a GateContext) -> Self {
        Self {
            platform: &context.platform,
            release: &context.release,
            environment: &context.environment,
            phase: &context.phase,
            position: context.position,
            spec: &context.spec,
            now: context.now,
            started_by: context.started_by.as_ref(),
            events: &context.events,
        }
    }
}

/// Implements `Gate` for a type with `decide(&self, &GateInput) -> Result<GateVerdict, GatesError>`.
macro_rules! gate_via_input {
    ($gate:ty, $name:literal) => {
        #[async_trait::async_trait]
        impl release_core::plugin::Gate for $gate {
            async fn evaluate(
                &self,
                context: &release_core::plugin::GateContext,
            ) -> release_core::Result<release_core::plugin::GateVerdict> {
                self.decide(&crate::promotion::policy::GateInput::from_context(context))
                    .map_err(|e| e.into_core($name))
            }
        }
    };
}
pub(crate) use gate_via_input;

/// Configuration of the promotion gates (serde; `Default` has empty directories).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GatesConfig {
    /// Who holds which roles (approvals, sign-offs).
    pub roles: RoleDirectory,
    /// Team → members (runbook acknowledgements).
    pub teams: BTreeMap<TeamName, BTreeSet<PersonId>>,
}

impl GatesConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives `person` the `role`.
    pub fn with_role(mut self, person: &str, role: &str) -> Self {
        self.roles = self.roles.with(person, role);
        self
    }

    /// Adds `person` to `team`.
    pub fn with_team_member(mut self, team: &str, person: &str) -> Self {
        self.teams
            .entry(TeamName::new(team))
            .or_default()
            .insert(PersonId::new(person));
        self
    }
}

/// Every gate of this module that needs no ledger, by its registered name (`rca_closed` is
/// added by [`register`]). `lifecycle` and `load_test` are custom gate names.
pub fn gates(config: &GatesConfig) -> BTreeMap<&'static str, Arc<dyn Gate>> {
    let mut out: BTreeMap<&'static str, Arc<dyn Gate>> = BTreeMap::new();
    out.insert("sign_off", Arc::new(SignOffGate::new(config.roles.clone())));
    out.insert(
        "approval",
        Arc::new(ApprovalGate::new(config.roles.clone())),
    );
    out.insert("window", Arc::new(WindowGate));
    out.insert("junit", Arc::new(JunitGate));
    out.insert("sarif", Arc::new(SarifGate));
    out.insert("change_request", Arc::new(ChangeRequestGate));
    out.insert("config_baseline", Arc::new(ConfigBaselineGate));
    out.insert("backup_verified", Arc::new(BackupVerifiedGate));
    out.insert(
        "runbook_ack",
        Arc::new(RunbookAckGate::new(config.teams.clone())),
    );
    out.insert("lifecycle", Arc::new(LifecycleGate));
    out.insert("load_test", Arc::new(LoadTestGate));
    out.insert("migration_rehearsal", Arc::new(MigrationRehearsalGate));
    out
}

/// Registers every gate under its core name, each honouring break-glass overrides. The
/// `rca_closed` gate reads other releases' journals from the ledger already set on `builder`
/// (set it first; without one that gate fails, saying so).
pub fn register(builder: EngineBuilder, config: &GatesConfig) -> EngineBuilder {
    let rca: Arc<dyn Gate> = Arc::new(match builder.ledger_handle() {
        Some(ledger) => RcaGate::new(ledger.clone()),
        None => RcaGate::without_ledger(),
    });
    let builder = builder.gate("rca_closed", Arc::new(Overridable::new(rca)));
    gates(config).into_iter().fold(builder, |b, (name, gate)| {
        b.gate(name, Arc::new(Overridable::new(gate)))
    })
}

/// Evaluates one gate spec on an input, with break-glass applied; errors become a failing
/// reason (a gate that cannot decide does not let a release through).
pub fn evaluate(config: &GatesConfig, input: &GateInput<'_>) -> GateVerdict {
    let name = gate_name(input.spec);
    let verdict: Result<GateVerdict, GatesError> = match input.spec {
        GateSpec::SignOff { .. } => SignOffGate::new(config.roles.clone()).decide(input),
        GateSpec::Approval { .. } => ApprovalGate::new(config.roles.clone()).decide(input),
        GateSpec::Window {} => WindowGate.decide(input),
        GateSpec::Junit { .. } => JunitGate.decide(input),
        GateSpec::Sarif { .. } => SarifGate.decide(input),
        GateSpec::ChangeRequest {} => ChangeRequestGate.decide(input),
        GateSpec::ConfigBaseline {} => ConfigBaselineGate.decide(input),
        GateSpec::BackupVerified { .. } => BackupVerifiedGate.decide(input),
        GateSpec::RunbookAck { .. } => RunbookAckGate::new(config.teams.clone()).decide(input),
        // Only this release's journal is at hand here; the registered gate reads the ledger.
        GateSpec::RcaClosed {} => Ok(rca_verdict(input.release, &[input.events.to_vec()])),
        GateSpec::MigrationRehearsal { .. } => MigrationRehearsalGate.decide(input),
        GateSpec::Custom { name, .. } if name == "lifecycle" => LifecycleGate.decide(input),
        GateSpec::Custom { name, .. } if name == "load_test" => LoadTestGate.decide(input),
        _ => Ok(GateVerdict::Fail {
            reasons: vec![Reason::new(
                "policy.unknown_gate",
                format!(
                    "gate `{name}` is not evaluated by release-gates' policy; evaluate it with its own plugin"
                ),
            )],
        }),
    };
    let verdict = verdict.unwrap_or_else(|e| GateVerdict::Fail {
        reasons: vec![Reason::new("policy.gate_error", e.to_string())],
    });
    let glass = active_override(
        input.events,
        input.release,
        input.environment,
        name,
        input.now,
    );
    apply_override(verdict, glass.as_ref())
}

/// Allow, or every reason why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PolicyDecision {
    /// True when every gate passes.
    pub allowed: bool,
    /// With `allowed`, the reasons of every gate; without, only those of the gates that did
    /// not pass, prefixed by the gate's name in the code (`approval/approval.missing`).
    pub reasons: Vec<Reason>,
}

/// May `operator` take the release into `environment` at `at`? Evaluates the lifecycle
/// order and every entry gate of the environment's phase, all of them.
pub fn may_enter(
    platform: &Platform,
    release: &Release,
    environment: &EnvironmentName,
    at: DateTime<Utc>,
    operator: &PersonId,
    events: &[Record],
    config: &GatesConfig,
) -> PolicyDecision {
    let Some(phase) = platform
        .lifecycle
        .phases
        .iter()
        .find(|p| p.environments.contains(environment))
    else {
        return PolicyDecision {
            allowed: false,
            reasons: vec![Reason::new(
                "policy.not_in_lifecycle",
                format!("environment {environment} is in no lifecycle phase"),
            )],
        };
    };
    let mut verdicts = vec![(
        "lifecycle".to_owned(),
        may_enter_phase(&platform.lifecycle, &phase.name, events),
    )];
    for spec in &phase.entry_gates {
        let input = GateInput {
            platform,
            release,
            environment,
            phase: &phase.name,
            position: GatePosition::Entry,
            spec,
            now: at,
            started_by: Some(operator),
            events,
        };
        verdicts.push((gate_name(spec).to_owned(), evaluate(config, &input)));
    }
    let allowed = verdicts.iter().all(|(_, v)| v.passed());
    let reasons = verdicts
        .iter()
        .filter(|(_, v)| allowed || !v.passed())
        .flat_map(|(name, v)| {
            v.reasons()
                .iter()
                .map(move |r| Reason::new(format!("{name}/{}", r.code), r.message.clone()))
        })
        .collect();
    PolicyDecision { allowed, reasons }
}
