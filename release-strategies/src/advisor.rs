//! The strategy advisor (M2.2): from a service profile, recommend a strategy with parameters
//! and reasons a person can read.
//!
//! The rules, in order (the first that decides wins; later ones add reasons):
//! 1. **Stateful** services run one version against their state at a time where possible:
//!    a single replica gets all-at-once, more get a rolling update one replica at a time
//!    (`max_surge: 0`, `max_unavailable: 1`) — schema changes must be backward compatible.
//! 2. **Instant rollback** with ~100 % spare capacity and a router: blue-green (rollback is a
//!    traffic switch; `scale_down_delay` becomes the rollback window), with pre/post analysis
//!    when metrics exist, and a manual promotion when they do not.
//! 3. **Enough traffic and metrics**: canary with weight steps, pauses and analysis (and a
//!    background analysis with full analysis support). Without a router the weights are
//!    replica counts, so steps are rounded to what the replica count can express.
//! 4. **Low traffic** makes canary analysis statistically weak (a 10 % canary of 1 request/s
//!    sees 60 requests in 10 minutes): blue-green when capacity allows, else rolling with
//!    pauses.
//! 5. Otherwise **rolling**, with `max_surge` sized from the spare capacity (25 % at most,
//!    0 without any, then `max_unavailable: 25%` keeps it moving).

use std::fmt;

use release_core::id::AnalysisName;
use release_core::model::{
    BlueGreenSpec, CanarySpec, CanaryStep, CountOrPercent, HumanDuration, Pause, RollingSpec,
    StrategySpec,
};
use serde::{Deserialize, Serialize};

pub use release_core::plugin::Reason;

/// How much traffic a service gets: a level, or a measured rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrafficVolume {
    /// `low`, `medium` or `high`.
    Level(TrafficLevel),
    /// Requests per second.
    RequestsPerSecond(f64),
}

/// A traffic level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrafficLevel {
    /// Under 1 request per second.
    Low,
    /// 1 to 100 requests per second.
    Medium,
    /// 100 requests per second or more.
    High,
}

impl TrafficVolume {
    /// The level (rates below 1/s are low, below 100/s medium).
    pub fn level(self) -> TrafficLevel {
        match self {
            Self::Level(l) => l,
            Self::RequestsPerSecond(r) if r < 1.0 => TrafficLevel::Low,
            Self::RequestsPerSecond(r) if r < 100.0 => TrafficLevel::Medium,
            Self::RequestsPerSecond(_) => TrafficLevel::High,
        }
    }
}

/// What the service's monitoring can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitoring {
    /// Nothing beyond "the process runs".
    None,
    /// Health checks and logs.
    Basic,
    /// Metrics an analysis can query (error rate, latency).
    Metrics,
    /// Metrics per slot, analysis templates, background analysis.
    FullAnalysis,
}

/// How fast a bad release must be undone.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RollbackSpeed {
    /// `instant`, `minutes` or `relaxed`.
    Class(RollbackClass),
    /// At most this many seconds.
    Seconds(u64),
}

/// A rollback-speed class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackClass {
    /// Seconds: a traffic switch, nothing to start.
    Instant,
    /// A few minutes: a re-deploy is acceptable.
    Minutes,
    /// No requirement.
    Relaxed,
}

impl RollbackSpeed {
    /// The class (10 s or less is instant, 15 min or less minutes).
    pub fn class(self) -> RollbackClass {
        match self {
            Self::Class(c) => c,
            Self::Seconds(s) if s <= 10 => RollbackClass::Instant,
            Self::Seconds(s) if s <= 900 => RollbackClass::Minutes,
            Self::Seconds(_) => RollbackClass::Relaxed,
        }
    }
}

