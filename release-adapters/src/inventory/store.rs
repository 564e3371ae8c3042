//! The inventory database: opening, applying records, syncing from a ledger, and queries.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::ledger::{Event, Ledger, Record};
use release_core::model::{ComponentId, EnvironmentName, ReleaseId};
use release_core::plugin::Notifier;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::fold::{Fold, SCHEMA, WANTED};
use super::rows::{DependencyRow, DeploymentAction, DeploymentRow, HistoryRow, InventorySnapshot};
use super::{InventoryConfig, InventoryError};

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// The CMDB in one SQLite file; see the [module docs](super).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use release_adapters::inventory::InventoryConfig;
///
/// let dir = tempfile::tempdir().unwrap();
/// let inventory = InventoryConfig::new(dir.path().join("inventory.db")).open().unwrap();
/// // Feed it: `Engine::builder().notifier(Arc::new(inventory))`, or `inventory.sync(&ledger)`.
/// let production = inventory.running_in(&"production".into()).await.unwrap();
/// assert!(production.is_empty());
/// # });
/// ```
pub struct Inventory {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
    ledger: Option<Arc<dyn Ledger>>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("path", &self.path)
            .field("ledger", &self.ledger.is_some())
            .finish()
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), InventoryError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(InventoryError::sqlite(path, "begin the migration"))?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(InventoryError::sqlite(path, "read the schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(InventoryError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < SCHEMA_VERSION {
        tx.execute_batch(SCHEMA)
            .map_err(InventoryError::sqlite(path, "create the schema"))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(InventoryError::sqlite(path, "record the schema version"))?;
    }
    tx.commit()
        .map_err(InventoryError::sqlite(path, "commit the migration"))
}

fn corrupt(path: &Path, table: &'static str, problem: String) -> InventoryError {
    InventoryError::Corrupt {
        path: path.to_owned(),
        table,
        problem,
    }
}

fn time(path: &Path, table: &'static str, text: &str) -> Result<DateTime<Utc>, InventoryError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| corrupt(path, table, format!("time `{text}`: {e}")))
}

fn version(
    path: &Path,
    table: &'static str,
    text: &str,
) -> Result<semver::Version, InventoryError> {
    semver::Version::parse(text).map_err(|e| corrupt(path, table, format!("version `{text}`: {e}")))
}

fn action(
    path: &Path,
    table: &'static str,
    text: &str,
) -> Result<DeploymentAction, InventoryError> {
    DeploymentAction::parse(text)
        .ok_or_else(|| corrupt(path, table, format!("unknown action `{text}`")))
}

/// What a query filters on.
enum Filter<'a> {
    All,
    Environment(&'a str),
    Component(&'a str),
}

impl Filter<'_> {
    fn clause(&self, column_env: &str, column_component: &str) -> (String, Option<String>) {
        match self {
            Self::All => (String::new(), None),
            Self::Environment(e) => (format!("WHERE {column_env} = ?1"), Some((*e).to_owned())),
            Self::Component(c) => (
                format!("WHERE {column_component} = ?1"),
                Some((*c).to_owned()),
            ),
        }
    }
}

