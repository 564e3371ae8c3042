//! A canary release that fails its analysis in production, run through the real engine on
//! in-memory plugins in virtual time: the journals the bundle and report tests read.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{
    Event, Feedback, InMemoryLedger, IssueReport, Ledger, MetricSample, MetricSamples, Outcome,
    Record, Sentiment, read_all,
};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{InMemoryMetrics, InMemoryRouter, InMemoryTarget, ScopeMatcher};
use release_core::model::{Platform, Release, Severity};
use release_core::plugin::{RolloutSpec, RolloutStep, STABLE, SlotWeight, Strategy, TokioClock};

/// Ramps a canary through 10, 30 and 60 % with an analysis after each step.
struct Ramp;

impl Strategy for Ramp {
    fn name(&self) -> &str {
        "ramp"
    }
    fn steps(&self, spec: &RolloutSpec) -> release_core::Result<Vec<RolloutStep>> {
        let mut steps = vec![];
        if spec.previous.is_empty() {
            steps.push(RolloutStep::Apply(spec.slot(STABLE, spec.replicas)));
        } else {
            steps.push(RolloutStep::Apply(spec.slot("canary", 1)));
            for canary in [10, 30, 60] {
                steps.push(RolloutStep::SetWeights(vec![
                    SlotWeight::new(STABLE, 100 - canary),
                    SlotWeight::new("canary", canary),
                ]));
                steps.push(RolloutStep::Analyze {
                    analysis: "error-ratio".into(),
                });
            }
            steps.push(RolloutStep::Apply(spec.slot(STABLE, spec.replicas)));
        }
        steps.push(RolloutStep::SetWeights(vec![SlotWeight::new(STABLE, 100)]));
        if !spec.previous.is_empty() {
            steps.push(RolloutStep::RemoveSlot {
                slot: "canary".into(),
            });
        }
        Ok(steps)
    }
}

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: store }
components:
  - { id: checkout, owner: { primary: kim@x, backup: lee@x }, strategy: { custom: { name: ramp } } }
  - { id: frontend, owner: { primary: lee@x, backup: kim@x }, depends_on: [checkout] }
environments:
  - { name: staging, tier: staging }
  - { name: production, tier: production, parameters: { replicas: 4 } }
lifecycle:
  phases:
    - { name: verify, environments: [staging] }
    - name: release
      environments: [production]
      entry_gates: [ { approval: { rules: [ { count: 1, from_people: [rm@x] } ] } } ]
analyses:
  error-ratio:
    metric: { source: default, query: error_ratio }
    success: "< 0.02"
    interval: 1m
    count: 3
    failure_limit: 1
"#;

fn release(version: &str) -> Release {
    let text = format!(
        "apiVersion: release/v1\nkind: Release\nmetadata: {{ id: store-{version} }}\nversion: {version}\n\
         platform: store\ntype: full\nrelease_manager: {{ primary: kim@x, backup: lee@x }}\n\
         change_requests: [ {{ id: CR-3, kind: normal, state: approved, configuration_items: [checkout, frontend] }} ]\n\
         changes: [ {{ id: CHG-9, request: CR-3, components: [checkout, frontend], summary: \"One-click checkout\" }} ]\n\
         components: {{ checkout: {{ version: {version} }}, frontend: {{ version: {version} }} }}\n\
         rollback: {{ watch_window: 10m, triggers: [ {{ error_rate: {{ above: 0.1 }} }} ] }}\n"
    );
    match parse_str(&text, "release.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Release(r) => r.value,
        Document::Platform(_) => panic!("not a release"),
    }
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

/// The journals of 1.0.0 (shipped) and 2.0.0 (its canary fails in production and rolls back),
/// and the ledger they are in.
pub struct Scenario {
    #[allow(dead_code)] // used by the bundle tests, not the report tests
    pub ledger: Arc<dyn Ledger>,
    pub v1: Vec<Record>,
    pub v2: Vec<Record>,
}

async fn ship(engine: &Engine, platform: &Platform, version: &str) -> RunOutcome {
    let r = release(version);
    let waiting = engine.start(platform, &r, "kim@x").await.unwrap();
    assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
    // The release manager approves production after 25 minutes.
    tokio::time::sleep(Duration::from_secs(25 * 60)).await;
    engine
        .approve(r.id(), &"production".into(), "rm@x", Some("go".into()))
        .await
        .unwrap();
    engine.resume(r.id(), "rm@x").await.unwrap()
}

/// Runs the scenario (call inside a paused Tokio runtime).
pub async fn canary_rollback() -> Scenario {
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc();
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let metrics = Arc::new(InMemoryMetrics::new());
    metrics.set("error_ratio", ScopeMatcher::any(), 0.004);
    metrics.set("error_rate", ScopeMatcher::any(), 0.004);
    let engine = Engine::builder()
        .ledger(ledger.clone())
        .clock(Arc::new(TokioClock::new(start)))
        .target("default", Arc::new(InMemoryTarget::new()))
        .router(Arc::new(InMemoryRouter::new()))
        .metrics("default", metrics.clone())
        .strategy(Arc::new(Ramp))
        .options(
            EngineOptions::default()
                .with_holder("engine-a")
                .with_poll_interval(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    let p = platform();
    let v1 = ship(&engine, &p, "1.0.0").await;
    assert_eq!(v1.outcome(), Some(&Outcome::Succeeded), "{v1:?}");

    // 2.0.0's canary errors in production only.
    metrics.set(
        "error_ratio",
        ScopeMatcher::of("checkout", "production"),
        0.031,
    );
    let v2 = ship(&engine, &p, "2.0.0").await;
    assert!(
        matches!(v2.outcome(), Some(Outcome::RolledBack { environment, .. }) if environment == "production"),
        "{v2:?}"
    );
    let id = "store-2.0.0".into();
    engine
        .report_issue(
            &id,
            "support@x",
            IssueReport::new(
                "SUP-12",
                Severity::High,
                "kim@x",
                "staging",
                "receipts e-mailed twice",
            )
            .with_component("checkout")
            .with_mitigation("duplicate mails suppressed at the gateway"),
        )
        .await
        .unwrap();
    engine
        .record_feedback(
            &id,
            "pm@x",
            Feedback::new("staff pilot", Sentiment::Negative, "checkout felt slow")
                .in_environment("staging"),
        )
        .await
        .unwrap();
    // The host keeps the router's error ratio of canary and stable from the canary's start.
    let journal = read_all(ledger.as_ref(), &id).await.unwrap();
    let canary_at = journal
        .iter()
        .find_map(|r| match &r.event {
            Event::StepStarted { key, .. } if key.environment == "production" => Some(r.at),
            _ => None,
        })
        .unwrap();
    let mut samples = Vec::new();
    for minute in 0..6 {
        let at = canary_at + chrono::Duration::minutes(minute);
        samples.push(MetricSample::new(
            "stable",
            at,
            0.004 + 0.0005 * minute as f64,
        ));
        samples.push(MetricSample::new(
            "canary",
            at,
            0.012 + 0.006 * minute as f64,
        ));
    }
    engine
        .record_metrics(
            &id,
            "host",
            MetricSamples::new("production", "checkout", "error_ratio", samples),
        )
        .await
        .unwrap();
    Scenario {
        v1: read_all(ledger.as_ref(), &"store-1.0.0".into())
            .await
            .unwrap(),
        v2: read_all(ledger.as_ref(), &id).await.unwrap(),
        ledger,
    }
}