/// What the advisor needs to know about a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceProfile {
    /// Traffic volume.
    pub traffic: TrafficVolume,
    /// Monitoring capability.
    pub monitoring: Monitoring,
    /// Spare capacity, in percent of the service's normal footprint.
    pub spare_capacity_percent: u32,
    /// How fast a bad release must be undone.
    pub rollback_speed: RollbackSpeed,
    /// The service keeps state (a database, a queue consumer with local state).
    #[serde(default)]
    pub stateful: bool,
    /// A traffic router can split requests by weight.
    #[serde(default)]
    pub has_router: bool,
    /// Replicas in production.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The analysis template to use in analysis steps (when monitoring allows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisName>,
}

fn one() -> u32 {
    1
}

impl ServiceProfile {
    /// A profile; `replicas` 1, stateless, no router, no analysis template.
    pub fn new(
        traffic: TrafficVolume,
        monitoring: Monitoring,
        spare_capacity_percent: u32,
        rollback_speed: RollbackSpeed,
    ) -> Self {
        Self {
            traffic,
            monitoring,
            spare_capacity_percent,
            rollback_speed,
            stateful: false,
            has_router: false,
            replicas: 1,
            analysis: None,
        }
    }

    /// Marks the service stateful.
    pub fn stateful(mut self, stateful: bool) -> Self {
        self.stateful = stateful;
        self
    }

    /// Says whether a router serves it.
    pub fn with_router(mut self, has_router: bool) -> Self {
        self.has_router = has_router;
        self
    }

    /// Sets the replica count.
    pub fn with_replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    /// Names the analysis template analysis steps use.
    pub fn with_analysis(mut self, analysis: impl Into<AnalysisName>) -> Self {
        self.analysis = Some(analysis.into());
        self
    }
}

/// The advisor's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StrategyAdvice {
    /// The recommended strategy with its parameters, as a manifest's `strategy` block.
    pub strategy: StrategySpec,
    /// Why, in order of weight.
    pub reasons: Vec<Reason>,
}

impl StrategyAdvice {
    /// The strategy's manifest name.
    pub fn name(&self) -> &str {
        match &self.strategy {
            StrategySpec::AllAtOnce {} => "all_at_once",
            StrategySpec::Rolling(_) => "rolling",
            StrategySpec::BlueGreen(_) => "blue_green",
            StrategySpec::Canary(_) => "canary",
            StrategySpec::Custom { name, .. } => name,
        }
    }

    /// True when a reason with this code is given.
    pub fn has_reason(&self, code: &str) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }
}

impl fmt::Display for StrategyAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "recommended strategy: {}", self.name())?;
        let params = serde_json::to_string(&self.strategy).map_err(|_| fmt::Error)?;
        writeln!(f, "parameters: {params}")?;
        for r in &self.reasons {
            writeln!(f, "  - {} ({})", r.message, r.code)?;
        }
        Ok(())
    }
}

