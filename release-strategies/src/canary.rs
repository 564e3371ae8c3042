//! Canary: shift traffic to a `canary` slot step by step (`set_weight`, `pause`, `analysis`,
//! `set_canary_scale`), with an optional background analysis across all steps, then promote
//! the new version into `stable`.
//!
//! Decisions (Argo Rollouts' semantics unless said otherwise):
//! - **With a router**, `stable` keeps its full size until promotion and the canary is extra
//!   capacity (Argo's default, `dynamicStableScale: false`): canary replicas are
//!   `ceil(weight × replicas / 100)` (at least 1 while its weight is above 0) unless
//!   `set_canary_scale` says otherwise. Growing: scale, then shift weight; shrinking: shift,
//!   then scale. `max_surge`/`max_unavailable` do not bound the canary here.
//! - **Without a router** traffic follows replica counts, so the weight *is* the split: canary
//!   replicas are `round(weight × replicas / 100)` with halves rounded up (41 % of 10 = 4,
//!   45 % of 10 = 5) and `stable` holds the rest; each step moves there in batches bounded by
//!   `max_surge`/`max_unavailable`. `set_canary_scale` is ignored without a router (as in Argo:
//!   it only exists to decouple replicas from traffic, which needs a router).
//! - **Promotion** (after the last step): the canary grows to full size, takes 100 % of
//!   traffic, `stable` is replaced by the new version at full size, takes 100 % back, and the
//!   canary is removed. Without a router the same happens by replica counts, in batches.
//! - **Abort / rollback** with a router: all traffic to `stable` at once (the first step),
//!   re-apply the previous `stable` (a no-op while it still runs), then keep the canary for
//!   `abort_scale_down_delay` before removing it. Without a router, "traffic" is replicas: the
//!   previous `stable` is re-applied at full size first and only then is the canary removed —
//!   sending traffic "at once" there would mean scaling a possibly tiny `stable` to take it
//!   all. There is no scale-down delay without a router: a kept canary would keep serving.
//! - The engine ends a failed rollout's background analyses when the rollback starts, and a
//!   rollback's pauses are never cut short by the abort that caused them, so
//!   `abort_scale_down_delay` holds after a failed analysis, a trigger and an operator abort.
//! - **Fast track**: when `stable` already runs exactly this build, steps and analysis are
//!   skipped (only its size and weights are applied). First deploy (nothing running): apply
//!   `stable` at full size.
//! - **Rollback window** (`rollback_window: { revisions: N }`, Argo's `rollbackWindow`):
//!   deploying one of the last N versions that ran here (a roll-forward back to a known-good
//!   build) skips every step, pause and analysis, background analysis included, and goes
//!   straight to promotion: canary at full size, all traffic, `stable` replaced. Probes still
//!   run after every apply.

use release_core::Result;
use release_core::model::{
    CanaryScale, CanarySpec, CanaryStep, CountOrPercent, HumanDuration, Pause, StrategySpec,
};
use release_core::plugin::{
    RolloutSpec, RolloutStep, STABLE, SlotName, SlotWeight, Strategy, restore_previous,
};

use crate::error::StrategyError;
use crate::program::{Budget, Move, all_to, parameters, removals, running, runs_new, transition};

/// The slot the canary runs in.
pub const CANARY: &str = "canary";

/// The canary strategy (`canary` in manifests).
///
/// ```
/// use release_core::model::{CanaryStep, Pause};
/// use release_strategies::Canary;
///
/// let canary = Canary::builder()
///     .set_weight(10)
///     .pause_for(std::time::Duration::from_secs(120))
///     .analysis("error-rate")
///     .set_weight(50)
///     .pause_until_approved()
///     .build();
/// assert_eq!(canary.spec().steps[4], CanaryStep::Pause(Pause::UntilApproved));
/// ```
#[derive(Clone, Debug)]
pub struct Canary {
    name: String,
    defaults: CanarySpec,
}

