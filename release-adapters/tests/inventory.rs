//! The inventory (CMDB) fed by real engine runs on a SQLite ledger file: a release, then a
//! release that is rolled back in production; replay idempotency; sync from the ledger.
//! covers M7.1 (the inventory is updated: versions, dependencies, deployment times).

mod common;

use std::sync::Arc;

use release_adapters::inventory::{
    DeploymentAction, Inventory, InventoryConfig, InventoryError, InventorySnapshot,
};
use release_adapters::sqlite_ledger::SqliteLedgerConfig;
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{Event, Ledger, Outcome, Record, read_all};
use release_core::memory::InMemoryTarget;
use release_core::plugin::{Notifier, TokioClock};
use release_core::testkit::{FaultRule, FaultyTarget};

struct Rig {
    dir: tempfile::TempDir,
    ledger: Arc<dyn Ledger>,
    target: Arc<FaultyTarget>,
    inventory: Arc<Inventory>,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ledger: Arc<dyn Ledger> = Arc::new(
            SqliteLedgerConfig::new(dir.path().join("ledger.db"))
                .open()
                .unwrap(),
        );
        let target = Arc::new(FaultyTarget::new(Arc::new(InMemoryTarget::new())));
        let inventory = Arc::new(
            InventoryConfig::new(dir.path().join("inventory.db"))
                .open()
                .unwrap(),
        );
        Self {
            dir,
            ledger,
            target,
            inventory,
        }
    }

    fn engine(&self) -> Engine {
        Engine::builder()
            .ledger(self.ledger.clone())
            .clock(Arc::new(TokioClock::new(common::start_time())))
            .target("default", self.target.clone())
            .notifier(self.inventory.clone())
            .options(
                EngineOptions::default()
                    .with_holder("engine-a")
                    .with_poll_interval(std::time::Duration::from_secs(30)),
            )
            .build()
            .unwrap()
    }

    /// Ships 1.0.0 everywhere, then 2.0.0 whose `web` fails to apply in production, so
    /// production is rolled back.
    async fn ship_then_roll_back(&self) {
        let engine = self.engine();
        let first = engine
            .start(
                &common::platform(),
                &common::release("shop-1.0.0", "1.0.0"),
                "ana@x",
            )
            .await
            .unwrap();
        assert_eq!(first.outcome(), Some(&Outcome::Succeeded));
        self.target.inject(
            FaultRule::fail_apply(false)
                .for_component("web")
                .in_environment("production")
                .times(1),
        );
        let second = engine
            .start(
                &common::platform(),
                &common::release("shop-2.0.0", "2.0.0"),
                "ana@x",
            )
            .await
            .unwrap();
        assert!(
            matches!(second.outcome(), Some(Outcome::RolledBack { environment, .. }) if environment.as_str() == "production"),
            "{second:?}"
        );
    }

    async fn journal(&self, release: &str) -> Vec<Record> {
        read_all(self.ledger.as_ref(), &release.into())
            .await
            .unwrap()
    }

    fn fresh(&self, name: &str) -> Inventory {
        InventoryConfig::new(self.dir.path().join(name))
            .open()
            .unwrap()
    }
}

/// (environment, component, version, release, via) of rows, for comparing.
fn summary(
    rows: &[release_adapters::inventory::DeploymentRow],
) -> Vec<(String, String, String, String, DeploymentAction)> {
    rows.iter()
        .map(|r| {
            (
                r.environment.to_string(),
                r.component.to_string(),
                r.version.to_string(),
                r.release.to_string(),
                r.via,
            )
        })
        .collect()
}

fn at_of(records: &[Record], pred: impl Fn(&Event) -> bool) -> chrono::DateTime<chrono::Utc> {
    records.iter().find(|r| pred(&r.event)).unwrap().at
}

