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

/// Starts `release` on the shop platform as its own task (so the test can act meanwhile).
fn start_in_background(
    engine: &Engine,
    release: &Release,
) -> tokio::task::JoinHandle<release_core::Result<RunOutcome>> {
    let (engine, release) = (engine.clone(), release.clone());
    tokio::spawn(async move { engine.start(&platform(), &release, "ana@x").await })
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
    let running = start_in_background(&e, &r);
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
    let running = start_in_background(&e, &r);
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
    let running = start_in_background(&e, &r);
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

/// The release of `release`, without a rollback policy: nothing to watch during a pause.
fn release_without_triggers(version: &str) -> Release {
    let mut r = release(version);
    r.rollback = None;
    r
}

/// A clock that counts the sleeps the engine asks of it: each is one wake-up of the run.
struct CountingClock {
    inner: TokioClock,
    sleeps: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl release_core::plugin::Clock for CountingClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    async fn sleep(&self, duration: Duration) {
        self.sleeps
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.sleep(duration).await;
    }
}

/// The timestamp of the first record after the operator's `action` that the engine wrote.
fn reaction_to(
    records: &[release_core::ledger::Record],
    action: OperatorAction,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let acted = records
        .iter()
        .position(|r| matches!(&r.event, Event::OperatorActed { action: a, .. } if *a == action))
        .expect("the action is journaled");
    let reaction = records[acted + 1..]
        .iter()
        .find(|r| r.actor == "engine")
        .expect("the engine reacted");
    (records[acted].at, reaction.at)
}

// covers M5.2: an abort through the engine interrupts a pause at once, not at the engine's
// next wake-up (issue #10 removed the 5 s wake-ups of pauses that watch nothing).
#[tokio::test(start_paused = true)]
async fn an_abort_through_the_engine_interrupts_a_pause_at_once() {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    baseline(&ledger, &target).await;
    let e = engine(ledger.clone(), target.clone());
    let r = release_without_triggers("2.0.0");
    let running = start_in_background(&e, &r);
    // Off every 5 s and 20 s grid: two minutes and 7 s into api's pause.
    tokio::time::sleep(Duration::from_secs(127)).await;
    e.abort(r.id(), "tom@x", None).await.unwrap();
    let outcome = running.await.unwrap().unwrap();
    assert_eq!(
        outcome.outcome(),
        Some(&Outcome::Aborted {
            environment: Some("dev".into())
        })
    );
    let records = read_all(ledger.as_ref(), r.id()).await.unwrap();
    let (acted, reacted) = reaction_to(&records, OperatorAction::Abort);
    assert_eq!(
        reacted, acted,
        "the rollback starts when the abort is journaled"
    );
}

// covers M5.2: `promote` through the engine ends a timed pause at once (Argo Rollouts'
// `promote`), although the pause no longer polls.
#[tokio::test(start_paused = true)]
async fn a_promote_through_the_engine_ends_a_timed_pause_at_once() {
    let InPause {
        ledger,
        e,
        r,
        running,
        ..
    } = in_pause();
    tokio::time::sleep(Duration::from_secs(127)).await;
    e.promote(r.id(), "tom@x", None).await.unwrap();
    tokio::task::yield_now().await;
    let records = read_all(ledger.as_ref(), r.id()).await.unwrap();
    let (acted, reacted) = reaction_to(&records, OperatorAction::Resume);
    assert_eq!(
        reacted, acted,
        "the pause ends when the promote is journaled"
    );
    assert!(
        matches!(
            &records.last().map(|r| &r.event),
            Some(Event::StepSucceeded { .. }) | Some(Event::StepStarted { .. })
        ),
        "the pause step ended and the next began: {:?}",
        records.last().map(|r| &r.event)
    );
    running.abort();
}

// covers M5.5: a pause wakes for what it has to do — lease renewal every `lease_ttl / 3`,
// triggers every poll interval when the release has any — and no more (issue #10).
#[tokio::test(start_paused = true)]
async fn a_pause_wakes_only_for_leases_unless_it_watches_triggers() {
    async fn sleeps(release: Release) -> usize {
        let clock = Arc::new(CountingClock {
            inner: TokioClock::new(
                DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
                    .unwrap()
                    .to_utc(),
            ),
            sleeps: Default::default(),
        });
        let e = Engine::builder()
            .ledger(Arc::new(InMemoryLedger::new()))
            .clock(clock.clone())
            .target("default", Arc::new(InMemoryTarget::new()))
            .strategy(Arc::new(Pausing))
            .options(EngineOptions::default().with_holder("engine-a"))
            .build()
            .unwrap();
        let done = e.start(&platform(), &release, "ana@x").await.unwrap();
        assert_eq!(done.outcome(), Some(&Outcome::Succeeded));
        clock.sleeps.load(std::sync::atomic::Ordering::SeqCst)
    }
    // Four ten-minute pauses (two components, two environments).
    let quiet = sleeps(release_without_triggers("1.0.0")).await;
    // Lease slices of 20 s: 30 per pause.
    assert!(quiet <= 4 * 30 + 8, "{quiet} wake-ups");
    // With an error-rate trigger the pauses are polled every 5 s (120 per pause) and the
    // one-minute watch windows too.
    let watched = sleeps(release("1.0.0")).await;
    assert!(watched >= 4 * 120, "{watched} wake-ups");
}

/// A ledger on which an operator's abort lands right before the run journals the start of
/// its first pause: between two appends of the run, with nothing to wake it (unless `done`
/// starts true). It counts lease renewals.
struct AbortBeforePause {
    inner: Arc<InMemoryLedger>,
    done: std::sync::atomic::AtomicBool,
    renews: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Ledger for AbortBeforePause {
    async fn append(
        &self,
        draft: release_core::ledger::EventDraft,
        fence: Option<&release_core::ledger::Fence>,
    ) -> release_core::Result<release_core::ledger::Record> {
        if matches!(
            &draft.event,
            Event::StepStarted {
                step: RolloutStep::Pause(_),
                ..
            }
        ) && !self.done.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let abort = release_core::ledger::EventDraft::new(
                draft.release.clone(),
                draft.at,
                "tom@x",
                Vec::new(),
                Event::OperatorActed {
                    action: OperatorAction::Abort,
                    comment: Some("from another process".into()),
                },
            );
            self.inner.append(abort, None).await?;
        }
        self.inner.append(draft, fence).await
    }
    async fn events(
        &self,
        release: &ReleaseId,
        after: u64,
    ) -> release_core::Result<Vec<release_core::ledger::Record>> {
        self.inner.events(release, after).await
    }
    async fn releases(&self) -> release_core::Result<Vec<ReleaseId>> {
        self.inner.releases().await
    }
    async fn acquire(
        &self,
        lock: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> release_core::Result<release_core::ledger::Lease> {
        self.inner.acquire(lock, holder, ttl, now).await
    }
    async fn renew(
        &self,
        lease: &release_core::ledger::Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> release_core::Result<release_core::ledger::Lease> {
        self.renews
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.renew(lease, ttl, now).await
    }
    async fn release(&self, lease: &release_core::ledger::Lease) -> release_core::Result<()> {
        self.inner.release(lease).await
    }
}

// covers M5.4: a run renews each lease it holds when less than half its time is left, and
// keeps the renewed lease, so a ten-minute pause renews the environment lock about once per
// half-lease (60 s leases: ~20 renewals per pause), not at every 20 s slice once past the
// first half (issue #10 changed how renewed leases are kept).
#[tokio::test(start_paused = true)]
async fn a_run_renews_its_leases_once_per_half_lease() {
    let memory = Arc::new(InMemoryLedger::new());
    let tapped = Arc::new(AbortBeforePause {
        inner: memory.clone(),
        done: true.into(),
        renews: Default::default(),
    });
    let e = Engine::builder()
        .ledger(tapped.clone())
        .clock(Arc::new(TokioClock::new(
            DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
                .unwrap()
                .to_utc(),
        )))
        .target("default", Arc::new(InMemoryTarget::new()))
        .strategy(Arc::new(Pausing))
        .options(EngineOptions::default().with_holder("engine-a"))
        .build()
        .unwrap();
    let done = e
        .start(&platform(), &release_without_triggers("1.0.0"), "ana@x")
        .await
        .unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded));
    // Four ten-minute pauses; a renewal every second 20 s slice is 15 per pause and lease.
    let renews = tapped.renews.load(std::sync::atomic::Ordering::SeqCst);
    assert!((4 * 10..=4 * 20).contains(&renews), "{renews} renewals");
}

// covers M5.1, M5.2: a run appends without reading the journal first (issue #10); a record
// someone else appended in between is still folded, in order, so an abort is not lost.
#[tokio::test(start_paused = true)]
async fn an_action_appended_between_two_of_the_runs_appends_is_folded_in_order() {
    let memory = Arc::new(InMemoryLedger::new());
    let ledger: Arc<dyn Ledger> = Arc::new(AbortBeforePause {
        inner: memory.clone(),
        done: Default::default(),
        renews: Default::default(),
    });
    let target = Arc::new(InMemoryTarget::new());
    let r = release_without_triggers("1.0.0");
    let outcome = engine(ledger.clone(), target.clone())
        .start(&platform(), &r, "ana@x")
        .await
        .unwrap();
    assert_eq!(
        outcome.outcome(),
        Some(&Outcome::Aborted {
            environment: Some("dev".into())
        })
    );
    let records = read_all(memory.as_ref(), r.id()).await.unwrap();
    release_core::ledger::verify_chain(&records).unwrap();
    let (acted, reacted) = reaction_to(&records, OperatorAction::Abort);
    assert!(
        reacted - acted <= chrono::Duration::seconds(20),
        "seen within one lease slice: {acted} → {reacted}"
    );
}

/// A release without triggers on a fresh ledger, started in the background (its first
/// pause, api's ten minutes in dev, begins at once); `origin` is when its clock started.
struct InPause {
    ledger: Arc<dyn Ledger>,
    target: Arc<InMemoryTarget>,
    e: Engine,
    r: Release,
    origin: tokio::time::Instant,
    running: tokio::task::JoinHandle<release_core::Result<RunOutcome>>,
}

fn in_pause() -> InPause {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    let e = engine(ledger.clone(), target.clone());
    let r = release_without_triggers("1.0.0");
    let origin = tokio::time::Instant::now();
    let running = start_in_background(&e, &r);
    InPause {
        ledger,
        target,
        e,
        r,
        origin,
        running,
    }
}

/// When (virtual `Instant`) the run journaled the start of its first pause, given the
/// instant its clock started.
async fn first_pause_started(
    ledger: &Arc<dyn Ledger>,
    id: &ReleaseId,
    origin: tokio::time::Instant,
) -> (tokio::time::Instant, DateTime<Utc>) {
    let start: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc();
    let records = read_all(ledger.as_ref(), id).await.unwrap();
    let at = records
        .iter()
        .find(|r| {
            matches!(
                &r.event,
                Event::StepStarted {
                    step: RolloutStep::Pause(_),
                    ..
                }
            )
        })
        .expect("the pause started")
        .at;
    (origin + (at - start).to_std().unwrap(), at)
}

// covers M5.2: a `promote` from another process (here: another engine on the same ledger,
// which cannot wake this one) is seen at the run's next read of the journal, within a lease
// slice, and ends the pause — it does not wait for the pause's end.
#[tokio::test(start_paused = true)]
async fn a_promote_from_another_engine_ends_the_pause_within_a_lease_slice() {
    let InPause {
        ledger,
        target,
        r,
        running,
        ..
    } = in_pause();
    let elsewhere = engine(ledger.clone(), target.clone());
    tokio::time::sleep(Duration::from_secs(127)).await;
    elsewhere.promote(r.id(), "tom@x", None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    let records = read_all(ledger.as_ref(), r.id()).await.unwrap();
    // The other engine's clock started at its first read: the promote's own timestamp is
    // on that clock, so measure on the run's, which started with the release.
    let (_, reacted) = reaction_to(&records, OperatorAction::Resume);
    let acted = DateTime::parse_from_rfc3339("2026-12-01T09:02:07Z")
        .unwrap()
        .to_utc();
    assert!(
        reacted > acted && reacted - acted <= chrono::Duration::seconds(20),
        "seen within a slice of lease_ttl / 3: {acted} → {reacted}"
    );
    running.abort();
}

// covers M5.2: a `promote` that arrives as a sleep slice ends (the same instant) still ends
// the pause at once: the run decides from the journal, not from which wake-up came first.
#[tokio::test(start_paused = true)]
async fn a_promote_on_a_slice_boundary_ends_the_pause_at_once() {
    let InPause {
        ledger,
        e,
        r,
        origin,
        running,
        ..
    } = in_pause();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (paused_at, _) = first_pause_started(&ledger, r.id(), origin).await;
    // Six slices of 20 s into the pause: a slice ends now.
    tokio::time::sleep_until(paused_at + Duration::from_secs(120)).await;
    e.promote(r.id(), "tom@x", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let records = read_all(ledger.as_ref(), r.id()).await.unwrap();
    let (acted, reacted) = reaction_to(&records, OperatorAction::Resume);
    assert_eq!(
        reacted, acted,
        "the pause ends when the promote is journaled"
    );
    running.abort();
}

// covers M5.5: what an operator journals that does not concern a pause (evidence, metrics)
// wakes the run to look, but the pause sleeps on to its end.
#[tokio::test(start_paused = true)]
async fn evidence_journaled_during_a_pause_does_not_end_it() {
    let InPause {
        ledger,
        e,
        r,
        origin,
        running,
        ..
    } = in_pause();
    tokio::time::sleep(Duration::from_secs(127)).await;
    e.record_evidence(
        r.id(),
        "ci@x",
        Evidence::new("junit", serde_json::json!({ "tests": 1, "failures": 0 }))
            .for_environment("dev"),
    )
    .await
    .unwrap();
    let (_, pause_at) = first_pause_started(&ledger, r.id(), origin).await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    let records = read_all(ledger.as_ref(), r.id()).await.unwrap();
    let pause = records
        .iter()
        .find_map(|r| match &r.event {
            Event::StepStarted {
                key,
                step: RolloutStep::Pause(_),
            } => Some(key.clone()),
            _ => None,
        })
        .unwrap();
    let ended = records
        .iter()
        .find(|r| matches!(&r.event, Event::StepSucceeded { key } if *key == pause))
        .expect("the pause ended")
        .at;
    assert_eq!(ended - pause_at, chrono::Duration::minutes(10));
    running.abort();
}

// covers M5.1, M8.1: `start_shared` journals and runs exactly what `start` does; the run
// keeps the host's documents instead of copies (issue #10).
#[tokio::test(start_paused = true)]
async fn start_shared_journals_what_start_journals_and_keeps_the_hosts_documents() {
    let r = release_without_triggers("1.0.0");
    let copied = Arc::new(InMemoryLedger::new());
    let outcome = engine(copied.clone(), Arc::new(InMemoryTarget::new()))
        .start(&platform(), &r, "ana@x")
        .await
        .unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));

    let shared = Arc::new(InMemoryLedger::new());
    let (p, rel) = (Arc::new(platform()), Arc::new(r.clone()));
    let e = engine(shared.clone(), Arc::new(InMemoryTarget::new()));
    let run = tokio::spawn({
        let (e, p, rel) = (e.clone(), p.clone(), rel.clone());
        async move { e.start_shared(p, rel, "ana@x").await }
    });
    // While the run is paused it holds the host's platform and release (the journal's
    // first record and the fold share them), not copies.
    while shared.events(r.id(), 0).await.unwrap().len() < 8 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(Arc::strong_count(&p) > 1 && Arc::strong_count(&rel) > 1);
    let outcome = run.await.unwrap().unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    // Once it ends, nothing of the run holds them.
    assert_eq!((Arc::strong_count(&p), Arc::strong_count(&rel)), (1, 1));

    let hashes = |records: Vec<release_core::ledger::Record>| {
        records.into_iter().map(|r| r.hash).collect::<Vec<_>>()
    };
    assert_eq!(
        hashes(shared.events(r.id(), 0).await.unwrap()),
        hashes(copied.events(r.id(), 0).await.unwrap())
    );
}