/// Recommends a strategy and parameters for a service.
///
/// ```
/// use release_strategies::advisor::{Monitoring, RollbackClass, RollbackSpeed, TrafficLevel};
/// use release_strategies::{ServiceProfile, TrafficVolume, recommend_strategy};
///
/// let profile = ServiceProfile::new(
///     TrafficVolume::Level(TrafficLevel::High),
///     Monitoring::Metrics,
///     30,
///     RollbackSpeed::Class(RollbackClass::Minutes),
/// )
/// .with_router(true)
/// .with_replicas(10)
/// .with_analysis("error-rate");
/// let advice = recommend_strategy(&profile);
/// assert_eq!(advice.name(), "canary");
/// println!("{advice}");
/// ```
pub fn recommend_strategy(profile: &ServiceProfile) -> StrategyAdvice {
    let mut reasons = Vec::new();
    let traffic = profile.traffic.level();
    let speed = profile.rollback_speed.class();
    let spare = profile.spare_capacity_percent;
    let metrics = profile.monitoring >= Monitoring::Metrics;
    let replicas = profile.replicas.max(1);

    if profile.stateful {
        reasons.push(Reason::new(
            "stateful",
            "the service keeps state: two versions side by side would share it, so the rollout replaces replicas in place and schema changes must be backward compatible (expand, then contract)",
        ));
        if replicas == 1 {
            reasons.push(Reason::new(
                "stateful.single_replica",
                "one replica cannot run two versions at once without two writers: replace it all at once and take a backup before",
            ));
            return StrategyAdvice {
                strategy: StrategySpec::AllAtOnce {},
                reasons,
            };
        }
        reasons.push(Reason::new(
            "stateful.one_at_a_time",
            format!("{replicas} replicas: replace one at a time with no surge, so the state never sees more writers than usual"),
        ));
        return StrategyAdvice {
            strategy: StrategySpec::Rolling(RollingSpec {
                max_surge: CountOrPercent::Count(0),
                max_unavailable: CountOrPercent::Count(1),
                pause_between: metrics.then(|| HumanDuration::from_secs(60)),
                rollback_window: None,
            }),
            reasons,
        };
    }

    let blue_green_fits = spare >= 100;
    if speed == RollbackClass::Instant {
        if blue_green_fits && profile.has_router {
            reasons.push(Reason::new(
                "rollback.instant",
                "an instant rollback needs the old version running and a traffic switch: blue-green keeps it through the scale-down delay",
            ));
            reasons.push(Reason::new(
                "capacity.full_preview",
                format!("{spare}% spare capacity holds a full-size preview"),
            ));
            return StrategyAdvice {
                strategy: StrategySpec::BlueGreen(blue_green(profile, &mut reasons)),
                reasons,
            };
        }
        if !blue_green_fits {
            reasons.push(Reason::new(
                "capacity.no_full_preview",
                format!("blue-green would give an instant rollback but needs ~100% spare capacity for the preview; there is {spare}%"),
            ));
        }
        if !profile.has_router {
            reasons.push(Reason::new(
                "router.missing",
                "without a traffic router no strategy switches traffic instantly: a rollback scales the old version up again",
            ));
        }
    }

    let canary_traffic = traffic >= TrafficLevel::Medium;
    if canary_traffic && metrics {
        reasons.push(Reason::new(
            "canary.traffic_and_metrics",
            "enough traffic and metrics to judge a small canary before everyone gets it",
        ));
        if speed == RollbackClass::Instant && profile.has_router {
            reasons.push(Reason::new(
                "rollback.traffic_switch",
                "with a router a canary abort is a traffic switch to the stable version, which keeps running at full size",
            ));
        }
        return StrategyAdvice {
            strategy: StrategySpec::Canary(canary(profile, &mut reasons)),
            reasons,
        };
    }
    if canary_traffic && !metrics {
        reasons.push(Reason::new(
            "monitoring.too_weak_for_canary",
            "a canary needs metrics to compare versions; with health checks only it would be a slow rolling update",
        ));
    }
    if traffic == TrafficLevel::Low {
        reasons.push(Reason::new(
            "traffic.low",
            "low traffic makes canary analysis statistically weak: a small canary sees too few requests to tell versions apart",
        ));
        if blue_green_fits {
            reasons.push(Reason::new(
                "capacity.full_preview",
                format!("{spare}% spare capacity holds a full-size preview that can be checked before the switch"),
            ));
            return StrategyAdvice {
                strategy: StrategySpec::BlueGreen(blue_green(profile, &mut reasons)),
                reasons,
            };
        }
    }

    let surge = spare.min(25);
    reasons.push(Reason::new(
        "rolling.fallback",
        if surge == 0 {
            "rolling update without extra capacity: 25% of replicas are replaced at a time".to_owned()
        } else {
            format!("rolling update: up to {surge}% extra replicas (the spare capacity allows it) and 25% unavailable")
        },
    ));
    if speed == RollbackClass::Instant {
        reasons.push(Reason::new(
            "rollback.redeploy",
            "a rolling rollback re-deploys the old version; it is not instant",
        ));
    }
    StrategyAdvice {
        strategy: StrategySpec::Rolling(RollingSpec {
            max_surge: CountOrPercent::Percent(surge),
            max_unavailable: CountOrPercent::Percent(25),
            pause_between: (profile.monitoring >= Monitoring::Basic)
                .then(|| HumanDuration::from_secs(30)),
            rollback_window: None,
        }),
        reasons,
    }
}