impl Default for Canary {
    fn default() -> Self {
        Self::new(CanaryBuilder::default().spec())
    }
}

impl Canary {
    /// The strategy with `defaults` for components whose manifest gives no `canary` block.
    pub fn new(defaults: CanarySpec) -> Self {
        Self {
            name: "canary".to_owned(),
            defaults,
        }
    }

    /// A builder for the parameters.
    pub fn builder() -> CanaryBuilder {
        CanaryBuilder::default()
    }

    /// Registers the strategy under another name (for `custom: { name, params }` blocks).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The parameters used when the manifest gives none.
    pub fn spec(&self) -> &CanarySpec {
        &self.defaults
    }

    fn parameters(&self, spec: &RolloutSpec) -> Result<CanarySpec> {
        Ok(parameters(
            &self.name,
            spec,
            |s| match s {
                StrategySpec::Canary(c) => Some(c),
                _ => None,
            },
            &self.defaults,
        )?)
    }
}

/// Builds a [`Canary`] strategy (or just its [`CanarySpec`]) in code.
#[derive(Clone, Debug)]
pub struct CanaryBuilder {
    spec: CanarySpec,
}

impl Default for CanaryBuilder {
    fn default() -> Self {
        Self {
            spec: CanarySpec {
                steps: Vec::new(),
                background_analysis: None,
                max_surge: CountOrPercent::Percent(25),
                max_unavailable: CountOrPercent::Percent(25),
                abort_scale_down_delay: HumanDuration::from_secs(30),
                rollback_window: None,
            },
        }
    }
}

impl CanaryBuilder {
    /// Sends `weight` percent of traffic to the canary.
    pub fn set_weight(mut self, weight: u32) -> Self {
        self.spec.steps.push(CanaryStep::SetWeight(weight));
        self
    }

    /// Pauses for a duration.
    pub fn pause_for(mut self, d: impl Into<HumanDuration>) -> Self {
        self.spec
            .steps
            .push(CanaryStep::Pause(Pause::For(d.into())));
        self
    }

    /// Pauses until an operator promotes.
    pub fn pause_until_approved(mut self) -> Self {
        self.spec
            .steps
            .push(CanaryStep::Pause(Pause::UntilApproved));
        self
    }

    /// Runs a named analysis and waits for its verdict.
    pub fn analysis(mut self, name: impl Into<release_core::id::AnalysisName>) -> Self {
        self.spec.steps.push(CanaryStep::Analysis(name.into()));
        self
    }

    /// Sizes the canary independently of its weight.
    pub fn set_canary_scale(mut self, scale: CanaryScale) -> Self {
        self.spec.steps.push(CanaryStep::SetCanaryScale(scale));
        self
    }

    /// Runs a named analysis in the background across all steps.
    pub fn background_analysis(mut self, name: impl Into<release_core::id::AnalysisName>) -> Self {
        self.spec.background_analysis = Some(name.into());
        self
    }

    /// Replicas above the desired count allowed (without a router).
    pub fn max_surge(mut self, v: CountOrPercent) -> Self {
        self.spec.max_surge = v;
        self
    }

    /// Replicas below the desired count allowed (without a router).
    pub fn max_unavailable(mut self, v: CountOrPercent) -> Self {
        self.spec.max_unavailable = v;
        self
    }

    /// How long the canary stays after an abort before it is removed.
    pub fn abort_scale_down_delay(mut self, d: impl Into<HumanDuration>) -> Self {
        self.spec.abort_scale_down_delay = d.into();
        self
    }

    /// The manifest block.
    pub fn spec(self) -> CanarySpec {
        self.spec
    }

    /// The strategy.
    pub fn build(self) -> Canary {
        Canary::new(self.spec)
    }
}