impl Inventory {
    /// Opens (or creates) the inventory file and migrates its schema.
    pub fn open(config: InventoryConfig) -> Result<Self, InventoryError> {
        let path = config.path.clone();
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags)
            .map_err(InventoryError::sqlite(&path, "open the database file"))?;
        conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms))
            .map_err(InventoryError::sqlite(&path, "set the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(InventoryError::sqlite(&path, "switch to WAL mode"))?;
        migrate(&mut conn, &path)?;
        Ok(Self {
            path,
            conn: Arc::new(Mutex::new(conn)),
            ledger: None,
        })
    }

    /// Catches a release up from `ledger` on every notification, so a failed notification
    /// leaves no gap (see the [module docs](super)).
    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &Path) -> Result<T, InventoryError> + Send + 'static,
    ) -> Result<T, InventoryError> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn, &path)
        })
        .await
        .map_err(|e| InventoryError::Task(e.to_string()))?
    }

    /// Applies records in the order given, in one transaction; returns how many were new
    /// (records at or below a release's applied position are skipped).
    pub async fn apply(&self, records: &[Record]) -> Result<usize, InventoryError> {
        let records = records.to_vec();
        self.with_conn(move |conn, path| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(InventoryError::sqlite(path, "begin a transaction"))?;
            let mut applied = 0;
            {
                let fold = Fold { tx: &tx, path };
                for record in &records {
                    if fold.apply(record)? {
                        applied += 1;
                    }
                }
            }
            tx.commit()
                .map_err(InventoryError::sqlite(path, "commit"))?;
            Ok(applied)
        })
        .await
    }

    /// The last applied seq of a release (0 when none).
    pub async fn applied(&self, release: &ReleaseId) -> Result<u64, InventoryError> {
        let release = release.to_string();
        self.with_conn(move |conn, path| {
            let tx = conn
                .transaction()
                .map_err(InventoryError::sqlite(path, "begin a transaction"))?;
            Fold { tx: &tx, path }.applied(&release)
        })
        .await
    }

    /// Catches up from a ledger: every release's records after its applied position, in
    /// time order. Returns how many records were applied.
    pub async fn sync(&self, ledger: &dyn Ledger) -> Result<usize, InventoryError> {
        let mut pending = Vec::new();
        for release in ledger.releases().await.map_err(InventoryError::Ledger)? {
            let after = self.applied(&release).await?;
            pending.extend(
                ledger
                    .events(&release, after)
                    .await
                    .map_err(InventoryError::Ledger)?,
            );
        }
        pending.sort_by(|a, b| {
            (a.at, a.release.as_str(), a.seq).cmp(&(b.at, b.release.as_str(), b.seq))
        });
        self.apply(&pending).await
    }

    async fn sync_release(
        &self,
        ledger: &dyn Ledger,
        release: &ReleaseId,
    ) -> Result<usize, InventoryError> {
        let after = self.applied(release).await?;
        let records = ledger
            .events(release, after)
            .await
            .map_err(InventoryError::Ledger)?;
        self.apply(&records).await
    }

    /// What runs in an environment ("what runs in production"), by platform and component.
    pub async fn running_in(
        &self,
        environment: &EnvironmentName,
    ) -> Result<Vec<DeploymentRow>, InventoryError> {
        let e = environment.to_string();
        self.with_conn(move |conn, path| deployments(conn, path, Filter::Environment(&e)))
            .await
    }

    /// Where a component runs, by platform and environment.
    pub async fn where_runs(
        &self,
        component: &ComponentId,
    ) -> Result<Vec<DeploymentRow>, InventoryError> {
        let c = component.to_string();
        self.with_conn(move |conn, path| deployments(conn, path, Filter::Component(&c)))
            .await
    }

    /// A component's deployment history, oldest first.
    pub async fn history(
        &self,
        component: &ComponentId,
    ) -> Result<Vec<HistoryRow>, InventoryError> {
        let c = component.to_string();
        self.with_conn(move |conn, path| history(conn, path, Filter::Component(&c)))
            .await
    }

    /// What a component depends on (per platform).
    pub async fn dependencies(
        &self,
        component: &ComponentId,
    ) -> Result<Vec<DependencyRow>, InventoryError> {
        let c = component.to_string();
        self.with_conn(move |conn, path| dependencies(conn, path, "component", Some(&c)))
            .await
    }

    /// What depends on a component (per platform).
    pub async fn dependents(
        &self,
        component: &ComponentId,
    ) -> Result<Vec<DependencyRow>, InventoryError> {
        let c = component.to_string();
        self.with_conn(move |conn, path| dependencies(conn, path, "depends_on", Some(&c)))
            .await
    }

    /// Everything, each part in its stable order.
    pub async fn snapshot(&self) -> Result<InventorySnapshot, InventoryError> {
        self.with_conn(|conn, path| {
            Ok(InventorySnapshot {
                deployments: deployments(conn, path, Filter::All)?,
                history: history(conn, path, Filter::All)?,
                dependencies: dependencies(conn, path, "component", None)?,
            })
        })
        .await
    }
}

