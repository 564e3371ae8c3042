//! Blue-green: bring the new version up at full size in the idle color (the preview), check
//! it, switch all traffic at once, keep the old color for `scale_down_delay` so that going
//! back is a traffic switch, then remove it.
//!
//! Decisions:
//! - **The active color** is the running slot named `blue` or `green` (the one with more
//!   traffic, then more replicas, then `blue`); else the first running slot (a component that
//!   was rolled out another way, e.g. `stable`); the new version goes to the other color
//!   (`blue` when the active slot is no color). First deploy: `blue` at full size.
//! - **Promotion** follows Argo Rollouts: `pre_promotion_analysis` runs against the preview
//!   before the switch; `auto_promotion: false` waits until an operator promotes (and then
//!   `auto_promotion_after` is ignored, as in Argo); otherwise `auto_promotion_after` waits
//!   that long. The switch is one `SetWeights` (new color 100 %). `post_promotion_analysis`
//!   runs after it; its failure rolls back. Then `scale_down_delay` (default 30 s) and the old
//!   color is removed.
//! - **Rollback** re-applies the old color (a no-op that takes no time while it still runs —
//!   the fast path inside the scale-down delay), switches all traffic to it, then removes the
//!   preview. The re-apply comes first because a strategy's rollback program does not know
//!   how far the rollout got: after the scale-down the old color is gone, and switching
//!   traffic to it first would send requests nowhere.
//! - **Fast track forward**: when the idle color still runs exactly this build at full size
//!   (re-deploying the version that was just replaced, within the scale-down delay), the
//!   analysis and promotion pause are skipped and the program switches straight to it.
//! - **Rollback window** (`rollback_window: { revisions: N }`, Argo's `rollbackWindow`):
//!   deploying one of the last N versions that ran here skips the analyses and the promotion
//!   pause too; the preview is still brought up and probed before the switch, and the old
//!   color is still kept for `scale_down_delay`.
//! - **Without a router** there is no dark preview: traffic follows replica counts, so the
//!   preview takes its share of traffic as soon as it is ready (half, with equal sizes), and
//!   the switch is scaling the old color to 0. Post-promotion analysis runs after that; its
//!   rollback must scale the old color up again (not instant). Use a router for instant
//!   switches both ways.

use release_core::Result;
use release_core::model::{BlueGreenSpec, HumanDuration, Pause, StrategySpec};
use release_core::plugin::{
    RolloutSpec, RolloutStep, SlotName, SlotStatus, SlotWeight, Strategy, restore_previous,
};

use crate::program::{all_to, parameters, removals, runs_new};

/// The blue color.
pub const BLUE: &str = "blue";
/// The green color.
pub const GREEN: &str = "green";

/// The blue-green strategy (`blue_green` in manifests).
///
/// ```
/// use release_strategies::BlueGreen;
///
/// let bg = BlueGreen::builder()
///     .pre_promotion_analysis("smoke")
///     .auto_promotion(false)
///     .scale_down_delay(std::time::Duration::from_secs(300))
///     .build();
/// assert!(!bg.spec().auto_promotion);
/// ```
#[derive(Clone, Debug)]
pub struct BlueGreen {
    name: String,
    defaults: BlueGreenSpec,
}

impl Default for BlueGreen {
    fn default() -> Self {
        Self::new(BlueGreenSpec::default())
    }
}

impl BlueGreen {
    /// The strategy with `defaults` for components whose manifest gives no `blue_green` block.
    pub fn new(defaults: BlueGreenSpec) -> Self {
        Self {
            name: "blue_green".to_owned(),
            defaults,
        }
    }

    /// A builder for the parameters.
    pub fn builder() -> BlueGreenBuilder {
        BlueGreenBuilder::default()
    }

    /// Registers the strategy under another name (for `custom: { name, params }` blocks).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The parameters used when the manifest gives none.
    pub fn spec(&self) -> &BlueGreenSpec {
        &self.defaults
    }

    fn parameters(&self, spec: &RolloutSpec) -> Result<BlueGreenSpec> {
        Ok(parameters(
            &self.name,
            spec,
            |s| match s {
                StrategySpec::BlueGreen(b) => Some(b),
                _ => None,
            },
            &self.defaults,
        )?)
    }
}

/// Builds a [`BlueGreen`] strategy (or just its [`BlueGreenSpec`]) in code.
#[derive(Clone, Debug, Default)]
pub struct BlueGreenBuilder {
    spec: BlueGreenSpec,
}

impl BlueGreenBuilder {
    /// Analysis run against the preview before the switch.
    pub fn pre_promotion_analysis(
        mut self,
        name: impl Into<release_core::id::AnalysisName>,
    ) -> Self {
        self.spec.pre_promotion_analysis = Some(name.into());
        self
    }

    /// Analysis run after the switch; its failure switches traffic back.
    pub fn post_promotion_analysis(
        mut self,
        name: impl Into<release_core::id::AnalysisName>,
    ) -> Self {
        self.spec.post_promotion_analysis = Some(name.into());
        self
    }

    /// Switch without an approval (default true).
    pub fn auto_promotion(mut self, on: bool) -> Self {
        self.spec.auto_promotion = on;
        self
    }

