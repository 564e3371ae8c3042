//! How a component is rolled out: the manifest's `strategy` block.
//!
//! These are the serde shapes only; release-strategies turns them into step programs. The
//! defaults follow Argo Rollouts and Kubernetes (25 % surge / 25 % unavailable, 30 s
//! scale-down delay) so that users of those tools meet no surprises.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CountOrPercent, HumanDuration};
use crate::id::AnalysisName;

/// A rollout strategy as written in a manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StrategySpec {
    /// Replace every replica at once (Kubernetes' `Recreate`).
    AllAtOnce {},
    /// Replace replicas in batches bounded by surge and unavailability.
    Rolling(RollingSpec),
    /// Bring up a full preview slot, switch traffic, keep the old slot for a while.
    BlueGreen(BlueGreenSpec),
    /// Shift traffic to a canary slot step by step, with pauses and analysis.
    Canary(CanarySpec),
    /// A strategy registered by the host under this name.
    Custom {
        /// Name the strategy is registered under.
        name: String,
        /// Its parameters, passed through untouched.
        #[serde(default)]
        params: serde_json::Value,
    },
}

/// Rolling update parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollingSpec {
    /// Replicas above the desired count allowed during the update (default 25 %).
    #[serde(default = "quarter")]
    pub max_surge: CountOrPercent,
    /// Replicas below the desired count allowed during the update (default 25 %).
    #[serde(default = "quarter")]
    pub max_unavailable: CountOrPercent,
    /// Pause between batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_between: Option<HumanDuration>,
    /// Deploying one of the last `revisions` versions that ran here skips steps, pauses and
    /// analysis (Argo Rollouts' `rollbackWindow`): going back to a known-good build is fast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_window: Option<RollbackWindow>,
}

impl Default for RollingSpec {
    fn default() -> Self {
        Self {
            max_surge: quarter(),
            max_unavailable: quarter(),
            pause_between: None,
            rollback_window: None,
        }
    }
}

fn quarter() -> CountOrPercent {
    CountOrPercent::Percent(25)
}

fn thirty_seconds() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn yes() -> bool {
    true
}

/// Blue-green parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueGreenSpec {
    /// Analysis run against the preview slot before the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis: Option<AnalysisName>,
    /// Analysis run after the switch; its failure switches traffic back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis: Option<AnalysisName>,
    /// Switch without an approval (default true).
    #[serde(default = "yes")]
    pub auto_promotion: bool,
    /// Wait this long before switching automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_after: Option<HumanDuration>,
    /// Keep the old slot this long after the switch (default 30 s).
    #[serde(default = "thirty_seconds")]
    pub scale_down_delay: HumanDuration,
    /// Deploying one of the last `revisions` versions that ran here skips steps, pauses and
    /// analysis (Argo Rollouts' `rollbackWindow`): going back to a known-good build is fast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_window: Option<RollbackWindow>,
}

impl Default for BlueGreenSpec {
    fn default() -> Self {
        Self {
            pre_promotion_analysis: None,
            post_promotion_analysis: None,
            auto_promotion: true,
            auto_promotion_after: None,
            scale_down_delay: thirty_seconds(),
            rollback_window: None,
        }
    }
}

/// Canary parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanarySpec {
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<CanaryStep>,
    /// Analysis that runs in the background across all steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_analysis: Option<AnalysisName>,
    /// Replicas above the desired count allowed (default 25 %).
    #[serde(default = "quarter")]
    pub max_surge: CountOrPercent,
    /// Replicas below the desired count allowed (default 25 %).
    #[serde(default = "quarter")]
    pub max_unavailable: CountOrPercent,
    /// After an abort, keep the canary this long before scaling it down (default 30 s).
    #[serde(default = "thirty_seconds")]
    pub abort_scale_down_delay: HumanDuration,
    /// Deploying one of the last `revisions` versions that ran here skips steps, pauses and
    /// analysis (Argo Rollouts' `rollbackWindow`): going back to a known-good build is fast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_window: Option<RollbackWindow>,
}

/// How far back a deployment counts as a rollback to a known-good version (Argo Rollouts'
/// `rollbackWindow`).
///
/// The engine journals, before each stage, the versions a component ran in the environment
/// (most recent first); a deployment of one of the first `revisions` of them other than the
/// version running now is fast-tracked by the built-in strategies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackWindow {
    /// How many earlier versions count (Argo's `revisions`).
    pub revisions: u32,
}

impl RollbackWindow {
    /// A window over the last `revisions` versions.
    pub fn revisions(revisions: u32) -> Self {
        Self { revisions }
    }
}

impl StrategySpec {
    /// The rollback window of a built-in strategy that has one.
    pub fn rollback_window(&self) -> Option<RollbackWindow> {
        match self {
            Self::Rolling(r) => r.rollback_window,
            Self::BlueGreen(b) => b.rollback_window,
            Self::Canary(c) => c.rollback_window,
            Self::AllAtOnce {} | Self::Custom { .. } => None,
        }
    }
}

/// One canary step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CanaryStep {
    /// Send this percentage of traffic to the canary.
    SetWeight(u32),
    /// Wait a duration, or until an operator promotes.
    Pause(Pause),
    /// Run a named analysis and wait for its verdict.
    Analysis(AnalysisName),
    /// Size the canary independently of its traffic weight.
    SetCanaryScale(CanaryScale),
}

/// How the canary is sized by a `set_canary_scale` step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CanaryScale {
    /// An absolute replica count.
    Replicas(u32),
    /// A percentage of the desired replica count.
    Weight(u32),
    /// Follow the traffic weight again.
    MatchTrafficWeight,
}

/// A pause: for a duration (`pause: 2m`) or until approved (`pause: approval` or `pause: {}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    /// Resume by itself after this long.
    For(HumanDuration),
    /// Wait for an operator to promote.
    UntilApproved,
}

impl Serialize for Pause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::For(d) => d.serialize(s),
            Self::UntilApproved => s.serialize_str("approval"),
        }
    }
}

impl<'de> Deserialize<'de> for Pause {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Pause;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration (`2m`), `approval`, or `{ duration: 2m }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Pause, E> {
                if v == "approval" || v == "until_approved" {
                    Ok(Pause::UntilApproved)
                } else {
                    v.parse().map(Pause::For).map_err(E::custom)
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Pause, E> {
                Ok(Pause::UntilApproved)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pause, A::Error> {
                let mut duration: Option<HumanDuration> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "duration" {
                        duration = Some(map.next_value()?);
                    } else {
                        return Err(de::Error::unknown_field(&key, &["duration"]));
                    }
                }
                Ok(duration.map_or(Pause::UntilApproved, Pause::For))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Pause {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pause".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let duration = generator.subschema_for::<HumanDuration>();
        schemars::json_schema!({
            "description": "A duration, `approval` (wait for an operator), or `{ duration }`.",
            "oneOf": [
                duration,
                { "const": "approval" },
                { "type": "object", "properties": { "duration": duration }, "additionalProperties": false }
            ]
        })
    }
}