fn deployments(
    conn: &Connection,
    path: &Path,
    filter: Filter<'_>,
) -> Result<Vec<DeploymentRow>, InventoryError> {
    let (clause, arg) = filter.clause("environment", "component");
    let sql = format!(
        "SELECT platform, environment, component, version, release, since, via FROM deployments
         {clause} ORDER BY platform, environment, component"
    );
    let raw: Vec<[String; 7]> = query(conn, path, &sql, arg, |r| {
        Ok([
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ])
    })?;
    raw.into_iter()
        .map(
            |[platform, environment, component, v, release, since, via]| {
                Ok(DeploymentRow {
                    platform,
                    environment: environment.into(),
                    component: component.into(),
                    version: version(path, "deployments", &v)?,
                    release: release.into(),
                    since: time(path, "deployments", &since)?,
                    via: action(path, "deployments", &via)?,
                })
            },
        )
        .collect()
}

type RawHistory = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
);

fn history(
    conn: &Connection,
    path: &Path,
    filter: Filter<'_>,
) -> Result<Vec<HistoryRow>, InventoryError> {
    let (clause, arg) = filter.clause("environment", "component");
    let sql = format!(
        "SELECT at, platform, environment, component, action, version, replaced, release, seq
         FROM history {clause} ORDER BY at, release, seq, platform, environment, component"
    );
    let raw: Vec<RawHistory> = query(conn, path, &sql, arg, |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ))
    })?;
    raw.into_iter()
        .map(
            |(at, platform, environment, component, act, v, replaced, release, seq)| {
                Ok(HistoryRow {
                    at: time(path, "history", &at)?,
                    platform,
                    environment: environment.into(),
                    component: component.into(),
                    action: action(path, "history", &act)?,
                    version: v.map(|v| version(path, "history", &v)).transpose()?,
                    replaced: replaced.map(|v| version(path, "history", &v)).transpose()?,
                    release: release.into(),
                    seq: u64::try_from(seq)
                        .map_err(|_| corrupt(path, "history", format!("seq {seq}")))?,
                })
            },
        )
        .collect()
}

fn dependencies(
    conn: &Connection,
    path: &Path,
    column: &str,
    value: Option<&str>,
) -> Result<Vec<DependencyRow>, InventoryError> {
    let clause = if value.is_some() {
        format!("WHERE {column} = ?1")
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT platform, component, depends_on FROM dependencies {clause}
         ORDER BY platform, component, depends_on"
    );
    let raw: Vec<(String, String, String)> =
        query(conn, path, &sql, value.map(str::to_owned), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    Ok(raw
        .into_iter()
        .map(|(platform, component, depends_on)| DependencyRow {
            platform,
            component: component.into(),
            depends_on: depends_on.into(),
        })
        .collect())
}

fn query<T>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    arg: Option<String>,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, InventoryError> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(InventoryError::sqlite(path, "prepare a query"))?;
    let rows = match &arg {
        Some(a) => stmt.query_map(params![a], row),
        None => stmt.query_map([], row),
    }
    .map_err(InventoryError::sqlite(path, "query"))?;
    rows.collect::<Result<_, _>>()
        .map_err(InventoryError::sqlite(path, "read a row"))
}

#[async_trait]
impl Notifier for Inventory {
    fn wants(&self, event: &Event) -> bool {
        WANTED.contains(&event.type_name())
    }

    async fn notify(&self, record: &Record) -> release_core::Result<()> {
        match &self.ledger {
            Some(ledger) => self.sync_release(ledger.as_ref(), &record.release).await?,
            None => self.apply(std::slice::from_ref(record)).await?,
        };
        Ok(())
    }
}
