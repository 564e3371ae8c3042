//! The inventory's errors, and how they map into [`release_core::Error`].

use std::path::PathBuf;

use release_core::model::ReleaseId;

/// What went wrong in the inventory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// SQLite refused an operation.
    #[error("inventory {}: cannot {action}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        action: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer build.
    #[error(
        "inventory {} has schema version {found}, newer than version {supported} that this build knows; upgrade release-adapters, or point the inventory at another file",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The file's schema version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A stored value does not decode.
    #[error(
        "inventory {}: table `{table}` holds a corrupt value: {problem}; delete the file and sync it again from the ledger",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A record of a release whose `release_started` the inventory has not seen.
    #[error(
        "inventory: record {seq} of release {release} arrived before the release's start; sync the inventory from the ledger (`Inventory::sync`) or attach it with `Inventory::with_ledger`"
    )]
    UnknownRelease {
        /// The release.
        release: ReleaseId,
        /// The record's position.
        seq: u64,
    },
    /// Reading the ledger failed.
    #[error("inventory: cannot read the ledger: {0}")]
    Ledger(#[source] release_core::Error),
    /// A blocking task did not finish.
    #[error("inventory: a database task stopped: {0}")]
    Task(String),
}

impl InventoryError {
    /// True when the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Self::Ledger(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn sqlite(
        path: &std::path::Path,
        action: impl Into<String>,
    ) -> impl FnOnce(rusqlite::Error) -> Self {
        let path = path.to_owned();
        let action = action.into();
        move |source| Self::Sqlite {
            path,
            action,
            source,
        }
    }
}

impl From<InventoryError> for release_core::Error {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::Ledger(inner) => inner,
            other => release_core::Error::Plugin {
                plugin: "inventory".to_owned(),
                message: other.to_string(),
                retryable: other.is_retryable(),
                source: Some(Box::new(other)),
            },
        }
    }
}