#[tokio::test(start_paused = true)]
async fn the_inventory_answers_what_runs_where_after_a_release_and_a_rollback() {
    let rig = Rig::new();
    rig.ship_then_roll_back().await;
    let inv = &rig.inventory;

    // What runs in production: still 1.0.0, deployed by shop-1.0.0 (the rollback of
    // shop-2.0.0 put back what ran).
    let production = inv.running_in(&"production".into()).await.unwrap();
    let expected: Vec<_> = ["api", "db", "web"]
        .into_iter()
        .map(|c| {
            (
                "production".to_owned(),
                c.to_owned(),
                "1.0.0".to_owned(),
                "shop-1.0.0".to_owned(),
                DeploymentAction::Deployed,
            )
        })
        .collect();
    assert_eq!(summary(&production), expected);
    assert!(production.iter().all(|r| r.platform == "shop"));

    // Its deployment time is when production's stage of shop-1.0.0 completed.
    let first = rig.journal("shop-1.0.0").await;
    let completed = at_of(
        &first,
        |e| matches!(e, Event::StageCompleted { environment } if environment.as_str() == "production"),
    );
    assert!(production.iter().all(|r| r.since == completed));

    // Staging passed with 2.0.0 and keeps it.
    let staging = inv.running_in(&"staging".into()).await.unwrap();
    assert!(
        staging
            .iter()
            .all(|r| r.version.to_string() == "2.0.0" && r.release.as_str() == "shop-2.0.0"),
        "{staging:?}"
    );
    assert_eq!(staging.len(), 3);

    // Where api runs: one row per environment, sorted.
    let api = inv.where_runs(&"api".into()).await.unwrap();
    assert_eq!(
        summary(&api),
        [
            (
                "production".into(),
                "api".into(),
                "1.0.0".into(),
                "shop-1.0.0".into(),
                DeploymentAction::Deployed
            ),
            (
                "staging".into(),
                "api".into(),
                "2.0.0".into(),
                "shop-2.0.0".into(),
                DeploymentAction::Deployed
            ),
        ]
    );

    // api's history: both stages of 1.0.0, staging of 2.0.0, then production's rollback,
    // which withdrew 2.0.0 and left 1.0.0.
    let history = inv.history(&"api".into()).await.unwrap();
    let lines: Vec<String> = history
        .iter()
        .map(|h| {
            format!(
                "{} {} {:?} {} (replaced {})",
                h.release,
                h.environment,
                h.action,
                h.version.as_ref().map_or("-".to_owned(), |v| v.to_string()),
                h.replaced
                    .as_ref()
                    .map_or("-".to_owned(), |v| v.to_string()),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "shop-1.0.0 staging Deployed 1.0.0 (replaced -)",
            "shop-1.0.0 production Deployed 1.0.0 (replaced -)",
            "shop-2.0.0 staging Deployed 2.0.0 (replaced 1.0.0)",
            "shop-2.0.0 production RolledBack 1.0.0 (replaced 2.0.0)",
        ]
    );
    let second = rig.journal("shop-2.0.0").await;
    let rolled_back = second
        .iter()
        .find(|r| matches!(r.event, Event::RollbackCompleted { .. }))
        .unwrap();
    assert_eq!(history[3].at, rolled_back.at);
    assert_eq!(history[3].seq, rolled_back.seq);

    // Dependencies, both ways, from the platform the releases carried.
    let deps: Vec<String> = inv
        .dependencies(&"web".into())
        .await
        .unwrap()
        .iter()
        .map(|d| d.depends_on.to_string())
        .collect();
    assert_eq!(deps, ["api"]);
    let dependents: Vec<String> = inv
        .dependents(&"db".into())
        .await
        .unwrap()
        .iter()
        .map(|d| d.component.to_string())
        .collect();
    assert_eq!(dependents, ["api"]);

    // The rows are plain JSON for `releasectl inventory --json`.
    let json = serde_json::to_value(&production[0]).unwrap();
    assert_eq!(json["version"], "1.0.0");
    assert_eq!(json["via"], "deployed");
    assert_eq!(json["environment"], "production");
}

#[tokio::test(start_paused = true)]
async fn replaying_the_journals_changes_nothing() {
    let rig = Rig::new();
    rig.ship_then_roll_back().await;
    let before = rig.inventory.snapshot().await.unwrap();
    assert!(!before.history.is_empty());
    for release in ["shop-1.0.0", "shop-2.0.0"] {
        let records = rig.journal(release).await;
        // The live feed skipped the events the inventory does not want (the lock release
        // and the release's end came after the last wanted one); a replay folds those, which
        // changes nothing, and a second replay finds nothing new at all.
        rig.inventory.apply(&records).await.unwrap();
        assert_eq!(rig.inventory.snapshot().await.unwrap(), before);
        assert_eq!(rig.inventory.apply(&records).await.unwrap(), 0);
        assert_eq!(
            rig.inventory.applied(&release.into()).await.unwrap(),
            records.last().unwrap().seq
        );
    }
    assert_eq!(rig.inventory.sync(rig.ledger.as_ref()).await.unwrap(), 0);
    assert_eq!(rig.inventory.snapshot().await.unwrap(), before);

    // A fresh inventory fed every journal twice ends the same as one fed once.
    let twice = rig.fresh("twice.db");
    for _ in 0..2 {
        for release in ["shop-1.0.0", "shop-2.0.0"] {
            twice.apply(&rig.journal(release).await).await.unwrap();
        }
    }
    assert_eq!(twice.snapshot().await.unwrap(), before);
}

#[tokio::test(start_paused = true)]
async fn a_fresh_inventory_synced_from_the_ledger_equals_the_live_fed_one() {
    let rig = Rig::new();
    rig.ship_then_roll_back().await;
    let live = rig.inventory.snapshot().await.unwrap();

    let synced = rig.fresh("synced.db");
    let applied = synced.sync(rig.ledger.as_ref()).await.unwrap();
    let total = rig.journal("shop-1.0.0").await.len() + rig.journal("shop-2.0.0").await.len();
    assert_eq!(applied, total);
    assert_eq!(synced.snapshot().await.unwrap(), live);

    // Reopening the file (a restart) keeps everything.
    let path = synced.path().to_owned();
    drop(synced);
    let reopened = InventoryConfig::new(path).open().unwrap();
    assert_eq!(reopened.snapshot().await.unwrap(), live);
}

#[tokio::test(start_paused = true)]
async fn an_inventory_with_the_ledger_catches_up_on_any_notification() {
    let rig = Rig::new();
    rig.ship_then_roll_back().await;
    let live = rig.inventory.snapshot().await.unwrap();

    let attached = rig.fresh("attached.db").with_ledger(rig.ledger.clone());
    // Only the last record of each journal is notified; the rest is read from the ledger.
    for release in ["shop-1.0.0", "shop-2.0.0"] {
        let last = rig.journal(release).await.pop().unwrap();
        attached.notify(&last).await.unwrap();
    }
    assert_eq!(attached.snapshot().await.unwrap(), live);
}

#[tokio::test(start_paused = true)]
async fn a_record_of_a_release_never_seen_starting_is_refused() {
    let rig = Rig::new();
    rig.ship_then_roll_back().await;
    let records = rig.journal("shop-2.0.0").await;
    let fresh = rig.fresh("fresh.db");
    let err = fresh.apply(&records[3..]).await.unwrap_err();
    assert!(
        matches!(err, InventoryError::UnknownRelease { seq: 4, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Inventory::sync"), "{err}");
    // Nothing of the refused batch was kept.
    assert_eq!(
        fresh.snapshot().await.unwrap(),
        InventorySnapshot::default()
    );
    assert_eq!(fresh.applied(&"shop-2.0.0".into()).await.unwrap(), 0);
    // As a notifier it reports the same error to the engine.
    let err = fresh.notify(&records[5]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("arrived before the release's start"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    drop(InventoryConfig::new(&path).open().unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = InventoryConfig::new(&path).open().unwrap_err();
    assert!(
        matches!(
            err,
            InventoryError::NewerSchema {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("upgrade release-adapters"),
        "{err}"
    );
}
