//! The RCA gate through the real engine, in virtual time (M8.6): a rollback in production
//! opens an RCA; the next release of that component waits at production's entry until a
//! person closes the RCA, then goes on.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use release_core::closure::rcas;
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{Event, InMemoryLedger, Ledger, Outcome, RcaClosure, read_all};
use release_core::manifest::{Document, Format, parse_str};
use release_core::memory::{InMemoryMetrics, InMemoryTarget, ScopeMatcher};
use release_core::model::{Platform, Release};
use release_core::plugin::{GateVerdict, TokioClock};
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
  - { name: production, tier: production }
lifecycle:
  phases:
    - { name: verify, environments: [staging] }
    - { name: release, environments: [production], entry_gates: [ { rca_closed: {} } ] }
"#;

fn release(version: &str) -> Release {
    let text = format!(
        "apiVersion: release/v1\nkind: Release\nmetadata: {{ id: shop-{version} }}\nversion: {version}\n\
         platform: shop\ntype: full\nrelease_manager: {{ primary: a@x, backup: c@x }}\n\
         components: {{ api: {{ version: {version} }}, web: {{ version: {version} }} }}\n\
         rollback: {{ watch_window: 5m, triggers: [ {{ error_rate: {{ above: 0.05 }} }} ] }}\n"
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

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// An engine with the promotion gates on an in-memory ledger, target and metrics source.
fn rig() -> (
    Engine,
    Arc<dyn Ledger>,
    Arc<InMemoryTarget>,
    Arc<InMemoryMetrics>,
) {
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    let metrics = Arc::new(InMemoryMetrics::new());
    metrics.set("error_rate", ScopeMatcher::any(), 0.01);
    let builder = Engine::builder()
        .ledger(ledger.clone())
        .clock(Arc::new(TokioClock::new(start_time())))
        .target("default", target.clone())
        .metrics("default", metrics.clone())
        .options(
            EngineOptions::default()
                .with_holder("engine-a")
                .with_poll_interval(Duration::from_secs(30)),
        );
    let engine = register(builder, &GatesConfig::new()).build().unwrap();
    (engine, ledger, target, metrics)
}

#[tokio::test(start_paused = true)]
async fn a_rolled_back_component_waits_for_its_rca_to_be_closed() {
    let (engine, ledger, target, metrics) = rig();
    let p = platform();

    let v1 = engine.start(&p, &release("1.0.0"), "ana@x").await.unwrap();
    assert_eq!(v1.outcome(), Some(&Outcome::Succeeded), "{v1:?}");

    // 2.0.0 errors in production: the trigger rolls production back and opens an RCA.
    metrics.set("error_rate", ScopeMatcher::of("api", "production"), 0.4);
    let v2 = engine.start(&p, &release("2.0.0"), "ana@x").await.unwrap();
    assert!(
        matches!(v2.outcome(), Some(Outcome::RolledBack { environment, .. }) if environment == "production"),
        "{v2:?}"
    );
    let j2 = read_all(ledger.as_ref(), &"shop-2.0.0".into())
        .await
        .unwrap();
    let opened = rcas(&j2);
    assert_eq!(opened.len(), 1);
    let rca = &opened[0];
    assert_eq!(rca.id, "RCA-shop-2.0.0-production-1");
    assert_eq!(
        rca.components
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["api"]
    );

    // 3.0.0 passes staging, then waits at production's entry for the RCA.
    metrics.set("error_rate", ScopeMatcher::any(), 0.01);
    let r3 = release("3.0.0");
    let v3 = engine.start(&p, &r3, "ana@x").await.unwrap();
    let RunOutcome::Waiting {
        environment,
        reason,
    } = &v3
    else {
        panic!("expected to wait for the RCA, got {v3:?}");
    };
    assert_eq!(environment.as_ref().unwrap().as_str(), "production");
    assert_eq!(
        reason,
        "gate `rca_closed` waits: api was rolled back in production by release shop-2.0.0 \
         (error rate above 0.05: error_rate = 0.4 > 0.05); root-cause analysis \
         RCA-shop-2.0.0-production-1 is open: close it with `Engine::close_rca` on release \
         shop-2.0.0, then resume"
    );
    assert_eq!(
        target.versions("production")["api"]
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["1.0.0"]
    );
    // Resuming without closing it still waits.
    let again = engine.resume(r3.id(), "ana@x").await.unwrap();
    assert!(matches!(again, RunOutcome::Waiting { .. }), "{again:?}");

    // A person closes the RCA on the release that rolled back; 3.0.0 goes on.
    engine
        .close_rca(
            &"shop-2.0.0".into(),
            "lead@x",
            RcaClosure::new(
                rca.id.clone(),
                "api 2.0.0 raised errors to 40 % in production",
                "connection pool too small for production traffic",
                ["size the pool from production load tests"],
            ),
        )
        .await
        .unwrap();
    let done = engine.resume(r3.id(), "ana@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded), "{done:?}");
    let j3 = read_all(ledger.as_ref(), r3.id()).await.unwrap();
    let verdicts: Vec<&str> = j3
        .iter()
        .filter_map(|r| match &r.event {
            Event::GateEvaluated { gate, verdict, .. } if gate == "rca_closed" => {
                Some(match verdict {
                    GateVerdict::Pass { .. } => "pass",
                    GateVerdict::Fail { .. } => "fail",
                    GateVerdict::Wait { .. } => "wait",
                })
            }
            _ => None,
        })
        .collect();
    assert_eq!(verdicts, ["wait", "wait", "pass"]);
    let passed = j3
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::GateEvaluated { gate, verdict, .. } if gate == "rca_closed" => {
                Some(verdict.reasons()[0].message.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(
        passed,
        "every root-cause analysis of the release's components is closed (1)"
    );
}

#[tokio::test]
async fn without_a_ledger_the_gate_fails_and_says_how_to_register_it() {
    use release_core::plugin::{Gate, GateContext, GatePosition};
    use release_gates::promotion::rca::RcaGate;
    let context = GateContext::new(
        Arc::new(platform()),
        Arc::new(release("1.0.0")),
        "production".into(),
        "release".into(),
        GatePosition::Entry,
        release_core::model::GateSpec::RcaClosed {},
        start_time(),
    );
    let verdict = RcaGate::without_ledger().evaluate(&context).await.unwrap();
    assert!(!verdict.passed());
    assert!(
        verdict.reasons()[0]
            .message
            .contains("call `.ledger(...)` on the EngineBuilder before"),
        "{verdict:?}"
    );
}

/// A ledger that counts the records it hands out, and whose store can be swapped for
/// another (a ledger restored from a backup).
struct Counting {
    inner: std::sync::Mutex<Arc<dyn Ledger>>,
    handed_out: std::sync::atomic::AtomicUsize,
}

impl Counting {
    fn inner(&self) -> Arc<dyn Ledger> {
        self.inner.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Ledger for Counting {
    async fn append(
        &self,
        draft: release_core::ledger::EventDraft,
        fence: Option<&release_core::ledger::Fence>,
    ) -> release_core::Result<release_core::ledger::Record> {
        self.inner().append(draft, fence).await
    }
    async fn events(
        &self,
        release: &release_core::id::ReleaseId,
        after: u64,
    ) -> release_core::Result<Vec<release_core::ledger::Record>> {
        let records = self.inner().events(release, after).await?;
        self.handed_out
            .fetch_add(records.len(), std::sync::atomic::Ordering::SeqCst);
        Ok(records)
    }
    async fn releases(&self) -> release_core::Result<Vec<release_core::id::ReleaseId>> {
        self.inner().releases().await
    }
    async fn acquire(
        &self,
        lock: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> release_core::Result<release_core::ledger::Lease> {
        self.inner().acquire(lock, holder, ttl, now).await
    }
    async fn renew(
        &self,
        lease: &release_core::ledger::Lease,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> release_core::Result<release_core::ledger::Lease> {
        self.inner().renew(lease, ttl, now).await
    }
    async fn release(&self, lease: &release_core::ledger::Lease) -> release_core::Result<()> {
        self.inner().release(lease).await
    }
}

/// An engine whose ledger holds 1.0.0 shipped and 2.0.0 rolled back in production (its
/// RCA open).
async fn rolled_back() -> (Engine, Arc<dyn Ledger>) {
    let (engine, ledger, _, metrics) = rig();
    let p = platform();
    engine.start(&p, &release("1.0.0"), "ana@x").await.unwrap();
    metrics.set("error_rate", ScopeMatcher::of("api", "production"), 0.4);
    engine.start(&p, &release("2.0.0"), "ana@x").await.unwrap();
    (engine, ledger)
}

/// The gate's context: 3.0.0 entering production.
fn entering_production() -> release_core::plugin::GateContext {
    use release_core::plugin::{GateContext, GatePosition};
    GateContext::new(
        Arc::new(platform()),
        Arc::new(release("3.0.0")),
        "production".into(),
        "release".into(),
        GatePosition::Entry,
        release_core::model::GateSpec::RcaClosed {},
        start_time(),
    )
}

#[tokio::test(start_paused = true)]
async fn the_gate_reads_only_what_the_journals_gained_since_its_last_evaluation() {
    use release_core::plugin::Gate;
    use release_gates::promotion::rca::RcaGate;
    use std::sync::atomic::Ordering::SeqCst;
    let (engine, ledger) = rolled_back().await;
    let total: usize = {
        let mut n = 0;
        for id in ledger.releases().await.unwrap() {
            n += read_all(ledger.as_ref(), &id).await.unwrap().len();
        }
        n
    };

    let counting = Arc::new(Counting {
        inner: std::sync::Mutex::new(ledger.clone()),
        handed_out: Default::default(),
    });
    let releases = ledger.releases().await.unwrap().len();
    let gate = RcaGate::new(counting.clone());
    let context = entering_production();
    let first = gate.evaluate(&context).await.unwrap();
    assert!(matches!(first, GateVerdict::Wait { .. }), "{first:?}");
    assert_eq!(
        counting.handed_out.load(SeqCst),
        total,
        "the first evaluation reads everything"
    );

    // Nothing new: only the last record read of each journal (to check it is the same
    // journal), same verdict.
    let second = gate.evaluate(&context).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(counting.handed_out.load(SeqCst), total + releases);

    // The RCA is closed (one record): the next evaluation reads that record alone and passes.
    engine
        .close_rca(
            &"shop-2.0.0".into(),
            "lead@x",
            RcaClosure::new(
                "RCA-shop-2.0.0-production-1",
                "api 2.0.0 raised errors",
                "pool too small",
                ["size the pool"],
            ),
        )
        .await
        .unwrap();
    let third = gate.evaluate(&context).await.unwrap();
    assert!(third.passed(), "{third:?}");
    assert_eq!(counting.handed_out.load(SeqCst), total + 2 * releases + 1);
}

#[tokio::test(start_paused = true)]
async fn a_rewritten_journal_is_read_again_from_the_start() {
    use release_core::plugin::Gate;
    use release_gates::promotion::rca::RcaGate;
    // Ledger A: 2.0.0 rolled back in production, its RCA open.
    let (_, ledger_a) = rolled_back().await;
    let p = platform();
    // Ledger B: the same releases, 2.0.0 healthy: its journal has other records.
    let (engine_b, ledger_b, _, _) = rig();
    engine_b
        .start(&p, &release("1.0.0"), "ana@x")
        .await
        .unwrap();
    engine_b
        .start(&p, &release("2.0.0"), "ana@x")
        .await
        .unwrap();

    let counting = Arc::new(Counting {
        inner: std::sync::Mutex::new(ledger_a),
        handed_out: Default::default(),
    });
    let gate = RcaGate::new(counting.clone());
    let context = entering_production();
    assert!(matches!(
        gate.evaluate(&context).await.unwrap(),
        GateVerdict::Wait { .. }
    ));
    // The store is replaced by B (a restore): the RCA the gate saw is not in it any more.
    *counting.inner.lock().unwrap() = ledger_b;
    let after = gate.evaluate(&context).await.unwrap();
    assert!(after.passed(), "{after:?}");
}
