//! The directory backup's errors, and how they map into [`release_core::Error`].

use std::path::PathBuf;

use release_core::digest::Sha256Digest;

const PLUGIN: &str = "directory-backup";

/// What went wrong backing up or restoring a directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryBackupError {
    /// The request names a resource the configuration does not list.
    #[error(
        "directory backup: no directory is configured for resource `{resource}` (configured: {}); add it under `directories` in the backup configuration",
        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
    )]
    UnknownResource {
        /// The resource asked for.
        resource: String,
        /// The resources configured.
        known: Vec<String>,
    },
    /// An environment or resource name cannot be a directory name in the store.
    #[error(
        "directory backup: {what} `{name}` cannot name a directory in the store; use a name without `/`, NUL, and other than `.` or `..`"
    )]
    BadName {
        /// `environment` or `resource`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A file system operation failed.
    #[error("directory backup: cannot {action} {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The live path is not a directory.
    #[error("directory backup: {} is not a directory; point the resource at a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The tree holds a file that cannot be backed up.
    #[error(
        "directory backup: {} is a {kind}, which cannot be backed up; move it out of the backed-up directory",
        path.display()
    )]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it is (`socket`, `FIFO`, `device`).
        kind: &'static str,
    },
    /// The store lies inside the directory to back up, so a snapshot would copy itself.
    #[error(
        "directory backup: the store {} is inside the backed-up directory {}; move the store elsewhere",
        store.display(), live.display()
    )]
    StoreInsideLive {
        /// The store.
        store: PathBuf,
        /// The live directory.
        live: PathBuf,
    },
    /// The store holds no backup with this id.
    #[error(
        "directory backup `{id}` is not in the store {}; take a backup first, or check the record's id (ids look like `<environment>/<resource>/<stamp>-<n>`)",
        store.display()
    )]
    UnknownBackup {
        /// The id asked for.
        id: String,
        /// The store.
        store: PathBuf,
    },
    /// The stored copy does not hash to the record's digest.
    #[error(
        "directory backup `{id}` does not match its record: expected {expected}, found {found}; the stored copy was changed or the record was edited — restore from another backup"
    )]
    DigestMismatch {
        /// The backup.
        id: String,
        /// The digest in the record.
        expected: Sha256Digest,
        /// The digest found.
        found: Sha256Digest,
    },
    /// The record stored beside a backup does not decode or disagrees with the one given.
    #[error("directory backup `{id}`: {problem}")]
    BadRecord {
        /// The backup.
        id: String,
        /// What is wrong.
        problem: String,
    },
    /// A blocking task did not finish.
    #[error("directory backup: a file system task stopped: {0}")]
    Task(String),
}

impl DirectoryBackupError {
    pub(crate) fn io(
        path: &std::path::Path,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            path,
            action,
            source,
        }
    }
}

impl From<DirectoryBackupError> for release_core::Error {
    fn from(e: DirectoryBackupError) -> Self {
        match e {
            DirectoryBackupError::UnknownBackup { id, store } => release_core::Error::not_found(
                format!("directory backup `{id}` in store {}", store.display()),
                "take a backup first, or check the record's id (ids look like `<environment>/<resource>/<stamp>-<n>`)",
            ),
            DirectoryBackupError::UnknownResource { .. } | DirectoryBackupError::BadName { .. } => {
                release_core::Error::Invalid(e.to_string())
            }
            other => {
                let retryable = matches!(
                    &other,
                    DirectoryBackupError::Io { source, .. }
                        if matches!(source.kind(), std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock)
                );
                release_core::Error::Plugin {
                    plugin: PLUGIN.to_owned(),
                    message: other.to_string(),
                    retryable,
                    source: Some(Box::new(other)),
                }
            }
        }
    }
}
