//! A release that migrates a real SQLite database, through the real engine in virtual time:
//! its canary fails on the error rate, the stage rolls back, and the data comes back from the
//! pre-deployment backup with exactly the original digest — also when the restore fails
//! first and a fresh engine resumes the rollback from the journal.
//! covers M2.6 (backup before deploying), M8.5 (full rollback restores data), M5.1 (resume)

mod common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::{parse_platform, parse_release};
use release_adapters::migrations::{SqliteDatabase, SqliteDatabaseConfig};
use release_core::digest::Sha256Digest;
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{Event, InMemoryLedger, Ledger, Outcome, Record, read_all};
use release_core::memory::{InMemoryMetrics, InMemoryRouter, InMemoryTarget, ScopeMatcher};
use release_core::migration::{MigrationSet, SqlDialect};
use release_core::model::{HumanDuration, Pause, Platform, Release};
use release_core::plugin::{Notifier, RolloutSpec, RolloutStep, SlotWeight, Strategy, TokioClock};
use rusqlite::Connection;

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - id: orders
    owner: { primary: a@x, backup: b@x }
    stateful: false
    shared_resources: [orders-db]
    strategy: { custom: { name: test-canary } }
    migrations: { database: orders-db, directory: db, dialect: sqlite }
shared_resources:
  - { id: orders-db, tier: production }
environments:
  - { name: production, tier: production }
lifecycle:
  phases:
    - { name: release, environments: [production] }
"#;

const V001: &str = "-- +up
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id), total_cents INTEGER NOT NULL);
-- +down
DROP TABLE orders;
DROP TABLE customers;
";

/// An expansion with a backfill: a new column, filled for existing rows.
const V002: &str = "-- +up
ALTER TABLE orders ADD COLUMN total_eur REAL;
UPDATE orders SET total_eur = total_cents / 100.0;
CREATE INDEX orders_customer ON orders (customer_id);
-- +down
DROP INDEX orders_customer;
ALTER TABLE orders DROP COLUMN total_eur;
";

fn base_set() -> MigrationSet {
    MigrationSet::from_files(SqlDialect::Sqlite, [("db/V001__create.sql", V001)]).unwrap()
}

fn full_set() -> MigrationSet {
    MigrationSet::from_files(
        SqlDialect::Sqlite,
        [
            ("db/V001__create.sql", V001),
            ("db/V002__total_eur.sql", V002),
        ],
    )
    .unwrap()
}

fn platform() -> Platform {
    parse_platform(PLATFORM)
}

fn release(version: &str, pin: Sha256Digest) -> Release {
    let text = format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: shop-{version} }}
version: {version}
platform: shop
type: full
release_manager: {{ primary: a@x, backup: c@x }}
change_requests:
  - {{ id: CR-1, kind: normal, state: approved, configuration_items: [orders] }}
changes:
  - {{ id: CHG-1, request: CR-1, components: [orders] }}
components:
  orders: {{ version: {version}, migrations: {{ digest: "{pin}" }} }}
rollback:
  watch_window: 10m
  triggers:
    - error_rate: {{ above: 0.05 }}
"#
    );
    parse_release(&text)
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// The first release: one stable replica. Later: a canary at 20 %, a 10-minute pause, then
/// promotion.
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
                SlotWeight::new("stable", 80),
                SlotWeight::new("canary", 20),
            ]),
            RolloutStep::Pause(Pause::For(HumanDuration::from_mins(10))),
            RolloutStep::Apply(spec.slot("stable", 1)),
            all_stable,
            RolloutStep::RemoveSlot {
                slot: "canary".into(),
            },
        ])
    }
}

