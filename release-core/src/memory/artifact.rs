//! The in-memory, content-addressed artifact store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::digest::{Sha256, Sha256Digest};
use crate::error::{Error, Result};
use crate::plugin::{ArtifactId, ArtifactMeta, ArtifactStore};

use super::lock;

const PLUGIN: &str = "memory-artifact-store";
/// Reads and writes go in chunks of this size, hashing in the same pass.
const CHUNK: usize = 64 * 1024;

/// Metadata and bytes of one stored artifact.
type Stored = (ArtifactMeta, Arc<[u8]>);

/// An [`ArtifactStore`] in memory, content-addressed by SHA-256.
///
/// Putting the same id with identical bytes is a no-op that returns the stored metadata
/// (the first put's media type and metadata stay); other bytes under a stored id are refused
/// with a permanent [`Error::Plugin`] naming both digests. `get` hashes while it copies and
/// fails on a mismatch, which [`InMemoryArtifactStore::tamper`] lets a test provoke.
#[derive(Default)]
pub struct InMemoryArtifactStore {
    artifacts: Mutex<BTreeMap<ArtifactId, Stored>>,
}

impl std::fmt::Debug for InMemoryArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryArtifactStore")
            .finish_non_exhaustive()
    }
}

impl InMemoryArtifactStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the stored bytes of `id` without updating its digest, as disk corruption or
    /// an attacker would; true when `id` was stored. For tests of digest verification.
    pub fn tamper(&self, id: &ArtifactId, bytes: impl Into<Vec<u8>>) -> bool {
        let mut artifacts = lock(&self.artifacts);
        match artifacts.get_mut(id) {
            Some(entry) => {
                entry.1 = Arc::from(bytes.into());
                true
            }
            None => false,
        }
    }
}

fn io_error(id: &ArtifactId, doing: &str, e: std::io::Error) -> Error {
    Error::Plugin {
        plugin: PLUGIN.to_owned(),
        message: format!("{doing} artifact {}@{} failed", id.name, id.version),
        retryable: false,
        source: Some(Box::new(e)),
    }
}

#[async_trait]
impl ArtifactStore for InMemoryArtifactStore {
    async fn put(
        &self,
        id: &ArtifactId,
        media_type: &str,
        metadata: &BTreeMap<String, String>,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<ArtifactMeta> {
        let mut bytes = Vec::new();
        let mut hasher = <Sha256 as sha2::Digest>::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = data
                .read(&mut buf)
                .await
                .map_err(|e| io_error(id, "reading", e))?;
            if n == 0 {
                break;
            }
            sha2::Digest::update(&mut hasher, &buf[..n]);
            bytes.extend_from_slice(&buf[..n]);
        }
        let digest = Sha256Digest::from_hasher(hasher);
        let mut artifacts = lock(&self.artifacts);
        if let Some((meta, _)) = artifacts.get(id) {
            if meta.digest == digest {
                return Ok(meta.clone());
            }
            return Err(Error::permanent(
                PLUGIN,
                format!(
                    "artifact {}@{} is already stored with digest {}; these bytes have digest {digest}. \
                     Artifacts are immutable: publish the new bytes under a new version",
                    id.name, id.version, meta.digest
                ),
            ));
        }
        let mut meta = ArtifactMeta::new(id.clone(), digest, bytes.len() as u64, media_type);
        meta.metadata = metadata.clone();
        artifacts.insert(id.clone(), (meta.clone(), Arc::from(bytes)));
        Ok(meta)
    }

    async fn get(
        &self,
        id: &ArtifactId,
        sink: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<ArtifactMeta> {
        let (meta, bytes) = lock(&self.artifacts).get(id).cloned().ok_or_else(|| {
            Error::not_found(
                format!("artifact {}@{}", id.name, id.version),
                "check the name and version, or put the artifact first",
            )
        })?;
        let mut hasher = <Sha256 as sha2::Digest>::new();
        for chunk in bytes.chunks(CHUNK) {
            sha2::Digest::update(&mut hasher, chunk);
            sink.write_all(chunk)
                .await
                .map_err(|e| io_error(id, "writing", e))?;
        }
        sink.flush().await.map_err(|e| io_error(id, "writing", e))?;
        let actual = Sha256Digest::from_hasher(hasher);
        if actual != meta.digest {
            return Err(Error::permanent(
                PLUGIN,
                format!(
                    "artifact {}@{} reads back with digest {actual} but was stored with {}: the stored copy is corrupt; \
                     discard what was written and restore the artifact from its source",
                    id.name, id.version, meta.digest
                ),
            ));
        }
        Ok(meta)
    }

    async fn stat(&self, id: &ArtifactId) -> Result<Option<ArtifactMeta>> {
        Ok(lock(&self.artifacts).get(id).map(|(m, _)| m.clone()))
    }

    async fn list(&self, name: Option<&str>) -> Result<Vec<ArtifactMeta>> {
        Ok(lock(&self.artifacts)
            .values()
            .filter(|(m, _)| name.is_none_or(|n| m.id.name == n))
            .map(|(m, _)| m.clone())
            .collect())
    }

    async fn delete(&self, id: &ArtifactId) -> Result<bool> {
        Ok(lock(&self.artifacts).remove(id).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn put(s: &InMemoryArtifactStore, id: &ArtifactId, bytes: &[u8]) -> Result<ArtifactMeta> {
        let mut r = bytes;
        s.put(id, "application/octet-stream", &BTreeMap::new(), &mut r)
            .await
    }

    #[tokio::test]
    async fn content_addressed_and_immutable() {
        let s = InMemoryArtifactStore::new();
        let id = ArtifactId::new("orders-api", "1.0.0");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let meta = put(&s, &id, &bytes).await.unwrap();
        assert_eq!(meta.digest, Sha256Digest::of(&bytes));
        assert_eq!(meta.size, 200_000);
        assert_eq!(put(&s, &id, &bytes).await.unwrap(), meta);
        let err = put(&s, &id, b"other").await.unwrap_err();
        assert!(!err.is_retryable());
        assert!(
            err.to_string()
                .contains("publish the new bytes under a new version")
        );
        let mut out = Vec::new();
        assert_eq!(s.get(&id, &mut out).await.unwrap(), meta);
        assert_eq!(out, bytes);
    }

    #[tokio::test]
    async fn get_detects_corruption_and_missing() {
        let s = InMemoryArtifactStore::new();
        let id = ArtifactId::new("orders-api", "1.0.0");
        put(&s, &id, b"good").await.unwrap();
        assert!(s.tamper(&id, b"evil".to_vec()));
        let err = s.get(&id, &mut Vec::new()).await.unwrap_err();
        assert!(
            err.to_string().contains("the stored copy is corrupt"),
            "{err}"
        );
        let missing = ArtifactId::new("nope", "1");
        let err = s.get(&missing, &mut Vec::new()).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NotFound);
        assert!(s.delete(&id).await.unwrap());
        assert!(!s.delete(&id).await.unwrap());
    }
}
