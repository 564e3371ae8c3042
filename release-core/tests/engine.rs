//! The engine end to end on in-memory plugins, in virtual time.
//! covers M5.1 (idempotent, resumable steps), M5.3 (audit chain), M5.4 (probes),
//! M5.5 / M8.1 (triggers), M8.3 (rollback plan before deploy), M5.2 (approvals).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{
    Event, EventDraft, Fence, InMemoryLedger, Lease, Ledger, Outcome, Record, read_all,
    verify_chain,
};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{InMemoryMetrics, InMemoryProbe, InMemoryTarget, ScopeMatcher};
use release_core::model::{Platform, Release};
use release_core::plugin::{
    ApplyRequest, DeploymentTarget, SlotStatus, TargetCapabilities, TokioClock,
};
use release_core::{Error, Result};

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: db, owner: { primary: a@x, backup: b@x }, stateful: true, shared_resources: [orders-db] }
  - { id: api, owner: { primary: a@x, backup: b@x }, depends_on: [db], shared_resources: [orders-db] }
  - { id: pay, owner: { primary: a@x, backup: b@x }, depends_on: [db] }
  - { id: search, owner: { primary: c@x, backup: d@x } }
  - { id: web, owner: { primary: c@x, backup: d@x }, depends_on: [api, pay, search] }
shared_resources:
  - { id: orders-db, tier: production }
  - { id: orders-db-test, tier: test }
environments:
  - { name: dev, tier: development, bindings: { orders-db: orders-db-test } }
  - { name: staging, tier: staging, bindings: { orders-db: orders-db-test }, parameters: { replicas: 2 } }
  - { name: production, tier: production, parameters: { replicas: 3 } }
lifecycle:
  phases:
    - { name: develop, environments: [dev] }
    - { name: verify, environments: [staging] }
    - { name: release, environments: [production] }
"#;

fn release_yaml(version: &str, watch: &str) -> String {
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
  - {{ id: CR-1, kind: normal, state: approved, configuration_items: [db, api, pay, search, web] }}
changes:
  - {{ id: CHG-1, request: CR-1, components: [db, api, pay, search, web] }}
components:
  db: {{ version: {version} }}
  api: {{ version: {version} }}
  pay: {{ version: {version} }}
  search: {{ version: {version} }}
  web: {{ version: {version} }}
rollback:
  watch_window: {watch}
  triggers:
    - error_rate: {{ above: 0.05 }}
"#
    )
}

fn platform(text: &str) -> Platform {
    match parse_str(text, "platform.yaml", Format::Yaml)
        .unwrap()
        .remove(0)
    {
        Document::Platform(p) => p.value,
        Document::Release(_) => panic!("not a platform"),
    }
}

fn release(text: &str) -> Release {
    match parse_str(text, "release.yaml", Format::Yaml)
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

struct Rig {
    ledger: Arc<dyn Ledger>,
    target: Arc<InMemoryTarget>,
    metrics: Arc<InMemoryMetrics>,
    probe: Arc<InMemoryProbe>,
}

impl Rig {
    fn new() -> Self {
        Self {
            ledger: Arc::new(InMemoryLedger::new()),
            // Every change kept: the tests replay the history from an index.
            target: Arc::new(InMemoryTarget::new().with_history_limit(usize::MAX)),
            metrics: Arc::new(InMemoryMetrics::new()),
            probe: Arc::new(InMemoryProbe::new()),
        }
    }

    fn engine_with(&self, target: Arc<dyn DeploymentTarget>, ledger: Arc<dyn Ledger>) -> Engine {
        let options = EngineOptions::default()
            .with_holder("engine-a")
            .with_poll_interval(std::time::Duration::from_secs(30));
        Engine::builder()
            .ledger(ledger)
            .clock(Arc::new(TokioClock::new(start_time())))
            .target("default", target)
            .metrics("default", self.metrics.clone())
            .probe("health", self.probe.clone())
            .options(options)
            .build()
            .unwrap()
    }

    fn engine(&self) -> Engine {
        self.engine_with(self.target.clone(), self.ledger.clone())
    }

    /// component → versions running, per environment.
    fn versions(&self) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
        ["dev", "staging", "production"]
            .iter()
            .map(|env| {
                let v = self
                    .target
                    .versions(env)
                    .into_iter()
                    .map(|(c, vs)| (c.to_string(), vs.iter().map(ToString::to_string).collect()))
                    .collect();
                (env.to_string(), v)
            })
            .collect()
    }
}

