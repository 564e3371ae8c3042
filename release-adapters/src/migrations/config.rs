//! The database adapters' serde configuration.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{DataError, PostgresDatabase, SqliteDatabase};

fn default_history_table() -> String {
    "release_schema_history".to_owned()
}

/// Checks that a name is a plain SQL identifier (it is interpolated, quoted, into SQL).
pub(crate) fn check_identifier(what: &str, name: &str) -> Result<(), DataError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(DataError::Config(format!(
            "{what} `{name}` must be 1–63 lowercase letters, digits or `_`, not starting with a digit"
        )))
    }
}

/// Configuration of a [`SqliteDatabase`]:
///
/// ```
/// use release_adapters::migrations::SqliteDatabaseConfig;
/// let config: SqliteDatabaseConfig = serde_json::from_str(
///     r#"{ "path": "/srv/orders.db", "backup_dir": "/srv/backups" }"#,
/// ).unwrap();
/// assert_eq!(config.history_table, "release_schema_history");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SqliteDatabaseConfig {
    /// The live database file.
    pub path: PathBuf,
    /// Where pre-deployment backups are written (created when missing).
    pub backup_dir: PathBuf,
    /// Where rehearsal clones are made; the system's temporary directory when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch_dir: Option<PathBuf>,
    /// The table recording applied migrations.
    #[serde(default = "default_history_table")]
    pub history_table: String,
}

impl SqliteDatabaseConfig {
    /// The database at `path`, backed up to `backup_dir`.
    pub fn new(path: impl Into<PathBuf>, backup_dir: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            backup_dir: backup_dir.into(),
            scratch_dir: None,
            history_table: default_history_table(),
        }
    }

    /// Sets where rehearsal clones are made.
    pub fn with_scratch_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.scratch_dir = Some(dir.into());
        self
    }

    /// Sets the history table's name.
    pub fn with_history_table(mut self, table: impl Into<String>) -> Self {
        self.history_table = table.into();
        self
    }

    /// Checks the configuration and builds the adapter.
    pub fn build(self) -> Result<SqliteDatabase, DataError> {
        SqliteDatabase::new(self)
    }
}

/// How a PostgreSQL rehearsal clones the database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CloneMethod {
    /// `CREATE DATABASE … TEMPLATE`, falling back to a dump when other sessions use the
    /// source (a template must have none).
    #[default]
    Auto,
    /// `CREATE DATABASE … TEMPLATE` only; other sessions on the source are an error.
    Template,
    /// `pg_dump` of a consistent snapshot restored with `pg_restore`: works with sessions.
    Dump,
}

/// Configuration of a [`PostgresDatabase`]:
///
/// ```
/// use release_adapters::migrations::{CloneMethod, PostgresDatabaseConfig};
/// let config: PostgresDatabaseConfig = serde_json::from_str(
///     r#"{ "url": "postgres://app@db/orders", "backup_dir": "/srv/backups" }"#,
/// ).unwrap();
/// assert_eq!(config.schemas, ["public"]);
/// assert_eq!(config.clone, CloneMethod::Auto);
/// assert!(!format!("{config:?}").contains("app@db"));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PostgresDatabaseConfig {
    /// Connection URL of the live database (may carry a password: never printed).
    pub url: String,
    /// The database to connect to for `CREATE`/`DROP DATABASE`.
    #[serde(default = "default_maintenance")]
    pub maintenance_database: String,
    /// Where pre-deployment backups (`pg_dump` custom format) are written.
    pub backup_dir: PathBuf,
    /// The schemas the digest covers.
    #[serde(default = "default_schemas")]
    pub schemas: Vec<String>,
    /// The table (in the first schema) recording applied migrations.
    #[serde(default = "default_history_table")]
    pub history_table: String,
    /// How rehearsals clone the database.
    #[serde(default)]
    pub clone: CloneMethod,
    /// The `pg_dump` program.
    #[serde(default = "default_pg_dump")]
    pub pg_dump: String,
    /// The `pg_restore` program.
    #[serde(default = "default_pg_restore")]
    pub pg_restore: String,
}

impl std::fmt::Debug for PostgresDatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PostgresDatabaseConfig")
            .field("maintenance_database", &self.maintenance_database)
            .field("backup_dir", &self.backup_dir)
            .field("schemas", &self.schemas)
            .field("history_table", &self.history_table)
            .field("clone", &self.clone)
            .finish_non_exhaustive()
    }
}

fn default_maintenance() -> String {
    "postgres".to_owned()
}

fn default_schemas() -> Vec<String> {
    vec!["public".to_owned()]
}

fn default_pg_dump() -> String {
    "pg_dump".to_owned()
}

fn default_pg_restore() -> String {
    "pg_restore".to_owned()
}

impl PostgresDatabaseConfig {
    /// The database at `url`, backed up to `backup_dir`.
    pub fn new(url: impl Into<String>, backup_dir: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            maintenance_database: default_maintenance(),
            backup_dir: backup_dir.into(),
            schemas: default_schemas(),
            history_table: default_history_table(),
            clone: CloneMethod::default(),
            pg_dump: default_pg_dump(),
            pg_restore: default_pg_restore(),
        }
    }

    /// Sets how rehearsals clone the database.
    pub fn with_clone(mut self, method: CloneMethod) -> Self {
        self.clone = method;
        self
    }

    /// Sets the maintenance database.
    pub fn with_maintenance_database(mut self, name: impl Into<String>) -> Self {
        self.maintenance_database = name.into();
        self
    }

    /// Sets the schemas the digest covers.
    pub fn with_schemas(mut self, schemas: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.schemas = schemas.into_iter().map(Into::into).collect();
        self
    }

    /// Checks the configuration and builds the adapter.
    pub fn build(self) -> Result<PostgresDatabase, DataError> {
        PostgresDatabase::new(self)
    }
}
