//! Break-glass overrides (M5.6): `break_glass` evidence scoped to one release, environment
//! and gate, with a reason and an operator, expiring. While valid it turns the gate's Fail
//! or Wait into Pass; the reasons say who overrode what and why, and keep the gate's own
//! reasons, so the engine's `GateEvaluated` event records both.
//!
//! Decisions: the override must be recorded by the operator it names (the record's actor),
//! before `now`, and not yet expired; an empty reason does not count.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::id::EnvironmentName;
use release_core::ledger::Record;
use release_core::model::Release;
use release_core::plugin::{Gate, GateContext, GateVerdict, Reason, gate_name};

use super::evidence::{BreakGlass, find_evidence};

/// The valid override of `gate` for this release and environment at `now`, if any.
pub fn active_override(
    events: &[Record],
    release: &Release,
    environment: &EnvironmentName,
    gate: &str,
    now: DateTime<Utc>,
) -> Option<BreakGlass> {
    find_evidence::<BreakGlass>(events, None)
        .into_iter()
        .filter(|f| f.record.at <= now)
        .filter_map(|f| {
            let actor = f.record.actor.clone();
            f.payload.ok().filter(|b| b.operator.as_str() == actor)
        })
        .rfind(|b| {
            &b.release == release.id()
                && &b.environment == environment
                && b.gate == gate
                && now < b.expires_at
                && !b.reason.trim().is_empty()
        })
}

/// Applies an override to a verdict: Fail or Wait become Pass with the override's reason
/// first and the gate's reasons after.
pub fn apply_override(verdict: GateVerdict, glass: Option<&BreakGlass>) -> GateVerdict {
    match (verdict, glass) {
        (v @ GateVerdict::Pass { .. }, _) | (v, None) => v,
        (GateVerdict::Fail { reasons } | GateVerdict::Wait { reasons, .. }, Some(b)) => {
            let mut all = vec![Reason::new(
                "break_glass.overridden",
                format!(
                    "gate {} overridden by {} until {}: {}",
                    b.gate, b.operator, b.expires_at, b.reason
                ),
            )];
            all.extend(reasons);
            GateVerdict::Pass { reasons: all }
        }
    }
}

/// Wraps any gate so a valid break-glass override turns its Fail or Wait into Pass.
#[derive(Clone)]
pub struct Overridable {
    inner: Arc<dyn Gate>,
}

impl Overridable {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Gate>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl Gate for Overridable {
    async fn evaluate(&self, context: &GateContext) -> release_core::Result<GateVerdict> {
        let verdict = self.inner.evaluate(context).await?;
        let glass = active_override(
            &context.events,
            &context.release,
            &context.environment,
            gate_name(&context.spec),
            context.now,
        );
        Ok(apply_override(verdict, glass.as_ref()))
    }
}
