//! The key test of issue #7: a canary through the local-process target and the weighted
//! router, with real HTTP traffic on loopback, rolled back by the engine on the router's
//! error rate.
//!
//! Release 1.0.0 goes out to slot `stable`. Release 2.0.0 is "broken" (its release directory
//! holds the `FAIL` marker, so the demo service answers 500): a small canary strategy written
//! here applies one canary replica, sends 50 % of the traffic to it, pauses 3 s and runs the
//! `error-rate` analysis against the router's `MetricsSource`. A bounded load loop sends
//! requests through the router the whole time. The analysis fails, the engine runs the
//! rollback program (traffic back to stable first, then the canary slot removed), and the
//! The engine also probes each applied slot with an `HttpProbe`. The
//! test checks what a user sees: every request after the rollback is answered by 1.0.0.

#![cfg(all(feature = "process", feature = "router", feature = "probes"))]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use release_adapters::probes::{HttpProbe, HttpProbeConfig};
use release_adapters::router::{HttpRouter, RouterConfig, SLOT_HEADER};
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{Event, InMemoryLedger, Ledger, Outcome, read_all};
use release_core::manifest::{Document, Format, parse_str};
use release_core::model::{HumanDuration, Pause, Platform, Release};
use release_core::plugin::{
    DeploymentTarget, ProbeOutcome, RolloutSpec, RolloutStep, Route, SlotWeight, Strategy,
    SystemClock, TrafficRouter,
};
use support::Rig;

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: web, owner: { primary: a@x, backup: b@x }, strategy: { custom: { name: test-canary } } }
environments:
  - { name: dev, tier: development }
lifecycle:
  phases:
    - { name: develop, environments: [dev] }
analyses:
  error-rate:
    metric: { source: router, query: error_rate }
    success: "< 0.1"
    interval: 1s
    count: 1
    failure_limit: 0
"#;

fn release_yaml(version: &str) -> String {
    format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: shop-{version} }}
version: {version}
platform: shop
type: full
release_manager: {{ primary: a@x, backup: c@x }}
change_requests:
  - {{ id: CR-1, kind: normal, state: approved, configuration_items: [web] }}
changes:
  - {{ id: CHG-1, request: CR-1, components: [web] }}
components:
  web: {{ version: {version} }}
rollback:
  watch_window: 1s
  triggers:
    - error_rate: {{ above: 0.2 }}
"#
    )
}

fn platform() -> Platform {
    match parse_str(PLATFORM, "platform.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => panic!("not a platform"),
    }
}

fn release(version: &str) -> Release {
    match parse_str(&release_yaml(version), "release.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Release(r) => r.value,
        Document::Platform(_) => panic!("not a release"),
    }
}

/// First release: stable ×1 at 100 %. Later ones: a canary ×1 at 50 %, a pause, the
/// error-rate analysis, then promotion.
struct TestCanary;

impl Strategy for TestCanary {
    fn name(&self) -> &str {
        "test-canary"
    }

