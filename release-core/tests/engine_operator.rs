//! Operator actions on a running release (M5.2): abort, pause and resume, promote-full,
//! retry; and the event stream. In virtual time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use release_core::engine::{Engine, EngineOptions, Evidence, RunOutcome};
use release_core::ledger::{Event, InMemoryLedger, Ledger, OperatorAction, Outcome, read_all};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::InMemoryTarget;
use release_core::model::{Pause, Platform, Release, ReleaseId};
use release_core::plugin::{RolloutSpec, RolloutStep, STABLE, Strategy, TokioClock};
use release_core::testkit::{FaultRule, FaultyTarget};

/// Apply, pause ten minutes, verify.
struct Pausing;

impl Strategy for Pausing {
    fn name(&self) -> &str {
        "pausing"
    }
    fn steps(&self, spec: &RolloutSpec) -> release_core::Result<Vec<RolloutStep>> {
        Ok(vec![
            RolloutStep::Apply(spec.slot(STABLE, spec.replicas)),
            RolloutStep::Pause(Pause::For(release_core::model::HumanDuration::from_mins(
                10,
            ))),
            RolloutStep::Verify,
        ])
    }
}

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: api, owner: { primary: a@x, backup: b@x }, strategy: { custom: { name: pausing } } }
  - { id: web, owner: { primary: a@x, backup: b@x }, depends_on: [api], strategy: { custom: { name: pausing } } }
environments:
  - { name: dev, tier: development }
  - { name: staging, tier: staging }
lifecycle:
  phases:
    - { name: develop, environments: [dev] }
    - { name: verify, environments: [staging] }
"#;

fn release(version: &str) -> Release {
    let text = format!(
        "apiVersion: release/v1\nkind: Release\nmetadata: {{ id: shop-{version} }}\nversion: {version}\n\
         platform: shop\ntype: full\nrelease_manager: {{ primary: a@x, backup: b@x }}\n\
         components: {{ api: {{ version: {version} }}, web: {{ version: {version} }} }}\n\
         rollback: {{ watch_window: 1m, triggers: [ {{ error_rate: {{ above: 0.1 }} }} ] }}\n"
    );
    match parse_str(&text, "r.yaml", Format::Yaml).unwrap().remove(0) {
        Document::Release(r) => r.value,
        Document::Platform(_) => unreachable!(),
    }
}

fn platform() -> Platform {
    match parse_str(PLATFORM, "p.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => unreachable!(),
    }
}

fn engine(
    ledger: Arc<dyn Ledger>,
    target: Arc<dyn release_core::plugin::DeploymentTarget>,
) -> Engine {
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc();
    Engine::builder()
        .ledger(ledger)
        .clock(Arc::new(TokioClock::new(start)))
        .target("default", target)
        .strategy(Arc::new(Pausing))
        .options(EngineOptions::default().with_holder("engine-a"))
        .build()
        .unwrap()
}

fn versions(target: &InMemoryTarget, env: &str) -> Vec<String> {
    target
        .versions(env)
        .into_values()
        .flat_map(|v| v.into_iter().map(|v| v.to_string()))
        .collect()
}

async fn baseline(ledger: &Arc<dyn Ledger>, target: &Arc<InMemoryTarget>) {
    let done = engine(ledger.clone(), target.clone())
        .start(&platform(), &release("1.0.0"), "ana@x")
        .await
        .unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded));
}

