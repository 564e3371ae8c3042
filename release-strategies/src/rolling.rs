//! Rolling update: replace replicas in batches bounded by `max_surge` and `max_unavailable`
//! (defaults 25 % / 25 %, rounded up and down as Kubernetes does).
//!
//! A slot runs one version, so two versions at once need two slots. The old version stays in
//! `stable` while the new one comes up in the temporary slot [`NEXT`], batch by batch: each
//! batch scales `next` up (the engine waits until it is ready and probes it), then scales
//! `stable` down, so that the total never exceeds `replicas + max_surge` and ready replicas
//! never drop below `replicas − max_unavailable`. A second pass hands the replicas back from
//! `next` to `stable` under the same bounds, so the steady state is always `stable` alone
//! and the next release (of any strategy) finds it there.
//!
//! Decisions:
//! - The hand-back pass replaces every new replica a second time. A core step that lets a
//!   target adopt one slot as another (rename) would make it free; until then correctness
//!   (bounds held, `stable` as the one steady slot) wins over speed.
//! - `max_surge` and `max_unavailable` both resolving to 0 is refused, as Kubernetes does,
//!   with [`StrategyError::NoRoomToMove`](crate::StrategyError::NoRoomToMove).
//! - With a router, weights follow the replica counts of each batch (set before any slot
//!   shrinks); without one, traffic follows replicas by itself.
//! - `pause_between` pauses after each batch of the first pass except the last.
//! - **Rollback window** (`rollback_window: { revisions: N }`): deploying one of the last N
//!   versions that ran here skips `pause_between`; the batches and their bounds stay (they
//!   protect capacity, not judgement) and probes still run after each batch.
//! - Nothing running yet (first deploy): apply `stable` at full size. The same version,
//!   artifact and configuration already in `stable`: only its size is applied.
//! - **Rollback** goes back in batches when the rollout stopped in its first pass (the engine
//!   hands the state observed when the rollback starts in `RolloutSpec::current`): the old
//!   `stable` grows back and `next` shrinks under the rollout's own bounds. In any other state
//!   (the hand-back pass, nothing observed) it re-applies the previous `stable` spec at once,
//!   sends all traffic to it and removes `next`; it never removes capacity before the old
//!   version is ready again.

use release_core::Result;
use release_core::model::{RollingSpec, StrategySpec};
use release_core::plugin::{
    RolloutSpec, RolloutStep, STABLE, SlotName, SlotWeight, Strategy, restore_previous,
};

use crate::program::{
    Budget, Move, all_to, parameters, push_weights, removals, running, runs_new, transition,
    weights_of,
};

/// The temporary slot new replicas come up in during a rolling update.
pub const NEXT: &str = "next";

/// The rolling strategy (`rolling` in manifests).
///
/// ```
/// use release_core::model::CountOrPercent;
/// use release_strategies::Rolling;
///
/// let rolling = Rolling::builder()
///     .max_surge(CountOrPercent::Count(1))
///     .max_unavailable(CountOrPercent::Count(0))
///     .build();
/// assert_eq!(rolling.spec().max_surge, CountOrPercent::Count(1));
/// ```
#[derive(Clone, Debug)]
pub struct Rolling {
    name: String,
    defaults: RollingSpec,
}

impl Default for Rolling {
    fn default() -> Self {
        Self::new(RollingSpec::default())
    }
}

impl Rolling {
    /// The strategy with `defaults` for components whose manifest gives no `rolling` block.
    pub fn new(defaults: RollingSpec) -> Self {
        Self {
            name: "rolling".to_owned(),
            defaults,
        }
    }

    /// A builder for the parameters.
    pub fn builder() -> RollingBuilder {
        RollingBuilder::default()
    }

    /// Registers the strategy under another name (for `custom: { name, params }` blocks).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The parameters used when the manifest gives none.
    pub fn spec(&self) -> &RollingSpec {
        &self.defaults
    }

    fn parameters(&self, spec: &RolloutSpec) -> Result<RollingSpec> {
        Ok(parameters(
            &self.name,
            spec,
            |s| match s {
                StrategySpec::Rolling(r) => Some(r),
                _ => None,
            },
            &self.defaults,
        )?)
    }
}

impl Rolling {
    /// The way back in batches, when the rollout stopped during its first pass: `stable` still
    /// runs the old version (at some size) and `next` the new one. The engine observes that
    /// state when the rollback starts ([`RolloutSpec::current`]); the old version grows back
    /// and `next` shrinks under the same surge and unavailability bounds as the rollout, with
    /// weights following the replica counts. Any other state falls back to the one-shot
    /// re-apply.
    fn batched_rollback(&self, spec: &RolloutSpec) -> Option<Vec<RolloutStep>> {
        let old = running(spec, STABLE)?;
        if !spec.previous.iter().all(|p| p.spec.slot == STABLE) {
            return None;
        }
        let now_stable = spec.current.iter().find(|c| c.spec.slot == STABLE)?;
        let now_next = spec.current.iter().find(|c| c.spec.slot == NEXT)?;
        let same_build = now_stable.spec.version == old.spec.version
            && now_stable.spec.artifact == old.spec.artifact
            && now_stable.spec.config_digest == old.spec.config_digest;
        if !same_build || spec.current.len() != 2 {
            return None;
        }
        let params = self.parameters(spec).ok()?;
        let mut budget_spec = spec.clone();
        budget_spec.replicas = old.spec.replicas;
        let budget = Budget::resolve(
            "rolling",
            &budget_spec,
            params.max_surge,
            params.max_unavailable,
        )
        .ok()?;
        let router = spec.has_router;
        let mut steps = Vec::new();
        let mut weights = |after: &[Move], _: bool, steps: &mut Vec<RolloutStep>| {
            if router && let Some(w) = weights_of(after) {
                push_weights(steps, w);
            }
        };
        let mut moves = [
            Move::new(
                old.spec.clone(),
                now_stable.spec.replicas,
                old.spec.replicas,
            ),
            Move::new(now_next.spec.clone(), now_next.spec.replicas, 0),
        ];
        transition(&mut moves, budget, &mut steps, &mut weights, None);
        if router {
            push_weights(&mut steps, vec![SlotWeight::new(STABLE, 100)]);
        }
        steps.push(RolloutStep::RemoveSlot {
            slot: SlotName::from(NEXT),
        });
        Some(steps)
    }
}