struct Rig {
    dir: tempfile::TempDir,
    path: std::path::PathBuf,
    db: Arc<SqliteDatabase>,
    ledger: Arc<dyn Ledger>,
    target: Arc<InMemoryTarget>,
    router: Arc<InMemoryRouter>,
    metrics: Arc<InMemoryMetrics>,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.db");
        Connection::open(&path).unwrap(); // an empty database before the first release
        let db = Arc::new(
            SqliteDatabaseConfig::new(&path, dir.path().join("backups"))
                .build()
                .unwrap(),
        );
        Self {
            dir,
            path,
            db,
            ledger: Arc::new(InMemoryLedger::new()),
            target: Arc::new(InMemoryTarget::new()),
            router: Arc::new(InMemoryRouter::new()),
            metrics: Arc::new(InMemoryMetrics::new()),
        }
    }

    fn engine(&self, set: MigrationSet) -> Engine {
        self.engine_with(set, None)
    }

    fn engine_with(&self, set: MigrationSet, notifier: Option<Arc<dyn Notifier>>) -> Engine {
        self.engine_sets(&[set], notifier)
    }

    fn engine_sets(&self, sets: &[MigrationSet], notifier: Option<Arc<dyn Notifier>>) -> Engine {
        let builder = match notifier {
            Some(n) => Engine::builder().notifier(n),
            None => Engine::builder(),
        };
        let builder = sets
            .iter()
            .fold(builder, |b, set| b.migrations("orders", set.clone()));
        builder
            .ledger(self.ledger.clone())
            .clock(Arc::new(TokioClock::new(start_time())))
            .target("default", self.target.clone())
            .router(self.router.clone())
            .metrics("default", self.metrics.clone())
            .strategy(Arc::new(TestCanary))
            .backup("orders-db", self.db.clone())
            .migrator("orders-db", self.db.clone())
            .options(
                EngineOptions::default()
                    .with_holder("engine-a")
                    .with_poll_interval(std::time::Duration::from_secs(30)),
            )
            .build()
            .unwrap()
    }

    /// Ships the baseline (V001) and fills the database as production traffic would.
    async fn baseline(&self) {
        let base = self.engine(base_set());
        let done = base
            .start(&platform(), &release("1.0.0", base_set().digest()), "ana@x")
            .await
            .unwrap();
        assert_eq!(done.outcome(), Some(&Outcome::Succeeded), "{done:?}");
        Connection::open(&self.path)
            .unwrap()
            .execute_batch(
                "INSERT INTO customers VALUES (1, 'ana'), (2, 'raj');
                 INSERT INTO orders VALUES (10, 1, 1250), (11, 2, 990), (12, 1, 40000);",
            )
            .unwrap();
        // The canary of the next release errors: 25 % of its requests fail.
        self.metrics
            .set("error_rate", ScopeMatcher::of("orders", "production"), 0.25);
    }

    fn columns(&self) -> Vec<String> {
        let conn = Connection::open(&self.path).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('orders') ORDER BY cid")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn versions(&self) -> Vec<String> {
        self.target
            .versions("production")
            .values()
            .flatten()
            .map(ToString::to_string)
            .collect()
    }
}

/// Moves the backup directory away when a rollback starts (the store becomes unavailable).
struct HideBackups(std::path::PathBuf);

#[async_trait::async_trait]
impl Notifier for HideBackups {
    fn wants(&self, event: &Event) -> bool {
        matches!(event, Event::RollbackStarted { .. })
    }

    async fn notify(&self, _record: &Record) -> release_core::Result<()> {
        std::fs::rename(&self.0, self.0.with_extension("away")).unwrap();
        Ok(())
    }
}