/// Canary replicas for `weight` percent of `replicas` with a router: rounded up.
pub fn canary_replicas_with_router(replicas: u32, weight: u32, scale: Option<&CanaryScale>) -> u32 {
    let n = match scale {
        Some(CanaryScale::Replicas(r)) => *r,
        Some(CanaryScale::Weight(p)) => CountOrPercent::Percent(*p).resolve(replicas, true),
        Some(CanaryScale::MatchTrafficWeight) | None => {
            CountOrPercent::Percent(weight).resolve(replicas, true)
        }
    };
    if weight > 0 { n.max(1) } else { n }
}

/// Canary replicas for `weight` percent of `replicas` without a router: rounded half up
/// (41 % of 10 = 4, 45 % of 10 = 5), because the replica split is the traffic split.
pub fn canary_replicas_without_router(replicas: u32, weight: u32) -> u32 {
    let scaled = u64::from(replicas) * u64::from(weight.min(100));
    u32::try_from((scaled + 50) / 100).unwrap_or(replicas)
}

impl Strategy for Canary {
    fn name(&self) -> &str {
        &self.name
    }

    fn steps(&self, spec: &RolloutSpec) -> Result<Vec<RolloutStep>> {
        let params = self.parameters(spec)?;
        for (i, step) in params.steps.iter().enumerate() {
            if let CanaryStep::SetWeight(w) = step
                && *w > 100
            {
                return Err(StrategyError::WeightOutOfRange {
                    component: spec.component.clone(),
                    environment: spec.environment.clone(),
                    step: i + 1,
                    weight: *w,
                }
                .into());
            }
        }
        let budget = Budget::resolve("canary", spec, params.max_surge, params.max_unavailable);
        let n = spec.replicas;
        let old = running(spec, STABLE).filter(|old| !runs_new(spec, old));
        let fast = spec.within_rollback_window();
        let (canary_steps, background) = if fast {
            (&[][..], None)
        } else {
            (&params.steps[..], params.background_analysis.as_ref())
        };
        let mut steps = Vec::new();
        match old {
            None => {
                // First deploy, or the same build already in `stable` (fast track).
                steps.push(RolloutStep::Apply(spec.slot(STABLE, n)));
                if spec.has_router {
                    steps.push(all_to(STABLE));
                }
            }
            Some(_) if spec.has_router => {
                // Room for the whole program: at most two steps per canary step, eight around
                // them, one removal per previous slot. Growing the vector from empty
                // reallocated it three times, twice past glibc's large-bin size (issue #10).
                steps.reserve_exact(2 * canary_steps.len() + 8 + spec.previous.len());
                if spec.previous_weights != [SlotWeight::new(STABLE, 100)] {
                    steps.push(all_to(STABLE));
                }
                if let Some(a) = background {
                    steps.push(RolloutStep::StartBackgroundAnalysis {
                        analysis: a.clone(),
                    });
                }
                let (mut weight, mut canary) = (0u32, 0u32);
                let mut scale: Option<CanaryScale> = None;
                for step in canary_steps {
                    match step {
                        CanaryStep::SetWeight(w) => {
                            let c = canary_replicas_with_router(n, *w, scale.as_ref());
                            if c > canary {
                                steps.push(RolloutStep::Apply(spec.slot(CANARY, c)));
                            }
                            steps.push(split(100 - *w, *w));
                            if c < canary {
                                steps.push(RolloutStep::Apply(spec.slot(CANARY, c)));
                            }
                            weight = *w;
                            canary = c;
                        }
                        CanaryStep::SetCanaryScale(s) => {
                            scale = match s {
                                CanaryScale::MatchTrafficWeight => None,
                                other => Some(other.clone()),
                            };
                            let c = canary_replicas_with_router(n, weight, scale.as_ref());
                            if c != canary {
                                steps.push(RolloutStep::Apply(spec.slot(CANARY, c)));
                                canary = c;
                            }
                        }
                        CanaryStep::Pause(p) => steps.push(RolloutStep::Pause(*p)),
                        CanaryStep::Analysis(a) => steps.push(RolloutStep::Analyze {
                            analysis: a.clone(),
                        }),
                    }
                }
                // Promotion: canary at full size takes all traffic while `stable` is replaced.
                if canary != n || weight != 100 {
                    steps.push(RolloutStep::Apply(spec.slot(CANARY, n)));
                    steps.push(all_to(CANARY));
                }
                steps.push(RolloutStep::Apply(spec.slot(STABLE, n)));
                steps.push(all_to(STABLE));
                steps.push(RolloutStep::RemoveSlot {
                    slot: SlotName::from(CANARY),
                });
            }
            Some(old) => {
                let budget = budget?;
                if let Some(a) = background {
                    steps.push(RolloutStep::StartBackgroundAnalysis {
                        analysis: a.clone(),
                    });
                }
                let mut no_hook = |_: &[Move], _: bool, _: &mut Vec<RolloutStep>| {};
                let mut moves = [
                    Move::new(spec.slot(CANARY, 0), 0, 0),
                    Move::new(old.spec.clone(), old.spec.replicas, old.spec.replicas),
                ];
                for step in canary_steps {
                    match step {
                        CanaryStep::SetWeight(w) => {
                            let c = canary_replicas_without_router(n, *w);
                            moves[0].target = c;
                            moves[1].target = n - c;
                            transition(&mut moves, budget, &mut steps, &mut no_hook, None);
                        }
                        CanaryStep::SetCanaryScale(_) => {}
                        CanaryStep::Pause(p) => steps.push(RolloutStep::Pause(*p)),
                        CanaryStep::Analysis(a) => steps.push(RolloutStep::Analyze {
                            analysis: a.clone(),
                        }),
                    }
                }
                moves[0].target = n;
                moves[1].target = 0;
                transition(&mut moves, budget, &mut steps, &mut no_hook, None);
                let mut moves = [
                    Move::new(spec.slot(STABLE, 0), 0, n),
                    Move::new(spec.slot(CANARY, n), n, 0),
                ];
                transition(&mut moves, budget, &mut steps, &mut no_hook, None);
                steps.push(RolloutStep::RemoveSlot {
                    slot: SlotName::from(CANARY),
                });
            }
        }
        for p in &spec.previous {
            let remove = RolloutStep::RemoveSlot {
                slot: p.spec.slot.clone(),
            };
            if p.spec.slot != STABLE && !steps.contains(&remove) {
                steps.push(remove);
            }
        }
        steps.push(RolloutStep::Verify);
        Ok(steps)
    }

