//! What a component declares about the data it changes (M4.5, M8.2): the database its
//! migrations change, where they live, their SQL dialect and the checks a rehearsal runs; and
//! what a release declares about them (which migrations it ships, the set's pinned digest).
//!
//! The migration files themselves are read by [`crate::migration`]; validation classifies
//! them (expand or contract) and checks them against the rollout strategy, and the engine
//! applies them after a pre-deployment backup.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::id::SharedResourceId;

/// The SQL dialect of a migration set: how statements are split and classified.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SqlDialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL.
    #[serde(alias = "postgresql")]
    Postgres,
}

impl SqlDialect {
    /// The dialect's name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for SqlDialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A component's migrations: the database they change and where the files are.
///
/// ```yaml
/// migrations:
///   database: orders-db          # a declared shared resource, also in `shared_resources`
///   directory: migrations/orders # relative to the platform manifest
///   dialect: postgres
///   checks:
///     - row_count_unchanged: { table: orders }
///     - query: { name: no-negative-totals, sql: "SELECT id FROM orders WHERE total < 0" }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentMigrations {
    /// The shared resource (database) the migrations change; each environment's binding
    /// names the concrete database.
    pub database: SharedResourceId,
    /// The directory of migration files, relative to the platform manifest's directory.
    pub directory: String,
    /// The SQL dialect of the files.
    pub dialect: SqlDialect,
    /// Checks a rehearsal runs after applying the up migrations on a clone (M4.5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<DataCheck>,
}

/// A check run on a rehearsal clone after the up migrations (besides referential integrity,
/// which is always checked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DataCheck {
    /// The table's row count after the up migrations lies within bounds.
    RowCount {
        /// The table (schema-qualified for PostgreSQL when not in `public`).
        table: String,
        /// Least number of rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u64>,
        /// Most rows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u64>,
    },
    /// The table has as many rows after the up migrations as before (nothing lost).
    RowCountUnchanged {
        /// The table.
        table: String,
    },
    /// A query returning offending rows (dbt's convention): passes when it returns none.
    Query {
        /// The check's name, shown in the report.
        name: String,
        /// The query.
        sql: String,
    },
}

impl DataCheck {
    /// The check's name in reports (`row_count(orders)`, the query's name).
    pub fn name(&self) -> String {
        match self {
            Self::RowCount { table, .. } => format!("row_count({table})"),
            Self::RowCountUnchanged { table } => format!("row_count_unchanged({table})"),
            Self::Query { name, .. } => name.clone(),
        }
    }
}

/// What a release declares about the migrations of one component it ships.
///
/// ```yaml
/// components:
///   orders: { version: 2.1.0, migrations: { after: 3, digest: "sha256:…" } }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseMigrations {
    /// The version of the last migration every environment already runs; the release ships
    /// the migrations above it (0, the default: all of them). Only shipped migrations are
    /// classified for compatibility.
    #[serde(default)]
    pub after: u64,
    /// The digest of the whole migration set this release applies (`sha256:…`). Validation,
    /// the engine and the rehearsal gate hold the files to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub digest: Option<Sha256Digest>,
}