fn all_on(versions: &BTreeMap<String, BTreeSet<String>>, version: &str) -> bool {
    versions.len() == 5
        && versions
            .values()
            .all(|v| v.len() == 1 && v.contains(version))
}

async fn ship(rig: &Rig, version: &str) -> RunOutcome {
    let p = platform(PLATFORM);
    let r = release(&release_yaml(version, "10m"));
    rig.engine().start(&p, &r, "ana@x").await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_release_goes_through_three_environments_and_the_journal_verifies() {
    let rig = Rig::new();
    let outcome = ship(&rig, "1.0.0").await;
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    for (env, versions) in rig.versions() {
        assert!(all_on(&versions, "1.0.0"), "{env}: {versions:?}");
    }
    let records = read_all(rig.ledger.as_ref(), &"shop-1.0.0".into())
        .await
        .unwrap();
    verify_chain(&records).unwrap();
    let types: Vec<&str> = records.iter().map(|r| r.event.type_name()).collect();
    // Each type name is the serialized tag, and filters can name it.
    for r in &records {
        let json = serde_json::to_value(&r.event).unwrap();
        assert_eq!(json["type"], r.event.type_name());
        assert!(Event::TYPE_NAMES.contains(&r.event.type_name()));
    }
    // Every listed name is a variant's tag: decoding a bare tag fails on a missing field
    // (or succeeds), never on an unknown variant.
    for name in Event::TYPE_NAMES {
        if let Err(e) = serde_json::from_value::<Event>(serde_json::json!({ "type": name })) {
            assert!(!e.to_string().contains("unknown variant"), "{name}: {e}");
        }
    }
    let mut unique = Event::TYPE_NAMES.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), Event::TYPE_NAMES.len());
    assert_eq!(types[0], "release_started");
    assert_eq!(*types.last().unwrap(), "release_finished");
    // The rollback plan of each stage is journaled before its first step (M8.3).
    for env in ["dev", "staging", "production"] {
        let planned = records.iter().position(|r| matches!(&r.event, Event::RollbackPlanned { environment, .. } if environment == env)).unwrap();
        let first_step = records
            .iter()
            .position(
                |r| matches!(&r.event, Event::StepStarted { key, .. } if key.environment == env),
            )
            .unwrap();
        assert!(planned < first_step, "{env}");
    }
    // Every record names an actor and the changes it concerns (M5.3).
    assert!(
        records
            .iter()
            .all(|r| !r.actor.is_empty() && !r.changes.is_empty())
    );
    // The production slots have the environment's replica count, and every slot was probed.
    let prod = rig.target.running("production", "web");
    assert_eq!(prod[0].spec.replicas, 3);
    assert!(records.iter().any(|r| matches!(&r.event, Event::ProbeChecked { component, environment, .. } if component == "web" && environment == "production")));
}

/// Fails the Nth apply (counting from 1) with a permanent error.
struct FailNth {
    inner: Arc<InMemoryTarget>,
    seen: AtomicUsize,
    fail_at: usize,
}

