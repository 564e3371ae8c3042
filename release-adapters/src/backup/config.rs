//! The directory backup's serde configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{DirectoryBackup, DirectoryBackupError};

/// Configuration of a [`DirectoryBackup`], e.g. from YAML:
///
/// ```
/// use release_adapters::backup::DirectoryBackupConfig;
/// let config: DirectoryBackupConfig = serde_json::from_str(
///     r#"{ "store": "/var/backups/release",
///          "directories": { "uploads": "/srv/{environment}/uploads" } }"#,
/// ).unwrap();
/// assert_eq!(config.directories.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DirectoryBackupConfig {
    /// Where backups are kept (created when missing).
    pub store: PathBuf,
    /// The directories that may be backed up and restored: resource name → live path;
    /// `{environment}` in a path is replaced by the request's environment.
    #[serde(default)]
    pub directories: BTreeMap<String, PathBuf>,
}

impl DirectoryBackupConfig {
    /// A store at `store` with no directories yet.
    pub fn new(store: impl Into<PathBuf>) -> Self {
        Self {
            store: store.into(),
            directories: BTreeMap::new(),
        }
    }

    /// Adds a directory under a resource name.
    pub fn with_directory(mut self, resource: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.directories.insert(resource.into(), path.into());
        self
    }

    /// Checks the configuration and creates the store directory.
    pub fn build(&self) -> Result<DirectoryBackup, DirectoryBackupError> {
        DirectoryBackup::new(self.clone())
    }
}
