//! Artifacts (M3.1): name, version, SHA-256 digest, size, media type and build metadata.
//!
//! Decisions:
//! - Build metadata travels in [`ArtifactMeta::metadata`] under fixed keys ([`keys`]) so every
//!   [`ArtifactStore`] keeps it without knowing this type; [`BuildMetadata::from_map`] reads it
//!   back and ignores keys it does not know.
//! - Timestamps are RFC 3339 in UTC; a value that does not parse is reported, not dropped.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use release_core::digest::Sha256Digest;
use release_core::plugin::{ArtifactId, ArtifactMeta, ArtifactStore};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

use crate::error::{ArtifactError, Result};

/// The metadata keys build metadata is stored under.
pub mod keys {
    /// The commit built (`git` SHA).
    pub const COMMIT: &str = "commit";
    /// When the build started (RFC 3339).
    pub const BUILD_STARTED: &str = "build_started";
    /// When the build finished (RFC 3339).
    pub const BUILD_FINISHED: &str = "build_finished";
    /// The builder's id (a URI).
    pub const BUILDER_ID: &str = "builder_id";
    /// Where the source came from (a URI).
    pub const SOURCE_URI: &str = "source_uri";
    /// SHA-256 of the lockfile the build resolved dependencies from.
    pub const LOCKFILE_DIGEST: &str = "lockfile_digest";
}

/// How an artifact was built.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BuildMetadata {
    /// The commit built.
    pub commit: Option<String>,
    /// When the build started.
    pub build_started: Option<DateTime<Utc>>,
    /// When it finished.
    pub build_finished: Option<DateTime<Utc>>,
    /// The builder's id.
    pub builder_id: Option<String>,
    /// The source repository.
    pub source_uri: Option<String>,
    /// SHA-256 of the lockfile.
    pub lockfile_digest: Option<Sha256Digest>,
}

impl BuildMetadata {
    /// Metadata for a build of `commit` by `builder_id` from `source_uri`.
    pub fn new(
        commit: impl Into<String>,
        builder_id: impl Into<String>,
        source_uri: impl Into<String>,
    ) -> Self {
        Self {
            commit: Some(commit.into()),
            builder_id: Some(builder_id.into()),
            source_uri: Some(source_uri.into()),
            ..Self::default()
        }
    }

    /// With build start and finish times.
    pub fn with_times(mut self, started: DateTime<Utc>, finished: DateTime<Utc>) -> Self {
        self.build_started = Some(started);
        self.build_finished = Some(finished);
        self
    }

    /// With the lockfile's digest.
    pub fn with_lockfile_digest(mut self, digest: Sha256Digest) -> Self {
        self.lockfile_digest = Some(digest);
        self
    }

    /// The metadata map a store keeps.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put(keys::COMMIT, self.commit.clone());
        put(
            keys::BUILD_STARTED,
            self.build_started.map(|t| t.to_rfc3339()),
        );
        put(
            keys::BUILD_FINISHED,
            self.build_finished.map(|t| t.to_rfc3339()),
        );
        put(keys::BUILDER_ID, self.builder_id.clone());
        put(keys::SOURCE_URI, self.source_uri.clone());
        put(
            keys::LOCKFILE_DIGEST,
            self.lockfile_digest.map(|d| d.to_string()),
        );
        m
    }

    /// Reads build metadata back from a store's map; unknown keys are ignored.
    pub fn from_map(artifact: &str, map: &BTreeMap<String, String>) -> Result<Self> {
        let bad = |key: &str, v: &str, want: &str| ArtifactError::Parse {
            file: format!("metadata of {artifact}"),
            problem: format!("`{key}` is {v:?}, expected {want}"),
        };
        let time = |key: &str| -> Result<Option<DateTime<Utc>>> {
            map.get(key)
                .map(|v| {
                    DateTime::parse_from_rfc3339(v)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| bad(key, v, "an RFC 3339 time"))
                })
                .transpose()
        };
        Ok(Self {
            commit: map.get(keys::COMMIT).cloned(),
            build_started: time(keys::BUILD_STARTED)?,
            build_finished: time(keys::BUILD_FINISHED)?,
            builder_id: map.get(keys::BUILDER_ID).cloned(),
            source_uri: map.get(keys::SOURCE_URI).cloned(),
            lockfile_digest: map
                .get(keys::LOCKFILE_DIGEST)
                .map(|v| {
                    v.parse()
                        .map_err(|_| bad(keys::LOCKFILE_DIGEST, v, "sha256:<hex>"))
                })
                .transpose()?,
        })
    }
}

/// A stored artifact with its build metadata decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Artifact {
    /// Name and version.
    pub id: ArtifactId,
    /// SHA-256 of the bytes.
    pub digest: Sha256Digest,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// How it was built.
    pub build: BuildMetadata,
}

impl Artifact {
    /// Decodes a store's metadata.
    pub fn from_meta(meta: &ArtifactMeta) -> Result<Self> {
        Ok(Self {
            id: meta.id.clone(),
            digest: meta.digest,
            size: meta.size,
            media_type: meta.media_type.clone(),
            build: BuildMetadata::from_map(&label(&meta.id), &meta.metadata)?,
        })
    }
}

/// `name@version`, as messages write an artifact.
pub fn label(id: &ArtifactId) -> String {
    format!("{}@{}", id.name, id.version)
}

/// Publishes `data` under `id` with its build metadata: immutable, so identical bytes are a
/// no-op and other bytes under the same id are refused ([`ArtifactError::Conflict`] from this
/// crate's stores).
pub async fn publish(
    store: &dyn ArtifactStore,
    id: &ArtifactId,
    media_type: &str,
    build: &BuildMetadata,
    data: &mut (dyn AsyncRead + Send + Unpin),
) -> Result<Artifact> {
    let meta = store
        .put(id, media_type, &build.to_map(), data)
        .await
        .map_err(|e| recover(id, e))?;
    Artifact::from_meta(&meta)
}

/// Turns a store's core error back into this crate's error when it carries one.
pub(crate) fn recover(id: &ArtifactId, e: release_core::Error) -> ArtifactError {
    match e {
        release_core::Error::Plugin {
            plugin,
            message,
            retryable,
            source: Some(source),
        } => match source.downcast::<ArtifactError>() {
            Ok(inner) => *inner,
            Err(source) => ArtifactError::store(
                id,
                release_core::Error::Plugin {
                    plugin,
                    message,
                    retryable,
                    source: Some(source),
                },
            ),
        },
        other => ArtifactError::store(id, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn build_metadata_round_trips() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2026, 11, 1, 10, 5, 0).unwrap();
        let b = BuildMetadata::new(
            "abc123",
            "https://ci.example/builder",
            "git+https://example/repo",
        )
        .with_times(t0, t1)
        .with_lockfile_digest(Sha256Digest::of(b"lock"));
        let map = b.to_map();
        assert_eq!(map[keys::COMMIT], "abc123");
        assert_eq!(BuildMetadata::from_map("x@1", &map).unwrap(), b);
        let mut bad = map.clone();
        bad.insert(keys::BUILD_STARTED.into(), "yesterday".into());
        let err = BuildMetadata::from_map("x@1", &bad).unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }
}
