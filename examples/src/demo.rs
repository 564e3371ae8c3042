//! The demo HTTP service the quickstart builds into versioned artifacts.
//!
//! One program plays every component: the artifact's `build.json` (beside the executable, in
//! the release directory the local-process target starts it from) says which component and
//! version it is and whether this build is broken. A broken build answers every
//! `error_every`-th checkout (a request with a `cart` query, which only real customers send)
//! with a 500 and logs an exception line, the way a bad release does; `/healthz` and
//! synthetic requests without a cart always answer, so only real traffic shows the fault.
//!
//! A component whose rendered configuration has a `db.env` with `ORDERS_DB=<file>` reads that
//! SQLite file in `$ORDERS_DATA_DIR` on every checkout (the customer's order history: how
//! many orders, their total) and answers 503 when it cannot, as a service whose database is
//! gone does. It only reads, so a restore can verify the data it put back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};

/// What an artifact of the demo service is: written as `build.json` into the artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// The component it plays.
    pub component: String,
    /// Its version.
    pub version: String,
    /// Answer every n-th checkout (request with a `cart`) with a 500 (0 = never).
    #[serde(default)]
    pub error_every: u64,
}

impl Build {
    /// Reads `build.json` from a release directory.
    pub fn read(release_dir: &Path) -> Result<Self, String> {
        let path = release_dir.join("build.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (is this an unpacked demo artifact?)",
                path.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

struct Service {
    build: Build,
    served: AtomicU64,
    /// The orders database this instance reads, when its configuration names one.
    orders_db: Option<PathBuf>,
}

/// `(orders, total)` from the orders database.
fn order_history(path: &Path) -> Result<(i64, f64), String> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    conn.query_row(
        "SELECT count(*), coalesce(sum(total), 0.0) FROM orders",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}

/// The orders database named by `$RELEASE_CONFIG_DIR/db.env` (`ORDERS_DB=<file>`), in
/// `$ORDERS_DATA_DIR`.
fn orders_db_from_env() -> Result<Option<PathBuf>, String> {
    let Ok(config) = std::env::var("RELEASE_CONFIG_DIR") else {
        return Ok(None);
    };
    let path = Path::new(&config).join("db.env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let Some(file) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ORDERS_DB="))
        .map(str::trim)
    else {
        return Err(format!("{}: no ORDERS_DB= line", path.display()));
    };
    let dir = std::env::var("ORDERS_DATA_DIR").map_err(|_| {
        format!(
            "{} names {file}, but ORDERS_DATA_DIR is not set",
            path.display()
        )
    })?;
    Ok(Some(Path::new(&dir).join(file)))
}

async fn root(State(s): State<Arc<Service>>, RawQuery(query): RawQuery) -> (StatusCode, String) {
    let checkout = query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("cart=")));
    let n = s.served.fetch_add(u64::from(checkout), Ordering::Relaxed) + 1;
    if checkout && s.build.error_every > 0 && n.is_multiple_of(s.build.error_every) {
        println!(
            "ERROR {} {}: OrderTotalException: total of order {} is negative",
            s.build.component, s.build.version, n
        );
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "component={} version={} failed\n",
                s.build.component, s.build.version
            ),
        );
    }
    let history = match (&s.orders_db, checkout) {
        (Some(db), true) => match order_history(db) {
            Ok((orders, total)) => format!(" orders={orders} total={total:.2}"),
            Err(e) => {
                println!("ERROR {} {}: {e}", s.build.component, s.build.version);
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("orders database unavailable: {e}\n"),
                );
            }
        },
        _ => String::new(),
    };
    (
        StatusCode::OK,
        format!(
            "component={} version={}{history}\n",
            s.build.component, s.build.version
        ),
    )
}

/// Serves the demo on `127.0.0.1:$PORT` until the process is stopped; reads the build from
/// `$RELEASE_DIR` (set by the local-process target).
pub async fn serve_from_env() -> Result<(), String> {
    let port: u16 = std::env::var("PORT")
        .map_err(|_| "PORT is not set (the local-process target sets it)".to_owned())?
        .parse()
        .map_err(|e| format!("PORT: {e}"))?;
    let dir = std::env::var("RELEASE_DIR")
        .map_err(|_| "RELEASE_DIR is not set (the local-process target sets it)".to_owned())?;
    let build = Build::read(Path::new(&dir))?;
    println!(
        "{} {} listening on 127.0.0.1:{port}",
        build.component, build.version
    );
    let orders_db = orders_db_from_env()?;
    if let Some(db) = &orders_db {
        println!("reading orders from {}", db.display());
    }
    let service = Arc::new(Service {
        build,
        served: AtomicU64::new(0),
        orders_db,
    });
    let app = Router::new()
        .route("/", get(root))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(service);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
    axum::serve(listener, app)
        .await
        .map_err(|e| format!("serve: {e}"))
}