#[async_trait]
impl DeploymentTarget for FailNth {
    fn capabilities(&self) -> TargetCapabilities {
        self.inner.capabilities()
    }
    async fn apply(&self, request: &ApplyRequest) -> Result<SlotStatus> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.fail_at {
            return Err(Error::permanent(
                "faulty",
                format!("injected failure at apply {n}"),
            ));
        }
        self.inner.apply(request).await
    }
    async fn observe(
        &self,
        c: &release_core::model::ComponentId,
        e: &release_core::model::EnvironmentName,
    ) -> Result<Vec<SlotStatus>> {
        self.inner.observe(c, e).await
    }
    async fn remove(
        &self,
        c: &release_core::model::ComponentId,
        e: &release_core::model::EnvironmentName,
        s: &str,
    ) -> Result<()> {
        self.inner.remove(c, e, s).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_fault_at_every_step_in_turn_leaves_each_environment_on_one_known_version() {
    // How many applies a clean upgrade makes.
    let clean = Rig::new();
    ship(&clean, "1.0.0").await;
    let before = clean.target.history().len();
    ship(&clean, "2.0.0").await;
    let applies = clean.target.history().len() - before;
    assert_eq!(applies, 15, "5 components × 3 environments");

    for fail_at in 1..=applies {
        let rig = Rig::new();
        ship(&rig, "1.0.0").await;
        let faulty = Arc::new(FailNth {
            inner: rig.target.clone(),
            seen: AtomicUsize::new(0),
            fail_at,
        });
        let engine = rig.engine_with(faulty, rig.ledger.clone());
        let r = release(&release_yaml("2.0.0", "10m"));
        let outcome = engine
            .start(&platform(PLATFORM), &r, "ana@x")
            .await
            .unwrap();
        let failed_env = ["dev", "staging", "production"][(fail_at - 1) / 5];
        match outcome.outcome() {
            Some(Outcome::RolledBack {
                environment,
                reason,
            }) => {
                assert_eq!(environment.as_str(), failed_env, "fault {fail_at}");
                assert!(reason.contains("injected failure"), "{reason}");
            }
            other => panic!("fault {fail_at}: expected a rollback, got {other:?}"),
        }
        // No mixed state: every environment runs one version of everything.
        for (env, versions) in rig.versions() {
            let expected = if ["dev", "staging", "production"]
                .iter()
                .position(|e| *e == env)
                < ["dev", "staging", "production"]
                    .iter()
                    .position(|e| *e == failed_env)
            {
                "2.0.0"
            } else {
                "1.0.0"
            };
            assert!(
                all_on(&versions, expected),
                "fault {fail_at}, {env}: {versions:?}"
            );
        }
        let records = read_all(rig.ledger.as_ref(), &"shop-2.0.0".into())
            .await
            .unwrap();
        verify_chain(&records).unwrap();
        assert!(records.iter().any(|r| matches!(&r.event, Event::RollbackCompleted { environment } if environment == failed_env)));
    }
}

/// Fails the Nth probe check (counting from 1).
struct FailNthProbe {
    seen: AtomicUsize,
    fail_at: usize,
}

#[async_trait]
impl release_core::plugin::Probe for FailNthProbe {
    async fn check(
        &self,
        _: &release_core::plugin::ProbeRequest,
    ) -> Result<release_core::plugin::ProbeOutcome> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(if n == self.fail_at {
            release_core::plugin::ProbeOutcome::unhealthy(format!("injected probe failure {n}"))
        } else {
            release_core::plugin::ProbeOutcome::healthy("ok")
        })
    }
}

