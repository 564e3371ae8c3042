//! The database adapters' errors, and how they map into [`release_core::Error`].

/// What went wrong migrating, rehearsing, backing up or restoring a database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// SQLite refused an operation.
    #[error("SQLite database {database}: cannot {action}: {source}")]
    Sqlite {
        /// The database file.
        database: String,
        /// What was being done.
        action: String,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL refused an operation.
    #[error("PostgreSQL database {database}: cannot {action}: {source}")]
    Postgres {
        /// The database name.
        database: String,
        /// What was being done.
        action: String,
        /// The driver's error (with the server's SQLSTATE and message when it has one).
        #[source]
        source: tokio_postgres::Error,
    },
    /// A file could not be read, written or removed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A statement of a migration failed; the migration was rolled back.
    #[error(
        "{database}: migration V{version:03} failed at {file}:{line}: {message}; the migration was rolled back, fix it and run again"
    )]
    Statement {
        /// The database.
        database: String,
        /// The migration's version.
        version: u64,
        /// Its file.
        file: String,
        /// The statement's line.
        line: u32,
        /// What the database said.
        message: String,
    },
    /// An applied migration's recorded checksum differs from its file's.
    #[error(
        "{database}: V{version:03} was applied with checksum {recorded}, but {file} now has {expected}; an applied migration must not change — restore the file and add a new migration instead"
    )]
    ChecksumMismatch {
        /// The database.
        database: String,
        /// The version.
        version: u64,
        /// The file.
        file: String,
        /// The checksum in the database's history.
        recorded: String,
        /// The file's checksum.
        expected: String,
    },
    /// The database has an applied version the set does not know.
    #[error(
        "{database}: V{version:03} is applied but not in the migration set; the set is older than the database — deploy the set that applied it"
    )]
    UnknownApplied {
        /// The database.
        database: String,
        /// The version.
        version: u64,
    },
    /// A pending migration is older than the newest applied one.
    #[error(
        "{database}: V{version:03} is pending but V{applied:03} is already applied; renumber it above V{applied:03}"
    )]
    OutOfOrder {
        /// The database.
        database: String,
        /// The pending version.
        version: u64,
        /// The newest applied version.
        applied: u64,
    },
    /// A migration left rows that break referential integrity; it was rolled back.
    #[error(
        "{database}: migration V{version:03} breaks referential integrity ({violations}); it was rolled back — fix the migration (rehearse it on a clone first)"
    )]
    ForeignKeys {
        /// The database.
        database: String,
        /// The migration.
        version: u64,
        /// What was found.
        violations: String,
    },
    /// A template clone was blocked by other sessions on the source database.
    #[error(
        "PostgreSQL database {database} has {sessions} other session(s) ({applications}), so it cannot be a template; stop them, or set `clone: dump` (or `auto`) to clone with pg_dump"
    )]
    SourceBusy {
        /// The source database.
        database: String,
        /// How many other sessions.
        sessions: i64,
        /// Their application names.
        applications: String,
    },
    /// An external tool (`pg_dump`, `pg_restore`) failed.
    #[error(
        "{tool} failed ({status}): {stderr}; check that it is installed and matches the server's version"
    )]
    Tool {
        /// The tool.
        tool: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr (the last lines).
        stderr: String,
    },
    /// A backup id does not name a file of this backup directory.
    #[error(
        "backup id `{id}` is not a backup file name of this adapter; the record was not written by it, or was altered"
    )]
    BadBackupId {
        /// The id.
        id: String,
    },
    /// The configuration cannot work.
    #[error("invalid database adapter configuration: {0}")]
    Config(String),
}

impl DataError {
    /// True when the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Self::Postgres { source, .. } => {
                source.is_closed()
                    || source.as_db_error().is_none()
                    || source.code().is_some_and(|c| {
                        c.code().starts_with("08")
                            || c == &tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                            || c == &tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                    })
            }
            Self::SourceBusy { .. } => true,
            _ => false,
        }
    }
}

impl From<DataError> for release_core::Error {
    fn from(e: DataError) -> Self {
        Self::Plugin {
            plugin: "database".to_owned(),
            message: e.to_string(),
            retryable: e.is_retryable(),
            source: Some(Box::new(e)),
        }
    }
}
