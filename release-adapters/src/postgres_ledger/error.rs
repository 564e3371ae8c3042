//! The PostgreSQL ledger's errors, and how they map into [`release_core::Error`].

/// What went wrong in the PostgreSQL ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresLedgerError {
    /// No connection could be had from the pool.
    #[error("PostgreSQL ledger: no connection to the database: {source}")]
    Pool {
        /// The pool's error.
        #[source]
        source: deadpool_postgres::PoolError,
    },
    /// The database refused a statement.
    #[error("PostgreSQL ledger: cannot {action}: {source}")]
    Db {
        /// What was being done.
        action: String,
        /// The driver's error (with the server's SQLSTATE when it has one).
        #[source]
        source: tokio_postgres::Error,
    },
    /// The schema was written by a newer build.
    #[error(
        "PostgreSQL ledger schema `{schema}` has version {found}, newer than version {supported} that this build knows; upgrade release-adapters, or configure another schema"
    )]
    NewerSchema {
        /// The schema.
        schema: String,
        /// Its version.
        found: i32,
        /// The newest version this build knows.
        supported: i32,
    },
    /// A stored record does not decode or disagrees with its columns.
    #[error(
        "PostgreSQL ledger schema `{schema}`: record {seq} of release {release} is corrupt: {problem}; restore it from a backup"
    )]
    CorruptRecord {
        /// The schema.
        schema: String,
        /// The release.
        release: String,
        /// The record's position.
        seq: i64,
        /// What is wrong.
        problem: String,
    },
    /// The configuration cannot work.
    #[error("invalid PostgreSQL ledger configuration: {0}")]
    Config(String),
}

impl PostgresLedgerError {
    /// True when the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            Self::Pool { .. } => true,
            Self::Db { source, .. } => {
                source.is_closed()
                    || source.code().is_some_and(|code| {
                        code == &SqlState::T_R_SERIALIZATION_FAILURE
                            || code == &SqlState::T_R_DEADLOCK_DETECTED
                            || code == &SqlState::ADMIN_SHUTDOWN
                            || code == &SqlState::TOO_MANY_CONNECTIONS
                            || code.code().starts_with("08")
                    })
                    // No SQLSTATE: the connection broke (I/O), not the statement.
                    || source.as_db_error().is_none()
            }
            _ => false,
        }
    }

    pub(crate) fn db(action: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let action = action.into();
        move |source| Self::Db { action, source }
    }
}

impl From<deadpool_postgres::PoolError> for PostgresLedgerError {
    fn from(source: deadpool_postgres::PoolError) -> Self {
        Self::Pool { source }
    }
}

impl From<PostgresLedgerError> for release_core::Error {
    fn from(e: PostgresLedgerError) -> Self {
        match e {
            PostgresLedgerError::CorruptRecord {
                schema,
                release,
                seq,
                problem,
            } => Self::Tampered {
                release: release.into(),
                seq: u64::try_from(seq).unwrap_or(0),
                problem: format!("its row in PostgreSQL schema `{schema}` is corrupt: {problem}"),
            },
            other => Self::Plugin {
                plugin: "postgres-ledger".to_owned(),
                message: other.to_string(),
                retryable: other.is_retryable(),
                source: Some(Box::new(other)),
            },
        }
    }
}
