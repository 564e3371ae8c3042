//! The `migration_rehearsal` gate: production stays closed until the exact migration set the
//! release pins passed a rehearsal on a clone of production's database.
//! covers M4.5

use chrono::{DateTime, Duration, Utc};
use release_core::digest::Sha256Digest;
use release_core::id::{ComponentId, EnvironmentName, PersonId};
use release_core::ledger::{EventDraft, InMemoryLedger, Ledger, Record, read_all};
use release_core::manifest::{Document, Format, parse_str};
use release_core::migration::{CheckOutcome, MigrationSet, RehearsalReport, SqlDialect};
use release_core::model::{Platform, Release};
use release_gates::promotion::{GatesConfig, may_enter};

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - id: orders
    owner: { primary: a@x, backup: b@x }
    shared_resources: [orders-db]
    migrations: { database: orders-db, directory: db, dialect: sqlite }
  - { id: web, owner: { primary: a@x, backup: b@x } }
shared_resources:
  - { id: orders-db, tier: production }
  - { id: orders-db-staging, tier: staging }
environments:
  - { name: staging, tier: staging, bindings: { orders-db: orders-db-staging } }
  - { name: production, tier: production }
lifecycle:
  phases:
    - name: release
      environments: [production]
      entry_gates:
        - { migration_rehearsal: { max_age: 7d } }
"#;

fn set(down: &str) -> MigrationSet {
    MigrationSet::from_files(
        SqlDialect::Sqlite,
        [(
            "db/V001__note.sql",
            format!("-- +up\nALTER TABLE orders ADD COLUMN note TEXT;\n-- +down\n{down}\n"),
        )],
    )
    .unwrap()
}

