//! The crate's error: one `#[non_exhaustive]` enum whose variants name the artifact (or file),
//! the problem and the fix.
//!
//! Decisions:
//! - Every tamper case has its own variant, so a caller (and a test) can tell a corrupt blob
//!   ([`ArtifactError::DigestMismatch`]) from a changed provenance payload
//!   ([`ArtifactError::EnvelopeTampered`]), a bad signature ([`ArtifactError::SignatureInvalid`])
//!   and a changed snapshot ([`ArtifactError::SnapshotSignatureInvalid`]).
//! - Where a `release-core` trait requires [`release_core::Error`], the mapping keeps this error
//!   as the `source`, so [`ArtifactError::find`] gets the typed variant back.

use chrono::{DateTime, Utc};
use release_core::digest::Sha256Digest;

/// What went wrong with an artifact, its provenance, a snapshot, a policy input or access.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// No artifact under this name and version.
    #[error("artifact {artifact} not found; check the name and version, or publish it first")]
    NotFound {
        /// `name@version`.
        artifact: String,
    },
    /// A name or version that cannot be stored.
    #[error("artifact id {artifact:?} is invalid: {problem}; use a non-empty name and version")]
    InvalidId {
        /// `name@version` as given.
        artifact: String,
        /// What is wrong.
        problem: String,
    },
    /// The same name and version was published with other bytes.
    #[error(
        "artifact {artifact} is already stored with digest {stored}; these bytes have digest {offered}. \
         Artifacts are immutable: publish the new bytes under a new version"
    )]
    Conflict {
        /// `name@version`.
        artifact: String,
        /// The stored digest.
        stored: Sha256Digest,
        /// The digest of the refused bytes.
        offered: Sha256Digest,
    },
    /// The bytes read back do not hash to the recorded digest.
    #[error(
        "artifact {artifact} reads back with digest {actual} but was recorded with {expected}: the copy is corrupt or \
         tampered; nothing complete was handed out — restore the artifact from its source"
    )]
    DigestMismatch {
        /// `name@version`.
        artifact: String,
        /// The recorded digest.
        expected: Sha256Digest,
        /// What the bytes hash to.
        actual: Sha256Digest,
    },
    /// Reading or writing the store failed.
    #[error("{doing} artifact {artifact} failed: {source}; check the store's disk and permissions")]
    Io {
        /// `name@version` (or the path).
        artifact: String,
        /// What was being done (`writing`).
        doing: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A DSSE envelope or in-toto statement that cannot be decoded.
    #[error(
        "envelope for {artifact} is malformed: {problem}; re-export the provenance from the builder"
    )]
    EnvelopeMalformed {
        /// What it was for.
        artifact: String,
        /// What is wrong.
        problem: String,
    },
    /// The envelope's payload differs from the one a signed snapshot pinned.
    #[error(
        "provenance payload for {artifact} has digest {actual}, but the signed snapshot pins {expected}: the envelope \
         was changed after signing; fetch the original envelope"
    )]
    EnvelopeTampered {
        /// `name@version`.
        artifact: String,
        /// The pinned payload digest.
        expected: Sha256Digest,
        /// The payload's digest.
        actual: Sha256Digest,
    },
    /// A signature by a trusted key does not verify.
    #[error(
        "signature by key {keyid} over the provenance of {artifact} does not verify: the signature or the payload was \
         changed; refuse the artifact and fetch the original envelope"
    )]
    SignatureInvalid {
        /// What was signed.
        artifact: String,
        /// The key id.
        keyid: String,
    },
    /// No signature is by a trusted key.
    #[error(
        "{what} is signed only by untrusted keys {keyids:?}; add the builder's key to the trusted keys"
    )]
    UntrustedKey {
        /// What was signed.
        what: String,
        /// The key ids found.
        keyids: Vec<String>,
    },
    /// The statement carries another predicate type than the policy requires.
    #[error("provenance of {artifact} has predicate type {found}, the policy requires {expected}")]
    PredicateType {
        /// `name@version`.
        artifact: String,
        /// Required.
        expected: String,
        /// Found.
        found: String,
    },
    /// No statement subject carries the artifact's digest.
    #[error(
        "provenance does not cover artifact {artifact} with digest {digest} (subjects: {subjects:?}); the provenance \
         belongs to other bytes"
    )]
    SubjectMismatch {
        /// `name@version`.
        artifact: String,
        /// The artifact's digest.
        digest: Sha256Digest,
        /// The subject digests found.
        subjects: Vec<String>,
    },
    /// The provenance names another builder than the policy expects.
    #[error("artifact {artifact} was built by {found}, the policy expects builder {expected}")]
    BuilderMismatch {
        /// `name@version`.
        artifact: String,
        /// Expected builder id.
        expected: String,
        /// Found builder id.
        found: String,
    },
    /// The snapshot's signature does not verify.
    #[error(
        "release snapshot (version {version}) signature by key {keyid} does not verify: the snapshot was changed after \
         signing; fetch it again from the signer"
    )]
    SnapshotSignatureInvalid {
        /// The version the (changed) snapshot claims, if readable.
        version: String,
        /// The key id.
        keyid: String,
    },
    /// A snapshot older than (or different at the same version as) the one already trusted.
    #[error(
        "release snapshot version {offered} is a rollback: version {trusted} is already trusted; only a newer \
         snapshot is accepted"
    )]
    SnapshotRollback {
        /// Trusted version.
        trusted: u64,
        /// Offered version.
        offered: u64,
    },
    /// The snapshot has expired (a freeze attack or a stale signer).
    #[error(
        "release snapshot version {version} expired at {expires} (now {now}); ask the signer for a fresh snapshot"
    )]
    SnapshotExpired {
        /// Version.
        version: u64,
        /// Expiry.
        expires: DateTime<Utc>,
        /// The time checked.
        now: DateTime<Utc>,
    },
    /// An artifact that is not the one the current snapshot lists (mix-and-match).
    #[error(
        "artifact {artifact} with digest {digest} is not in release snapshot version {snapshot} ({listed}); artifacts \
         of one release must come from one snapshot"
    )]
    NotInSnapshot {
        /// `name@version`.
        artifact: String,
        /// Its digest.
        digest: Sha256Digest,
        /// The snapshot version.
        snapshot: u64,
        /// What the snapshot lists for the name.
        listed: String,
    },
    /// A principal lacks a permission.
    #[error(
        "{principal} may not {permission} {artifact}; ask an administrator for a role that grants it"
    )]
    AccessDenied {
        /// Who.
        principal: String,
        /// What (`publish`, `promote to production`).
        permission: String,
        /// On what.
        artifact: String,
    },
    /// A lockfile, SBOM or policy file that cannot be parsed.
    #[error("{file} cannot be read: {problem}")]
    Parse {
        /// The file (or format).
        file: String,
        /// What is wrong, where, and the fix.
        problem: String,
    },
    /// The ledger refused to record evidence.
    #[error("recording {what} in the ledger failed: {source}")]
    Ledger {
        /// What was being recorded.
        what: String,
        /// The cause.
        #[source]
        source: release_core::Error,
    },
    /// The HTML report of a release cannot be drawn.
    #[error(
        "cannot draw the report of release {release}: {problem}; pass the release's whole journal"
    )]
    Report {
        /// The release.
        release: String,
        /// What went wrong.
        problem: String,
    },
    /// An evidence bundle cannot be assembled from what was given.
    #[error("cannot bundle {what}: {problem}; {fix}")]
    BundleInput {
        /// What was given (`the journal`, `member path "logs/../x"`).
        what: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// An evidence bundle that cannot be read at all.
    #[error("evidence bundle is malformed: {problem}; re-export the bundle from its source")]
    BundleMalformed {
        /// What is wrong.
        problem: String,
    },
    /// An evidence bundle that does not verify: every problem found.
    #[cfg(feature = "bundle")]
    #[error(
        "evidence bundle of release {release} does not verify: {}; refuse it and fetch the original bundle",
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    BundleInvalid {
        /// The release the manifest names.
        release: String,
        /// Everything found wrong, signature first, then members, then the journal.
        problems: Vec<crate::bundle::BundleProblem>,
    },
    /// The store failed with a core error.
    #[error("store failed for {artifact}: {source}")]
    Store {
        /// `name@version`.
        artifact: String,
        /// The cause.
        #[source]
        source: release_core::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = ArtifactError> = std::result::Result<T, E>;

/// The name used for this crate's plugins in [`release_core::Error::Plugin`].
pub const PLUGIN: &str = "release-artifacts";

impl ArtifactError {
    /// True when the same call may succeed if tried again (I/O that may be transient).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            Self::Store { source, .. } | Self::Ledger { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// The typed error inside a [`release_core::Error`] produced by this crate, if any.
    pub fn find(err: &release_core::Error) -> Option<&ArtifactError> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
        while let Some(e) = cur {
            if let Some(found) = e.downcast_ref::<ArtifactError>() {
                return Some(found);
            }
            cur = e.source();
        }
        None
    }

    pub(crate) fn store(
        artifact: &release_core::plugin::ArtifactId,
        source: release_core::Error,
    ) -> Self {
        match source {
            release_core::Error::NotFound { .. } => Self::NotFound {
                artifact: crate::artifact::label(artifact),
            },
            other => Self::Store {
                artifact: crate::artifact::label(artifact),
                source: other,
            },
        }
    }
}

impl From<ArtifactError> for release_core::Error {
    fn from(e: ArtifactError) -> Self {
        match e {
            ArtifactError::NotFound { artifact } => release_core::Error::not_found(
                format!("artifact {artifact}"),
                "check the name and version, or publish it first",
            ),
            ArtifactError::Store { source, .. } => source,
            other => release_core::Error::Plugin {
                plugin: PLUGIN.to_owned(),
                message: other.to_string(),
                retryable: other.is_retryable(),
                source: Some(Box::new(other)),
            },
        }
    }
}
