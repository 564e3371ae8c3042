//! Strategies: pure functions from a [`RolloutSpec`] to a program of [`RolloutStep`]s that
//! the engine interprets.
//!
//! Decision: unlike the other plugin traits, `Strategy` is synchronous. It is pure — it
//! computes a program and touches nothing — so there is nothing to await, and keeping it
//! sync lets the engine compute and journal whole programs up front.

use serde::{Deserialize, Serialize};

use crate::config::RenderedConfig;
use crate::error::Result;
use crate::id::{AnalysisName, ComponentId, EnvironmentName};
use crate::model::{Pause, StrategySpec};

use super::{SlotName, SlotSpec, SlotStatus, SlotWeight};

/// The slot a component runs in when no rollout is in progress.
pub const STABLE: &str = "stable";

/// Everything a strategy needs to write its program.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RolloutSpec {
    /// The component.
    pub component: ComponentId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The version to roll out.
    pub version: semver::Version,
    /// Its artifact.
    pub artifact: Option<String>,
    /// Desired replicas when the rollout is done.
    pub replicas: u32,
    /// The rendered configuration for the new version.
    pub config: RenderedConfig,
    /// What runs now (observed before the stage started), sorted by slot.
    pub previous: Vec<SlotStatus>,
    /// The route's weights before the stage started; empty without a router.
    pub previous_weights: Vec<SlotWeight>,
    /// What runs when a rollback starts (observed then; empty when writing a deploy program).
    pub current: Vec<SlotStatus>,
    /// The strategy block from the manifest.
    pub strategy: StrategySpec,
    /// True when a traffic router serves this component.
    pub has_router: bool,
    /// The versions this component ran in this environment before, most recent first and
    /// each once, as journaled before the stage (filled only when the strategy has a
    /// rollback window).
    pub history: Vec<semver::Version>,
}

impl RolloutSpec {
    /// A spec for rolling `version` of `component` out in `environment`.
    pub fn new(
        component: impl Into<ComponentId>,
        environment: impl Into<EnvironmentName>,
        version: semver::Version,
        replicas: u32,
        strategy: StrategySpec,
    ) -> Self {
        Self {
            component: component.into(),
            environment: environment.into(),
            version,
            artifact: None,
            replicas,
            config: RenderedConfig::new(),
            previous: Vec::new(),
            previous_weights: Vec::new(),
            current: Vec::new(),
            strategy,
            has_router: false,
            history: Vec::new(),
        }
    }

    /// Sets what runs now.
    pub fn with_previous(mut self, previous: Vec<SlotStatus>, weights: Vec<SlotWeight>) -> Self {
        self.previous = previous;
        self.previous_weights = weights;
        self
    }

    /// Sets what runs when the rollback starts.
    pub fn with_current(mut self, current: Vec<SlotStatus>) -> Self {
        self.current = current;
        self
    }

    /// Sets the artifact and configuration.
    pub fn with_artifact(mut self, artifact: Option<String>, config: RenderedConfig) -> Self {
        self.artifact = artifact;
        self.config = config;
        self
    }

    /// Says whether a router serves the component.
    pub fn with_router(mut self, has_router: bool) -> Self {
        self.has_router = has_router;
        self
    }

    /// Sets the versions that ran here before, most recent first.
    pub fn with_history(mut self, history: Vec<semver::Version>) -> Self {
        self.history = history;
        self
    }

    /// True when this deployment goes back to a version inside the strategy's rollback
    /// window: one of the last `revisions` versions that ran here before the ones running
    /// now (which must not include it). Strategies then skip steps, pauses and analysis (Argo Rollouts' fast-track
    /// rollback); probes still run after every apply.
    pub fn within_rollback_window(&self) -> bool {
        let Some(window) = self.strategy.rollback_window() else {
            return false;
        };
        let running: Vec<&semver::Version> = self
            .previous
            .iter()
            .filter(|slot| slot.ready_replicas > 0)
            .map(|slot| &slot.spec.version)
            .collect();
        if running.is_empty() || running.contains(&&self.version) {
            return false;
        }
        self.history
            .iter()
            .filter(|v| !running.contains(v))
            .take(window.revisions as usize)
            .any(|v| *v == self.version)
    }

    /// The desired spec of the new version in `slot` with `replicas`.
    pub fn slot(&self, slot: &str, replicas: u32) -> SlotSpec {
        SlotSpec::new(
            self.component.clone(),
            self.environment.clone(),
            slot,
            self.version.clone(),
            replicas,
        )
        .with_artifact(self.artifact.clone())
        .with_config(self.config.clone())
    }
}

