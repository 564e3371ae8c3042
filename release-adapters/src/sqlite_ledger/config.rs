//! The SQLite ledger's serde configuration.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SqliteLedger, SqliteLedgerError};

/// How SQLite syncs commits to disk (`PRAGMA synchronous`, in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Synchronous {
    /// fsync at checkpoints only: a power loss may lose the last commits, never corrupts.
    #[default]
    Normal,
    /// fsync the WAL on every commit: nothing acknowledged is lost.
    Full,
}

impl Synchronous {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Configuration of a [`SqliteLedger`], e.g. from YAML:
///
/// ```
/// use release_adapters::sqlite_ledger::{SqliteLedgerConfig, Synchronous};
/// let config: SqliteLedgerConfig =
///     serde_json::from_str(r#"{ "path": "ledger.db", "synchronous": "full" }"#).unwrap();
/// assert_eq!(config.synchronous, Synchronous::Full);
/// assert_eq!(config.max_batch, 256);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SqliteLedgerConfig {
    /// The database file (created when missing).
    pub path: PathBuf,
    /// Durability of a commit.
    #[serde(default)]
    pub synchronous: Synchronous,
    /// How long a connection waits for another process's write lock, in milliseconds.
    #[serde(default = "default_busy_timeout_ms")]
    pub busy_timeout_ms: u64,
    /// The most writes the writer thread commits in one transaction.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
}

fn default_busy_timeout_ms() -> u64 {
    5_000
}

fn default_max_batch() -> usize {
    256
}

impl SqliteLedgerConfig {
    /// Defaults for the file at `path`: `synchronous = NORMAL`, 5 s busy timeout, batches of
    /// up to 256 writes.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::default(),
            busy_timeout_ms: default_busy_timeout_ms(),
            max_batch: default_max_batch(),
        }
    }

    /// Sets the durability of a commit.
    pub fn with_synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// Sets how long to wait for another process's write lock.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the most writes committed in one transaction (at least 1).
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch;
        self
    }

    pub(crate) fn busy_timeout(&self) -> Duration {
        Duration::from_millis(self.busy_timeout_ms)
    }

    /// Opens (or creates) the ledger.
    pub fn open(&self) -> Result<SqliteLedger, SqliteLedgerError> {
        SqliteLedger::open(self.clone())
    }
}
