//! The PostgreSQL ledger's serde configuration.

use serde::{Deserialize, Serialize};

use super::{PostgresLedger, PostgresLedgerError};

/// Configuration of a [`PostgresLedger`]:
///
/// ```
/// use release_adapters::postgres_ledger::PostgresLedgerConfig;
/// let config: PostgresLedgerConfig =
///     serde_json::from_str(r#"{ "url": "postgres://release@db/release" }"#).unwrap();
/// assert_eq!(config.schema, "release_ledger");
/// assert_eq!(config.max_connections, 16);
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PostgresLedgerConfig {
    /// Connection URL (`postgres://user:password@host:port/database`) or key=value string.
    pub url: String,
    /// The schema holding the ledger's tables (created when missing); lowercase letters,
    /// digits and `_`.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// The most connections the pool opens.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

impl std::fmt::Debug for PostgresLedgerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("PostgresLedgerConfig")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

fn default_schema() -> String {
    "release_ledger".to_owned()
}

fn default_max_connections() -> usize {
    16
}

impl PostgresLedgerConfig {
    /// Defaults for the database at `url`: schema `release_ledger`, up to 16 connections.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: default_schema(),
            max_connections: default_max_connections(),
        }
    }

    /// Sets the schema holding the tables.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets the pool size.
    pub fn with_max_connections(mut self, max_connections: usize) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// Connects, migrates the schema and returns the ledger.
    pub async fn connect(&self) -> Result<PostgresLedger, PostgresLedgerError> {
        PostgresLedger::connect(self.clone()).await
    }
}