    fn rollback_steps(&self, spec: &RolloutSpec) -> Vec<RolloutStep> {
        let native = spec.previous.iter().all(|p| p.spec.slot == STABLE);
        let Some(old) = running(spec, STABLE).filter(|_| native) else {
            let mut steps = restore_previous(spec, &[]);
            steps.retain(|s| !matches!(s, RolloutStep::RemoveSlot { .. }));
            steps.extend(removals(spec));
            return steps;
        };
        let params = self
            .parameters(spec)
            .unwrap_or_else(|_| self.defaults.clone());
        let delay = params.abort_scale_down_delay;
        let mut steps = Vec::new();
        if spec.has_router {
            steps.push(all_to(STABLE));
            steps.push(RolloutStep::Apply(old.spec.clone()));
            if !delay.is_zero() {
                steps.push(RolloutStep::Pause(Pause::For(delay)));
            }
        } else {
            steps.push(RolloutStep::Apply(old.spec.clone()));
        }
        steps.push(RolloutStep::RemoveSlot {
            slot: SlotName::from(CANARY),
        });
        steps
    }
}

fn split(stable: u32, canary: u32) -> RolloutStep {
    RolloutStep::SetWeights(vec![
        SlotWeight::new(STABLE, stable),
        SlotWeight::new(CANARY, canary),
    ])
}