/// The other half of "a fault at each step in turn": the probes that follow every apply and
/// every verify step (M5.4) fail in turn.
#[tokio::test(start_paused = true)]
async fn a_failed_health_check_at_every_step_in_turn_rolls_back_cleanly() {
    let clean = Rig::new();
    ship(&clean, "1.0.0").await;
    let probes = Arc::new(FailNthProbe {
        seen: AtomicUsize::new(0),
        fail_at: 0,
    });
    let engine = Engine::builder()
        .ledger(clean.ledger.clone())
        .clock(Arc::new(TokioClock::new(start_time())))
        .target("default", clean.target.clone())
        .probe("health", probes.clone())
        .options(EngineOptions::default().with_poll_interval(std::time::Duration::from_secs(30)))
        .build()
        .unwrap();
    engine
        .start(
            &platform(PLATFORM),
            &release(&release_yaml("2.0.0", "10m")),
            "ana@x",
        )
        .await
        .unwrap();
    let checks = probes.seen.load(Ordering::SeqCst);
    assert_eq!(
        checks, 30,
        "an apply and a verify per component and environment"
    );

    for fail_at in 1..=checks {
        let rig = Rig::new();
        ship(&rig, "1.0.0").await;
        let engine = Engine::builder()
            .ledger(rig.ledger.clone())
            .clock(Arc::new(TokioClock::new(start_time())))
            .target("default", rig.target.clone())
            .probe(
                "health",
                Arc::new(FailNthProbe {
                    seen: AtomicUsize::new(0),
                    fail_at,
                }),
            )
            .options(
                EngineOptions::default().with_poll_interval(std::time::Duration::from_secs(30)),
            )
            .build()
            .unwrap();
        let outcome = engine
            .start(
                &platform(PLATFORM),
                &release(&release_yaml("2.0.0", "10m")),
                "ana@x",
            )
            .await
            .unwrap();
        let failed_env = ["dev", "staging", "production"][(fail_at - 1) / 10];
        assert!(
            matches!(outcome.outcome(), Some(Outcome::RolledBack { environment, .. }) if environment == failed_env),
            "probe {fail_at}: {outcome:?}"
        );
        for (env, versions) in rig.versions() {
            let order = |e: &str| {
                ["dev", "staging", "production"]
                    .iter()
                    .position(|x| *x == e)
            };
            let expected = if order(&env) < order(failed_env) {
                "2.0.0"
            } else {
                "1.0.0"
            };
            assert!(
                all_on(&versions, expected),
                "probe {fail_at}, {env}: {versions:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_spike_in_the_watch_window_rolls_production_back() {
    let rig = Rig::new();
    ship(&rig, "1.0.0").await;
    rig.metrics
        .set("error_rate", ScopeMatcher::of("api", "production"), 0.2);
    let outcome = ship(&rig, "2.0.0").await;
    match outcome.outcome() {
        Some(Outcome::RolledBack {
            environment,
            reason,
        }) => {
            assert_eq!(environment.as_str(), "production");
            assert!(reason.contains("error rate above 0.05"), "{reason}");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    let v = rig.versions();
    assert!(all_on(&v["staging"], "2.0.0"));
    assert!(all_on(&v["production"], "1.0.0"), "{:?}", v["production"]);
    let records = read_all(rig.ledger.as_ref(), &"shop-2.0.0".into())
        .await
        .unwrap();
    let fired = records
        .iter()
        .find(|r| matches!(r.event, Event::TriggerFired { .. }))
        .unwrap();
    assert_eq!(
        fired.changes,
        vec![release_core::model::ChangeId::new("CHG-1")]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_probe_fails_the_step_and_rolls_back() {
    let rig = Rig::new();
    ship(&rig, "1.0.0").await;
    rig.probe.set_unhealthy(
        ScopeMatcher::of("search", "staging"),
        "HTTP 500 on /healthz",
    );
    let outcome = ship(&rig, "2.0.0").await;
    match outcome.outcome() {
        Some(Outcome::RolledBack {
            environment,
            reason,
        }) => {
            assert_eq!(environment.as_str(), "staging");
            assert!(reason.contains("HTTP 500"), "{reason}");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    assert!(all_on(&rig.versions()["staging"], "1.0.0"));
    assert!(all_on(&rig.versions()["dev"], "2.0.0"));
}

#[tokio::test(start_paused = true)]
async fn production_waits_for_an_approval_from_someone_else() {
    let rig = Rig::new();
    let gated = PLATFORM.replace(
        "{ name: release, environments: [production] }",
        "{ name: release, environments: [production], entry_gates: [ { approval: { rules: [ { count: 1, from_roles: [release-manager] } ] } } ] }",
    );
    let p = platform(&gated);
    let r = release(&release_yaml("1.0.0", "1m"));
    let engine = rig.engine();
    let outcome = engine.start(&p, &r, "ana@x").await.unwrap();
    let RunOutcome::Waiting {
        environment,
        reason,
    } = &outcome
    else {
        panic!("expected to wait, got {outcome:?}");
    };
    assert_eq!(environment.as_ref().unwrap().as_str(), "production");
    assert!(reason.contains("0 of 1 approvals"), "{reason}");
    assert!(
        rig.target.versions("production").is_empty(),
        "nothing deployed before approval"
    );

    // Self-approval does not count.
    engine
        .approve(&r.metadata.id, &"production".into(), "ana@x", None)
        .await
        .unwrap();
    let again = engine.resume(&r.metadata.id, "ana@x").await.unwrap();
    assert!(matches!(again, RunOutcome::Waiting { .. }), "{again:?}");

    // A fresh engine (a later CI job) approves and resumes.
    let later = rig.engine();
    later
        .approve(
            &r.metadata.id,
            &"production".into(),
            "tom@x",
            Some("looks good".into()),
        )
        .await
        .unwrap();
    let done = later.resume(&r.metadata.id, "tom@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded));
    assert!(all_on(&rig.versions()["production"], "1.0.0"));
}

#[tokio::test(start_paused = true)]
async fn a_rejection_fails_the_gate() {
    let rig = Rig::new();
    let gated = PLATFORM.replace(
        "{ name: release, environments: [production] }",
        "{ name: release, environments: [production], entry_gates: [ { approval: { rules: [ { count: 1 } ] } } ] }",
    );
    let p = platform(&gated);
    let r = release(&release_yaml("1.0.0", "1m"));
    let engine = rig.engine();
    engine.start(&p, &r, "ana@x").await.unwrap();
    engine
        .reject(
            &r.metadata.id,
            &"production".into(),
            "tom@x",
            Some("not today".into()),
        )
        .await
        .unwrap();
    let outcome = engine.resume(&r.metadata.id, "tom@x").await.unwrap();
    assert!(
        matches!(outcome.outcome(), Some(Outcome::GateFailed { gate, .. }) if gate == "approval"),
        "{outcome:?}"
    );
    // Operator actions on an ended release are refused with the reason.
    let err = engine
        .abort(&r.metadata.id, "tom@x", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already ended"), "{err}");
}

/// A ledger that stops working after `limit` appends: the process "crashes" there.
struct CrashAfter {
    inner: Arc<InMemoryLedger>,
    appended: AtomicUsize,
    limit: usize,
}

#[async_trait]
impl Ledger for CrashAfter {
    async fn append(&self, draft: EventDraft, fence: Option<&Fence>) -> Result<Record> {
        if self.appended.fetch_add(1, Ordering::SeqCst) >= self.limit {
            return Err(Error::transient("crash", "the process died"));
        }
        self.inner.append(draft, fence).await
    }
    async fn events(
        &self,
        release: &release_core::model::ReleaseId,
        after: u64,
    ) -> Result<Vec<Record>> {
        self.inner.events(release, after).await
    }
    async fn releases(&self) -> Result<Vec<release_core::model::ReleaseId>> {
        self.inner.releases().await
    }
    async fn acquire(
        &self,
        lock: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease> {
        self.inner.acquire(lock, holder, ttl, now).await
    }
    async fn renew(
        &self,
        lease: &Lease,
        ttl: std::time::Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease> {
        self.inner.renew(lease, ttl, now).await
    }
    async fn release(&self, lease: &Lease) -> Result<()> {
        self.inner.release(lease).await
    }
}

/// Crash after each journal append in turn, resume with a fresh engine on the same ledger:
/// the end state equals an uninterrupted run's, and no target saw a state change that the
/// uninterrupted run did not make (re-applying the in-flight step is a no-op). covers M5.1
#[tokio::test(start_paused = true)]
async fn a_crash_after_any_append_resumes_to_the_same_end_state() {
    let reference = Rig::new();
    ship(&reference, "1.0.0").await;
    let base = reference.target.history().len();
    ship(&reference, "2.0.0").await;
    let expected_history: Vec<_> = reference.target.history()[base..].to_vec();
    let expected_versions = reference.versions();
    let total = read_all(reference.ledger.as_ref(), &"shop-2.0.0".into())
        .await
        .unwrap()
        .len();
    assert!(total > 50, "{total} records");

    for limit in 1..total {
        let rig = Rig::new();
        ship(&rig, "1.0.0").await;
        let memory = Arc::new(InMemoryLedger::new());
        // Copy the first release's journal so both releases share one ledger.
        let first = read_all(rig.ledger.as_ref(), &"shop-1.0.0".into())
            .await
            .unwrap();
        memory.overwrite(&"shop-1.0.0".into(), first);
        let crashing = Arc::new(CrashAfter {
            inner: memory.clone(),
            appended: AtomicUsize::new(0),
            limit,
        });
        let r = release(&release_yaml("2.0.0", "10m"));
        let crashed = rig
            .engine_with(rig.target.clone(), crashing)
            .start(&platform(PLATFORM), &r, "ana@x")
            .await;
        assert!(
            crashed.is_err(),
            "limit {limit}: expected the crash to surface"
        );
        let outcome = rig
            .engine_with(rig.target.clone(), memory.clone())
            .resume(&r.metadata.id, "ana@x")
            .await
            .unwrap_or_else(|e| panic!("limit {limit}: resume failed: {e}"));
        assert_eq!(
            outcome.outcome(),
            Some(&Outcome::Succeeded),
            "limit {limit}"
        );
        assert_eq!(rig.versions(), expected_versions, "limit {limit}");
        let history: Vec<_> = rig.target.history()[base..].to_vec();
        assert_eq!(
            history, expected_history,
            "limit {limit}: a conflicting state was applied"
        );
        let records = read_all(memory.as_ref(), &r.metadata.id).await.unwrap();
        verify_chain(&records).unwrap();
    }
}

/// Healthy when the request carries endpoints and none of them is the one marked bad; a
/// notifier marks `mem://production/api/stable` bad once production's watch window starts.
#[derive(Default)]
struct EndpointProbe {
    bad: std::sync::Mutex<Option<String>>,
    seen: std::sync::Mutex<Vec<(String, Vec<String>)>>,
}

#[async_trait]
impl release_core::plugin::Probe for EndpointProbe {
    async fn check(
        &self,
        request: &release_core::plugin::ProbeRequest,
    ) -> Result<release_core::plugin::ProbeOutcome> {
        let urls: Vec<String> = request.endpoints.iter().map(|e| e.url.clone()).collect();
        self.seen
            .lock()
            .unwrap()
            .push((request.slot.to_string(), urls.clone()));
        let bad = self.bad.lock().unwrap().clone();
        Ok(if urls.is_empty() {
            release_core::plugin::ProbeOutcome::unhealthy("the slot reports no endpoints")
        } else if bad.is_some_and(|b| urls.contains(&b)) {
            release_core::plugin::ProbeOutcome::unhealthy("500 on /healthz")
        } else {
            release_core::plugin::ProbeOutcome::healthy("200")
        })
    }
}

#[async_trait]
impl release_core::plugin::Notifier for EndpointProbe {
    async fn notify(&self, record: &Record) -> Result<()> {
        if let (Event::WatchStarted { environment, .. }, true) =
            (&record.event, record.release.as_str() == "shop-2.0.0")
            && environment.as_str() == "production"
        {
            *self.bad.lock().unwrap() = Some("mem://production/api/stable".to_owned());
        }
        Ok(())
    }
}

async fn ship_with_probe_trigger(
    rig: &Rig,
    probe: &Arc<EndpointProbe>,
    version: &str,
) -> RunOutcome {
    let engine = Engine::builder()
        .ledger(rig.ledger.clone())
        .clock(Arc::new(TokioClock::new(start_time())))
        .target("default", rig.target.clone())
        .metrics("default", rig.metrics.clone())
        .probe("endpoint", probe.clone())
        .notifier(probe.clone())
        .options(
            EngineOptions::default()
                .with_holder("engine-a")
                .with_poll_interval(std::time::Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    let text = release_yaml(version, "10m").replace(
        "    - error_rate: { above: 0.05 }",
        "    - probe_failure: { probe: endpoint, consecutive: 1 }",
    );
    engine
        .start(&platform(PLATFORM), &release(&text), "ana@x")
        .await
        .unwrap()
}

// covers M5.5, M8.1: a `probe_failure` trigger probes each running slot on the endpoints the
// target reports (before, it probed `stable` with none, so an HTTP probe always failed).
#[tokio::test(start_paused = true)]
async fn a_probe_failure_trigger_probes_the_slots_on_their_endpoints() {
    let rig = Rig::new();
    let probe = Arc::new(EndpointProbe::default());
    let first = ship_with_probe_trigger(&rig, &probe, "1.0.0").await;
    assert_eq!(first.outcome(), Some(&Outcome::Succeeded), "{first:?}");
    assert!(
        probe
            .seen
            .lock()
            .unwrap()
            .iter()
            .all(|(_, urls)| !urls.is_empty())
    );

    // 2.0.0's api fails its probe once production's watch window has started: the trigger
    // fires, naming the slot, and production goes back to 1.0.0.
    let second = ship_with_probe_trigger(&rig, &probe, "2.0.0").await;
    match second.outcome() {
        Some(Outcome::RolledBack { environment, .. }) => {
            assert_eq!(environment.as_str(), "production");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    let records = read_all(rig.ledger.as_ref(), &"shop-2.0.0".into())
        .await
        .unwrap();
    let observed = records
        .iter()
        .find_map(|r| match &r.event {
            Event::TriggerFired { observed, .. } => Some(observed.clone()),
            _ => None,
        })
        .expect("the probe trigger fired");
    assert!(observed.contains("stable: 500 on /healthz"), "{observed}");
    assert!(all_on(&rig.versions()["production"], "1.0.0"));
}

/// The journal of a release as (record count, hash of its last record): the hash chains the
/// bytes of every record before it, so equal pairs mean byte-identical journals.
async fn journal_fingerprint(ledger: &dyn Ledger, release: &str) -> (usize, String) {
    let records = read_all(ledger, &release.into()).await.unwrap();
    verify_chain(&records).unwrap();
    let last = records
        .last()
        .map(|r| r.hash.to_string())
        .unwrap_or_default();
    (records.len(), last)
}

// covers M5.3: engine work on memory and speed (issue #10) must not change a single journaled
// byte. These fingerprints were recorded before that work; a change that moves them changes
// what the engine journals and must say so (then record the new values here).
#[tokio::test(start_paused = true)]
async fn journals_stay_byte_identical_to_the_recorded_fingerprints() {
    // A release through three environments, then one rolled back by an error spike.
    let rig = Rig::new();
    ship(&rig, "1.0.0").await;
    rig.metrics
        .set("error_rate", ScopeMatcher::of("api", "production"), 0.2);
    ship(&rig, "2.0.0").await;
    // A release that waits at an approval gate, is approved by someone else and resumed.
    let gated = Rig::new();
    let p = platform(&PLATFORM.replace(
        "{ name: release, environments: [production] }",
        "{ name: release, environments: [production], entry_gates: [ { approval: { rules: [ { count: 1, from_roles: [release-manager] } ] } } ] }",
    ));
    let r = release(&release_yaml("1.0.0", "1m"));
    let engine = gated.engine();
    engine.start(&p, &r, "ana@x").await.unwrap();
    engine
        .approve(&r.metadata.id, &"production".into(), "tom@x", None)
        .await
        .unwrap();
    engine.resume(&r.metadata.id, "tom@x").await.unwrap();

    let got = [
        journal_fingerprint(rig.ledger.as_ref(), "shop-1.0.0").await,
        journal_fingerprint(rig.ledger.as_ref(), "shop-2.0.0").await,
        journal_fingerprint(gated.ledger.as_ref(), "shop-1.0.0").await,
    ];
    let want = [
        (
            119,
            "sha256:186d6154e31ed608259cb591c542904a914d1b77fbd1d0077d15fd258c4adaf1",
        ),
        (
            114,
            "sha256:063d5b2b8cd112e2121ffa1b294cda15e50bbeb10f23159e3b6e32a03f9a13b0",
        ),
        (
            123,
            "sha256:3da82d0c7ebe1f1f545a87894892ea0edb95ae3338c78b40d7d91574d24fa7a3",
        ),
    ]
    .map(|(n, hash)| (n, hash.to_owned()));
    assert_eq!(got, want);
}