    /// Wait this long before switching automatically.
    pub fn auto_promotion_after(mut self, d: impl Into<HumanDuration>) -> Self {
        self.spec.auto_promotion_after = Some(d.into());
        self
    }

    /// Keep the old color this long after the switch (default 30 s).
    pub fn scale_down_delay(mut self, d: impl Into<HumanDuration>) -> Self {
        self.spec.scale_down_delay = d.into();
        self
    }

    /// The manifest block.
    pub fn spec(self) -> BlueGreenSpec {
        self.spec
    }

    /// The strategy.
    pub fn build(self) -> BlueGreen {
        BlueGreen::new(self.spec)
    }
}

/// The slot serving now: the running color with the most traffic, then the most replicas,
/// then `blue`; else the first running slot.
pub fn active_slot(spec: &RolloutSpec) -> Option<&SlotStatus> {
    let weight = |slot: &str| {
        spec.previous_weights
            .iter()
            .find(|w| w.slot == slot)
            .map_or(0, |w| w.weight)
    };
    let running = || spec.previous.iter().filter(|p| p.spec.replicas > 0);
    running()
        .filter(|p| p.spec.slot == BLUE || p.spec.slot == GREEN)
        .max_by(|a, b| {
            (weight(&a.spec.slot), a.spec.replicas, a.spec.slot == BLUE).cmp(&(
                weight(&b.spec.slot),
                b.spec.replicas,
                b.spec.slot == BLUE,
            ))
        })
        .or_else(|| running().next())
}

/// The color the new version goes to, given the active slot.
fn other_color(active: Option<&SlotStatus>) -> &'static str {
    match active.map(|a| a.spec.slot.as_str()) {
        Some(BLUE) => GREEN,
        _ => BLUE,
    }
}

impl Strategy for BlueGreen {
    fn name(&self) -> &str {
        &self.name
    }

    fn steps(&self, spec: &RolloutSpec) -> Result<Vec<RolloutStep>> {
        let params = self.parameters(spec)?;
        let n = spec.replicas;
        let active = active_slot(spec);
        let mut steps = Vec::new();
        let live: &str = match active {
            None => {
                steps.push(RolloutStep::Apply(spec.slot(BLUE, n)));
                if spec.has_router {
                    steps.push(all_to(BLUE));
                }
                BLUE
            }
            Some(old) if runs_new(spec, old) => {
                steps.push(RolloutStep::Apply(spec.slot(&old.spec.slot, n)));
                if spec.has_router {
                    steps.push(all_to(&old.spec.slot));
                }
                &old.spec.slot
            }
            Some(old) => {
                let new = other_color(Some(old));
                let fast = spec.within_rollback_window()
                    || spec.previous.iter().any(|p| {
                        p.spec.slot == new
                            && p.spec.replicas == n
                            && p.ready_replicas >= n
                            && runs_new(spec, p)
                    });
                if spec.has_router
                    && spec.previous_weights != [SlotWeight::new(old.spec.slot.clone(), 100)]
                {
                    steps.push(all_to(&old.spec.slot));
                }
                steps.push(RolloutStep::Apply(spec.slot(new, n)));
                if !fast {
                    if let Some(a) = &params.pre_promotion_analysis {
                        steps.push(RolloutStep::Analyze {
                            analysis: a.clone(),
                        });
                    }
                    if !params.auto_promotion {
                        steps.push(RolloutStep::Pause(Pause::UntilApproved));
                    } else if let Some(d) = params.auto_promotion_after.filter(|d| !d.is_zero()) {
                        steps.push(RolloutStep::Pause(Pause::For(d)));
                    }
                }
                if spec.has_router {
                    steps.push(all_to(new));
                } else {
                    steps.push(RolloutStep::Apply(old.spec.scaled(0)));
                }
                if !fast && let Some(a) = &params.post_promotion_analysis {
                    steps.push(RolloutStep::Analyze {
                        analysis: a.clone(),
                    });
                }
                if spec.has_router && !params.scale_down_delay.is_zero() {
                    steps.push(RolloutStep::Pause(Pause::For(params.scale_down_delay)));
                }
                steps.push(RolloutStep::RemoveSlot {
                    slot: old.spec.slot.clone(),
                });
                new
            }
        };
        for p in &spec.previous {
            let remove = RolloutStep::RemoveSlot {
                slot: p.spec.slot.clone(),
            };
            if p.spec.slot != live && !steps.contains(&remove) {
                steps.push(remove);
            }
        }
        steps.push(RolloutStep::Verify);
        Ok(steps)
    }

    fn rollback_steps(&self, spec: &RolloutSpec) -> Vec<RolloutStep> {
        let active = active_slot(spec);
        let native = active.is_some_and(|a| {
            spec.previous
                .iter()
                .all(|p| p.spec.slot == a.spec.slot || p.spec.replicas == 0)
        });
        match active {
            Some(old) if native => {
                let new = other_color(Some(old));
                let mut steps = vec![RolloutStep::Apply(old.spec.clone())];
                if spec.has_router {
                    steps.push(all_to(&old.spec.slot));
                }
                steps.push(RolloutStep::RemoveSlot {
                    slot: SlotName::from(new),
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