fn blue_green(profile: &ServiceProfile, reasons: &mut Vec<Reason>) -> BlueGreenSpec {
    let mut spec = BlueGreenSpec::default();
    let metrics = profile.monitoring >= Monitoring::Metrics;
    match (&profile.analysis, metrics) {
        (Some(a), true) => {
            spec.pre_promotion_analysis = Some(a.clone());
            spec.post_promotion_analysis = Some(a.clone());
            reasons.push(Reason::new(
                "analysis.pre_and_post",
                format!("analysis `{a}` checks the preview before the switch and the new version after it; a failure after the switch switches back"),
            ));
        }
        (None, true) => reasons.push(Reason::new(
            "analysis.unnamed",
            "metrics exist but the profile names no analysis template; name one to get pre- and post-promotion analysis",
        )),
        (_, false) => {
            spec.auto_promotion = false;
            reasons.push(Reason::new(
                "promotion.manual",
                "without metrics nothing can judge the preview automatically: a person promotes it",
            ));
        }
    }
    if profile.rollback_speed.class() == RollbackClass::Instant {
        spec.scale_down_delay = HumanDuration::from_mins(10);
        reasons.push(Reason::new(
            "rollback.window",
            "the old version stays up 10 minutes after the switch, so a rollback in that window is a traffic switch",
        ));
        spec.rollback_window = Some(release_core::model::RollbackWindow::revisions(2));
        reasons.push(Reason::new(
            "rollback.fast_track",
            "re-deploying one of the last 2 versions skips analysis and the promotion pause (rollback window), so a later roll-back is not slowed by checks that version already passed",
        ));
    }
    spec
}