#[tokio::test(start_paused = true)]
async fn abort_during_a_pause_rolls_the_stage_back() {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    baseline(&ledger, &target).await;
    let e = engine(ledger.clone(), target.clone());
    let r = release("2.0.0");
    let running = tokio::spawn({
        let e = e.clone();
        let p = platform();
        let r = r.clone();
        async move { e.start(&p, &r, "ana@x").await }
    });
    // Virtual time: two minutes into api's ten-minute pause in dev.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        versions(&target, "dev"),
        vec!["2.0.0", "1.0.0"],
        "api is on 2.0.0, web not yet"
    );
    e.abort(r.id(), "tom@x", Some("wrong build".into()))
        .await
        .unwrap();
    let outcome = running.await.unwrap().unwrap();
    assert_eq!(
        outcome.outcome(),
        Some(&Outcome::Aborted {
            environment: Some("dev".into())
        })
    );
    assert_eq!(versions(&target, "dev"), vec!["1.0.0", "1.0.0"]);
    let records = read_all(ledger.as_ref(), r.id()).await.unwrap();
    let abort = records
        .iter()
        .find(|r| {
            matches!(
                r.event,
                Event::OperatorActed {
                    action: OperatorAction::Abort,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(abort.actor, "tom@x");
}

#[tokio::test(start_paused = true)]
async fn pause_stops_at_the_next_step_and_resume_continues() {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    let e = engine(ledger.clone(), target.clone());
    let r = release("1.0.0");
    let running = tokio::spawn({
        let e = e.clone();
        let p = platform();
        let r = r.clone();
        async move { e.start(&p, &r, "ana@x").await }
    });
    tokio::time::sleep(Duration::from_secs(60)).await;
    e.pause(r.id(), "tom@x", None).await.unwrap();
    let outcome = running.await.unwrap().unwrap();
    let RunOutcome::Waiting { reason, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("paused by an operator"), "{reason}");
    let status = e.status(r.id()).await.unwrap();
    assert!(status.paused_by_operator);
    e.unpause(r.id(), "tom@x", None).await.unwrap();
    let done = e.resume(r.id(), "tom@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded));
}

#[tokio::test(start_paused = true)]
async fn promote_full_skips_the_remaining_pauses() {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    let e = engine(ledger.clone(), target.clone());
    let r = release("1.0.0");
    let started = tokio::time::Instant::now();
    let running = tokio::spawn({
        let e = e.clone();
        let p = platform();
        let r = r.clone();
        async move { e.start(&p, &r, "ana@x").await }
    });
    tokio::time::sleep(Duration::from_secs(30)).await;
    e.promote_full(r.id(), "tom@x", None).await.unwrap();
    let outcome = running.await.unwrap().unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    // dev: both pauses skipped; staging: two pauses of ten minutes, two one-minute watches.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(30 * 60), "{elapsed:?}");
    assert!(
        elapsed >= Duration::from_secs(20 * 60),
        "staging's pauses still run: {elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_starts_the_failed_stage_over_as_a_new_attempt() {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let memory = Arc::new(InMemoryTarget::new());
    baseline(&ledger, &memory).await;
    let faulty = Arc::new(
        FaultyTarget::new(memory.clone()).with(
            FaultRule::fail_apply(false)
                .for_component("web")
                .in_environment("staging"),
        ),
    );
    let e = engine(ledger.clone(), faulty);
    let r = release("2.0.0");
    let mut events = e.subscribe();
    let first = e.start(&platform(), &r, "ana@x").await.unwrap();
    assert!(
        matches!(first.outcome(), Some(Outcome::RolledBack { environment, .. }) if environment == "staging")
    );
    assert_eq!(versions(&memory, "staging"), vec!["1.0.0", "1.0.0"]);

    e.retry(r.id(), "tom@x", Some("target fixed".into()))
        .await
        .unwrap();
    let second = e.resume(r.id(), "tom@x").await.unwrap();
    assert_eq!(second.outcome(), Some(&Outcome::Succeeded));
    assert_eq!(versions(&memory, "staging"), vec!["2.0.0", "2.0.0"]);
    let status = e.status(r.id()).await.unwrap();
    assert_eq!(status.attempt(&"staging".into()), 2);

    // The event stream carried every record, in order.
    let records = read_all(ledger.as_ref(), r.id()).await.unwrap();
    let mut streamed = Vec::new();
    while let Ok(record) = events.try_recv() {
        streamed.push(record.seq);
    }
    assert_eq!(streamed, records.iter().map(|r| r.seq).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn actions_on_an_unknown_release_are_refused() {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let e = engine(ledger, Arc::new(InMemoryTarget::new()));
    let err = e
        .abort(&ReleaseId::new("nope"), "tom@x", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("release nope not found"), "{err}");
    let err = e
        .resume(&ReleaseId::new("nope"), "tom@x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), release_core::ErrorKind::NotFound);
}

/// Closed until a given time, then open (a deployment window, M5.6).
struct OpensAt(DateTime<Utc>);

#[async_trait::async_trait]
impl release_core::plugin::Gate for OpensAt {
    async fn evaluate(
        &self,
        context: &release_core::plugin::GateContext,
    ) -> release_core::Result<release_core::plugin::GateVerdict> {
        use release_core::plugin::{GateVerdict, Reason};
        Ok(if context.now >= self.0 {
            GateVerdict::Pass {
                reasons: vec![Reason::new("window.open", "the window is open")],
            }
        } else {
            GateVerdict::Wait {
                until: Some(self.0),
                reasons: vec![Reason::new(
                    "window.closed",
                    format!("the window opens at {}", self.0),
                )],
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_gate_that_names_its_opening_is_waited_for_when_the_host_allows() {
    let gated = PLATFORM.replace(
        "{ name: verify, environments: [staging] }",
        "{ name: verify, environments: [staging], entry_gates: [ { window: {} } ] }",
    );
    let platform = match parse_str(&gated, "p.yaml", Format::Yaml).unwrap().remove(0) {
        Document::Platform(p) => p.value,
        Document::Release(_) => unreachable!(),
    };
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc();
    let opens = start + chrono::Duration::hours(2);
    let build = |wait: Option<Duration>| {
        Engine::builder()
            .ledger(Arc::new(InMemoryLedger::new()))
            .clock(Arc::new(TokioClock::new(start)))
            .target("default", Arc::new(InMemoryTarget::new()))
            .strategy(Arc::new(Pausing))
            .gate("window", Arc::new(OpensAt(opens)))
            .options(EngineOptions::default().with_wait_for_gates(wait))
            .build()
            .unwrap()
    };
    // A CI job (the default) stops and reports what it waits for.
    let outcome = build(None)
        .start(&platform, &release("1.0.0"), "ana@x")
        .await
        .unwrap();
    assert!(
        matches!(&outcome, RunOutcome::Waiting { reason, .. } if reason.contains("the window opens at")),
        "{outcome:?}"
    );
    // A long-running host lets the engine wait for the window, then goes on.
    let outcome = build(Some(Duration::from_secs(3 * 3600)))
        .start(&platform, &release("1.0.0"), "ana@x")
        .await
        .unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
}

fn gated(gate: &str) -> Platform {
    let text = PLATFORM.replace(
        "{ name: develop, environments: [dev] }",
        &format!("{{ name: develop, environments: [dev], {gate}: [ {{ approval: {{ rules: [ {{ count: 1 }} ] }} }} ] }}"),
    );
    match parse_str(&text, "p.yaml", Format::Yaml).unwrap().remove(0) {
        Document::Platform(p) => p.value,
        Document::Release(_) => unreachable!(),
    }
}

#[tokio::test(start_paused = true)]
async fn abort_while_waiting_at_an_entry_gate_ends_the_release_there() {
    // covers M5.2: a CI job stopped at an approval; a later job aborts instead of approving.
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    let e = engine(ledger.clone(), target.clone());
    let p = gated("entry_gates");
    let r = release("1.0.0");
    let waiting = e.start(&p, &r, "ana@x").await.unwrap();
    assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
    e.abort(r.id(), "tom@x", None).await.unwrap();
    let outcome = e.resume(r.id(), "ana@x").await.unwrap();
    assert_eq!(
        outcome.outcome(),
        Some(&Outcome::Aborted {
            environment: Some("dev".into())
        })
    );
    assert!(versions(&target, "dev").is_empty(), "nothing was deployed");
}

#[tokio::test(start_paused = true)]
async fn abort_while_waiting_at_an_exit_gate_rolls_the_stage_back() {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    baseline(&ledger, &target).await;
    let e = engine(ledger.clone(), target.clone());
    let p = gated("exit_gates");
    let r = release("2.0.0");
    let waiting = e.start(&p, &r, "ana@x").await.unwrap();
    assert!(matches!(waiting, RunOutcome::Waiting { .. }), "{waiting:?}");
    assert_eq!(versions(&target, "dev"), vec!["2.0.0", "2.0.0"]);
    e.abort(r.id(), "tom@x", None).await.unwrap();
    let outcome = e.resume(r.id(), "ana@x").await.unwrap();
    assert_eq!(
        outcome.outcome(),
        Some(&Outcome::Aborted {
            environment: Some("dev".into())
        })
    );
    assert_eq!(versions(&target, "dev"), vec!["1.0.0", "1.0.0"]);
}

#[tokio::test(start_paused = true)]
async fn evidence_is_journaled_for_a_known_environment_only() {
    // covers M4.4 (test evidence recorded with the release)
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    baseline(&ledger, &target).await;
    let e = engine(ledger.clone(), target);
    let id = ReleaseId::new("shop-1.0.0");
    let payload = serde_json::json!({ "source": "ci/tests.xml", "tests": 3, "failures": 0 });
    let junit = |payload: &serde_json::Value| Evidence::new("junit", payload.clone());
    e.record_evidence(&id, "ci@x", junit(&payload).for_environment("staging"))
        .await
        .unwrap();
    let last = read_all(ledger.as_ref(), &id).await.unwrap().pop().unwrap();
    assert_eq!(last.actor, "ci@x");
    assert!(matches!(
        &last.event,
        Event::EvidenceRecorded { kind, environment: Some(env), payload: p }
            if kind == "junit" && env.as_str() == "staging" && *p == payload
    ));
    let err = e
        .record_evidence(&id, "ci@x", junit(&payload).for_environment("prod"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the platform has no environment `prod`"),
        "{err}"
    );
    let err = e
        .record_evidence(&id, "ci@x", Evidence::new(" ", payload.clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("evidence needs a kind"), "{err}");
    let err = e
        .record_evidence(&ReleaseId::new("nope"), "ci@x", junit(&payload))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), release_core::ErrorKind::NotFound);
    // Nothing was appended by the refused calls.
    assert_eq!(
        read_all(ledger.as_ref(), &id).await.unwrap().last(),
        Some(&last)
    );
}