fn docs(pin: Option<Sha256Digest>) -> (Platform, Release) {
    let pin = pin.map_or_else(String::new, |d| format!(", digest: \"{d}\""));
    let release = format!(
        r#"
apiVersion: release/v1
kind: Release
metadata: {{ id: shop-2 }}
version: 2.0.0
platform: shop
type: delta
release_manager: {{ primary: a@x, backup: c@x }}
change_requests:
  - {{ id: CR-1, kind: normal, state: approved, configuration_items: [orders, web] }}
changes:
  - {{ id: CHG-1, request: CR-1, components: [orders, web] }}
components:
  orders: {{ version: 2.0.0, migrations: {{ after: 0{pin} }} }}
  web: {{ version: 2.0.0 }}
"#
    );
    let mut out = parse_str(PLATFORM, "platform.yaml", Format::Yaml).unwrap();
    out.extend(parse_str(&release, "release.yaml", Format::Yaml).unwrap());
    match (out.remove(0), out.remove(0)) {
        (Document::Platform(p), Document::Release(r)) => (p.value, r.value),
        _ => panic!("expected a platform and a release"),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-10T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn report(
    digest: Sha256Digest,
    environment: &str,
    at: DateTime<Utc>,
    restores: bool,
) -> RehearsalReport {
    let original = Sha256Digest::of(b"original");
    let mut r = RehearsalReport::new(
        ComponentId::new("orders"),
        EnvironmentName::new(environment),
        "orders-db",
        digest,
        original,
        at,
    );
    r.applied = vec![1];
    r.checks.push(CheckOutcome::pass("up", "applied V001"));
    r.checks.push(CheckOutcome::pass(
        "referential_integrity",
        "PRAGMA foreign_key_check found no orphans",
    ));
    r.checks.push(CheckOutcome::pass("down", "reverted V001"));
    if restores {
        r.restored_digest = Some(original);
        r.checks.push(CheckOutcome::pass(
            "restores_original",
            "the original digest",
        ));
    } else {
        r.restored_digest = Some(Sha256Digest::of(b"other"));
        r.checks.push(CheckOutcome::fail(
            "restores_original",
            "the down migrations do not restore the original: table orders differs",
        ));
    }
    r
}

/// A journal holding these reports as evidence, through a real ledger.
async fn journal(reports: &[RehearsalReport]) -> Vec<Record> {
    let ledger = InMemoryLedger::new();
    let id = "shop-2".into();
    for r in reports {
        ledger
            .append(
                EventDraft::new(
                    "shop-2".into(),
                    r.rehearsed_at,
                    "ci",
                    Vec::new(),
                    r.evidence(),
                ),
                None,
            )
            .await
            .unwrap();
    }
    read_all(&ledger, &id).await.unwrap()
}

async fn decide(pin: Option<Sha256Digest>, reports: &[RehearsalReport]) -> (bool, Vec<String>) {
    let (p, r) = docs(pin);
    let events = journal(reports).await;
    let decision = may_enter(
        &p,
        &r,
        &"production".into(),
        now(),
        &PersonId::new("a@x"),
        &events,
        &GatesConfig::new(),
    );
    let reasons = decision
        .reasons
        .iter()
        .map(|r| format!("{}: {}", r.code, r.message))
        .collect();
    (decision.allowed, reasons)
}

#[tokio::test]
async fn production_is_closed_without_a_rehearsal_of_this_exact_digest() {
    let shipped = set("ALTER TABLE orders DROP COLUMN note;");
    let older = set("SELECT 1;");
    let pin = Some(shipped.digest());

    let (allowed, reasons) = decide(pin, &[]).await;
    assert!(!allowed);
    assert_eq!(
        reasons,
        [format!(
            "migration_rehearsal/migration_rehearsal.missing: no rehearsal of the migration set {} of orders on a clone of production; rehearse it and record the report",
            shipped.digest()
        )]
    );

    // A passing rehearsal of another version of the files does not count.
    let (allowed, reasons) = decide(
        pin,
        &[report(
            older.digest(),
            "production",
            now() - Duration::hours(2),
            true,
        )],
    )
    .await;
    assert!(!allowed);
    assert!(
        reasons[0].contains(&format!("only {} were", older.digest())),
        "{reasons:?}"
    );

    // Nor does a rehearsal of the exact set on staging's data.
    let (allowed, _) = decide(
        pin,
        &[report(
            shipped.digest(),
            "staging",
            now() - Duration::hours(2),
            true,
        )],
    )
    .await;
    assert!(!allowed);
}

#[tokio::test]
async fn production_opens_with_a_passing_rehearsal_of_this_exact_digest() {
    let shipped = set("ALTER TABLE orders DROP COLUMN note;");
    let (allowed, reasons) = decide(
        Some(shipped.digest()),
        &[report(
            shipped.digest(),
            "production",
            now() - Duration::hours(2),
            true,
        )],
    )
    .await;
    assert!(allowed, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.starts_with(
            "migration_rehearsal/migration_rehearsal.passed: the migration set sha256:"
        )),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_failed_stale_or_unpinned_rehearsal_keeps_production_closed() {
    let shipped = set("ALTER TABLE orders DROP COLUMN note;");
    let pin = Some(shipped.digest());
    // The newest rehearsal of the exact set failed: the gate fails with its checks.
    let (allowed, reasons) = decide(
        pin,
        &[
            report(
                shipped.digest(),
                "production",
                now() - Duration::days(2),
                true,
            ),
            report(
                shipped.digest(),
                "production",
                now() - Duration::hours(1),
                false,
            ),
        ],
    )
    .await;
    assert!(!allowed);
    assert!(
        reasons[0].contains(
            "failed: restores_original: the down migrations do not restore the original: table orders differs"
        ),
        "{reasons:?}"
    );

    // Older than max_age (7 days).
    let (allowed, reasons) = decide(
        pin,
        &[report(
            shipped.digest(),
            "production",
            now() - Duration::days(8),
            true,
        )],
    )
    .await;
    assert!(!allowed);
    assert!(
        reasons[0].contains("migration_rehearsal.too_old"),
        "{reasons:?}"
    );

    // Without a pin there is no exact set to hold it to.
    let (allowed, reasons) =
        decide(None, &[report(shipped.digest(), "production", now(), true)]).await;
    assert!(!allowed);
    assert!(
        reasons[0].contains("set `components.orders.migrations.digest`"),
        "{reasons:?}"
    );
}