/// One instruction of a rollout program.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RolloutStep {
    /// Converge a slot to a spec, then wait until it is ready and probe it (M5.4).
    Apply(SlotSpec),
    /// Set the route's weights (no-op without a router: traffic follows replicas).
    SetWeights(Vec<SlotWeight>),
    /// Wait a duration, or until an operator promotes.
    Pause(Pause),
    /// Run a named analysis; its failure fails the rollout.
    Analyze {
        /// The analysis template.
        analysis: AnalysisName,
    },
    /// Start an analysis that runs in the background, at its interval, across the following
    /// steps (pauses included) until the program ends; its failure fails the rollout.
    StartBackgroundAnalysis {
        /// The analysis template.
        analysis: AnalysisName,
    },
    /// Probe every slot of the component.
    Verify,
    /// Remove a slot.
    RemoveSlot {
        /// The slot.
        slot: SlotName,
    },
}

impl RolloutStep {
    /// A short label for timelines (`apply canary ×1 v2.0.0`, `weights stable 90 / canary 10`).
    pub fn label(&self) -> String {
        match self {
            Self::Apply(s) => format!("apply {} ×{} v{}", s.slot, s.replicas, s.version),
            Self::SetWeights(w) => {
                let parts: Vec<String> = w
                    .iter()
                    .map(|w| format!("{} {}", w.slot, w.weight))
                    .collect();
                format!("weights {}", parts.join(" / "))
            }
            Self::Pause(Pause::For(d)) => format!("pause {d}"),
            Self::Pause(Pause::UntilApproved) => "pause until promoted".to_owned(),
            Self::Analyze { analysis } => format!("analysis {analysis}"),
            Self::StartBackgroundAnalysis { analysis } => format!("background analysis {analysis}"),
            Self::Verify => "verify".to_owned(),
            Self::RemoveSlot { slot } => format!("remove {slot}"),
        }
    }
}

/// A rollout strategy: writes the program for one component in one environment.
pub trait Strategy: Send + Sync {
    /// The name manifests use (`rolling`, `canary`, or a custom name).
    fn name(&self) -> &str;

    /// The program that takes the component from `spec.previous` to `spec.version`.
    fn steps(&self, spec: &RolloutSpec) -> Result<Vec<RolloutStep>>;

    /// The program that takes it back to `spec.previous`. The default sends all traffic
    /// back first (fast), re-applies the previous slots, then removes slots that were not
    /// there before.
    fn rollback_steps(&self, spec: &RolloutSpec) -> Vec<RolloutStep> {
        let program = self.steps(spec).unwrap_or_default();
        restore_previous(spec, &program)
    }
}

fn _assert_object_safe(_: &dyn Strategy) {}

/// The generic rollback program: traffic first, then re-apply what ran before, then remove
/// the slots the deploy `program` created that did not exist before.
pub fn restore_previous(spec: &RolloutSpec, program: &[RolloutStep]) -> Vec<RolloutStep> {
    let mut steps = Vec::new();
    if spec.has_router && !spec.previous_weights.is_empty() {
        steps.push(RolloutStep::SetWeights(spec.previous_weights.clone()));
    } else if spec.has_router
        && let Some(first) = spec.previous.first()
    {
        steps.push(RolloutStep::SetWeights(vec![SlotWeight::new(
            first.spec.slot.clone(),
            100,
        )]));
    }
    for previous in &spec.previous {
        steps.push(RolloutStep::Apply(previous.spec.clone()));
    }
    let mut created: Vec<&str> = program
        .iter()
        .filter_map(|s| match s {
            RolloutStep::Apply(slot) => Some(slot.slot.as_str()),
            _ => None,
        })
        .filter(|slot| !spec.previous.iter().any(|p| p.spec.slot == *slot))
        .collect();
    created.sort_unstable();
    created.dedup();
    for slot in created {
        steps.push(RolloutStep::RemoveSlot {
            slot: SlotName::from(slot),
        });
    }
    steps
}

/// All at once (Kubernetes' `Recreate`): the stable slot gets the new version at full size.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllAtOnce;

impl Strategy for AllAtOnce {
    fn name(&self) -> &str {
        "all_at_once"
    }

    fn steps(&self, spec: &RolloutSpec) -> Result<Vec<RolloutStep>> {
        let mut steps = vec![RolloutStep::Apply(spec.slot(STABLE, spec.replicas))];
        if spec.has_router {
            steps.push(RolloutStep::SetWeights(vec![SlotWeight::new(STABLE, 100)]));
        }
        steps.push(RolloutStep::Verify);
        Ok(steps)
    }
}
