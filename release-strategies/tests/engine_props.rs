//! Property tests through the real engine in virtual time (paused Tokio clock, in-memory
//! target that converges one poll late, the testkit's `FaultyTarget` in front of it): the
//! replica bounds hold on what the target actually received, every weight change sums to
//! 100, and an abort at a random point of a canary puts all traffic on `stable` with the
//! first change of the rollback.

mod common;
use common::release;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{InMemoryLedger, Outcome};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{Convergence, InMemoryRouter, InMemoryTarget, TargetChange};
use release_core::model::{CountOrPercent, Platform};
use release_core::plugin::{DeploymentTarget, Route, TokioClock, check_weights};
use release_core::testkit::FaultyTarget;

fn platform(strategy: &str, replicas: u32) -> Platform {
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
  - {{ name: production, tier: production, parameters: {{ replicas: {replicas} }} }}
lifecycle:
  phases:
    - {{ name: release, environments: [production] }}
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

struct Run {
    target: Arc<InMemoryTarget>,
    router: Arc<InMemoryRouter>,
    engine: Engine,
}

fn rig(router: bool) -> Run {
    // Every change kept: the properties replay the history from an index.
    let target = Arc::new(
        InMemoryTarget::new()
            .with_convergence(Convergence::AfterObserves(1))
            .with_history_limit(usize::MAX),
    );
    let faulty = Arc::new(FaultyTarget::new(
        target.clone() as Arc<dyn DeploymentTarget>
    ));
    let memory_router = Arc::new(InMemoryRouter::new().with_history_limit(usize::MAX));
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc();
    let mut builder = release_strategies::register(Engine::builder())
        .ledger(Arc::new(InMemoryLedger::new()))
        .clock(Arc::new(TokioClock::new(start)))
        .target("default", faulty)
        .options(EngineOptions::default().with_poll_interval(Duration::from_secs(5)));
    if router {
        builder = builder.router(memory_router.clone());
    }
    Run {
        target,
        router: memory_router,
        engine: builder.build().unwrap(),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(f)
}

/// Replays the target's history from `from`: the most replicas at once, and the fewest ready
/// (a slot that grows is not ready until the engine saw it converge, which it waits for
/// before the next change).
fn extremes(history: &[TargetChange], from: usize) -> (u32, u32) {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for c in &history[..from] {
        match c {
            TargetChange::Apply { spec, .. } => {
                counts.insert(spec.slot.to_string(), spec.replicas);
            }
            TargetChange::Remove { spec } => {
                counts.remove(spec.slot.as_str());
            }
            _ => {}
        }
    }
    let (mut max_total, mut min_ready) = (0, u32::MAX);
    for c in &history[from..] {
        let before: u32 = counts.values().sum();
        match c {
            TargetChange::Apply { spec, .. } => {
                let cur = counts.get(spec.slot.as_str()).copied().unwrap_or(0);
                let others = before - cur;
                max_total = max_total.max(others + cur.max(spec.replicas));
                min_ready = min_ready.min(others + cur.min(spec.replicas));
                counts.insert(spec.slot.to_string(), spec.replicas);
            }
            TargetChange::Remove { spec } => {
                counts.remove(spec.slot.as_str());
            }
            _ => {}
        }
        let after: u32 = counts.values().sum();
        min_ready = min_ready.min(after);
    }
    (max_total, min_ready)
}

fn written(v: CountOrPercent) -> String {
    match v {
        CountOrPercent::Count(n) => n.to_string(),
        CountOrPercent::Percent(p) => format!("\"{p}%\""),
    }
}

fn count_or_percent() -> impl Strategy<Value = CountOrPercent> {
    prop_oneof![
        (0u32..4).prop_map(CountOrPercent::Count),
        (0u32..=60).prop_map(CountOrPercent::Percent),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rolling_through_the_engine_stays_within_its_bounds(
        replicas in 1u32..12,
        max_surge in count_or_percent(),
        max_unavailable in count_or_percent(),
        router in any::<bool>(),
    ) {
        let surge = max_surge.resolve(replicas, true);
        let unavailable = max_unavailable.resolve(replicas, false).min(replicas);
        prop_assume!(surge + unavailable > 0);
        let strategy = format!(
            "{{ rolling: {{ max_surge: {}, max_unavailable: {} }} }}",
            written(max_surge),
            written(max_unavailable)
        );
        let run = rig(router);
        let p = platform(&strategy, replicas);
        let outcome = block_on(async {
            run.engine.start(&p, &release("1.0.0"), "ana@x").await.unwrap();
            let from = run.target.history().len();
            let outcome = run.engine.start(&p, &release("2.0.0"), "ana@x").await.unwrap();
            (outcome, from)
        });
        let (outcome, from) = outcome;
        prop_assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
        let (max_total, min_ready) = extremes(&run.target.history(), from);
        prop_assert!(max_total <= replicas + surge, "{} > {} + {}", max_total, replicas, surge);
        prop_assert!(min_ready >= replicas - unavailable, "{} < {} - {}", min_ready, replicas, unavailable);
        let running = run.target.running("production", "web");
        prop_assert_eq!(running.len(), 1);
        prop_assert_eq!(running[0].spec.slot.as_str(), "stable");
        prop_assert_eq!(running[0].spec.version.to_string(), "2.0.0");
        for change in run.router.history() {
            prop_assert!(check_weights(&change.weights).is_ok());
        }
    }

    #[test]
    fn an_abort_at_a_random_canary_step_returns_all_traffic_to_stable_first(
        replicas in 1u32..12,
        weights in prop::collection::vec(1u32..100, 1..4),
        wait_at in 0usize..4,
    ) {
        let wait_at = wait_at.min(weights.len() - 1);
        let mut steps = Vec::new();
        for (i, w) in weights.iter().enumerate() {
            steps.push(format!("{{ set_weight: {w} }}"));
            if i == wait_at {
                steps.push("{ pause: approval }".to_owned());
            }
        }
        let strategy = format!("{{ canary: {{ steps: [ {} ] }} }}", steps.join(", "));
        let run = rig(true);
        let p = platform(&strategy, replicas);
        let route = Route::new("web", "production");
        let (outcome, before) = block_on(async {
            run.engine.start(&p, &release("1.0.0"), "ana@x").await.unwrap();
            let waiting = run.engine.start(&p, &release("2.0.0"), "ana@x").await.unwrap();
            assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
            let before = run.router.history_of(&route).len();
            let id = "web-2.0.0".into();
            run.engine.abort(&id, "ana@x", None).await.unwrap();
            (run.engine.resume(&id, "ana@x").await.unwrap(), before)
        });
        prop_assert_eq!(outcome.outcome(), Some(&Outcome::Aborted { environment: Some("production".into()) }));
        let history = run.router.history_of(&route);
        let first = &history[before].weights;
        prop_assert_eq!(first.len(), 1);
        prop_assert_eq!(first[0].slot.as_str(), "stable");
        prop_assert_eq!(first[0].weight, 100);
        prop_assert_eq!(run.router.weight_of(&route, "stable"), 100);
        let running = run.target.running("production", "web");
        prop_assert_eq!(running.len(), 1);
        prop_assert_eq!(running[0].spec.version.to_string(), "1.0.0");
        prop_assert_eq!(running[0].spec.replicas, replicas);
    }
}
