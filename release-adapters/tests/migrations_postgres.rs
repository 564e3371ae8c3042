//! PostgreSQL migrations, rehearsals on cloned databases and backups, against a real server
//! (`RELEASE_TEST_POSTGRES_URL`; the role needs CREATEDB, which `.ci/run` grants). Each test
//! works in databases of its own. Without the variable they skip, saying so once.
//! covers M4.5 (rehearsal on a clone), M2.6 / M8.5 (backup, restore, verify)

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use release_adapters::migrations::{CloneMethod, PostgresDatabase, PostgresDatabaseConfig};
use release_core::id::{ComponentId, EnvironmentName};
use release_core::migration::{MigrationSet, SqlDialect};
use release_core::model::DataCheck;
use release_core::plugin::{Backup, BackupRequest, MigrateRequest, Migrator, RehearsalRequest};

fn url() -> Option<String> {
    static SKIP: OnceLock<()> = OnceLock::new();
    match std::env::var("RELEASE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            SKIP.get_or_init(|| {
                eprintln!(
                    "RELEASE_TEST_POSTGRES_URL is not set: skipping the PostgreSQL migration tests (.ci/run sets it)"
                );
            });
            None
        }
    }
}

const V001: &str = "-- +up
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, active boolean NOT NULL DEFAULT true);
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id),
    total_cents bigint NOT NULL CHECK (total_cents >= 0)
);
CREATE TYPE order_state AS ENUM ('new', 'paid');
CREATE FUNCTION order_total(o orders) RETURNS bigint LANGUAGE sql AS $$ SELECT o.total_cents; $$;
-- +down
DROP FUNCTION order_total(orders);
DROP TYPE order_state;
DROP TABLE orders;
DROP TABLE customers;
";

const ADD_NOTE: &str = "-- +up
ALTER TABLE orders ADD COLUMN note text;
ALTER TABLE orders ADD COLUMN state order_state NOT NULL DEFAULT 'new';
UPDATE orders SET note = 'big; checked' WHERE total_cents > 1000;
CREATE VIEW big_orders AS SELECT id, note FROM orders WHERE total_cents > 1000;
-- +down
DROP VIEW big_orders;
ALTER TABLE orders DROP COLUMN state;
ALTER TABLE orders DROP COLUMN note;
";

/// Deletes inactive customers behind a foreign key re-added as NOT VALID: orphans.
const DROP_INACTIVE: &str = "-- +up
ALTER TABLE orders DROP CONSTRAINT orders_customer_id_fkey;
DELETE FROM customers WHERE NOT active;
ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
-- +down
SELECT 1;
";

const UPPER_NAMES: &str = "-- +up
ALTER TABLE customers ADD COLUMN display_name text;
UPDATE customers SET display_name = name, name = upper(name);
-- +down
ALTER TABLE customers DROP COLUMN display_name;
";

/// An index built concurrently: PostgreSQL refuses that inside a transaction.
const CONCURRENT_INDEX: &str = "-- +up
CREATE INDEX CONCURRENTLY orders_customer_idx ON orders (customer_id);
-- +down
DROP INDEX CONCURRENTLY orders_customer_idx;
";

fn set(second: Option<&str>) -> MigrationSet {
    let mut files = vec![("db/V001__create.sql", V001.to_owned())];
    if let Some(second) = second {
        files.push(("db/V002__change.sql", second.to_owned()));
    }
    MigrationSet::from_files(SqlDialect::Postgres, files).unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn with_database(url: &str, database: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{database}")
}

fn maintenance_name(url: &str) -> String {
    url.rsplit_once('/').unwrap().1.to_owned()
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

struct Rig {
    url: String,
    live_url: String,
    name: String,
    dir: tempfile::TempDir,
    db: PostgresDatabase,
}

impl Rig {
    async fn cleanup(self) {
        let admin = client(&self.url).await;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
        // No clone is left behind.
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_database WHERE datname LIKE $1",
                &[&format!("{}\\_%", self.name)],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 0, "scratch databases were left behind");
    }
}

/// A live database at V001 with three customers (one inactive) and their orders.
async fn rig(url: &str, test: &str, method: CloneMethod) -> Rig {
    let name = format!("rt_mig_{test}_{}", std::process::id());
    let admin = client(url).await;
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{name}\""),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let live_url = with_database(url, &name);
    let dir = tempfile::tempdir().unwrap();
    let db = PostgresDatabaseConfig::new(&live_url, dir.path().join("backups"))
        .with_maintenance_database(maintenance_name(url))
        .with_clone(method)
        .build()
        .unwrap();
    db.migrate(&request(set(None))).await.unwrap();
    client(&live_url)
        .await
        .batch_execute(
            "INSERT INTO customers (id, name, active) VALUES (1, 'ana', true), (2, 'raj', false), (3, 'li', true);
             INSERT INTO orders (customer_id, total_cents) VALUES (1, 500), (2, 2500), (3, 9900);",
        )
        .await
        .unwrap();
    Rig {
        url: url.to_owned(),
        live_url,
        name,
        dir,
        db,
    }
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

#[tokio::test]
async fn a_correct_migration_rehearses_clean_on_a_template_clone() {
    let Some(url) = url() else { return };
    let rig = rig(&url, "correct", CloneMethod::Auto).await;
    let before = rig.db.digest().await.unwrap();
    let set = set(Some(ADD_NOTE));
    let report = rig
        .db
        .rehearse(&rehearsal(set.clone()).with_checks([
            DataCheck::RowCountUnchanged {
                table: "orders".to_owned(),
            },
            DataCheck::Query {
                name: "big-orders-noted".to_owned(),
                sql: "SELECT id FROM big_orders WHERE note IS NULL".to_owned(),
            },
        ]))
        .await
        .unwrap();
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.set_digest, set.digest());
    assert_eq!(report.applied, [2]);
    assert!(
        report
            .check("clone")
            .unwrap()
            .message
            .ends_with("by template"),
        "{report:#?}"
    );
    assert_eq!(rig.db.digest().await.unwrap(), before);
    rig.cleanup().await;
}

