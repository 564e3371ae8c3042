//! releasectl with databases (M2.6, M4.5, M8.1): `run --database` gives each database its
//! SQLite file, the release's migration set is kept in the state directory, `rehearse`
//! journals a rehearsal on a clone for the `migration_rehearsal` gate, and each stage backs
//! its database up before migrating it. On the simulated target, with real SQLite files.

mod releasectl_support;

use std::path::Path;

use releasectl_support::{Workspace, root};
use rusqlite::Connection;
use serde_json::Value;

/// A workspace holding the data fixture (manifest and `db/`) and an empty SQLite file per
/// environment.
fn workspace() -> Workspace {
    let ws = Workspace::new();
    let fixture = root().join("examples/tests/fixtures/data");
    std::fs::create_dir_all(ws.path().join("db")).unwrap();
    std::fs::copy(fixture.join("shop.yaml"), ws.path().join("shop.yaml")).unwrap();
    for entry in std::fs::read_dir(fixture.join("db")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, ws.path().join("db").join(path.file_name().unwrap())).unwrap();
    }
    for db in ["orders-staging.db", "orders.db"] {
        Connection::open(ws.path().join(db)).unwrap();
    }
    ws
}

/// `run` of the fixture's release on the simulated target with these `--database` flags.
fn run_with(ws: &Workspace, databases: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "run",
        "shop.yaml",
        "--state",
        "s",
        "--target",
        "simulated",
        "--as",
        "ci-bot",
    ];
    for db in databases {
        args.extend(["--database", db]);
    }
    ws.run(&args)
}

fn run_with_databases(ws: &Workspace) -> (i32, String, String) {
    run_with(
        ws,
        &["orders-db=orders.db", "orders-db-staging=orders-staging.db"],
    )
}

/// (columns of `orders`, applied migration versions).
fn shape(path: &Path) -> (Vec<String>, Vec<i64>) {
    let conn = Connection::open(path).unwrap();
    let columns = conn
        .prepare("SELECT name FROM pragma_table_info('orders') ORDER BY cid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let versions = conn
        .prepare("SELECT version FROM release_schema_history ORDER BY version")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()
        })
        .unwrap_or_default();
    (columns, versions)
}

#[test]
fn a_release_that_migrates_is_rehearsed_backed_up_and_migrated_per_environment() {
    let ws = workspace();
    // Without a database for staging's binding: invalid input naming the flag, nothing run.
    let (code, _, err) = run_with(&ws, &["orders-db-other=orders.db"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("pass `--database orders-db-staging=PATH`"),
        "{err}"
    );
    // The declared resource does not stand in for staging's own binding: staging must not
    // migrate production's file.
    let (code, _, err) = run_with(&ws, &["orders-db=orders.db"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("staging binds orders-db to orders-db-staging: it needs its own file"),
        "{err}"
    );
    // A refused run keeps nothing.
    assert!(!ws.path().join("s/migrations").exists());
    assert!(!ws.path().join("s/releasectl.json").exists());
    let (code, _, err) = ws.run(&[
        "run",
        "shop.yaml",
        "--state",
        "t",
        "--database",
        "orders-db",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("write RESOURCE=PATH"), "{err}");

    // Staging migrates; production waits for a rehearsal on a clone of its database.
    let (code, out, err) = run_with_databases(&ws);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("next: releasectl rehearse --state"), "{out}");
    assert_eq!(
        shape(&ws.path().join("orders-staging.db")),
        (
            vec!["id".to_owned(), "total_cents".to_owned(), "note".to_owned()],
            vec![1, 2]
        )
    );
    assert_eq!(shape(&ws.path().join("orders.db")), (vec![], vec![]));
    // The set the release started with is kept for later jobs.
    assert!(
        ws.path()
            .join("s/migrations/data-1.0.0/orders/V002__order_notes.sql")
            .is_file()
    );

    // Later jobs use what the release started with: another file for a kept database is
    // refused, and an edited checkout does not change the kept set.
    let (code, _, err) = run_with(
        &ws,
        &[
            "orders-db=elsewhere.db",
            "orders-db-staging=orders-staging.db",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("a started release keeps its databases"),
        "{err}"
    );
    std::fs::write(
        ws.path().join("db/V002__order_notes.sql"),
        "-- +up\nDROP TABLE orders;\n-- +down\nSELECT 1;\n",
    )
    .unwrap();
    let (code, out, err) = ws.run(&[
        "rehearse",
        "--state",
        "s",
        "--env",
        "production",
        "--as",
        "ci-bot",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rehearsals"][0]["database"], "orders-db");
    assert_eq!(v["rehearsals"][0]["passed"], true);
    // The rehearsal ran on a clone: production is still empty.
    assert_eq!(shape(&ws.path().join("orders.db")), (vec![], vec![]));

    let (code, out, err) = ws.run(&["resume", "--state", "s", "--as", "ci-bot"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        shape(&ws.path().join("orders.db")),
        (
            vec!["id".to_owned(), "total_cents".to_owned(), "note".to_owned()],
            vec![1, 2]
        )
    );
    // Each stage took its backup before migrating.
    for resource in ["orders-db", "orders-db-staging"] {
        let backups = std::fs::read_dir(ws.path().join("s/backups").join(resource))
            .unwrap()
            .count();
        assert_eq!(backups, 1, "{resource}");
    }
    let (code, out, _) = ws.run(&["report", "--state", "s"]);
    assert_eq!(code, 0);
    for line in [
        "evidence migration_rehearsal recorded by ci-bot",
        "orders-db migrated: V001, V002",
        "orders-db-staging migrated: V001, V002",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
}

#[test]
fn a_failed_rehearsal_exits_3_and_the_gate_fails_the_release() {
    let ws = workspace();
    // Production already holds an `orders` table: V001's CREATE TABLE fails on the clone.
    Connection::open(ws.path().join("orders.db"))
        .unwrap()
        .execute_batch(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY); INSERT INTO orders VALUES (7);",
        )
        .unwrap();
    let (code, out, err) = run_with_databases(&ws);
    assert_eq!(code, 4, "{out}{err}");
    let (code, out, err) = ws.run(&[
        "rehearse",
        "--state",
        "s",
        "--env",
        "production",
        "--as",
        "ci-bot",
    ]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains("orders on a clone of orders-db: FAILED"),
        "{out}"
    );
    let (code, out, _) = ws.run(&["resume", "--state", "s", "--json"]);
    assert_eq!(code, 3, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "gate_failed", "{out}");
    assert_eq!(v["outcome"]["gate"], "migration_rehearsal", "{out}");
    // Production's database is as it was.
    assert_eq!(
        shape(&ws.path().join("orders.db")),
        (vec!["id".to_owned()], vec![])
    );
}
