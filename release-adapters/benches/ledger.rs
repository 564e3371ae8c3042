//! Ledger appends per second against raw per-commit inserts, in the same run.
//!
//! - `sqlite/raw_insert_per_commit`: rusqlite, WAL, `synchronous = NORMAL`, one `INSERT` of a
//!   record-sized JSON row per commit — DESIGN.md's reference.
//! - `sqlite/ledger_append/sequential`: one appender awaiting each append (one commit each,
//!   plus the hop to the writer thread, sealing and JSON encoding).
//! - `sqlite/ledger_append/concurrent_N`: N tasks appending to N releases at once; the writer
//!   thread commits what is queued in one transaction (group commit).
//! - `postgres/…` the same against `RELEASE_TEST_POSTGRES_URL` when it is set.
//!
//! Run: `cargo bench -p release-adapters --bench ledger`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use release_adapters::postgres_ledger::PostgresLedgerConfig;
use release_adapters::sqlite_ledger::SqliteLedgerConfig;
use release_core::ledger::{Event, EventDraft, Ledger, seal};
use tokio::runtime::Runtime;

const CONCURRENCY: [usize; 2] = [8, 64];

fn draft(release: &str, i: u64) -> EventDraft {
    EventDraft::new(
        release.into(),
        chrono::DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default(),
        "bench",
        Vec::new(),
        Event::Paused {
            environment: None,
            reason: format!("bench event {i}"),
        },
    )
}

/// A record's JSON, the size of what the ledger stores.
fn record_json() -> (String, String) {
    let record = seal(draft("raw", 0), 1, release_core::ledger::GENESIS).unwrap();
    (
        serde_json::to_string(&record).unwrap(),
        record.hash.to_string(),
    )
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Times `iters` appends spread over `tasks` concurrent appenders, one release each.
fn appends(
    rt: &Runtime,
    ledger: &Arc<dyn Ledger>,
    tasks: usize,
    iters: u64,
    round: u64,
) -> Duration {
    let per_task = iters.div_ceil(tasks as u64);
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let release = format!("bench-{round}-{t}");
                    for i in 0..per_task {
                        ledger.append(draft(&release, i), None).await.unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start
            .elapsed()
            .mul_f64(iters as f64 / (per_task * tasks as u64) as f64)
    })
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let (json, hash) = record_json();
    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(20);

    let raw = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    raw.pragma_update(None, "journal_mode", "WAL").unwrap();
    raw.pragma_update(None, "synchronous", "NORMAL").unwrap();
    raw.execute_batch(
        "CREATE TABLE events (release TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL,
         record TEXT NOT NULL, UNIQUE (release, seq))",
    )
    .unwrap();
    let mut seq = 0i64;
    group.bench_function("raw_insert_per_commit", |b| {
        let mut stmt = raw
            .prepare_cached(
                "INSERT INTO events (release, seq, hash, record) VALUES ('raw', ?1, ?2, ?3)",
            )
            .unwrap();
        b.iter(|| {
            seq += 1;
            stmt.execute(rusqlite::params![seq, hash, json]).unwrap();
        });
    });

    let ledger: Arc<dyn Ledger> = Arc::new(
        SqliteLedgerConfig::new(dir.path().join("ledger.db"))
            .open()
            .unwrap(),
    );
    let mut round = 0;
    group.bench_function("ledger_append/sequential", |b| {
        b.iter_custom(|iters| {
            round += 1;
            appends(&rt, &ledger, 1, iters, round)
        });
    });
    for n in CONCURRENCY {
        group.bench_function(format!("ledger_append/concurrent_{n}"), |b| {
            b.iter_custom(|iters| {
                round += 1;
                appends(&rt, &ledger, n, iters, round)
            });
        });
    }
    group.finish();
}

fn postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("RELEASE_TEST_POSTGRES_URL") else {
        eprintln!("RELEASE_TEST_POSTGRES_URL is not set: skipping the PostgreSQL benches");
        return;
    };
    let rt = runtime();
    let (json, hash) = record_json();
    let schema = format!("release_bench_{}", std::process::id());
    let client = rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!(
                r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE; CREATE SCHEMA "{schema}";
                   CREATE TABLE "{schema}".raw (release TEXT NOT NULL, seq BIGINT NOT NULL,
                   hash TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (release, seq))"#
            ))
            .await
            .unwrap();
        client
    });
    let mut group = c.benchmark_group("postgres");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(10);

    let insert = rt
        .block_on(client.prepare(&format!(
            r#"INSERT INTO "{schema}".raw (release, seq, hash, record) VALUES ('raw', $1, $2, $3)"#
        )))
        .unwrap();
    let mut seq = 0i64;
    group.bench_function("raw_insert_per_commit", |b| {
        b.iter(|| {
            seq += 1;
            rt.block_on(client.execute(&insert, &[&seq, &hash, &json]))
                .unwrap();
        });
    });

    let ledger: Arc<dyn Ledger> = Arc::new(
        rt.block_on(
            PostgresLedgerConfig::new(&url)
                .with_schema(&schema)
                .connect(),
        )
        .unwrap(),
    );
    let mut round = 0;
    group.bench_function("ledger_append/sequential", |b| {
        b.iter_custom(|iters| {
            round += 1;
            appends(&rt, &ledger, 1, iters, round)
        });
    });
    group.bench_function("ledger_append/concurrent_8", |b| {
        b.iter_custom(|iters| {
            round += 1;
            appends(&rt, &ledger, 8, iters, round)
        });
    });
    group.finish();
    rt.block_on(client.batch_execute(&format!(r#"DROP SCHEMA "{schema}" CASCADE"#)))
        .unwrap();
}

criterion_group!(benches, sqlite, postgres);
criterion_main!(benches);
