//! SQLite migrations, rehearsals on clones and backups, against real database files.
//! covers M4.5 (rehearsal on a clone), M2.6 / M8.5 (backup, restore, verify)

use chrono::{DateTime, Utc};
use release_adapters::migrations::{SqliteDatabase, SqliteDatabaseConfig};
use release_core::id::{ComponentId, EnvironmentName};
use release_core::migration::{MigrationSet, SqlDialect};
use release_core::model::DataCheck;
use release_core::plugin::{Backup, BackupRequest, MigrateRequest, Migrator, RehearsalRequest};
use rusqlite::Connection;

const V001: &str = "-- +up
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    total_cents INTEGER NOT NULL
);
-- +down
DROP TABLE orders;
DROP TABLE customers;
";

/// A correct expand migration.
const ADD_NOTE: &str = "-- +up
ALTER TABLE orders ADD COLUMN note TEXT;
CREATE INDEX orders_customer ON orders (customer_id);
UPDATE orders SET note = 'migrated; ok' WHERE total_cents > 1000;
-- +down
DROP INDEX orders_customer;
ALTER TABLE orders DROP COLUMN note;
";

/// Rebuilds `customers` keeping only active ones: orders of inactive customers are orphaned.
const DROP_INACTIVE: &str = "-- +up
CREATE TABLE customers_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO customers_new (id, name) SELECT id, name FROM customers WHERE active = 1;
DROP TABLE customers;
ALTER TABLE customers_new RENAME TO customers;
-- +down
ALTER TABLE customers ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
";

/// Normalises names but its down part forgets to put them back.
const UPPER_NAMES: &str = "-- +up
ALTER TABLE customers ADD COLUMN display_name TEXT;
UPDATE customers SET display_name = name, name = upper(name);
-- +down
ALTER TABLE customers DROP COLUMN display_name;
";

fn set(second: &str) -> MigrationSet {
    MigrationSet::from_files(
        SqlDialect::Sqlite,
        [
            ("db/V001__create.sql", V001),
            ("db/V002__change.sql", second),
        ],
    )
    .unwrap()
}

fn base() -> MigrationSet {
    MigrationSet::from_files(SqlDialect::Sqlite, [("db/V001__create.sql", V001)]).unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

struct Rig {
    dir: tempfile::TempDir,
    path: std::path::PathBuf,
    db: SqliteDatabase,
}

/// A live database at V001 with three customers (one inactive) and their orders.
async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.db");
    let db = SqliteDatabaseConfig::new(&path, dir.path().join("backups"))
        .with_scratch_dir(dir.path().join("scratch"))
        .build()
        .unwrap();
    db.migrate(&request(base())).await.unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         INSERT INTO customers (id, name, active) VALUES (1, 'ana', 1), (2, 'raj', 0), (3, 'li', 1);
         INSERT INTO orders (id, customer_id, total_cents) VALUES (10, 1, 500), (11, 2, 2500), (12, 3, 9900);",
    )
    .unwrap();
    Rig { dir, path, db }
}

fn request(set: MigrationSet) -> MigrateRequest {
    MigrateRequest::up(
        ComponentId::new("orders"),
        EnvironmentName::new("production"),
        "orders-db",
        set,
        now(),
    )
}

fn rehearsal(set: MigrationSet) -> RehearsalRequest {
    RehearsalRequest::new(
        ComponentId::new("orders"),
        EnvironmentName::new("production"),
        "orders-db",
        set,
        now(),
    )
}

fn scratch_is_empty(rig: &Rig) -> bool {
    std::fs::read_dir(rig.dir.path().join("scratch"))
        .map(|d| d.count() == 0)
        .unwrap_or(true)
}

#[tokio::test]
async fn a_correct_migration_rehearses_clean_and_the_live_database_is_untouched() {
    let rig = rig().await;
    let before = rig.db.digest().await.unwrap();
    let set = set(ADD_NOTE);
    let report = rig
        .db
        .rehearse(&rehearsal(set.clone()).with_checks([
            DataCheck::RowCountUnchanged {
                table: "orders".to_owned(),
            },
            DataCheck::Query {
                name: "no-orphans".to_owned(),
                sql: "SELECT o.id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL".to_owned(),
            },
        ]))
        .await
        .unwrap();
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.set_digest, set.digest());
    assert_eq!(report.applied, [2]);
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "up",
            "referential_integrity",
            "integrity",
            "row_count_unchanged(orders)",
            "no-orphans",
            "down",
            "restores_original"
        ]
    );
    assert_eq!(report.restored_digest, Some(report.original_digest));
    // The clone is gone and the live database did not change.
    assert!(scratch_is_empty(&rig));
    assert_eq!(rig.db.digest().await.unwrap(), before);
    let evidence = report.evidence();
    assert_eq!(evidence.type_name(), "evidence_recorded");
}

#[tokio::test]
async fn a_migration_that_breaks_referential_integrity_fails_its_rehearsal_and_is_refused_live() {
    let rig = rig().await;
    let report = rig
        .db
        .rehearse(&rehearsal(set(DROP_INACTIVE)))
        .await
        .unwrap();
    assert!(!report.passed());
    let ri = report.check("referential_integrity").unwrap();
    assert!(!ri.passed);
    assert_eq!(ri.message, "1 row(s) of orders reference missing customers");
    assert!(scratch_is_empty(&rig));

    // Live, the same migration is rolled back before it commits.
    let before = rig.db.digest().await.unwrap();
    let err = rig
        .db
        .migrate(&request(set(DROP_INACTIVE)))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "migration V002 breaks referential integrity (1 row(s) of orders reference missing customers); it was rolled back"
        ),
        "{err}"
    );
    assert_eq!(rig.db.digest().await.unwrap(), before);
}

