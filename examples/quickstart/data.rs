//! The orders database: one SQLite file per environment (`data/orders-<env>.db`), migrated
//! by the releases of orders-api (M8.1–M8.5).
//!
//! - Each orders-api artifact carries its migrations under `db/`; the set is read from the
//!   verified, unpacked artifact and each release pins its digest, so the engine applies
//!   exactly what was rehearsed (one engine holds the sets of every version).
//! - Before production, the exact set is rehearsed on a clone of production's database: up,
//!   the declared checks and referential integrity, down, and the clone must read back as
//!   the original. CI records the report; the `migration_rehearsal` gate reads it.
//! - The engine backs each database up before a stage migrates it and restores the backup
//!   when that stage rolls back.
//! - Each environment's `orders_db` parameter names its file; orders-api finds it through its
//!   rendered configuration (`db.env`) in `$ORDERS_DATA_DIR` and reads it on every checkout.
//!   The services only read: the quickstart places the customers' orders itself after the
//!   first release, as the shop's order intake would. (A writer during the restore would
//!   change the data the restore verifies; real systems stop writers first.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use release_adapters::migrations::{SqliteDatabase, SqliteDatabaseConfig};
use release_core::engine::EngineBuilder;
use release_core::migration::{MigrationSet, RehearsalReport, SqlDialect};
use release_core::model::{Platform, Release};
use release_core::plugin::{Migrator, RehearsalRequest};
use rusqlite::Connection;
use serde::Serialize;

/// The component that migrates the orders database.
pub const COMPONENT: &str = "orders-api";

/// One environment's orders database.
pub struct Database {
    /// The shared resource the environment binds `orders-db` to.
    pub resource: String,
    /// The SQLite file.
    pub path: PathBuf,
    /// Migrator and backup of the file.
    pub adapter: Arc<SqliteDatabase>,
}

/// The orders databases of every environment and the migration sets of every build.
pub struct Data {
    /// environment → database.
    pub databases: BTreeMap<String, Database>,
    /// orders-api version → the migration set its artifact carries.
    pub sets: BTreeMap<String, MigrationSet>,
}

/// What a database holds at the end, for `summary.json`.
#[derive(Serialize)]
pub struct DatabaseState {
    /// The applied migration versions, from the migrator's history table.
    pub applied: Vec<u64>,
    /// The columns of `orders`.
    pub order_columns: Vec<String>,
    /// How many orders there are.
    pub orders: u64,
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

impl Data {
    /// The folder the databases live in (the services' `$ORDERS_DATA_DIR`).
    pub fn dir(out: &Path) -> PathBuf {
        out.join("data")
    }

    /// Creates an empty database per environment of the platform under `out/data` (named by
    /// the environment's `orders_db` parameter), with backups under `out/backups/<env>`.
    pub fn open(out: &Path, platform: &Platform) -> Result<Self, String> {
        let dir = Self::dir(out);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let declared = platform
            .component(COMPONENT)
            .and_then(|c| c.migrations.as_ref())
            .map(|m| m.database.clone())
            .ok_or("orders-api declares no migrations in the platform")?;
        let mut databases = BTreeMap::new();
        for env in &platform.environments {
            let file = env
                .parameters
                .get("orders_db")
                .map(ToString::to_string)
                .ok_or_else(|| format!("environment {} has no `orders_db` parameter", env.name))?;
            let path = dir.join(file);
            Connection::open(&path).map_err(sqlite(&path))?;
            let adapter =
                SqliteDatabaseConfig::new(&path, out.join("backups").join(env.name.as_str()))
                    .build()
                    .map_err(|e| e.to_string())?;
            databases.insert(
                env.name.to_string(),
                Database {
                    resource: env.bound_resource(&declared).to_string(),
                    path,
                    adapter: Arc::new(adapter),
                },
            );
        }
        Ok(Self {
            databases,
            sets: BTreeMap::new(),
        })
    }

    /// Reads the migration set an unpacked orders-api artifact carries in `db/`.
    pub fn add_set(&mut self, version: &str, release_dir: &Path) -> Result<(), String> {
        let set = MigrationSet::load(release_dir.join("db"), SqlDialect::Sqlite)
            .map_err(|e| e.to_string())?;
        self.sets.insert(version.to_owned(), set);
        Ok(())
    }

