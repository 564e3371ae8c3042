//! Lifecycle order (M2.3), Octopus' "required to progress": a release enters a phase only
//! when every earlier phase met its requirement (`all`, `at_least: n`, `optional`).
//!
//! An environment counts as succeeded when its last `StageCompleted` comes after its last
//! `RollbackCompleted`. `at_least: n` larger than the phase is read as `all`. An optional
//! phase never blocks, and the phases before it still must be met. Not yet met → wait.

use std::collections::BTreeMap;

use release_core::id::{EnvironmentName, PhaseName};
use release_core::ledger::{Event, Record};
use release_core::model::{Lifecycle, PhaseRequirement};
use release_core::plugin::{GateVerdict, Reason};

use super::GatesError;
use super::policy::GateInput;

/// Environments whose last stage completed after their last rollback.
pub fn succeeded_environments(events: &[Record]) -> Vec<EnvironmentName> {
    let mut last: BTreeMap<&EnvironmentName, bool> = BTreeMap::new();
    for record in events {
        match &record.event {
            Event::StageCompleted { environment } => {
                last.insert(environment, true);
            }
            Event::RollbackCompleted { environment } => {
                last.insert(environment, false);
            }
            _ => {}
        }
    }
    last.into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(e, _)| e.clone())
        .collect()
}

/// May a release enter `phase`? Pass, or wait with one reason per unmet earlier phase.
pub fn may_enter_phase(lifecycle: &Lifecycle, phase: &PhaseName, events: &[Record]) -> GateVerdict {
    let Some(position) = lifecycle.phases.iter().position(|p| &p.name == phase) else {
        return GateVerdict::Fail {
            reasons: vec![Reason::new(
                "lifecycle.unknown_phase",
                format!("the lifecycle has no phase {phase}"),
            )],
        };
    };
    let done = succeeded_environments(events);
    let mut unmet = Vec::new();
    for earlier in &lifecycle.phases[..position] {
        let total = earlier.environments.len();
        let needed = match earlier.required {
            PhaseRequirement::All => total,
            PhaseRequirement::AtLeast(n) => usize::try_from(n).unwrap_or(usize::MAX).min(total),
            PhaseRequirement::Optional => 0,
        };
        let have = earlier
            .environments
            .iter()
            .filter(|e| done.contains(e))
            .count();
        if have < needed {
            unmet.push(Reason::new(
                "lifecycle.phase_incomplete",
                format!(
                    "phase {} needs {needed} of {total} environment(s) deployed, {have} are",
                    earlier.name
                ),
            ));
        }
    }
    if unmet.is_empty() {
        GateVerdict::Pass {
            reasons: vec![Reason::new(
                "lifecycle.in_order",
                format!("every phase before {phase} met its requirement"),
            )],
        }
    } else {
        GateVerdict::Wait {
            until: None,
            reasons: unmet,
        }
    }
}

/// The lifecycle gate, registered as the custom gate `lifecycle`.
#[derive(Clone, Debug, Default)]
pub struct LifecycleGate;

impl LifecycleGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        Ok(may_enter_phase(
            &context.platform.lifecycle,
            context.phase,
            context.events,
        ))
    }
}

crate::promotion::policy::gate_via_input!(LifecycleGate, "LifecycleGate");