fn canary(profile: &ServiceProfile, reasons: &mut Vec<Reason>) -> CanarySpec {
    let replicas = profile.replicas.max(1);
    // Without a router the smallest weight is one replica's share.
    let smallest = if profile.has_router {
        5
    } else {
        100_u32.div_ceil(replicas).max(5)
    };
    if !profile.has_router {
        reasons.push(Reason::new(
            "canary.replica_weights",
            format!("without a router traffic follows replica counts: with {replicas} replicas the smallest canary takes {smallest}%"),
        ));
    }
    let mut weights: Vec<u32> = [smallest, 25, 50]
        .into_iter()
        .filter(|w| *w >= smallest && *w < 100)
        .collect();
    weights.dedup();
    let pause = if profile.traffic.level() == TrafficLevel::High {
        HumanDuration::from_mins(2)
    } else {
        HumanDuration::from_mins(10)
    };
    let mut steps = Vec::new();
    for w in &weights {
        steps.push(CanaryStep::SetWeight(*w));
        steps.push(CanaryStep::Pause(Pause::For(pause)));
        if let Some(a) = &profile.analysis {
            steps.push(CanaryStep::Analysis(a.clone()));
        }
    }
    if profile.analysis.is_none() {
        reasons.push(Reason::new(
            "analysis.unnamed",
            "the profile names no analysis template: the canary pauses between steps, but nothing judges it; name one to add analysis steps",
        ));
    }
    let background = (profile.monitoring == Monitoring::FullAnalysis)
        .then(|| profile.analysis.clone())
        .flatten();
    if background.is_some() {
        reasons.push(Reason::new(
            "analysis.background",
            "full analysis support: the analysis also runs in the background across every step",
        ));
    }
    reasons.push(Reason::new(
        "canary.steps",
        format!(
            "weights {} with {pause} pauses, then promotion",
            weights
                .iter()
                .map(|w| format!("{w}%"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ));
    CanarySpec {
        steps,
        background_analysis: background,
        max_surge: CountOrPercent::Percent(25),
        max_unavailable: CountOrPercent::Percent(0),
        abort_scale_down_delay: HumanDuration::from_secs(30),
        rollback_window: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(
        traffic: TrafficLevel,
        monitoring: Monitoring,
        spare: u32,
        speed: RollbackClass,
    ) -> ServiceProfile {
        ServiceProfile::new(
            TrafficVolume::Level(traffic),
            monitoring,
            spare,
            RollbackSpeed::Class(speed),
        )
        .with_replicas(10)
    }

    #[test]
    fn a_single_stateful_replica_goes_all_at_once() {
        let p = profile(
            TrafficLevel::High,
            Monitoring::FullAnalysis,
            200,
            RollbackClass::Instant,
        )
        .stateful(true)
        .with_router(true)
        .with_replicas(1);
        let advice = recommend_strategy(&p);
        assert_eq!(advice.strategy, StrategySpec::AllAtOnce {});
        assert!(advice.has_reason("stateful.single_replica"));
    }

    #[test]
    fn stateful_replicas_roll_one_at_a_time_without_surge() {
        let p = profile(
            TrafficLevel::High,
            Monitoring::Metrics,
            200,
            RollbackClass::Instant,
        )
        .stateful(true)
        .with_router(true);
        let advice = recommend_strategy(&p);
        let StrategySpec::Rolling(r) = &advice.strategy else {
            panic!("{advice}")
        };
        assert_eq!(r.max_surge, CountOrPercent::Count(0));
        assert_eq!(r.max_unavailable, CountOrPercent::Count(1));
        assert!(advice.has_reason("stateful"));
    }

    #[test]
    fn instant_rollback_with_full_spare_capacity_and_a_router_is_blue_green() {
        let p = profile(
            TrafficLevel::Medium,
            Monitoring::Metrics,
            100,
            RollbackClass::Instant,
        )
        .with_router(true)
        .with_analysis("error-rate");
        let advice = recommend_strategy(&p);
        let StrategySpec::BlueGreen(b) = &advice.strategy else {
            panic!("{advice}")
        };
        assert_eq!(b.post_promotion_analysis, Some("error-rate".into()));
        assert_eq!(b.scale_down_delay, HumanDuration::from_mins(10));
        assert!(advice.has_reason("rollback.instant"));
        assert!(advice.has_reason("rollback.window"));
        assert!(advice.has_reason("rollback.fast_track"));
        assert_eq!(
            b.rollback_window,
            Some(release_core::model::RollbackWindow::revisions(2))
        );
    }

    #[test]
    fn blue_green_without_metrics_is_promoted_by_a_person() {
        let p = profile(
            TrafficLevel::Low,
            Monitoring::Basic,
            150,
            RollbackClass::Instant,
        )
        .with_router(true);
        let advice = recommend_strategy(&p);
        let StrategySpec::BlueGreen(b) = &advice.strategy else {
            panic!("{advice}")
        };
        assert!(!b.auto_promotion);
        assert!(advice.has_reason("promotion.manual"));
    }

    #[test]
    fn instant_rollback_without_capacity_says_why_not_blue_green() {
        let p = profile(
            TrafficLevel::High,
            Monitoring::Metrics,
            30,
            RollbackClass::Instant,
        )
        .with_router(true)
        .with_analysis("error-rate");
        let advice = recommend_strategy(&p);
        assert_eq!(advice.name(), "canary");
        assert!(advice.has_reason("capacity.no_full_preview"));
        assert!(advice.has_reason("rollback.traffic_switch"));
    }

    #[test]
    fn traffic_and_metrics_give_a_canary_with_analysis() {
        let p = profile(
            TrafficLevel::High,
            Monitoring::FullAnalysis,
            20,
            RollbackClass::Minutes,
        )
        .with_router(true)
        .with_analysis("error-rate");
        let advice = recommend_strategy(&p);
        let StrategySpec::Canary(c) = &advice.strategy else {
            panic!("{advice}")
        };
        assert_eq!(c.steps[0], CanaryStep::SetWeight(5));
        assert!(c.steps.contains(&CanaryStep::Analysis("error-rate".into())));
        assert_eq!(c.background_analysis, Some("error-rate".into()));
        assert!(advice.has_reason("canary.traffic_and_metrics"));
    }

    #[test]
    fn a_canary_without_a_router_starts_at_one_replica_share() {
        let p = profile(
            TrafficLevel::Medium,
            Monitoring::Metrics,
            20,
            RollbackClass::Relaxed,
        )
        .with_replicas(4);
        let advice = recommend_strategy(&p);
        let StrategySpec::Canary(c) = &advice.strategy else {
            panic!("{advice}")
        };
        assert_eq!(c.steps[0], CanaryStep::SetWeight(25));
        assert!(advice.has_reason("canary.replica_weights"));
        assert!(advice.has_reason("analysis.unnamed"));
    }

    #[test]
    fn low_traffic_makes_canary_analysis_weak() {
        let p = profile(
            TrafficLevel::Low,
            Monitoring::FullAnalysis,
            10,
            RollbackClass::Minutes,
        )
        .with_router(true);
        let advice = recommend_strategy(&p);
        assert_eq!(advice.name(), "rolling");
        assert!(advice.has_reason("traffic.low"));
        let p = profile(
            TrafficLevel::Low,
            Monitoring::FullAnalysis,
            100,
            RollbackClass::Minutes,
        )
        .with_router(true);
        assert_eq!(recommend_strategy(&p).name(), "blue_green");
    }

    #[test]
    fn rolling_is_the_fallback_with_surge_from_spare_capacity() {
        let p = profile(
            TrafficLevel::Medium,
            Monitoring::Basic,
            10,
            RollbackClass::Relaxed,
        );
        let advice = recommend_strategy(&p);
        let StrategySpec::Rolling(r) = &advice.strategy else {
            panic!("{advice}")
        };
        assert_eq!(r.max_surge, CountOrPercent::Percent(10));
        assert!(advice.has_reason("monitoring.too_weak_for_canary"));
        let p = profile(
            TrafficLevel::Medium,
            Monitoring::None,
            0,
            RollbackClass::Relaxed,
        );
        let StrategySpec::Rolling(r) = recommend_strategy(&p).strategy else {
            panic!()
        };
        assert_eq!(r.max_surge, CountOrPercent::Percent(0));
        assert_eq!(r.max_unavailable, CountOrPercent::Percent(25));
    }

    #[test]
    fn rates_and_seconds_map_to_classes() {
        assert_eq!(
            TrafficVolume::RequestsPerSecond(0.2).level(),
            TrafficLevel::Low
        );
        assert_eq!(
            TrafficVolume::RequestsPerSecond(20.0).level(),
            TrafficLevel::Medium
        );
        assert_eq!(
            TrafficVolume::RequestsPerSecond(500.0).level(),
            TrafficLevel::High
        );
        assert_eq!(RollbackSpeed::Seconds(5).class(), RollbackClass::Instant);
        assert_eq!(RollbackSpeed::Seconds(300).class(), RollbackClass::Minutes);
        assert_eq!(RollbackSpeed::Seconds(7200).class(), RollbackClass::Relaxed);
    }

    #[test]
    fn profiles_and_advice_round_trip_through_serde_and_read_well() {
        let p: ServiceProfile = serde_json::from_str(
            r#"{ "traffic": 250.0, "monitoring": "full_analysis", "spare_capacity_percent": 120,
                 "rollback_speed": "instant", "has_router": true, "replicas": 6, "analysis": "error-rate" }"#,
        )
        .unwrap();
        assert_eq!(p.traffic.level(), TrafficLevel::High);
        assert_eq!(p.rollback_speed.class(), RollbackClass::Instant);
        let p2: ServiceProfile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(p, p2);
        let advice = recommend_strategy(&p);
        let back: StrategyAdvice =
            serde_json::from_str(&serde_json::to_string(&advice).unwrap()).unwrap();
        assert_eq!(back, advice);
        let text = advice.to_string();
        assert!(
            text.starts_with("recommended strategy: blue_green\n"),
            "{text}"
        );
        assert!(text.contains("(rollback.instant)"), "{text}");
        let err = serde_json::from_str::<ServiceProfile>(r#"{ "traffic": "low", "monitoring": "none", "spare_capacity_percent": 0, "rollback_speed": "relaxed", "colour": 1 }"#)
            .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