    /// Pins the release's orders-api migrations to the set of the version it ships.
    pub fn pin(&self, release: &mut Release) -> Result<(), String> {
        let Some(shipped) = release.components.get_mut(COMPONENT) else {
            return Ok(());
        };
        let version = shipped.version.to_string();
        let set = self
            .sets
            .get(&version)
            .ok_or_else(|| format!("the orders-api {version} artifact carries no migrations"))?;
        shipped.migrations.get_or_insert_default().digest = Some(set.digest());
        Ok(())
    }

    /// Registers every database as migrator and backup of its resource, and every set.
    pub fn register(&self, builder: EngineBuilder) -> EngineBuilder {
        let builder = self.databases.values().fold(builder, |b, db| {
            b.migrator(db.resource.as_str(), db.adapter.clone())
                .backup(db.resource.as_str(), db.adapter.clone())
        });
        self.sets
            .values()
            .fold(builder, |b, set| b.migrations(COMPONENT, set.clone()))
    }

    /// The customers' orders, placed once the tables exist (after the first release).
    pub fn place_orders(&self) -> Result<(), String> {
        for db in self.databases.values() {
            let conn = Connection::open(&db.path).map_err(sqlite(&db.path))?;
            conn.execute_batch(
                "INSERT INTO customers (id, name) VALUES (1, 'Ana'), (2, 'Raj'), (3, 'Li');
                 INSERT INTO orders (id, customer_id, total) VALUES
                   (1001, 1, 12.50), (1002, 2, 9.90), (1003, 1, 400.00), (1004, 3, 23.75);",
            )
            .map_err(sqlite(&db.path))?;
        }
        Ok(())
    }

    /// Rehearses the set `release` ships on a clone of `environment`'s database, with the
    /// checks the platform declares.
    pub async fn rehearse(
        &self,
        platform: &Platform,
        release: &Release,
        environment: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<RehearsalReport, String> {
        let db = self
            .databases
            .get(environment)
            .ok_or_else(|| format!("no orders database in {environment}"))?;
        let version = release
            .components
            .get(COMPONENT)
            .map(|v| v.version.to_string())
            .ok_or("the release does not ship orders-api")?;
        let set = self
            .sets
            .get(&version)
            .ok_or_else(|| format!("no migration set for orders-api {version}"))?;
        let checks = platform
            .component(COMPONENT)
            .and_then(|c| c.migrations.as_ref())
            .map(|m| m.checks.clone())
            .unwrap_or_default();
        let request = RehearsalRequest::new(
            COMPONENT.into(),
            environment.into(),
            db.resource.as_str(),
            set.clone(),
            now,
        )
        .with_checks(checks);
        db.adapter
            .rehearse(&request)
            .await
            .map_err(|e| e.to_string())
    }

    /// What each environment's database holds now.
    pub fn states(&self) -> Result<BTreeMap<String, DatabaseState>, String> {
        let mut out = BTreeMap::new();
        for (env, db) in &self.databases {
            let conn = Connection::open(&db.path).map_err(sqlite(&db.path))?;
            let applied = conn
                .prepare("SELECT version FROM release_schema_history ORDER BY version")
                .and_then(|mut s| {
                    s.query_map([], |r| r.get::<_, i64>(0))?
                        .map(|v| v.map(|v| u64::try_from(v).unwrap_or_default()))
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sqlite(&db.path))?;
            let order_columns = conn
                .prepare("SELECT name FROM pragma_table_info('orders') ORDER BY cid")
                .and_then(|mut s| {
                    s.query_map([], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sqlite(&db.path))?;
            let orders: i64 = conn
                .query_row("SELECT count(*) FROM orders", [], |r| r.get(0))
                .map_err(sqlite(&db.path))?;
            out.insert(
                env.clone(),
                DatabaseState {
                    applied,
                    order_columns,
                    orders: u64::try_from(orders).unwrap_or_default(),
                },
            );
        }
        Ok(out)
    }
}