#[tokio::test]
async fn a_down_migration_that_does_not_restore_the_original_fails_its_rehearsal() {
    let rig = rig().await;
    let report = rig.db.rehearse(&rehearsal(set(UPPER_NAMES))).await.unwrap();
    assert!(!report.passed());
    assert!(report.check("up").unwrap().passed);
    assert!(report.check("down").unwrap().passed);
    let restores = report.check("restores_original").unwrap();
    assert!(!restores.passed);
    assert_eq!(
        restores.message,
        "the down migrations do not restore the original: data customers differs"
    );
    assert_ne!(report.restored_digest, Some(report.original_digest));
}

#[tokio::test]
async fn declared_checks_fail_with_what_they_found() {
    let rig = rig().await;
    let report = rig
        .db
        .rehearse(&rehearsal(set(DROP_INACTIVE)).with_checks([
            DataCheck::RowCountUnchanged {
                table: "customers".to_owned(),
            },
            DataCheck::RowCount {
                table: "orders".to_owned(),
                min: Some(1),
                max: Some(2),
            },
            DataCheck::Query {
                name: "orders-have-customers".to_owned(),
                sql: "SELECT o.id, o.customer_id FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL".to_owned(),
            },
        ]))
        .await
        .unwrap();
    let message = |name: &str| report.check(name).unwrap().message.clone();
    assert_eq!(
        message("row_count_unchanged(customers)"),
        "customers had 3 rows before the up migrations and 2 after"
    );
    assert_eq!(
        message("row_count(orders)"),
        "orders has 3 rows, outside [1, 2]"
    );
    assert_eq!(
        message("orders-have-customers"),
        "the query returned 1 offending row(s), the first: (11, 2)"
    );
}

#[tokio::test]
async fn migrations_apply_once_and_changed_files_are_refused() {
    let rig = rig().await;
    let first = rig.db.migrate(&request(set(ADD_NOTE))).await.unwrap();
    assert_eq!((first.versions.as_slice(), first.current), (&[2u64][..], 2));
    let again = rig.db.migrate(&request(set(ADD_NOTE))).await.unwrap();
    assert!(again.versions.is_empty());
    // Edited after it ran: refused, naming the file.
    let edited = set(&ADD_NOTE.replace("note TEXT", "note TEXT DEFAULT ''"));
    let err = rig.db.migrate(&request(edited)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("V002 was applied with checksum sha256:"),
        "{err}"
    );
    assert!(
        err.to_string().contains("but db/V002__change.sql now has"),
        "{err}"
    );
    // Down to V001 and up again.
    let down = rig
        .db
        .migrate(&request(set(ADD_NOTE)).down_to(1))
        .await
        .unwrap();
    assert_eq!((down.versions.as_slice(), down.current), (&[2u64][..], 1));
    // A set older than the database is refused.
    rig.db.migrate(&request(set(ADD_NOTE))).await.unwrap();
    let err = rig.db.migrate(&request(base())).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("V002 is applied but not in the migration set"),
        "{err}"
    );
}

#[tokio::test]
async fn a_failing_statement_is_named_by_file_and_line_and_rolled_back() {
    let rig = rig().await;
    let before = rig.db.digest().await.unwrap();
    let broken = "-- +up\nALTER TABLE orders ADD COLUMN note TEXT;\nALTER TABLE nowhere ADD COLUMN x TEXT;\n-- +down\n";
    let err = rig.db.migrate(&request(set(broken))).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("migration V002 failed at db/V002__change.sql:3: no such table: nowhere"),
        "{err}"
    );
    assert_eq!(rig.db.digest().await.unwrap(), before);
}

#[tokio::test]
async fn a_backup_restores_the_live_database_to_its_digest() {
    let rig = rig().await;
    let request = BackupRequest::new(EnvironmentName::new("production"), "orders-db");
    let record = rig.db.snapshot(&request, now()).await.unwrap();
    let original = rig.db.digest().await.unwrap();
    assert_eq!(record.digest, original);
    assert_eq!(rig.db.live_digest(&request).await.unwrap(), Some(original));

    rig.db.migrate(&self::request(set(ADD_NOTE))).await.unwrap();
    Connection::open(&rig.path)
        .unwrap()
        .execute_batch("DELETE FROM orders WHERE id = 12; UPDATE customers SET name = 'x';")
        .unwrap();
    assert_ne!(rig.db.digest().await.unwrap(), original);

    rig.db.restore(&record).await.unwrap();
    assert_eq!(rig.db.digest().await.unwrap(), original);
    let verification = rig.db.verify(&record).await.unwrap();
    assert!(verification.verified, "{}", verification.message);

    // A backup file that changed no longer verifies.
    let file = rig.dir.path().join("backups").join(&record.id);
    Connection::open(&file)
        .unwrap()
        .execute_batch("UPDATE customers SET name = 'tampered' WHERE id = 1")
        .unwrap();
    assert!(!rig.db.verify(&record).await.unwrap().verified);

    // An id that is not one of this adapter's file names is refused.
    let mut forged = record.clone();
    forged.id = "../orders.db".to_owned();
    let err = rig.db.restore(&forged).await.unwrap_err();
    assert!(
        err.to_string().contains("backup id `../orders.db`"),
        "{err}"
    );
}