fn data_events(journal: &[Record]) -> Vec<&Event> {
    journal
        .iter()
        .map(|r| &r.event)
        .filter(|e| {
            matches!(
                e,
                Event::BackupTaken { .. }
                    | Event::MigrationApplied { .. }
                    | Event::DataRestored { .. }
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_failed_canary_restores_the_data_from_the_pre_deployment_backup() {
    let rig = Rig::new();
    rig.baseline().await;
    let original = rig.db.digest().await.unwrap();

    let r2 = release("2.0.0", full_set().digest());
    let outcome = rig
        .engine(full_set())
        .start(&platform(), &r2, "ana@x")
        .await
        .unwrap();
    let Some(Outcome::RolledBack { reason, .. }) = outcome.outcome() else {
        panic!("expected a rollback, got {outcome:?}");
    };
    assert!(reason.contains("error rate above 0.05"), "{reason}");

    // The code is back on 1.0.0, traffic all on stable, and the data is the original.
    assert_eq!(rig.versions(), ["1.0.0"]);
    assert_eq!(
        rig.router.weight_of(
            &release_core::plugin::Route::new("orders", "production"),
            "stable"
        ),
        100
    );
    assert_eq!(rig.db.digest().await.unwrap(), original);
    assert_eq!(rig.columns(), ["id", "customer_id", "total_cents"]);

    // The journal says what happened, in order, with the digests.
    let journal = read_all(rig.ledger.as_ref(), r2.id()).await.unwrap();
    let data = data_events(&journal);
    let [
        Event::BackupTaken { record, .. },
        Event::MigrationApplied {
            applied,
            set_digest,
            ..
        },
        Event::DataRestored {
            backup,
            expected,
            restored,
            verified,
            ..
        },
    ] = data.as_slice()
    else {
        panic!("unexpected data events: {data:#?}");
    };
    assert_eq!(record.digest, original);
    assert_eq!(applied, &[2]);
    assert_eq!(*set_digest, full_set().digest());
    assert_eq!(
        (backup, expected, *restored, *verified),
        (&record.id, &original, Some(original), true)
    );
    assert!(rig.dir.path().join("backups").join(&record.id).is_file());
    // The backup is taken before anything is deployed, the restore after the code went back.
    let position = |t: &str| {
        journal
            .iter()
            .position(|r| r.event.type_name() == t)
            .unwrap()
    };
    assert!(position("backup_taken") < position("step_started"));
    assert!(position("migration_applied") < position("step_started"));
    let last_rollback_step = journal
        .iter()
        .rposition(|r| matches!(&r.event, Event::StepSucceeded { key } if key.program == release_core::ledger::Program::Rollback))
        .unwrap();
    assert!(last_rollback_step < position("data_restored"));
    assert!(position("data_restored") < position("rollback_completed"));
}

#[tokio::test(start_paused = true)]
async fn a_resumed_rollback_restores_from_the_journaled_backup() {
    let rig = Rig::new();
    rig.baseline().await;
    let original = rig.db.digest().await.unwrap();
    let backups = rig.dir.path().join("backups");
    let r2 = release("2.0.0", full_set().digest());

    // The backup store goes away when the rollback starts: the restore fails and the rollback
    // stops, with the code already back on 1.0.0 and the migration still in place.
    let engine = rig.engine_with(full_set(), Some(Arc::new(HideBackups(backups.clone()))));
    let err = engine.start(&platform(), &r2, "ana@x").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("fix it and resume to finish the rollback"),
        "{err}"
    );
    assert_eq!(rig.versions(), ["1.0.0"]);
    assert_ne!(rig.db.digest().await.unwrap(), original);
    let status = engine.status(r2.id()).await.unwrap();
    assert!(status.finished.is_none());

    // The store is back; a fresh engine resumes and restores from the journaled record.
    std::fs::rename(backups.with_extension("away"), &backups).unwrap();
    let resumed = rig
        .engine(full_set())
        .resume(r2.id(), "tom@x")
        .await
        .unwrap();
    assert!(
        matches!(
            resumed,
            RunOutcome::Finished {
                outcome: Outcome::RolledBack { .. }
            }
        ),
        "{resumed:?}"
    );
    assert_eq!(rig.db.digest().await.unwrap(), original);
    let journal = read_all(rig.ledger.as_ref(), r2.id()).await.unwrap();
    let taken = journal
        .iter()
        .filter(|r| r.event.type_name() == "backup_taken")
        .count();
    assert_eq!(taken, 1, "the resume took no second backup");
    assert!(matches!(
        data_events(&journal).last(),
        Some(Event::DataRestored { verified: true, restored: Some(d), .. }) if *d == original
    ));
}

#[tokio::test(start_paused = true)]
async fn a_stage_that_migrates_needs_its_set_migrator_and_backup() {
    let rig = Rig::new();
    let engine = Engine::builder()
        .ledger(rig.ledger.clone())
        .clock(Arc::new(TokioClock::new(start_time())))
        .target("default", rig.target.clone())
        .strategy(Arc::new(TestCanary))
        .migrations("orders", base_set())
        .build()
        .unwrap();
    let err = engine
        .start(&platform(), &release("1.0.0", full_set().digest()), "ana@x")
        .await
        .unwrap_err();
    let message = err.to_string();
    for expected in [
        "the migration set registered for orders has digest",
        "no migrator for database orders-db (component orders)",
        "no backup for database orders-db (component orders): a stage that migrates data needs a pre-deployment backup",
    ] {
        assert!(message.contains(expected), "{message}");
    }
    // Nothing was journaled or deployed.
    assert!(rig.target.versions("production").is_empty());
}

/// One engine ships two versions, each with the set its release pins (as the quickstart
/// does); an unpinned release with two sets registered is refused before anything runs.
#[tokio::test(start_paused = true)]
async fn one_engine_applies_the_set_each_release_pins() {
    let rig = Rig::new();
    let engine = rig.engine_sets(&[full_set(), base_set()], None);
    let r1 = release("1.0.0", base_set().digest());
    let done = engine.start(&platform(), &r1, "ana@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded), "{done:?}");
    assert_eq!(rig.columns(), ["id", "customer_id", "total_cents"]);
    rig.metrics
        .set("error_rate", ScopeMatcher::of("orders", "production"), 0.0);
    let r2 = release("2.0.0", full_set().digest());
    let done = engine.start(&platform(), &r2, "ana@x").await.unwrap();
    assert_eq!(done.outcome(), Some(&Outcome::Succeeded), "{done:?}");
    assert_eq!(
        rig.columns(),
        ["id", "customer_id", "total_cents", "total_eur"]
    );
    for (release, version, set) in [(&r1, 1, base_set()), (&r2, 2, full_set())] {
        let journal = read_all(rig.ledger.as_ref(), release.id()).await.unwrap();
        let data = data_events(&journal);
        assert!(
            matches!(
                data.as_slice(),
                [Event::BackupTaken { .. }, Event::MigrationApplied { applied, set_digest, .. }]
                    if applied == &[version] && *set_digest == set.digest()
            ),
            "{data:#?}"
        );
    }

    // Unpinned, the release could mean either set: refused, naming the field to pin.
    let mut unpinned = release("3.0.0", full_set().digest());
    for v in unpinned.components.values_mut() {
        v.migrations = None;
    }
    let err = engine
        .start(&platform(), &unpinned, "ana@x")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("2 migration sets are registered for orders and the release pins none; pin the one it ships in `components.orders.migrations.digest`"),
        "{err}"
    );
    // A pin matching neither set names the registered digests.
    let other = MigrationSet::from_files(
        SqlDialect::Sqlite,
        [(
            "db/V001__other.sql",
            "-- +up\nCREATE TABLE x (id INTEGER);\n-- +down\nDROP TABLE x;\n",
        )],
    )
    .unwrap();
    let err = engine
        .start(&platform(), &release("3.0.0", other.digest()), "ana@x")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("none of the migration sets registered for orders")
            && message.contains(&base_set().digest().to_string())
            && message.contains(&full_set().digest().to_string()),
        "{message}"
    );
}
