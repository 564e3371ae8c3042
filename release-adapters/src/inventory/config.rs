//! The inventory's serde configuration.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Inventory, InventoryError};

/// Configuration of an [`Inventory`], e.g. from YAML:
///
/// ```
/// use release_adapters::inventory::InventoryConfig;
/// let config: InventoryConfig = serde_json::from_str(r#"{ "path": "inventory.db" }"#).unwrap();
/// assert_eq!(config.busy_timeout_ms, 5_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InventoryConfig {
    /// The database file (created when missing).
    pub path: PathBuf,
    /// How long to wait for another connection's write lock, in milliseconds.
    #[serde(default = "default_busy_timeout_ms")]
    pub busy_timeout_ms: u64,
}

fn default_busy_timeout_ms() -> u64 {
    5_000
}

impl InventoryConfig {
    /// Defaults for the file at `path` (5 s busy timeout).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            busy_timeout_ms: default_busy_timeout_ms(),
        }
    }

    /// Sets how long to wait for another connection's write lock.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Opens (or creates) the inventory.
    pub fn open(&self) -> Result<Inventory, InventoryError> {
        Inventory::open(self.clone())
    }
}