/// Builds a [`Rolling`] strategy (or just its [`RollingSpec`]) in code.
#[derive(Clone, Debug, Default)]
pub struct RollingBuilder {
    spec: RollingSpec,
}

impl RollingBuilder {
    /// Replicas above the desired count allowed during the update.
    pub fn max_surge(mut self, v: release_core::model::CountOrPercent) -> Self {
        self.spec.max_surge = v;
        self
    }

    /// Replicas below the desired count allowed during the update.
    pub fn max_unavailable(mut self, v: release_core::model::CountOrPercent) -> Self {
        self.spec.max_unavailable = v;
        self
    }

    /// Pause between batches.
    pub fn pause_between(mut self, d: impl Into<release_core::model::HumanDuration>) -> Self {
        self.spec.pause_between = Some(d.into());
        self
    }

    /// The manifest block.
    pub fn spec(self) -> RollingSpec {
        self.spec
    }

    /// The strategy.
    pub fn build(self) -> Rolling {
        Rolling::new(self.spec)
    }
}

impl Strategy for Rolling {
    fn name(&self) -> &str {
        &self.name
    }

    fn steps(&self, spec: &RolloutSpec) -> Result<Vec<RolloutStep>> {
        let params = self.parameters(spec)?;
        let budget = Budget::resolve("rolling", spec, params.max_surge, params.max_unavailable)?;
        let n = spec.replicas;
        let mut steps = Vec::new();
        let leftovers: Vec<SlotName> = spec
            .previous
            .iter()
            .filter(|p| p.spec.slot != STABLE)
            .map(|p| p.spec.slot.clone())
            .collect();
        match running(spec, STABLE) {
            Some(old) if !runs_new(spec, old) => {
                let router = spec.has_router;
                let pause = params
                    .pause_between
                    .filter(|_| !spec.within_rollback_window())
                    .map(|d| RolloutStep::Pause(release_core::model::Pause::For(d)));
                let mut weights = |after: &[Move], _: bool, steps: &mut Vec<RolloutStep>| {
                    if router && let Some(w) = weights_of(after) {
                        push_weights(steps, w);
                    }
                };
                // First pass: old `stable` → new `next`, pausing between batches.
                let mut moves = [
                    Move::new(spec.slot(NEXT, 0), 0, n),
                    Move::new(old.spec.clone(), old.spec.replicas, 0),
                ];
                transition(&mut moves, budget, &mut steps, &mut weights, pause.as_ref());
                // Second pass: new `next` → new `stable`.
                let mut moves = [
                    Move::new(spec.slot(STABLE, 0), 0, n),
                    Move::new(spec.slot(NEXT, n), n, 0),
                ];
                transition(&mut moves, budget, &mut steps, &mut weights, None);
                steps.push(RolloutStep::RemoveSlot {
                    slot: SlotName::from(NEXT),
                });
            }
            _ => {
                // First deploy, or the same build at another size.
                steps.push(RolloutStep::Apply(spec.slot(STABLE, n)));
            }
        }
        if spec.has_router {
            push_weights(&mut steps, vec![SlotWeight::new(STABLE, 100)]);
        }
        for slot in leftovers {
            let remove = RolloutStep::RemoveSlot { slot };
            if !steps.contains(&remove) {
                steps.push(remove);
            }
        }
        steps.push(RolloutStep::Verify);
        Ok(steps)
    }

    fn rollback_steps(&self, spec: &RolloutSpec) -> Vec<RolloutStep> {
        let only_stable = spec.previous.iter().all(|p| p.spec.slot == STABLE);
        if let Some(batched) = self.batched_rollback(spec) {
            return batched;
        }
        match running(spec, STABLE) {
            Some(old) if only_stable => {
                let mut steps = vec![RolloutStep::Apply(old.spec.clone())];
                if spec.has_router {
                    steps.push(all_to(STABLE));
                }
                steps.push(RolloutStep::RemoveSlot {
                    slot: SlotName::from(NEXT),
                });
                steps
            }
            _ => {
                let mut steps = restore_previous(spec, &[]);
                steps.retain(|s| !matches!(s, RolloutStep::RemoveSlot { .. }));
                steps.extend(removals(spec));
                steps
            }
        }
    }
}
