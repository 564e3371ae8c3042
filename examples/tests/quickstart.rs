//! The main job end to end (issue #9): runs the quickstart binary as a newcomer would, into a
//! fresh folder, and checks what it left behind: the final versions per environment, the
//! rollback of the bad release in production, the ledger's contents, and that every audit
//! chain verifies.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use release_adapters::sqlite_ledger::{SqliteLedger, SqliteLedgerConfig};
use release_core::ledger::{
    AnalysisOutcome, Event, Ledger, Outcome, Program, import_jsonl, read_all, verify_chain,
};
use release_core::plugin::RolloutStep;

mod releasectl_support;

/// The quickstart binary `cargo test` built beside the test binaries.
fn quickstart() -> Command {
    Command::new(releasectl_support::example("quickstart"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_ships_two_releases_and_rolls_the_third_back_in_production() {
    let out = tempfile::tempdir().unwrap();
    let dir: PathBuf = out.path().join("run");
    let status = quickstart()
        .args(["--out", dir.to_str().unwrap(), "--ports", "27600"])
        .status()
        .unwrap();
    assert!(status.success(), "quickstart failed: {status}");

    // What runs where at the end: production is back on 2.0.0; dev and staging keep 3.0.0
    // (a stage rolls back alone; the bad build passed them because only customers' checkouts
    // fail, and those only reach production).
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let running: BTreeMap<String, BTreeMap<String, Vec<String>>> =
        serde_json::from_value(summary["running"].clone()).unwrap();
    assert_eq!(running["production"]["orders-api"], ["2.0.0"]);
    assert_eq!(running["production"]["web"], ["2.0.0"]);
    assert_eq!(running["staging"]["orders-api"], ["3.0.0"]);
    assert_eq!(running["dev"]["web"], ["2.0.0"]);
    let outcomes: Vec<&str> = summary["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes[..2], ["succeeded", "succeeded"]);
    assert!(
        outcomes[2].starts_with("rolled back in production"),
        "{outcomes:?}"
    );
    // Real traffic reached the bad canary in production and failed there.
    let traffic = summary["traffic"].as_object().unwrap();
    let count = |key: &str| traffic.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
    assert!(
        count("orders-api@production version=3.0.0") > 0,
        "{traffic:?}"
    );
    assert!(count("orders-api@production 500") > 0, "{traffic:?}");
    assert!(
        count("orders-api@production version=2.0.0") > 100,
        "{traffic:?}"
    );
    // Production's checkouts read the orders database (the 4 orders placed after the first
    // release), before and after the restore; no checkout found it unavailable.
    assert!(count("orders-api@production orders=4") > 100, "{traffic:?}");
    assert_eq!(
        count("orders-api@production database unavailable"),
        0,
        "{traffic:?}"
    );

    // The release channel heard of the rollback (M8.4), and the inventory (M7.1) says what
    // runs in production.
    let announcements: Vec<&str> = summary["announcements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        announcements
            .iter()
            .any(|a| a.contains("shop-2026.12.2") && a.contains("ROLLBACK of production started")),
        "{announcements:?}"
    );
    let inventory: BTreeMap<String, String> = summary["inventory_production"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["component"].as_str().unwrap().to_owned(),
                row["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(inventory["orders-api"], "2.0.0");
    assert_eq!(inventory["web"], "2.0.0");

    // The SQLite ledger holds every release, each chain verifies, and the audit exports
    // are the same records.
    let ledger = SqliteLedger::open(SqliteLedgerConfig::new(dir.join("ledger.db"))).unwrap();
    let mut ids = ledger.releases().await.unwrap();
    ids.sort();
    assert_eq!(
        ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["shop-2026.12.0", "shop-2026.12.1", "shop-2026.12.2"]
    );
    for id in &ids {
        let records = read_all(&ledger, id).await.unwrap();
        verify_chain(&records).unwrap();
        let export =
            std::fs::read_to_string(dir.join("audit").join(format!("{id}.jsonl"))).unwrap();
        assert_eq!(import_jsonl(&export).unwrap(), records, "{id}");
    }
    let bad = read_all(&ledger, &"shop-2026.12.2".into()).await.unwrap();
    let failed_in_production = bad.iter().any(|r| {
        matches!(&r.event, Event::AnalysisCompleted { environment, outcome: AnalysisOutcome::Failed, .. }
            if environment.as_str() == "production")
    });
    assert!(
        failed_in_production,
        "the canary analysis failed in production"
    );
    let first_rollback_step = bad.iter().find_map(|r| match &r.event {
        Event::StepStarted { key, step } if key.program == Program::Rollback => Some(step.clone()),
        _ => None,
    });
    assert!(
        matches!(&first_rollback_step, Some(RolloutStep::SetWeights(w)) if w.len() == 1 && w[0].slot == "stable" && w[0].weight == 100),
        "traffic goes back to stable first: {first_rollback_step:?}"
    );
    assert!(matches!(
        bad.last().map(|r| &r.event),
        Some(Event::ReleaseFinished {
            outcome: Outcome::RolledBack { .. }
        })
    ));
    // Approvals and sign-offs were given by named people, and production's approver is not
    // the person who started the release.
    let approvals: Vec<&str> = bad
        .iter()
        .filter(|r| matches!(r.event, Event::ApprovalRecorded { .. }))
        .map(|r| r.actor.as_str())
        .collect();
    assert_eq!(approvals, ["tom@shop.example"]);
    // Closure: per release a summary, a review, an HTML report and a signed evidence bundle
    // that verifies against the release manager's key and pins the journal's head; an RCA
    // was opened for the rollback.
    let manager = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
    for id in &ids {
        let rel = dir.join("releases").join(id.as_str());
        for file in [
            "summary.md",
            "summary.json",
            "review.md",
            "review.json",
            "report.html",
        ] {
            assert!(rel.join(file).is_file(), "{id}: {file}");
        }
        let bundle = std::fs::read(rel.join("evidence.tar")).unwrap();
        let verified = release_artifacts::bundle::verify_bundle(&bundle, &[manager]).unwrap();
        let records = read_all(&ledger, id).await.unwrap();
        assert_eq!(
            verified.records, records,
            "{id}: the bundle holds the whole journal"
        );
        assert!(verified.members.contains_key("tests/staging-tests.xml"));
        let html = std::fs::read_to_string(rel.join("report.html")).unwrap();
        assert!(html.contains("<svg"), "{id}: the report has charts");
    }
    let rcas: Vec<&str> = summary["rcas"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        rcas.len() == 1 && rcas[0].contains("orders-api"),
        "{rcas:?}"
    );
    assert!(dir.join("pain-points.md").is_file());

    // Data (M2.6, M4.5, M8.1, M8.5): dev and staging keep 3.0.0's migration; production's
    // orders database is back as it was before 2026.12.2, byte for byte by its digest.
    let databases = &summary["databases"];
    for (env, applied, last_column) in [
        ("dev", vec![1, 2, 3], "total_cents"),
        ("staging", vec![1, 2, 3], "total_cents"),
        ("production", vec![1, 2], "note"),
    ] {
        let db = &databases[env];
        let got: Vec<u64> = serde_json::from_value(db["applied"].clone()).unwrap();
        assert_eq!(got, applied, "{env}");
        let columns = db["order_columns"].as_array().unwrap();
        assert_eq!(
            columns.last().and_then(|c| c.as_str()),
            Some(last_column),
            "{env}"
        );
        assert_eq!(db["orders"], 4, "{env}: no order lost");
    }
    let data_in = |records: &[release_core::ledger::Record], env: &str| -> Vec<Event> {
        records
            .iter()
            .filter(|r| {
                matches!(&r.event,
                    Event::BackupTaken { environment, .. }
                    | Event::MigrationApplied { environment, .. }
                    | Event::DataRestored { environment, .. } if environment.as_str() == env)
            })
            .map(|r| r.event.clone())
            .collect()
    };
    let Some(Event::DataRestored {
        expected,
        restored,
        verified: true,
        ..
    }) = data_in(&bad, "production").last().cloned()
    else {
        panic!(
            "production's data was restored: {:#?}",
            data_in(&bad, "production")
        );
    };
    assert_eq!(restored, Some(expected));
    let production_db = release_adapters::migrations::SqliteDatabaseConfig::new(
        dir.join("data").join("orders-production.db"),
        dir.join("backups").join("production"),
    )
    .build()
    .unwrap();
    assert_eq!(production_db.digest().await.unwrap(), expected);
    assert!(
        matches!(
            data_in(&bad, "production").as_slice(),
            [Event::BackupTaken { record, .. }, Event::MigrationApplied { applied, .. }, Event::DataRestored { backup, .. }]
                if applied == &[3] && *backup == record.id
        ),
        "{:#?}",
        data_in(&bad, "production")
    );
    // Each release's production migration was rehearsed on a clone first (the gate's
    // evidence), and backed up before the first deploy step.
    for id in &ids {
        let records = read_all(&ledger, id).await.unwrap();
        let at = |f: &dyn Fn(&Event) -> bool| records.iter().position(|r| f(&r.event));
        let rehearsed = at(&|e| {
            matches!(e, Event::EvidenceRecorded { kind, environment: Some(env), .. }
                if kind == "migration_rehearsal" && env.as_str() == "production")
        })
        .expect("a rehearsal report for production");
        let backed_up = at(&|e| {
            matches!(e, Event::BackupTaken { environment, .. } if environment.as_str() == "production")
        })
        .expect("a backup of production's database");
        let deployed = at(&|e| {
            matches!(e, Event::StepStarted { key, .. } if key.environment.as_str() == "production")
        })
        .unwrap();
        assert!(rehearsed < backed_up && backed_up < deployed, "{id}");
    }

    // Every artifact carries signed provenance.
    for name in [
        "orders-api-1.0.0",
        "orders-api-2.0.0",
        "orders-api-3.0.0",
        "web-1.0.0",
        "web-2.0.0",
    ] {
        assert!(
            dir.join("provenance")
                .join(format!("{name}.intoto.json"))
                .is_file(),
            "{name}"
        );
    }
}
