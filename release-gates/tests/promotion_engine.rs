//! Promotion gates through the real engine, in virtual time (M5.2, M5.6): production's entry
//! is gated by a role-based approval and a deployment window registered with
//! `release_gates::promotion::register`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{Event, InMemoryLedger, Ledger, Outcome, read_all};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{InMemoryMetrics, InMemoryProbe, InMemoryTarget};
use release_core::model::{Platform, Release};
use release_core::plugin::TokioClock;
use release_gates::promotion::{GatesConfig, register};

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: api, owner: { primary: a@x, backup: b@x } }
  - { id: web, owner: { primary: c@x, backup: d@x }, depends_on: [api] }
environments:
  - { name: staging, tier: staging }
  - name: production
    tier: production
    windows:
      - allow: { from: "2026-11-30T00:00:00Z", to: "2026-12-10T00:00:00Z", reason: "December release train" }
lifecycle:
  phases:
    - { name: verify, environments: [staging] }
    - name: release
      environments: [production]
      entry_gates:
        - { approval: { rules: [ { count: 1, from_roles: [release-manager] } ] } }
        - { window: {} }
"#;

const RELEASE: &str = r#"
apiVersion: release/v1
kind: Release
metadata: { id: shop-1.0.0 }
version: 1.0.0
platform: shop
type: full
release_manager: { primary: a@x, backup: c@x }
change_requests:
  - { id: CR-1, kind: normal, state: approved, configuration_items: [api, web] }
changes:
  - { id: CHG-1, request: CR-1, components: [api, web] }
components:
  api: { version: 1.0.0 }
  web: { version: 1.0.0 }
rollback:
  watch_window: 1m
  triggers:
    - error_rate: { above: 0.05 }
"#;

fn platform() -> Platform {
    match parse_str(PLATFORM, "platform.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => panic!("not a platform"),
    }
}

fn release() -> Release {
    match parse_str(RELEASE, "release.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Release(r) => r.value,
        Document::Platform(_) => panic!("not a release"),
    }
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn engine(ledger: Arc<dyn Ledger>, target: Arc<InMemoryTarget>) -> Engine {
    // ana@x holds the role too: her own approval must still not count.
    let gates = GatesConfig::new()
        .with_role("ana@x", "release-manager")
        .with_role("tom@x", "release-manager");
    let builder = Engine::builder()
        .ledger(ledger)
        .clock(Arc::new(TokioClock::new(start_time())))
        .target("default", target)
        .metrics("default", Arc::new(InMemoryMetrics::new()))
        .probe("health", Arc::new(InMemoryProbe::new()))
        .options(
            EngineOptions::default()
                .with_holder("engine-a")
                .with_poll_interval(std::time::Duration::from_secs(30)),
        );
    register(builder, &gates).build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn production_waits_for_a_role_holder_other_than_the_starter_inside_its_window() {
    // M5.2 (role-based approval, no self-approval), M5.6 (deployment window open at the
    // clock's time).
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    let (p, r) = (platform(), release());
    let engine = engine(ledger.clone(), target.clone());

    let outcome = engine.start(&p, &r, "ana@x").await.unwrap();
    let RunOutcome::Waiting {
        environment,
        reason,
    } = &outcome
    else {
        panic!("expected to wait, got {outcome:?}");
    };
    assert_eq!(environment.as_ref().unwrap().as_str(), "production");
    assert!(reason.contains("role release-manager"), "{reason}");
    assert!(target.versions("production").is_empty());
    assert!(!target.versions("staging").is_empty(), "staging deployed");

    // The starter's approval does not count, even though she holds the role.
    engine
        .approve(&r.metadata.id, &"production".into(), "ana@x", None)
        .await
        .unwrap();
    let again = engine.resume(&r.metadata.id, "ana@x").await.unwrap();
    let RunOutcome::Waiting { reason, .. } = &again else {
        panic!("expected to wait, got {again:?}");
    };
    assert!(reason.contains("0 of 1"), "{reason}");
    assert!(target.versions("production").is_empty());

    // A role holder approves; the window is open; production deploys.
    engine
        .approve(
            &r.metadata.id,
            &"production".into(),
            "tom@x",
            Some("go".into()),
        )
        .await
        .unwrap();
    let done = engine.resume(&r.metadata.id, "tom@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded), "{done:?}");
    assert_eq!(target.versions("production").len(), 2);

    // The journal records the window gate passing for production.
    let journal = read_all(ledger.as_ref(), &r.metadata.id).await.unwrap();
    let gates: Vec<String> = journal
        .iter()
        .filter(|rec| matches!(rec.event, Event::GateEvaluated { .. }))
        .map(|rec| format!("{:?}", rec.event))
        .collect();
    assert!(
        gates.iter().any(|e| e.contains("window.open")),
        "{gates:#?}"
    );
}
