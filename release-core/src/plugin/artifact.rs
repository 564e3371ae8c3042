//! Artifact stores: immutable, content-addressed, digest-verified on every read.
//! release-artifacts implements them; the conformance suite lives in the testkit.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::digest::Sha256Digest;
use crate::error::Result;

/// Name and version of an artifact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ArtifactId {
    /// The name (`orders-api`).
    pub name: String,
    /// The version.
    pub version: String,
}

impl ArtifactId {
    /// `name` at `version`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
        }
    }
}

/// What a store knows about one artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArtifactMeta {
    /// Name and version.
    pub id: ArtifactId,
    /// SHA-256 of the bytes.
    pub digest: Sha256Digest,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// Build metadata (commit, builder, source, lockfile digest…).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl ArtifactMeta {
    /// Metadata for `id` with this digest and size.
    pub fn new(
        id: ArtifactId,
        digest: Sha256Digest,
        size: u64,
        media_type: impl Into<String>,
    ) -> Self {
        Self {
            id,
            digest,
            size,
            media_type: media_type.into(),
            metadata: BTreeMap::new(),
        }
    }
}

/// Stores artifacts. The same name and version with other bytes is refused; identical bytes
/// are a no-op.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Stores the bytes read from `data` under `id`.
    async fn put(
        &self,
        id: &ArtifactId,
        media_type: &str,
        metadata: &BTreeMap<String, String>,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<ArtifactMeta>;

    /// Copies the artifact into `sink`, verifying its digest in the same pass; on a
    /// mismatch it fails (and the caller must discard what was written).
    async fn get(
        &self,
        id: &ArtifactId,
        sink: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<ArtifactMeta>;

    /// Metadata of one artifact, if stored.
    async fn stat(&self, id: &ArtifactId) -> Result<Option<ArtifactMeta>>;

    /// Every artifact, or those of one name, sorted by name then version.
    async fn list(&self, name: Option<&str>) -> Result<Vec<ArtifactMeta>>;

    /// Deletes one artifact; true when it existed.
    async fn delete(&self, id: &ArtifactId) -> Result<bool>;
}

fn _assert_object_safe(_: &dyn ArtifactStore) {}