#[tokio::test]
async fn a_migration_that_breaks_referential_integrity_fails_its_rehearsal() {
    let Some(url) = url() else { return };
    let rig = rig(&url, "orphans", CloneMethod::Auto).await;
    let report = rig
        .db
        .rehearse(&rehearsal(set(Some(DROP_INACTIVE))))
        .await
        .unwrap();
    assert!(!report.passed());
    let ri = report.check("referential_integrity").unwrap();
    assert!(!ri.passed, "{report:#?}");
    assert!(
        ri.message.starts_with("orders.orders_customer_id_fkey: insert or update on table \"orders\" violates foreign key constraint"),
        "{}",
        ri.message
    );
    assert!(
        ri.message.contains("Key (customer_id)=(2)"),
        "{}",
        ri.message
    );
    // The rehearsal still went down and back to the original.
    assert!(report.restored_digest.is_some());
    rig.cleanup().await;
}

#[tokio::test]
async fn a_down_migration_that_does_not_restore_the_original_fails_its_rehearsal() {
    let Some(url) = url() else { return };
    let rig = rig(&url, "down", CloneMethod::Auto).await;
    let report = rig
        .db
        .rehearse(&rehearsal(set(Some(UPPER_NAMES))))
        .await
        .unwrap();
    assert!(!report.passed());
    assert!(report.check("up").unwrap().passed);
    assert!(report.check("down").unwrap().passed);
    assert_eq!(
        report.check("restores_original").unwrap().message,
        "the down migrations do not restore the original: data public.customers differs"
    );
    rig.cleanup().await;
}

#[tokio::test]
async fn a_busy_source_is_cloned_by_dump_or_named_with_its_sessions() {
    let Some(url) = url() else { return };
    let rig = rig(&url, "busy", CloneMethod::Auto).await;
    // An application session on the live database: it cannot be a template now.
    let app = client(&rig.live_url).await;
    app.batch_execute("SET application_name = 'orders-api'")
        .await
        .unwrap();
    let report = rig
        .db
        .rehearse(&rehearsal(set(Some(ADD_NOTE))))
        .await
        .unwrap();
    assert!(report.passed(), "{report:#?}");
    assert!(report.check("clone").unwrap().message.ends_with("by dump"));

    let strict = PostgresDatabaseConfig::new(&rig.live_url, rig.dir.path().join("b"))
        .with_maintenance_database(maintenance_name(&url))
        .with_clone(CloneMethod::Template)
        .build()
        .unwrap();
    let err = strict
        .rehearse(&rehearsal(set(Some(ADD_NOTE))))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("other session(s) (orders-api)"),
        "{message}"
    );
    assert!(message.contains("set `clone: dump`"), "{message}");
    drop(app);
    rig.cleanup().await;
}

#[tokio::test]
async fn migrations_apply_once_even_outside_a_transaction() {
    let Some(url) = url() else { return };
    let rig = rig(&url, "once", CloneMethod::Auto).await;
    let first = rig
        .db
        .migrate(&request(set(Some(CONCURRENT_INDEX))))
        .await
        .unwrap();
    assert_eq!((first.versions.as_slice(), first.current), (&[2u64][..], 2));
    let again = rig
        .db
        .migrate(&request(set(Some(CONCURRENT_INDEX))))
        .await
        .unwrap();
    assert!(again.versions.is_empty());
    let down = rig
        .db
        .migrate(&request(set(Some(CONCURRENT_INDEX))).down_to(1))
        .await
        .unwrap();
    assert_eq!(down.versions, [2]);
    // A failing statement is named by file and line, and the migration rolled back.
    let before = rig.db.digest().await.unwrap();
    let broken = "-- +up\nALTER TABLE orders ADD COLUMN x int;\nALTER TABLE nowhere ADD COLUMN y int;\n-- +down\n";
    let err = rig
        .db
        .migrate(&request(set(Some(broken))))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("migration V002 failed at db/V002__change.sql:3: ERROR: relation \"nowhere\" does not exist"),
        "{err}"
    );
    assert_eq!(rig.db.digest().await.unwrap(), before);
    rig.cleanup().await;
}

#[tokio::test]
async fn a_backup_restores_the_live_database_to_its_digest() {
    let Some(url) = url() else { return };
    let rig = rig(&url, "backup", CloneMethod::Auto).await;
    let request = BackupRequest::new(EnvironmentName::new("production"), "orders-db");
    let record = rig.db.snapshot(&request, now()).await.unwrap();
    let original = rig.db.digest().await.unwrap();
    assert_eq!(record.digest, original);

    rig.db
        .migrate(&self::request(set(Some(ADD_NOTE))))
        .await
        .unwrap();
    client(&rig.live_url)
        .await
        .batch_execute(
            "DELETE FROM orders WHERE total_cents > 9000; UPDATE customers SET name = 'x';",
        )
        .await
        .unwrap();
    assert_ne!(rig.db.digest().await.unwrap(), original);

    rig.db.restore(&record).await.unwrap();
    assert_eq!(rig.db.live_digest(&request).await.unwrap(), Some(original));
    let verification = rig.db.verify(&record).await.unwrap();
    assert!(verification.verified, "{}", verification.message);
    rig.cleanup().await;
}
