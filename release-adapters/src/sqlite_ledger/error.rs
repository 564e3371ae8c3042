//! The SQLite ledger's errors, and how they map into [`release_core::Error`].

use std::path::PathBuf;

/// What went wrong in the SQLite ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteLedgerError {
    /// SQLite refused an operation.
    #[error("SQLite ledger {}: cannot {action}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        action: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer build with a schema this one does not know.
    #[error(
        "SQLite ledger {} has schema version {found}, newer than version {supported} that this build knows; upgrade release-adapters, or point the ledger at another file",
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
    /// A stored record does not decode or disagrees with its columns.
    #[error(
        "SQLite ledger {}: record {seq} of release {release} is corrupt: {problem}; restore the file from a backup",
        path.display()
    )]
    CorruptRecord {
        /// The database file.
        path: PathBuf,
        /// The release.
        release: String,
        /// The record's position.
        seq: i64,
        /// What is wrong.
        problem: String,
    },
    /// The writer thread is gone (it could not start or it stopped).
    #[error("SQLite ledger {}: the writer thread stopped; reopen the ledger", path.display())]
    WriterStopped {
        /// The database file.
        path: PathBuf,
    },
    /// The configuration cannot work.
    #[error("invalid SQLite ledger configuration: {0}")]
    Config(String),
}

impl SqliteLedgerError {
    /// True when the same call may succeed if tried again (another process held the lock).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
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

impl From<SqliteLedgerError> for release_core::Error {
    fn from(e: SqliteLedgerError) -> Self {
        match e {
            SqliteLedgerError::CorruptRecord {
                path,
                release,
                seq,
                problem,
            } => Self::Tampered {
                release: release.into(),
                seq: u64::try_from(seq).unwrap_or(0),
                problem: format!("the row in {} is corrupt: {problem}", path.display()),
            },
            other => Self::Plugin {
                plugin: "sqlite-ledger".to_owned(),
                message: other.to_string(),
                retryable: other.is_retryable(),
                source: Some(Box::new(other)),
            },
        }
    }
}
