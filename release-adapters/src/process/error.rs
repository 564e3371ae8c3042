//! The local-process target's errors, mapped into [`release_core::Error`].

use std::path::PathBuf;

/// What went wrong managing local processes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The release directory of a version does not exist.
    #[error(
        "release {version} is not unpacked: {} does not exist; unpack the artifact there first",
        path.display()
    )]
    MissingRelease {
        /// The version.
        version: String,
        /// The directory looked for.
        path: PathBuf,
    },
    /// A name cannot be used as a directory or file name.
    #[error(
        "{what} `{name}` cannot be used as a file name; use letters, digits, `.`, `_` and `-` only"
    )]
    InvalidName {
        /// What the name is (`slot`, `configuration file`).
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `write`, `read`).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A process could not be started.
    #[error("cannot start `{command}` for replica {replica} of slot {slot}: {source}")]
    Spawn {
        /// The program.
        command: String,
        /// The slot.
        slot: String,
        /// The replica index.
        replica: u32,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A replica exited before it became ready.
    #[error(
        "replica {replica} of slot {slot} exited before it was ready ({status}); see {}",
        log.display()
    )]
    Exited {
        /// The slot.
        slot: String,
        /// The replica index.
        replica: u32,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
    },
    /// No free port is left in the configured range.
    #[error("no free port in 127.0.0.1:{start}-{end}; widen the port range")]
    NoFreePort {
        /// First port.
        start: u16,
        /// Last port.
        end: u16,
    },
    /// The configuration names secrets but the engine passed no resolved configuration.
    #[error(
        "slot {slot}'s configuration references secrets but no resolved configuration was passed; configure a secret provider"
    )]
    UnresolvedSecrets {
        /// The slot.
        slot: String,
    },
    /// A state file could not be encoded or decoded.
    #[error("state file {} is unreadable: {source}; delete it to forget the slot", path.display())]
    State {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl ProcessError {
    /// True when trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Io { .. } | Self::Exited { .. } | Self::NoFreePort { .. }
        )
    }
}

impl From<ProcessError> for release_core::Error {
    fn from(e: ProcessError) -> Self {
        match e {
            ProcessError::MissingRelease { .. } => release_core::Error::not_found(
                e.to_string(),
                "unpack the release's artifact under the target's root",
            ),
            ProcessError::InvalidName { .. } | ProcessError::UnresolvedSecrets { .. } => {
                release_core::Error::Invalid(e.to_string())
            }
            other => release_core::Error::Plugin {
                plugin: "process".to_owned(),
                message: other.to_string(),
                retryable: other.is_retryable(),
                source: Some(Box::new(other)),
            },
        }
    }
}
