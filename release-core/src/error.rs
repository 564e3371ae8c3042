//! The error every plugin trait and the engine return.
//!
//! One `#[non_exhaustive]` enum for the crate (object_store's shape): each plugin maps its
//! private errors into it, keeping the cause as `source`. Callers match on
//! [`Error::kind`] instead of parsing text, and the engine reads [`Error::is_retryable`].

use crate::id::{ComponentId, EnvironmentName, ReleaseId};

/// A boxed error cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a plugin or the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The thing asked for does not exist.
    #[error("{what} not found; {fix}")]
    NotFound {
        /// What was looked for (`release shop-1.0`, `slot canary of web in staging`).
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// A plugin could not do what was asked, for now or for good.
    #[error("{plugin}: {message}")]
    Plugin {
        /// The plugin's registered name.
        plugin: String,
        /// What it said.
        message: String,
        /// True when trying again may succeed.
        retryable: bool,
        /// The cause.
        #[source]
        source: Option<BoxError>,
    },
    /// A plugin replied with something that breaks its contract.
    #[error("{plugin} replied with an invalid answer: {message}")]
    InvalidReply {
        /// The plugin's registered name.
        plugin: String,
        /// What was wrong.
        message: String,
    },
    /// An operation did not finish in time.
    #[error("{what} did not finish within {seconds} s; raise the deadline or look at why it hangs")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The deadline.
        seconds: u64,
    },
    /// A lock is held by someone else.
    #[error(
        "lock `{lock}` is held by `{holder}` until {until}; wait, or ask the holder to release it"
    )]
    LockHeld {
        /// The lock.
        lock: String,
        /// Who holds it.
        holder: String,
        /// When the lease runs out.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// A write carried a fencing token older than the lock's current one.
    #[error(
        "fencing token {token} for lock `{lock}` is stale (current: {current}); this engine lost its lease and must stop"
    )]
    StaleFence {
        /// The lock.
        lock: String,
        /// The token presented.
        token: u64,
        /// The lock's current token.
        current: u64,
    },
    /// The ledger's hash chain is broken.
    #[error("ledger of release {release} is tampered at record {seq}: {problem}")]
    Tampered {
        /// The release whose chain is broken.
        release: ReleaseId,
        /// The first bad record.
        seq: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// A deployment step failed: no convergence, a failed probe or analysis.
    #[error("{component} in {environment}: {message}")]
    Deployment {
        /// The component.
        component: ComponentId,
        /// The environment.
        environment: EnvironmentName,
        /// What the target said.
        message: String,
    },
    /// An operator action does not fit the release's state.
    #[error("cannot {action} release {release}: {reason}")]
    InvalidAction {
        /// The action (`approve`, `resume`).
        action: String,
        /// The release.
        release: ReleaseId,
        /// Why not.
        reason: String,
    },
    /// The manifest or plan handed to the engine is invalid.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A record could not be encoded or decoded.
    #[error("cannot encode or decode {what}: {message}")]
    Codec {
        /// What was being encoded.
        what: String,
        /// The codec's message.
        message: String,
    },
}

/// The kind of an [`Error`], for matching without the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::NotFound`]
    NotFound,
    /// [`Error::Plugin`]
    Plugin,
    /// [`Error::InvalidReply`]
    InvalidReply,
    /// [`Error::Timeout`]
    Timeout,
    /// [`Error::LockHeld`]
    LockHeld,
    /// [`Error::StaleFence`]
    StaleFence,
    /// [`Error::Tampered`]
    Tampered,
    /// [`Error::Deployment`]
    Deployment,
    /// [`Error::InvalidAction`]
    InvalidAction,
    /// [`Error::Invalid`]
    Invalid,
    /// [`Error::Codec`]
    Codec,
}

impl Error {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Plugin { .. } => ErrorKind::Plugin,
            Self::InvalidReply { .. } => ErrorKind::InvalidReply,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::LockHeld { .. } => ErrorKind::LockHeld,
            Self::StaleFence { .. } => ErrorKind::StaleFence,
            Self::Tampered { .. } => ErrorKind::Tampered,
            Self::Deployment { .. } => ErrorKind::Deployment,
            Self::InvalidAction { .. } => ErrorKind::InvalidAction,
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::Codec { .. } => ErrorKind::Codec,
        }
    }

    /// True when the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Plugin { retryable, .. } => *retryable,
            Self::Timeout { .. } | Self::LockHeld { .. } => true,
            _ => false,
        }
    }

    /// A plugin error that trying again may cure.
    pub fn transient(plugin: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Plugin {
            plugin: plugin.into(),
            message: message.into(),
            retryable: true,
            source: None,
        }
    }

    /// A plugin error that trying again will not cure.
    pub fn permanent(plugin: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Plugin {
            plugin: plugin.into(),
            message: message.into(),
            retryable: false,
            source: None,
        }
    }

    /// A not-found error with a fix.
    pub fn not_found(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::NotFound {
            what: what.into(),
            fix: fix.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