    fn steps(&self, spec: &RolloutSpec) -> release_core::Result<Vec<RolloutStep>> {
        let all_stable = RolloutStep::SetWeights(vec![SlotWeight::new("stable", 100)]);
        if spec.previous.is_empty() {
            return Ok(vec![RolloutStep::Apply(spec.slot("stable", 1)), all_stable]);
        }
        Ok(vec![
            RolloutStep::Apply(spec.slot("canary", 1)),
            RolloutStep::SetWeights(vec![
                SlotWeight::new("stable", 50),
                SlotWeight::new("canary", 50),
            ]),
            RolloutStep::Pause(Pause::For(HumanDuration::from_secs(3))),
            RolloutStep::Analyze {
                analysis: "error-rate".into(),
            },
            RolloutStep::Apply(spec.slot("stable", 1)),
            all_stable,
            RolloutStep::RemoveSlot {
                slot: "canary".into(),
            },
        ])
    }
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok_v1: AtomicU64,
    errors: AtomicU64,
    canary: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_canary_is_rolled_back_on_the_routers_error_rate() {
    let started = std::time::Instant::now();
    let rig = Rig::new(36_000, &[("1.0.0", false), ("2.0.0", true)]);
    let target: Arc<dyn DeploymentTarget> = rig.target.clone();
    // The instant window is short so the analysis sees the canary phase, not release 1.
    let router = HttpRouter::with_target(
        RouterConfig::default().with_window(Duration::from_secs(2)),
        target.clone(),
    );
    let route = Route::new("web", "dev");
    let addr = router
        .listen(route.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let engine = Engine::builder()
        .ledger(ledger.clone())
        .clock(Arc::new(SystemClock))
        .target("default", target.clone())
        .router(Arc::new(router.clone()))
        .metrics("router", Arc::new(router.clone()))
        .strategy(Arc::new(TestCanary))
        // Every applied slot is probed on its own endpoints (`/healthz` answers even in the
        // broken version: only real traffic shows the errors).
        .probe(
            "health",
            Arc::new(HttpProbe::new(HttpProbeConfig::get("/healthz")).unwrap()),
        )
        .options(
            EngineOptions::default()
                .with_holder("engine-a")
                .with_poll_interval(Duration::from_millis(100))
                .with_progress_deadline(Duration::from_secs(20)),
        )
        .build()
        .unwrap();

    let first = engine
        .start(&platform(), &release("1.0.0"), "ana@x")
        .await
        .unwrap();
    assert_eq!(first.outcome(), Some(&Outcome::Succeeded));

    // A bounded load loop: four workers of at most 500 requests each, stopping by
    // themselves or when told; two seconds of stable-only traffic first.
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (stop, tally) = (stop.clone(), tally.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..500 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                tally.sent.fetch_add(1, Ordering::Relaxed);
                match client.get(format!("http://{addr}/")).send().await {
                    Ok(r) => {
                        let canary = r.headers().get(SLOT_HEADER).is_some_and(|s| s == "canary");
                        tally.canary.fetch_add(u64::from(canary), Ordering::Relaxed);
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        if status.is_success() && body.contains("version=1.0.0") {
                            tally.ok_v1.fetch_add(1, Ordering::Relaxed);
                        } else {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let second = engine
        .start(&platform(), &release("2.0.0"), "ana@x")
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    match second.outcome() {
        Some(Outcome::RolledBack {
            environment,
            reason,
        }) => {
            assert_eq!(environment.as_str(), "dev");
            assert!(
                reason.contains("error-rate") || reason.contains("error_rate"),
                "{reason}"
            );
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    // Real traffic reached the broken canary, and the router saw its errors.
    let (sent, canary, errors) = (
        tally.sent.load(Ordering::Relaxed),
        tally.canary.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
    );
    assert!(sent >= 200, "only {sent} requests were sent");
    assert!(
        canary > 0 && errors > 0,
        "canary {canary}, errors {errors} of {sent}"
    );
    assert_eq!(
        errors, canary,
        "every error came from the canary, stable never failed"
    );

    // What a user sees now: only stable 1.0.0, all traffic on it, every request answered by it.
    let slots = target.observe(&"web".into(), &"dev".into()).await.unwrap();
    assert_eq!(slots.len(), 1, "{slots:?}");
    assert_eq!(slots[0].spec.slot, "stable");
    assert_eq!(slots[0].spec.version.to_string(), "1.0.0");
    assert_eq!(slots[0].ready_replicas, 1);
    assert_eq!(
        router.weights(&route).await.unwrap(),
        vec![SlotWeight::new("stable", 100)]
    );
    let client = reqwest::Client::new();
    for _ in 0..50 {
        let r = client.get(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("version=1.0.0"));
    }
    // The engine probed the slots it applied, healthy on /healthz.
    let records = read_all(ledger.as_ref(), &"shop-2.0.0".into())
        .await
        .unwrap();
    let probes: Vec<&ProbeOutcome> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::ProbeChecked { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert!(
        !probes.is_empty() && probes.iter().all(|o| o.healthy),
        "{probes:?}"
    );
    rig.target.stop_all().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
}
