//! The SQLite ledger against core's conformance suites, its schema guard, corrupt rows, and
//! the engine running a release on it.

mod common;

use std::sync::Arc;

use release_adapters::sqlite_ledger::{
    SCHEMA_VERSION, SqliteLedger, SqliteLedgerConfig, SqliteLedgerError, Synchronous,
};
use release_core::ErrorKind;
use release_core::ledger::{Event, EventDraft, Ledger, Outcome, read_all, verify_chain};
use release_core::memory::InMemoryTarget;
use release_core::plugin::TokioClock;
use release_core::testkit::conformance::{ledger_conformance, ledger_parallel_conformance};

fn open(dir: &tempfile::TempDir) -> SqliteLedger {
    SqliteLedgerConfig::new(dir.path().join("ledger.db"))
        .open()
        .unwrap()
}

fn draft(release: &str, i: usize) -> EventDraft {
    EventDraft::new(
        release.into(),
        common::start_time(),
        "test",
        Vec::new(),
        Event::Paused {
            environment: None,
            reason: format!("event {i}"),
        },
    )
}

#[tokio::test]
async fn passes_the_ledger_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let report = ledger_conformance(&open(&dir)).await.unwrap();
    assert!(report.passed.len() >= 12, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_parallel_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    ledger_parallel_conformance(Arc::new(open(&dir)))
        .await
        .unwrap();
}

#[tokio::test]
async fn passes_both_suites_with_full_sync_and_batches_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedgerConfig::new(dir.path().join("ledger.db"))
        .with_synchronous(Synchronous::Full)
        .with_max_batch(1)
        .open()
        .unwrap();
    let ledger = Arc::new(ledger);
    ledger_conformance(ledger.as_ref()).await.unwrap();
    ledger_parallel_conformance(ledger).await.unwrap();
}

#[tokio::test]
async fn the_journal_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let written = {
        let ledger = open(&dir);
        let mut written = Vec::new();
        for i in 0..3 {
            written.push(ledger.append(draft("shop-1", i), None).await.unwrap());
        }
        written
    };
    let ledger = open(&dir);
    let read = read_all(&ledger, &"shop-1".into()).await.unwrap();
    assert_eq!(read, written);
    let next = ledger.append(draft("shop-1", 3), None).await.unwrap();
    assert_eq!(next.seq, 4);
    assert_eq!(next.prev, written[2].hash);
}

#[tokio::test]
async fn a_file_with_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(&dir));
    let path = dir.path().join("ledger.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let err = SqliteLedgerConfig::new(&path).open().unwrap_err();
    assert!(
        matches!(err, SqliteLedgerError::NewerSchema { found, supported, .. } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );
    assert!(
        err.to_string().contains("upgrade release-adapters"),
        "{err}"
    );
}

#[tokio::test]
async fn a_corrupt_row_is_a_typed_error_naming_release_and_seq() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = open(&dir);
    for i in 0..3 {
        ledger.append(draft("shop-1", i), None).await.unwrap();
    }
    let conn = rusqlite::Connection::open(dir.path().join("ledger.db")).unwrap();
    conn.execute(
        "UPDATE events SET record = '{not json' WHERE release = 'shop-1' AND seq = 2",
        [],
    )
    .unwrap();
    let err = ledger.events(&"shop-1".into(), 0).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
    let text = err.to_string();
    assert!(
        text.contains("shop-1") && text.contains("record 2"),
        "{text}"
    );
    // Records before the corrupt one still read.
    assert_eq!(ledger.events(&"shop-1".into(), 2).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_zero_batch_size_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteLedgerConfig::new(dir.path().join("ledger.db"))
        .with_max_batch(0)
        .open()
        .unwrap_err();
    assert!(matches!(err, SqliteLedgerError::Config(_)), "{err}");
}

#[tokio::test(start_paused = true)]
async fn the_engine_runs_a_release_on_the_sqlite_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(open(&dir));
    let target = Arc::new(InMemoryTarget::new());
    let clock = Arc::new(TokioClock::new(common::start_time()));
    let engine = common::engine("engine-a", ledger.clone(), target.clone(), clock);
    let release = common::release("shop-1.0.0", "1.0.0");
    let outcome = engine
        .start(&common::platform(), &release, "ana@x")
        .await
        .unwrap();
    assert_eq!(outcome.outcome(), Some(&Outcome::Succeeded));
    for env in ["staging", "production"] {
        let versions = target.versions(env);
        assert_eq!(versions.len(), 3, "{env}: {versions:?}");
        assert!(
            versions
                .values()
                .all(|v| v.iter().all(|v| v.to_string() == "1.0.0")),
            "{env}: {versions:?}"
        );
    }
    // A second handle on the same file (another process, after a restart) reads the journal.
    let reopened = open(&dir);
    let records = read_all(&reopened, &"shop-1.0.0".into()).await.unwrap();
    verify_chain(&records).unwrap();
    assert_eq!(records[0].event.type_name(), "release_started");
    assert_eq!(
        records.last().unwrap().event.type_name(),
        "release_finished"
    );
    assert!(
        records.iter().any(
            |r| matches!(&r.event, Event::LockAcquired { lock, .. } if lock == "env:production")
        )
    );
}
