//! The PostgreSQL ledger against a real server (`RELEASE_TEST_POSTGRES_URL`; `.ci/run` sets
//! one up): core's conformance suites, the schema guard, corrupt rows, and two engines with
//! their own pools racing for one environment. Each test works in its own schema, so the
//! tests run in parallel against one database. Without the variable they skip, saying so once.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_adapters::postgres_ledger::{
    PostgresLedger, PostgresLedgerConfig, PostgresLedgerError, SCHEMA_VERSION,
};
use release_core::ledger::{
    Event, EventDraft, Fence, Lease, Ledger, Outcome, Record, read_all, verify_chain,
};
use release_core::memory::InMemoryTarget;
use release_core::model::ReleaseId;
use release_core::plugin::{Clock, TokioClock};
use release_core::testkit::conformance::{ledger_conformance, ledger_parallel_conformance};
use release_core::{Error, ErrorKind, Result};

fn url() -> Option<String> {
    static SKIP: OnceLock<()> = OnceLock::new();
    match std::env::var("RELEASE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            SKIP.get_or_init(|| {
                eprintln!(
                    "RELEASE_TEST_POSTGRES_URL is not set: skipping the PostgreSQL ledger tests (.ci/run sets it)"
                );
            });
            None
        }
    }
}

/// A fresh schema for one test.
async fn fresh_schema(url: &str, test: &str) -> String {
    let schema = format!("release_test_{test}_{}", std::process::id());
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE"#))
        .await
        .unwrap();
    schema
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

async fn connect(url: &str, schema: &str) -> PostgresLedger {
    PostgresLedgerConfig::new(url)
        .with_schema(schema)
        .with_max_connections(8)
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn passes_the_ledger_conformance_suite() {
    let Some(url) = url() else { return };
    let schema = fresh_schema(&url, "conformance").await;
    let report = ledger_conformance(&connect(&url, &schema).await)
        .await
        .unwrap();
    assert!(report.passed.len() >= 12, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_parallel_conformance_suite() {
    let Some(url) = url() else { return };
    let schema = fresh_schema(&url, "parallel").await;
    ledger_parallel_conformance(Arc::new(connect(&url, &schema).await))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_pools_on_one_schema_pass_the_parallel_suite_and_migrate_once() {
    let Some(url) = url() else { return };
    let schema = fresh_schema(&url, "two_pools").await;
    let (a, b) = tokio::join!(connect(&url, &schema), connect(&url, &schema));
    let versions = raw(&url)
        .await
        .query_one(
            &format!(r#"SELECT count(*) FROM "{schema}".schema_version"#),
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(versions, 1);
    let a = Arc::new(a);
    let b: Arc<dyn Ledger> = Arc::new(b);
    ledger_parallel_conformance(a.clone()).await.unwrap();
    // The second pool sees the first one's journal and locks.
    let records = read_all(b.as_ref(), &"conformance-ledger-parallel".into())
        .await
        .unwrap();
    assert_eq!(records.len(), 50);
    verify_chain(&records).unwrap();
}

#[tokio::test]
async fn a_schema_with_a_newer_version_is_refused() {
    let Some(url) = url() else { return };
    let schema = fresh_schema(&url, "newer").await;
    drop(connect(&url, &schema).await);
    raw(&url)
        .await
        .execute(
            &format!(r#"INSERT INTO "{schema}".schema_version (version) VALUES ($1)"#),
            &[&(SCHEMA_VERSION + 1)],
        )
        .await
        .unwrap();
    let err = PostgresLedgerConfig::new(&url)
        .with_schema(&schema)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, PostgresLedgerError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_schema_name_is_a_configuration_error() {
    let err = PostgresLedgerConfig::new("postgres://nobody@localhost/none")
        .with_schema("x\"; DROP TABLE y; --")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, PostgresLedgerError::Config(_)), "{err}");
}

#[tokio::test]
async fn a_corrupt_row_is_a_typed_error_naming_release_and_seq() {
    let Some(url) = url() else { return };
    let schema = fresh_schema(&url, "corrupt").await;
    let ledger = connect(&url, &schema).await;
    for i in 0..3 {
        ledger
            .append(draft("shop-1", common::start_time(), i), None)
            .await
            .unwrap();
    }
    raw(&url)
        .await
        .execute(
            &format!(r#"UPDATE "{schema}".events SET record = '{{' WHERE seq = 2"#),
            &[],
        )
        .await
        .unwrap();
    let err = ledger.events(&"shop-1".into(), 0).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
    let text = err.to_string();
    assert!(
        text.contains("shop-1") && text.contains("record 2"),
        "{text}"
    );
}

fn draft(release: &str, at: DateTime<Utc>, i: usize) -> EventDraft {
    EventDraft::new(
        release.into(),
        at,
        "test",
        Vec::new(),
        Event::Paused {
            environment: None,
            reason: format!("event {i}"),
        },
    )
}

/// Engine A's ledger handle: the process "dies" at its second step — every later write fails
/// and its leases are never given back.
struct DiesAtSecondStep {
    inner: Arc<PostgresLedger>,
    steps: std::sync::atomic::AtomicUsize,
    dead: AtomicBool,
}

impl DiesAtSecondStep {
    fn died(&self) -> Error {
        Error::transient("engine-a", "the process died")
    }
}

#[async_trait]
impl Ledger for DiesAtSecondStep {
    async fn append(&self, draft: EventDraft, fence: Option<&Fence>) -> Result<Record> {
        if matches!(draft.event, Event::StepStarted { .. })
            && self.steps.fetch_add(1, Ordering::SeqCst) == 1
        {
            self.dead.store(true, Ordering::SeqCst);
        }
        if self.dead.load(Ordering::SeqCst) {
            return Err(self.died());
        }
        self.inner.append(draft, fence).await
    }
    async fn events(&self, release: &ReleaseId, after: u64) -> Result<Vec<Record>> {
        self.inner.events(release, after).await
    }
    async fn releases(&self) -> Result<Vec<ReleaseId>> {
        self.inner.releases().await
    }
    async fn acquire(
        &self,
        lock: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease> {
        self.inner.acquire(lock, holder, ttl, now).await
    }
    async fn renew(&self, lease: &Lease, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        self.inner.renew(lease, ttl, now).await
    }
    async fn release(&self, lease: &Lease) -> Result<()> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(self.died());
        }
        self.inner.release(lease).await
    }
}

/// Two engines (holders `engine-a` and `engine-b`), each with its own pool on one database,
/// race for one environment: while A's lease lives B gets `LockHeld` (retryable) — for A's
/// release and for a release of its own — and once it has expired B resumes the release A
/// started and finishes it; A's fence is stale from then on.
#[tokio::test(start_paused = true)]
async fn two_engines_race_for_one_environment_and_the_second_resumes_the_first() {
    let Some(url) = url() else { return };
    let schema = fresh_schema(&url, "two_engines").await;
    let pool_a = Arc::new(connect(&url, &schema).await);
    let pool_b: Arc<dyn Ledger> = Arc::new(connect(&url, &schema).await);
    let a_ledger = Arc::new(DiesAtSecondStep {
        inner: pool_a.clone(),
        steps: Default::default(),
        dead: AtomicBool::new(false),
    });
    let target = Arc::new(InMemoryTarget::new());
    let clock: Arc<dyn Clock> = Arc::new(TokioClock::new(common::start_time()));
    let engine_a = common::engine("engine-a", a_ledger, target.clone(), clock.clone());
    let engine_b = common::engine("engine-b", pool_b.clone(), target.clone(), clock.clone());
    let platform = common::platform();
    let first = common::release("shop-1.0.0", "1.0.0");
    let second = common::release("shop-1.0.1", "1.0.1");

    let died = engine_a
        .start(&platform, &first, "ana@x")
        .await
        .unwrap_err();
    assert!(died.to_string().contains("the process died"), "{died}");
    let journal = read_all(pool_b.as_ref(), &first.metadata.id).await.unwrap();
    let a_token = journal
        .iter()
        .find_map(|r| match &r.event {
            Event::LockAcquired { lock, token } if lock == "env:staging" => Some(*token),
            _ => None,
        })
        .expect("engine A took the staging lock");

    // A's lease is still live: B may neither take over A's release nor start its own.
    for attempt in [
        engine_b.resume(&first.metadata.id, "bob@x").await,
        engine_b.start(&platform, &second, "bob@x").await,
    ] {
        let err = attempt.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LockHeld, "{err}");
        assert!(err.is_retryable());
        assert!(
            matches!(&err, Error::LockHeld { lock, holder, .. } if lock == "env:staging" && holder == "engine-a"),
            "{err}"
        );
    }
    // Nothing of B's second release reached the target.
    assert!(
        target
            .versions("staging")
            .values()
            .all(|v| v.iter().all(|v| v.to_string() != "1.0.1"))
    );

    // A's lease (60 s) runs out; B resumes A's release and finishes it.
    tokio::time::advance(Duration::from_secs(61)).await;
    let outcome = engine_b.resume(&first.metadata.id, "bob@x").await.unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    for env in ["staging", "production"] {
        let versions = target.versions(env);
        assert_eq!(versions.len(), 3, "{env}: {versions:?}");
        assert!(
            versions
                .values()
                .all(|v| v.len() == 1 && v.iter().all(|v| v.to_string() == "1.0.0")),
            "{env}: {versions:?}"
        );
    }
    let journal = read_all(pool_b.as_ref(), &first.metadata.id).await.unwrap();
    verify_chain(&journal).unwrap();
    assert_eq!(
        journal.last().unwrap().event.type_name(),
        "release_finished"
    );
    let b_token = journal
        .iter()
        .rev()
        .find_map(|r| match &r.event {
            Event::LockAcquired { lock, token } if lock == "env:staging" => Some(*token),
            _ => None,
        })
        .unwrap();
    assert!(b_token > a_token, "B's token {b_token} after A's {a_token}");

    // A zombie A writing under its old fence is refused and writes nothing.
    let before = journal.len();
    let stale = pool_a
        .append(
            draft("shop-1.0.0", clock.now(), 0),
            Some(&Fence {
                lock: "env:staging".to_owned(),
                token: a_token,
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::StaleFence, "{stale}");
    let after = read_all(pool_b.as_ref(), &first.metadata.id).await.unwrap();
    assert_eq!(after.len(), before);

    // With the environment free again, B resumes its own release (its refused start was
    // journaled before the lock was asked for) and ships it.
    let outcome = engine_b.resume(&second.metadata.id, "bob@x").await.unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
}
