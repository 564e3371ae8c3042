//! Each strategy through the real engine with in-memory plugins, in virtual time: success,
//! a failing analysis in each place one can run, operator actions (promote, promote-full,
//! abort, retry), the progress deadline, and the time from the rollback decision to all
//! traffic on the old version.

mod common;
use common::release;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{
    AnalysisOutcome, Event, InMemoryLedger, Ledger, Outcome, Program, Record, read_all,
};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{
    Convergence, InMemoryMetrics, InMemoryProbe, InMemoryRouter, InMemoryTarget, ScopeMatcher,
    TargetChange,
};
use release_core::model::Platform;
use release_core::plugin::{Clock, DeploymentTarget, Notifier, RolloutStep, Route, TokioClock};
use release_core::testkit::{FaultRule, FaultyTarget};

const ENV: &str = "production";

fn platform(strategy: &str) -> Platform {
    let text = format!(
        r#"
apiVersion: release/v1
kind: Platform
metadata: {{ name: shop }}
components:
  - id: web
    owner: {{ primary: a@x, backup: b@x }}
    strategy: {strategy}
environments:
  - {{ name: production, tier: production, parameters: {{ replicas: 10 }} }}
lifecycle:
  phases:
    - {{ name: release, environments: [production] }}
analyses:
  error-rate:
    metric: {{ source: default, query: error_ratio }}
    success: "< 0.05"
    interval: 30s
    count: 3
    no_data: fail
  background-errors:
    metric: {{ source: default, query: error_ratio }}
    success: "< 0.05"
    interval: 30s
    no_data: fail
  smoke:
    metric: {{ source: default, query: smoke_errors }}
    success: "< 0.05"
    interval: 10s
    count: 2
    no_data: fail
"#
    );
    match parse_str(&text, "platform.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => panic!("not a platform"),
    }
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

struct Rig {
    platform: Platform,
    ledger: Arc<dyn Ledger>,
    memory: Arc<InMemoryTarget>,
    faulty: Arc<FaultyTarget>,
    router: Option<Arc<InMemoryRouter>>,
    metrics: Arc<InMemoryMetrics>,
    probe: Arc<InMemoryProbe>,
    clock: Arc<TokioClock>,
    engine: Engine,
}

impl Rig {
    /// A rig whose slots become ready two polls (10 s) after a state-changing apply.
    fn new(strategy: &str, router: bool) -> Self {
        Self::with_notifier(strategy, router, None)
    }

    fn with_notifier(strategy: &str, router: bool, notifier: Option<Arc<dyn Notifier>>) -> Self {
        // Every change kept: the tests replay the history from an index.
        let memory = Arc::new(
            InMemoryTarget::new()
                .with_convergence(Convergence::AfterObserves(1))
                .with_history_limit(usize::MAX),
        );
        let faulty = Arc::new(FaultyTarget::new(
            memory.clone() as Arc<dyn DeploymentTarget>
        ));
        let router = router.then(|| Arc::new(InMemoryRouter::new().with_history_limit(usize::MAX)));
        let metrics = Arc::new(InMemoryMetrics::new());
        metrics.set("error_ratio", ScopeMatcher::any(), 0.01);
        metrics.set("smoke_errors", ScopeMatcher::any(), 0.0);
        let probe = Arc::new(InMemoryProbe::new());
        let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
        let clock = Arc::new(TokioClock::new(start_time()));
        let mut builder = release_strategies::register(Engine::builder())
            .ledger(ledger.clone())
            .clock(clock.clone())
            .target("default", faulty.clone())
            .metrics("default", metrics.clone())
            .probe("health", probe.clone())
            .options(
                EngineOptions::default()
                    .with_holder("engine-a")
                    .with_poll_interval(Duration::from_secs(5)),
            );
        if let Some(r) = &router {
            builder = builder.router(r.clone());
        }
        if let Some(n) = notifier {
            builder = builder.notifier(n);
        }
        Self {
            platform: platform(strategy),
            ledger,
            memory,
            faulty,
            router,
            metrics,
            probe,
            clock,
            engine: builder.build().unwrap(),
        }
    }

    /// Ships 1.0.0 (first deploy), then starts 2.0.0.
    async fn upgrade(&self) -> RunOutcome {
        let first = self.ship("1.0.0").await;
        assert_eq!(first.outcome(), Some(&Outcome::Succeeded), "{first:?}");
        assert_eq!(self.versions(), set(&["1.0.0"]));
        self.ship("2.0.0").await
    }

    async fn ship(&self, version: &str) -> RunOutcome {
        self.engine
            .start(&self.platform, &release(version), "ana@x")
            .await
            .unwrap()
    }

    fn versions(&self) -> BTreeSet<String> {
        self.memory
            .versions(ENV)
            .remove(&release_core::id::ComponentId::from("web"))
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// slot → (version, replicas) of slots with replicas.
    fn slots(&self) -> BTreeMap<String, (String, u32)> {
        self.memory
            .running(ENV, "web")
            .into_iter()
            .filter(|s| s.spec.replicas > 0)
            .map(|s| {
                (
                    s.spec.slot.to_string(),
                    (s.spec.version.to_string(), s.spec.replicas),
                )
            })
            .collect()
    }

    fn weight(&self, slot: &str) -> u32 {
        let router = self.router.as_ref().unwrap();
        router.weight_of(&Route::new("web", ENV), slot)
    }

    async fn records(&self, version: &str) -> Vec<Record> {
        read_all(self.ledger.as_ref(), &format!("web-{version}").into())
            .await
            .unwrap()
    }

    /// The most replicas that existed at once during 2.0.0's rollout.
    fn peak_replicas_since(&self, from: usize) -> u32 {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        let history = self.memory.history();
        for change in &history[..from] {
            apply_change(&mut counts, change);
        }
        let mut peak: u32 = counts.values().sum();
        for change in &history[from..] {
            apply_change(&mut counts, change);
            peak = peak.max(counts.values().sum());
        }
        peak
    }
}

fn apply_change(counts: &mut BTreeMap<String, u32>, change: &TargetChange) {
    match change {
        TargetChange::Apply { spec, .. } => {
            counts.insert(spec.slot.to_string(), spec.replicas);
        }
        TargetChange::Remove { spec } => {
            counts.remove(spec.slot.as_str());
        }
        _ => {}
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn one_slot(slot: &str, version: &str) -> BTreeMap<String, (String, u32)> {
    BTreeMap::from([(slot.to_owned(), (version.to_owned(), 10))])
}

fn rolled_back(outcome: &RunOutcome) -> bool {
    matches!(outcome.outcome(), Some(Outcome::RolledBack { .. }))
}

/// Virtual time from the rollback decision to all traffic on the old version in `old_slot`,
/// replayed from the journal: after which rollback step does `old_slot` run 1.0.0 and get all
/// traffic (with a router: weight 100; without: the only slot with replicas)?
fn rollback_to_old_traffic(records: &[Record], old_slot: &str, router: bool) -> Duration {
    rollback_to_old_traffic_span(records, old_slot, router).0
}

/// The same, with the sequence numbers of the rollback decision and of the step that did it.
fn rollback_to_old_traffic_span(
    records: &[Record],
    old_slot: &str,
    router: bool,
) -> (Duration, (u64, u64)) {
    let decision = records
        .iter()
        .find(|r| matches!(r.event, Event::RollbackStarted { .. }))
        .expect("a rollback");
    let decided = decision.at;
    // Before 2.0.0: the old slot alone, with all traffic.
    let mut slots: BTreeMap<String, (String, u32)> =
        BTreeMap::from([(old_slot.to_owned(), ("1.0.0".to_owned(), 10))]);
    let mut weights: Vec<(String, u32)> = vec![(old_slot.to_owned(), 100)];
    let mut started: BTreeMap<(Program, u32), RolloutStep> = BTreeMap::new();
    for r in records {
        match &r.event {
            Event::StepStarted { key, step } => {
                // Pessimistic: a started apply may have reached the target (then failed its
                // probe); count it as applied.
                if let RolloutStep::Apply(s) = step {
                    slots.insert(s.slot.to_string(), (s.version.to_string(), s.replicas));
                }
                started.insert((key.program, key.index), step.clone());
            }
            Event::StepSucceeded { key } => {
                match &started[&(key.program, key.index)] {
                    RolloutStep::Apply(s) => {
                        slots.insert(s.slot.to_string(), (s.version.to_string(), s.replicas));
                    }
                    RolloutStep::RemoveSlot { slot } => {
                        slots.remove(slot.as_str());
                    }
                    RolloutStep::SetWeights(w) => {
                        weights = w.iter().map(|w| (w.slot.to_string(), w.weight)).collect();
                    }
                    _ => {}
                }
                let old_runs = slots
                    .get(old_slot)
                    .is_some_and(|(v, n)| v == "1.0.0" && *n > 0);
                let all_traffic = if router {
                    weights == [(old_slot.to_owned(), 100)]
                } else {
                    slots.iter().all(|(s, (_, n))| s == old_slot || *n == 0)
                };
                if key.program == Program::Rollback && old_runs && all_traffic {
                    return ((r.at - decided).to_std().unwrap(), (decision.seq, r.seq));
                }
            }
            _ => {}
        }
    }
    panic!("no rollback step put all traffic on {old_slot}");
}

const CANARY_STEPS_ONLY: &str = "{ canary: { steps: [ { set_weight: 10 }, { pause: 1m }, { analysis: error-rate }, { set_weight: 41 }, { pause: 2m } ] } }";

const CANARY: &str = "{ canary: { steps: [ { set_weight: 10 }, { pause: 1m }, { analysis: error-rate }, { set_weight: 41 }, { pause: 2m } ], background_analysis: background-errors } }";

// ---------------------------------------------------------------- rolling

#[tokio::test(start_paused = true)]
async fn rolling_replaces_in_batches_within_surge_and_ends_on_stable_only() {
    let rig = Rig::new(
        "{ rolling: { max_surge: 25%, max_unavailable: 0, pause_between: 10s } }",
        false,
    );
    rig.ship("1.0.0").await;
    let from = rig.memory.history().len();
    let outcome = rig.ship("2.0.0").await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
    // 25 % of 10 rounds up to 3 extra replicas; none may be unavailable.
    assert!(rig.peak_replicas_since(from) <= 13);
    let batches = rig.memory.history()[from..]
        .iter()
        .filter(|c| c.is_apply() && c.spec().slot == "next" && c.spec().replicas > 0)
        .count();
    assert!(batches >= 4, "{batches} batches");
}

#[tokio::test(start_paused = true)]
async fn rolling_rolls_back_when_a_batch_fails_its_probe() {
    let rig = Rig::new("{ rolling: {} }", false);
    rig.ship("1.0.0").await;
    rig.probe.set_unhealthy(
        ScopeMatcher::of("web", ENV).slot("next"),
        "HTTP 500 from /healthz",
    );
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
}

#[tokio::test(start_paused = true)]
async fn a_step_that_never_converges_fails_at_the_progress_deadline() {
    let rig = Rig::new("{ rolling: {} }", false);
    rig.ship("1.0.0").await;
    rig.faulty
        .inject(FaultRule::unready(0).in_slot("next").always());
    let started = tokio::time::Instant::now();
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(600), "{waited:?}");
    assert!(waited < Duration::from_secs(700), "{waited:?}");
    let records = rig.records("2.0.0").await;
    let failed = records.iter().find_map(|r| match &r.event {
        Event::StepFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert!(failed.unwrap().contains("600 s progress deadline"));
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
}

#[tokio::test(start_paused = true)]
async fn rolling_with_both_bounds_zero_fails_with_the_fix() {
    let rig = Rig::new("{ rolling: { max_surge: 0, max_unavailable: 0 } }", false);
    rig.ship("1.0.0").await;
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    let Some(Outcome::RolledBack { reason, .. }) = outcome.outcome() else {
        unreachable!()
    };
    assert!(reason.contains("set max_surge to at least 1"), "{reason}");
}

// ---------------------------------------------------------------- canary

#[tokio::test(start_paused = true)]
async fn canary_with_a_router_shifts_weights_then_promotes() {
    let rig = Rig::new(CANARY, true);
    let outcome = rig.upgrade().await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
    assert_eq!(rig.weight("stable"), 100);
    let route = Route::new("web", ENV);
    let history: Vec<String> = rig
        .router
        .as_ref()
        .unwrap()
        .history_of(&route)
        .iter()
        .map(|c| {
            c.weights
                .iter()
                .map(|w| format!("{} {}", w.slot, w.weight))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    assert_eq!(
        history,
        [
            "stable 100",
            "canary 10/stable 90",
            "canary 41/stable 59",
            "canary 100",
            "stable 100"
        ]
    );
    // The canary was sized ceil(10 % × 10) = 1, then ceil(41 % × 10) = 5.
    let canary_sizes: Vec<u32> = rig
        .memory
        .history()
        .iter()
        .filter(|c| c.is_apply() && c.spec().slot == "canary")
        .map(|c| c.spec().replicas)
        .collect();
    assert_eq!(canary_sizes, [1, 5, 10]);
}

#[tokio::test(start_paused = true)]
async fn canary_without_a_router_splits_by_replicas() {
    let rig = Rig::new(CANARY, false);
    let outcome = rig.upgrade().await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
    let canary_sizes: Vec<u32> = rig
        .memory
        .history()
        .iter()
        .filter(|c| c.is_apply() && c.spec().slot == "canary")
        .map(|c| c.spec().replicas)
        .collect();
    // 10 % of 10 = 1, 41 % of 10 = 4 (traffic follows replicas), then promotion.
    assert_eq!(&canary_sizes[..2], &[1, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_canary_step_analysis_rolls_back_to_stable_only() {
    let rig = Rig::new(CANARY, true);
    rig.ship("1.0.0").await;
    // Fine for the background analysis at the start, bad from 50 s on (during the pause's
    // end, the step analysis measures it).
    rig.metrics.set_series(
        "error_ratio",
        ScopeMatcher::any(),
        rig.clock.now(),
        [
            (Duration::ZERO, 0.01),
            (Duration::from_secs(50), 0.01),
            (Duration::from_secs(61), 0.3),
        ],
    );
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
    assert_eq!(rig.weight("stable"), 100);
    assert_eq!(rig.weight("canary"), 0);
    let records = rig.records("2.0.0").await;
    assert!(records.iter().any(|r| matches!(&r.event, Event::AnalysisCompleted { analysis, outcome: AnalysisOutcome::Failed, .. } if analysis.as_str() == "error-rate")));
    assert_eq!(
        rollback_to_old_traffic(&records, "stable", true),
        Duration::ZERO
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_background_analysis_during_a_pause_rolls_back() {
    let rig = Rig::new(
        "{ canary: { steps: [ { set_weight: 20 }, { pause: 10m }, { set_weight: 50 } ], background_analysis: background-errors } }",
        true,
    );
    rig.ship("1.0.0").await;
    let now = rig.clock.now();
    rig.metrics.set_series(
        "error_ratio",
        ScopeMatcher::any(),
        now,
        [(Duration::ZERO, 0.01), (Duration::from_secs(200), 0.4)],
    );
    let started = tokio::time::Instant::now();
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    // It failed inside the 10-minute pause, at the first measurement after 200 s.
    assert!(
        started.elapsed() < Duration::from_secs(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
    assert_eq!(rig.weight("stable"), 100);
    let records = rig.records("2.0.0").await;
    assert!(records.iter().any(|r| matches!(&r.event, Event::AnalysisCompleted { analysis, outcome: AnalysisOutcome::Failed, .. } if analysis.as_str() == "background-errors")));
}

#[tokio::test(start_paused = true)]
async fn abort_during_a_canary_pause_sends_traffic_to_stable_at_once() {
    let rig = Rig::new(
        "{ canary: { steps: [ { set_weight: 30 }, { pause: approval }, { set_weight: 60 } ], abort_scale_down_delay: 45s } }",
        true,
    );
    let outcome = rig.upgrade().await;
    assert!(matches!(outcome, RunOutcome::Waiting { .. }), "{outcome:?}");
    assert_eq!(rig.weight("canary"), 30);
    let id = "web-2.0.0".into();
    rig.engine.abort(&id, "ana@x", None).await.unwrap();
    let outcome = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert_eq!(
        outcome.outcome(),
        Some(&Outcome::Aborted {
            environment: Some(ENV.into())
        })
    );
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
    assert_eq!(rig.weight("stable"), 100);
    let records = rig.records("2.0.0").await;
    // The first rollback step is the switch; it takes no time.
    let first = records.iter().find_map(|r| match &r.event {
        Event::StepStarted { key, step } if key.program == Program::Rollback => Some(step.clone()),
        _ => None,
    });
    assert_eq!(
        first,
        Some(RolloutStep::SetWeights(vec![
            release_core::plugin::SlotWeight::new("stable", 100)
        ]))
    );
    assert_eq!(
        rollback_to_old_traffic(&records, "stable", true),
        Duration::ZERO
    );
    // The program keeps the canary for the abort scale-down delay (a pause before the
    // removal); the engine cuts rollback pauses short after an abort (see canary.rs).
    let rollback: Vec<RolloutStep> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepStarted { key, step } if key.program == Program::Rollback => {
                Some(step.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        rollback[2],
        RolloutStep::Pause(release_core::model::Pause::For(
            std::time::Duration::from_secs(45).into()
        ))
    );
    assert!(matches!(rollback[3], RolloutStep::RemoveSlot { .. }));
}

#[tokio::test(start_paused = true)]
async fn after_a_failed_analysis_the_canary_stays_for_the_scale_down_delay() {
    let rig = Rig::new(
        "{ canary: { steps: [ { set_weight: 30 }, { analysis: error-rate } ], abort_scale_down_delay: 45s } }",
        true,
    );
    rig.ship("1.0.0").await;
    rig.metrics.set("error_ratio", ScopeMatcher::any(), 0.5);
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
    let records = rig.records("2.0.0").await;
    assert_eq!(
        rollback_to_old_traffic(&records, "stable", true),
        Duration::ZERO
    );
    let removed = records
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::StepStarted {
                key,
                step: RolloutStep::RemoveSlot { .. },
            } if key.program == Program::Rollback => Some(r.at),
            _ => None,
        })
        .unwrap();
    let decided = records
        .iter()
        .find(|r| matches!(r.event, Event::RollbackStarted { .. }))
        .unwrap()
        .at;
    assert!((removed - decided).to_std().unwrap() >= Duration::from_secs(45));
}

#[tokio::test(start_paused = true)]
async fn promote_full_skips_the_remaining_pauses_and_analysis() {
    let rig = Rig::new(
        "{ canary: { steps: [ { set_weight: 10 }, { pause: approval }, { set_weight: 50 }, { pause: 1h }, { analysis: error-rate }, { pause: 1h } ] } }",
        true,
    );
    let outcome = rig.upgrade().await;
    assert!(matches!(outcome, RunOutcome::Waiting { .. }), "{outcome:?}");
    // The analysis would fail if it ran.
    rig.metrics.set("error_ratio", ScopeMatcher::any(), 0.9);
    let id = "web-2.0.0".into();
    let started = tokio::time::Instant::now();
    rig.engine.promote_full(&id, "ana@x", None).await.unwrap();
    let outcome = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(600),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
    let records = rig.records("2.0.0").await;
    assert!(
        !records
            .iter()
            .any(|r| matches!(r.event, Event::AnalysisCompleted { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn a_pause_until_approved_waits_and_promote_then_resume_continues() {
    let rig = Rig::new(
        "{ canary: { steps: [ { set_weight: 20 }, { pause: approval }, { set_weight: 60 }, { pause: approval } ] } }",
        true,
    );
    let outcome = rig.upgrade().await;
    assert!(matches!(outcome, RunOutcome::Waiting { .. }), "{outcome:?}");
    let id = "web-2.0.0".into();
    // Resuming without a promotion keeps waiting.
    let again = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert!(matches!(again, RunOutcome::Waiting { .. }), "{again:?}");
    assert_eq!(rig.weight("canary"), 20);
    rig.engine.promote(&id, "ana@x", None).await.unwrap();
    let outcome = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert!(matches!(outcome, RunOutcome::Waiting { .. }), "{outcome:?}");
    assert_eq!(rig.weight("canary"), 60);
    rig.engine.promote(&id, "ana@x", None).await.unwrap();
    let outcome = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
}

#[tokio::test(start_paused = true)]
async fn retry_after_a_rollback_reopens_the_release() {
    let rig = Rig::new(CANARY, true);
    rig.ship("1.0.0").await;
    rig.metrics.set("error_ratio", ScopeMatcher::any(), 0.5);
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
    rig.metrics.set("error_ratio", ScopeMatcher::any(), 0.01);
    let id = "web-2.0.0".into();
    rig.engine.retry(&id, "ana@x", None).await.unwrap();
    let outcome = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
}

// ---------------------------------------------------------------- blue-green

const BLUE_GREEN: &str = "{ blue_green: { pre_promotion_analysis: smoke, post_promotion_analysis: error-rate, scale_down_delay: 1m } }";

#[tokio::test(start_paused = true)]
async fn blue_green_switches_at_once_and_removes_the_old_color_after_the_delay() {
    let rig = Rig::new(BLUE_GREEN, true);
    let outcome = rig.upgrade().await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("green", "2.0.0"));
    assert_eq!(rig.weight("green"), 100);
    let route = Route::new("web", ENV);
    let switches: Vec<Vec<(String, u32)>> = rig
        .router
        .as_ref()
        .unwrap()
        .history_of(&route)
        .iter()
        .map(|c| {
            c.weights
                .iter()
                .map(|w| (w.slot.to_string(), w.weight))
                .collect()
        })
        .collect();
    assert_eq!(
        switches,
        [
            vec![("blue".to_owned(), 100)],
            vec![("green".to_owned(), 100)]
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_pre_promotion_analysis_keeps_traffic_on_the_old_color() {
    let rig = Rig::new(BLUE_GREEN, true);
    rig.ship("1.0.0").await;
    rig.metrics.set("smoke_errors", ScopeMatcher::any(), 0.5);
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("blue", "1.0.0"));
    assert_eq!(rig.weight("blue"), 100);
    // Green never received traffic.
    let route = Route::new("web", ENV);
    assert!(
        rig.router
            .as_ref()
            .unwrap()
            .history_of(&route)
            .iter()
            .all(|c| c.weights.iter().all(|w| w.slot != "green"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_post_promotion_analysis_switches_traffic_back_at_once() {
    let rig = Rig::new(BLUE_GREEN, true);
    rig.ship("1.0.0").await;
    rig.metrics.set("error_ratio", ScopeMatcher::any(), 0.5);
    let outcome = rig.ship("2.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("blue", "1.0.0"));
    assert_eq!(rig.weight("blue"), 100);
    let records = rig.records("2.0.0").await;
    // Blue still ran: its re-apply was a no-op, so the switch back took no time.
    assert_eq!(
        rollback_to_old_traffic(&records, "blue", true),
        Duration::ZERO
    );
    assert!(rig.memory.noop_applies().iter().any(|s| s.slot == "blue"));
}

#[tokio::test(start_paused = true)]
async fn blue_green_without_auto_promotion_waits_for_promote() {
    let rig = Rig::new("{ blue_green: { auto_promotion: false } }", true);
    let outcome = rig.upgrade().await;
    assert!(matches!(outcome, RunOutcome::Waiting { .. }), "{outcome:?}");
    assert_eq!(rig.weight("blue"), 100);
    assert_eq!(rig.slots().len(), 2, "the preview runs at full size");
    let id = "web-2.0.0".into();
    rig.engine.promote(&id, "ana@x", None).await.unwrap();
    let outcome = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("green", "2.0.0"));
}

#[tokio::test(start_paused = true)]
async fn blue_green_without_a_router_switches_by_scaling() {
    let rig = Rig::new(BLUE_GREEN, false);
    let outcome = rig.upgrade().await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("green", "2.0.0"));
}

// ---------------------------------------------------------------- all at once

#[tokio::test(start_paused = true)]
async fn all_at_once_replaces_and_rolls_back() {
    let rig = Rig::new("{ all_at_once: {} }", true);
    let outcome = rig.upgrade().await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
    rig.probe
        .set_unhealthy(ScopeMatcher::of("web", ENV), "down");
    let outcome = rig.ship("3.0.0").await;
    assert!(rolled_back(&outcome), "{outcome:?}");
    assert_eq!(rig.slots(), one_slot("stable", "2.0.0"));
}

// ---------------------------------------------------------------- rollback times

/// Wall-clock instants at which each journal record was delivered (the engine notifies right
/// after the append, before it acts on the next step).
#[derive(Default)]
struct Stopwatch {
    seen: std::sync::Mutex<BTreeMap<u64, std::time::Instant>>,
}

#[async_trait::async_trait]
impl Notifier for Stopwatch {
    async fn notify(&self, record: &Record) -> release_core::Result<()> {
        self.seen
            .lock()
            .unwrap()
            .insert(record.seq, std::time::Instant::now());
        Ok(())
    }
}

/// Simulated time from the rollback decision to 100 % of traffic on the old version, per
/// strategy and failure, plus the wall-clock time of the same span in this process (debug
/// build, in-memory ledger, target and router). A state-changing apply converges in 10 s of
/// virtual time here (the in-memory target reports it unready for one observe; the engine
/// polls every 5 s); a no-op apply takes none. Printed for BENCHMARKS.md:
/// `cargo test -p release-strategies --test engine rollback_times -- --nocapture`.
#[tokio::test(start_paused = true)]
async fn rollback_times() {
    let cases: [(&str, &str, bool, &str, &str); 9] = [
        (
            "all_at_once, router, probe fails",
            "{ all_at_once: {} }",
            true,
            "stable",
            "probe",
        ),
        (
            "all_at_once, no router, probe fails",
            "{ all_at_once: {} }",
            false,
            "stable",
            "probe",
        ),
        (
            "rolling, router, probe of new stable fails",
            "{ rolling: {} }",
            true,
            "stable",
            "verify",
        ),
        (
            "rolling, no router, probe of new stable fails",
            "{ rolling: {} }",
            false,
            "stable",
            "verify",
        ),
        (
            "blue_green, router, post-promotion analysis fails",
            BLUE_GREEN,
            true,
            "blue",
            "analysis",
        ),
        (
            "blue_green, no router, post-promotion analysis fails",
            BLUE_GREEN,
            false,
            "blue",
            "analysis",
        ),
        (
            "canary, router, step analysis fails at 10 %",
            CANARY_STEPS_ONLY,
            true,
            "stable",
            "analysis",
        ),
        (
            "canary, no router, step analysis fails at 10 %",
            CANARY_STEPS_ONLY,
            false,
            "stable",
            "analysis",
        ),
        (
            "canary, router, background analysis fails",
            CANARY,
            true,
            "stable",
            "analysis",
        ),
    ];
    let mut rows = Vec::new();
    for (name, strategy, router, old_slot, fail) in cases {
        let stopwatch = Arc::new(Stopwatch::default());
        let rig = Rig::with_notifier(strategy, router, Some(stopwatch.clone()));
        rig.ship("1.0.0").await;
        match fail {
            "probe" => rig
                .probe
                .set_unhealthy(ScopeMatcher::of("web", ENV), "down"),
            // The new version fails its probe once it reaches `stable` (the hand-back pass).
            "verify" => rig
                .probe
                .set_unhealthy(ScopeMatcher::of("web", ENV).slot("stable"), "down"),
            _ => rig.metrics.set("error_ratio", ScopeMatcher::any(), 0.5),
        }
        let outcome = rig.ship("2.0.0").await;
        assert!(rolled_back(&outcome), "{name}: {outcome:?}");
        assert_eq!(rig.versions(), set(&["1.0.0"]), "{name}");
        let records = rig.records("2.0.0").await;
        let (virtual_time, (from, to)) = rollback_to_old_traffic_span(&records, old_slot, router);
        let seen = stopwatch.seen.lock().unwrap();
        let wall = seen[&to].duration_since(seen[&from]);
        rows.push((name, virtual_time, wall));
    }
    println!("| strategy, failure | simulated time to 100 % on old | wall time, same span |");
    println!("|---|---|---|");
    for (name, t, wall) in &rows {
        println!(
            "| {name} | {} s | {:.3} ms |",
            t.as_secs_f64(),
            wall.as_secs_f64() * 1000.0
        );
    }
    let by_name: BTreeMap<&str, Duration> = rows.iter().map(|(n, t, _)| (*n, *t)).collect();
    // Traffic switches are instant; re-deploys wait for one convergence.
    assert_eq!(
        by_name["blue_green, router, post-promotion analysis fails"],
        Duration::ZERO
    );
    assert_eq!(
        by_name["canary, router, step analysis fails at 10 %"],
        Duration::ZERO
    );
    assert_eq!(
        by_name["rolling, router, probe of new stable fails"],
        Duration::from_secs(10)
    );
}

// ---------------------------------------------------------------- rollback window (Argo's `rollbackWindow`)

/// Ships `version` again under another release id (a roll-forward back to a known-good build).
async fn ship_again(rig: &Rig, version: &str, id: &str) -> (RunOutcome, Vec<Record>) {
    let mut r = release(version);
    r.metadata.id = id.into();
    let outcome = rig.engine.start(&rig.platform, &r, "ana@x").await.unwrap();
    let records = read_all(rig.ledger.as_ref(), &id.into()).await.unwrap();
    (outcome, records)
}

/// The deploy program's step kinds, as journaled.
fn deploy_step_kinds(records: &[Record]) -> Vec<&'static str> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepStarted { key, step } if key.program == Program::Deploy => {
                Some(match step {
                    RolloutStep::Apply(_) => "apply",
                    RolloutStep::SetWeights(_) => "weights",
                    RolloutStep::Pause(_) => "pause",
                    RolloutStep::Analyze { .. } => "analyze",
                    RolloutStep::StartBackgroundAnalysis { .. } => "background",
                    RolloutStep::Verify => "verify",
                    RolloutStep::RemoveSlot { .. } => "remove",
                    _ => "other",
                })
            }
            _ => None,
        })
        .collect()
}

/// Ships 2.0.0, which waits at an approval pause, then promotes and resumes it to success.
async fn promote_waiting_upgrade(rig: &Rig) {
    let waiting = rig.ship("2.0.0").await;
    assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
    let id = "web-2.0.0".into();
    rig.engine.promote(&id, "ana@x", None).await.unwrap();
    let upgraded = rig.engine.resume(&id, "ana@x").await.unwrap();
    assert_eq!(
        upgraded.outcome(),
        Some(&Outcome::Succeeded),
        "{upgraded:?}"
    );
}

fn journaled_history(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .find_map(|r| match &r.event {
            Event::RollbackPlanned { components, .. } => Some(
                components[0]
                    .history
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ),
            _ => None,
        })
        .expect("a rollback plan")
}

const CANARY_WINDOW: &str = "{ canary: { steps: [ { set_weight: 10 }, { pause: 1m }, { analysis: error-rate }, { set_weight: 41 }, { pause: approval } ], background_analysis: background-errors, rollback_window: { revisions: 2 } } }";

// covers M8.1, M8.3: going back to a known-good version skips every step, pause and analysis.
#[tokio::test(start_paused = true)]
async fn canary_back_to_a_version_inside_the_rollback_window_is_fast_tracked() {
    let rig = Rig::new(CANARY_WINDOW, true);
    rig.ship("1.0.0").await;
    // 2.0.0 goes through every step and waits at the approval pause: promote it.
    promote_waiting_upgrade(&rig).await;
    let kinds = deploy_step_kinds(&rig.records("2.0.0").await);
    assert!(
        kinds.contains(&"analyze") && kinds.contains(&"pause") && kinds.contains(&"background"),
        "{kinds:?}"
    );

    let started = rig.clock.now();
    let (outcome, records) = ship_again(&rig, "1.0.0", "web-1.0.0-back").await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded), "{outcome:?}");
    assert_eq!(journaled_history(&records), ["2.0.0", "1.0.0"]);
    let kinds = deploy_step_kinds(&records);
    assert!(
        !kinds
            .iter()
            .any(|k| matches!(*k, "analyze" | "pause" | "background")),
        "fast track runs no step, pause or analysis: {kinds:?}"
    );
    assert_eq!(rig.versions(), set(&["1.0.0"]));
    assert_eq!(rig.slots(), one_slot("stable", "1.0.0"));
    assert_eq!(rig.weight("stable"), 100);
    // No pause of any kind: only convergence waits (4 applies of 10 s at most).
    assert!(rig.clock.now() - started <= chrono::Duration::seconds(60));
}

// The same roll-forward without a window runs the whole canary again (this test fails if
// the window were applied unconditionally).
#[tokio::test(start_paused = true)]
async fn without_a_rollback_window_going_back_runs_every_step() {
    let rig = Rig::new(CANARY_STEPS_ONLY, true);
    rig.ship("1.0.0").await;
    assert_eq!(rig.ship("2.0.0").await.outcome(), Some(&Outcome::Succeeded));
    let (outcome, records) = ship_again(&rig, "1.0.0", "web-1.0.0-back").await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    assert!(
        journaled_history(&records).is_empty(),
        "no window: no history read"
    );
    let kinds = deploy_step_kinds(&records);
    assert!(
        kinds.contains(&"analyze") && kinds.contains(&"pause"),
        "{kinds:?}"
    );
}

// `revisions: 1` covers only the version before the one running now.
#[tokio::test(start_paused = true)]
async fn the_window_counts_revisions_before_the_running_one() {
    let strategy = "{ canary: { steps: [ { set_weight: 10 }, { analysis: error-rate } ], rollback_window: { revisions: 1 } } }";
    let rig = Rig::new(strategy, true);
    for v in ["1.0.0", "2.0.0", "3.0.0"] {
        assert_eq!(
            rig.ship(v).await.outcome(),
            Some(&Outcome::Succeeded),
            "{v}"
        );
    }
    // 1.0.0 is two revisions back: outside the window.
    let (outcome, records) = ship_again(&rig, "1.0.0", "web-1.0.0-back").await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    assert_eq!(journaled_history(&records), ["3.0.0", "2.0.0", "1.0.0"]);
    assert!(deploy_step_kinds(&records).contains(&"analyze"));
    // Now 3.0.0 is the revision just before the running 1.0.0: inside.
    let (outcome, records) = ship_again(&rig, "3.0.0", "web-3.0.0-back").await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    assert_eq!(
        journaled_history(&records)[..2],
        ["1.0.0".to_owned(), "3.0.0".to_owned()]
    );
    assert!(!deploy_step_kinds(&records).contains(&"analyze"));
    assert_eq!(rig.versions(), set(&["3.0.0"]));
}

// Blue-green inside the window: no analysis and no approval pause, even with
// `auto_promotion: false`; the old color is still kept for the scale-down delay.
#[tokio::test(start_paused = true)]
async fn blue_green_inside_the_window_skips_analysis_and_the_approval() {
    let strategy = "{ blue_green: { pre_promotion_analysis: smoke, post_promotion_analysis: error-rate, auto_promotion: false, scale_down_delay: 1m, rollback_window: { revisions: 3 } } }";
    let rig = Rig::new(strategy, true);
    rig.ship("1.0.0").await;
    promote_waiting_upgrade(&rig).await;

    let (outcome, records) = ship_again(&rig, "1.0.0", "web-1.0.0-back").await;
    assert_eq!(
        outcome.outcome(),
        Some(&Outcome::Succeeded),
        "waited for nobody"
    );
    let kinds = deploy_step_kinds(&records);
    assert!(!kinds.contains(&"analyze"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "pause").count(),
        1,
        "only the scale-down delay: {kinds:?}"
    );
    assert_eq!(rig.versions(), set(&["1.0.0"]));
}

// Rolling inside the window keeps its batches but not its pauses.
#[tokio::test(start_paused = true)]
async fn rolling_inside_the_window_skips_the_pauses_between_batches() {
    let strategy = "{ rolling: { max_surge: 25%, max_unavailable: 0, pause_between: 10m, rollback_window: { revisions: 2 } } }";
    let rig = Rig::new(strategy, false);
    assert!(rolled_forward(&rig.upgrade().await));
    let kinds = deploy_step_kinds(&rig.records("2.0.0").await);
    assert!(kinds.contains(&"pause"), "{kinds:?}");
    let from = rig.memory.history().len();
    let (outcome, records) = ship_again(&rig, "1.0.0", "web-1.0.0-back").await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    let kinds = deploy_step_kinds(&records);
    assert!(!kinds.contains(&"pause"), "{kinds:?}");
    // The bounds still hold: never more than 10 + 25 % replicas.
    assert!(rig.peak_replicas_since(from) <= 13);
    assert_eq!(rig.versions(), set(&["1.0.0"]));
}

fn rolled_forward(outcome: &RunOutcome) -> bool {
    outcome.outcome() == Some(&Outcome::Succeeded)
}
