//! The filesystem artifact store: content-addressed blobs, atomic publication, and reads that
//! hash in the same pass as the copy.
//!
//! Layout under the root:
//! ```text
//! blobs/sha256/<64 hex>        the bytes, named by their digest (identical bytes stored once)
//! refs/<name>/<version>.json   the ArtifactMeta of one name and version
//! tmp/                         writes in progress
//! ```
//! Names and versions are percent-encoded (only `A-Z a-z 0-9 - _ +` and a non-leading `.`
//! stay), so no id can escape the root.
//!
//! Decisions:
//! - A put streams into `tmp/`, hashing as it writes, `fsync`s, then renames the file onto its
//!   blob name; the ref is written to `tmp/` and hard-linked into place, which fails when the
//!   ref already exists — so two processes publishing one id cannot both win. Within one
//!   process a mutex orders puts and deletes (a delete removes the blob once no ref uses it).
//! - A get reads 1 MiB chunks and hashes them on a blocking thread while the caller's sink
//!   receives the previous chunk; the last chunk is held back until the digest is checked,
//!   so a corrupt artifact is never handed out whole. [`FsArtifactStore::fetch_to`] goes
//!   further: the destination path appears only after the digest matched.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use release_core::digest::{Sha256, Sha256Digest};
use release_core::plugin::{ArtifactId, ArtifactMeta, ArtifactStore};
use sha2::Digest as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::artifact::label;
use crate::error::{ArtifactError, Result};

/// Reads and writes go in chunks of this size.
pub const CHUNK: usize = 1024 * 1024;

/// An [`ArtifactStore`] in a directory.
#[derive(Debug)]
pub struct FsArtifactStore {
    root: PathBuf,
    writes: tokio::sync::Mutex<()>,
    counter: AtomicU64,
}

fn io(
    artifact: impl Into<String>,
    doing: &'static str,
) -> impl FnOnce(std::io::Error) -> ArtifactError {
    let artifact = artifact.into();
    move |source| ArtifactError::Io {
        artifact,
        doing,
        source,
    }
}

/// Percent-encodes one path segment.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        let keep =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+') || (b == b'.' && i > 0);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses [`encode`]; `None` for anything [`encode`] cannot have written.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn check_id(id: &ArtifactId) -> Result<()> {
    let problem = if id.name.is_empty() {
        "the name is empty"
    } else if id.version.is_empty() {
        "the version is empty"
    } else {
        return Ok(());
    };
    Err(ArtifactError::InvalidId {
        artifact: label(id),
        problem: problem.to_owned(),
    })
}

/// What the blocking reader sends.
enum Chunk {
    Data(Vec<u8>, usize),
    Done(Sha256Digest),
    Failed(std::io::Error),
}

/// Reads `path` in [`CHUNK`]s, hashing each, until EOF or until the receiver is gone.
fn read_and_hash(
    path: PathBuf,
    tx: tokio::sync::mpsc::Sender<Chunk>,
    free: std::sync::mpsc::Receiver<Vec<u8>>,
) {
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.blocking_send(Chunk::Failed(e));
            return;
        }
    };
    let mut hasher = Sha256::new();
    loop {
        let mut buf = match free.try_recv() {
            Ok(b) => b,
            Err(std::sync::mpsc::TryRecvError::Empty) => vec![0u8; CHUNK],
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
        };
        let mut n = 0;
        while n < buf.len() {
            match file.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Chunk::Failed(e));
                    return;
                }
            }
        }
        if n == 0 {
            let _ = tx.blocking_send(Chunk::Done(Sha256Digest::from_hasher(hasher)));
            return;
        }
        hasher.update(&buf[..n]);
        if tx.blocking_send(Chunk::Data(buf, n)).is_err() {
            return;
        }
    }
}

impl FsArtifactStore {
    /// Opens (and creates) a store rooted at `root`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in ["blobs/sha256", "refs", "tmp"] {
            tokio::fs::create_dir_all(root.join(dir)).await.map_err(io(
                root.display().to_string(),
                "creating the store directory for",
            ))?;
        }
        Ok(Self {
            root,
            writes: tokio::sync::Mutex::new(()),
            counter: AtomicU64::new(0),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the bytes with this digest live.
    pub fn blob_path(&self, digest: &Sha256Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    fn ref_path(&self, id: &ArtifactId) -> PathBuf {
        self.root
            .join("refs")
            .join(encode(&id.name))
            .join(format!("{}.json", encode(&id.version)))
    }

    fn tmp_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        self.root
            .join("tmp")
            .join(format!("{}-{nanos}-{n}.partial", std::process::id()))
    }

    async fn read_ref(&self, id: &ArtifactId) -> Result<Option<ArtifactMeta>> {
        read_meta(&self.ref_path(id), &label(id)).await
    }

    /// Verifies the stored bytes of `id` against its digest without handing them out.
    pub async fn verify(&self, id: &ArtifactId) -> Result<ArtifactMeta> {
        self.get_verified(id, &mut tokio::io::sink()).await
    }

    /// Copies the artifact to `dest`, which appears (by rename) only once the digest matched.
    pub async fn fetch_to(&self, id: &ArtifactId, dest: &Path) -> Result<ArtifactMeta> {
        let file_name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "artifact".to_owned());
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dest.with_file_name(format!(".{file_name}.{}-{n}.partial", std::process::id()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(io(tmp.display().to_string(), "creating"))?;
            let meta = self.get_verified(id, &mut file).await?;
            file.sync_all().await.map_err(io(label(id), "syncing"))?;
            drop(file);
            tokio::fs::rename(&tmp, dest)
                .await
                .map_err(io(dest.display().to_string(), "renaming into"))?;
            Ok(meta)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// The get: streams the blob into `sink`, verifying in the same pass.
    pub async fn get_verified(
        &self,
        id: &ArtifactId,
        sink: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<ArtifactMeta> {
        let meta = self
            .read_ref(id)
            .await?
            .ok_or_else(|| ArtifactError::NotFound {
                artifact: label(id),
            })?;
        let path = self.blob_path(&meta.digest);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(2);
        let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        // The reader stops when `rx` is dropped; its handle is not needed.
        drop(tokio::task::spawn_blocking(move || {
            read_and_hash(path, tx, free_rx)
        }));
        let mut pending: Option<(Vec<u8>, usize)> = None;
        loop {
            match rx.recv().await {
                Some(Chunk::Data(buf, n)) => {
                    if let Some((prev, len)) = pending.take() {
                        sink.write_all(&prev[..len])
                            .await
                            .map_err(io(label(id), "writing"))?;
                        let _ = free_tx.send(prev);
                    }
                    pending = Some((buf, n));
                }
                Some(Chunk::Done(actual)) => {
                    if actual != meta.digest {
                        return Err(ArtifactError::DigestMismatch {
                            artifact: label(id),
                            expected: meta.digest,
                            actual,
                        });
                    }
                    if let Some((prev, len)) = pending.take() {
                        sink.write_all(&prev[..len])
                            .await
                            .map_err(io(label(id), "writing"))?;
                    }
                    sink.flush().await.map_err(io(label(id), "writing"))?;
                    return Ok(meta);
                }
                Some(Chunk::Failed(e)) => return Err(io(label(id), "reading")(e)),
                None => {
                    return Err(io(label(id), "reading")(std::io::Error::other(
                        "the reader thread stopped before the end of the blob",
                    )));
                }
            }
        }
    }

    async fn stream_to_tmp(
        &self,
        id: &ArtifactId,
        tmp: &Path,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<(Sha256Digest, u64)> {
        let mut file = tokio::fs::File::create(tmp)
            .await
            .map_err(io(label(id), "creating a temporary file for"))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut size = 0u64;
        loop {
            let n = data
                .read(&mut buf)
                .await
                .map_err(io(label(id), "reading the input of"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            file.write_all(&buf[..n])
                .await
                .map_err(io(label(id), "writing"))?;
        }
        file.flush().await.map_err(io(label(id), "writing"))?;
        file.sync_all().await.map_err(io(label(id), "syncing"))?;
        Ok((Sha256Digest::from_hasher(hasher), size))
    }

    /// The put.
    pub async fn publish_bytes(
        &self,
        id: &ArtifactId,
        media_type: &str,
        metadata: &BTreeMap<String, String>,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<ArtifactMeta> {
        check_id(id)?;
        let tmp = self.tmp_path();
        let streamed = self.stream_to_tmp(id, &tmp, data).await;
        let (digest, size) = match streamed {
            Ok(x) => x,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let _guard = self.writes.lock().await;
        let result = self
            .commit(id, &tmp, digest, size, media_type, metadata)
            .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        result
    }

    async fn commit(
        &self,
        id: &ArtifactId,
        tmp: &Path,
        digest: Sha256Digest,
        size: u64,
        media_type: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<ArtifactMeta> {
        let settle = |existing: ArtifactMeta| {
            if existing.digest == digest {
                Ok(existing)
            } else {
                Err(ArtifactError::Conflict {
                    artifact: label(id),
                    stored: existing.digest,
                    offered: digest,
                })
            }
        };
        if let Some(existing) = self.read_ref(id).await? {
            return settle(existing);
        }
        tokio::fs::rename(tmp, self.blob_path(&digest))
            .await
            .map_err(io(label(id), "storing the blob of"))?;
        let mut meta = ArtifactMeta::new(id.clone(), digest, size, media_type);
        meta.metadata = metadata.clone();
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| ArtifactError::Parse {
            file: format!("metadata of {}", label(id)),
            problem: e.to_string(),
        })?;
        let ref_tmp = self.tmp_path();
        let written = async {
            let mut f = tokio::fs::File::create(&ref_tmp).await?;
            f.write_all(&json).await?;
            f.sync_all().await
        }
        .await;
        let result = match written {
            Err(e) => Err(io(label(id), "writing the ref of")(e)),
            Ok(()) => {
                let ref_path = self.ref_path(id);
                let dir_made = match ref_path.parent() {
                    Some(dir) => tokio::fs::create_dir_all(dir).await,
                    None => Ok(()),
                };
                match dir_made {
                    Err(e) => Err(io(label(id), "creating the ref directory of")(e)),
                    Ok(()) => match tokio::fs::hard_link(&ref_tmp, &ref_path).await {
                        Ok(()) => Ok(meta),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                            match self.read_ref(id).await? {
                                Some(existing) => settle(existing),
                                None => Err(io(label(id), "linking the ref of")(e)),
                            }
                        }
                        Err(e) => Err(io(label(id), "linking the ref of")(e)),
                    },
                }
            }
        };
        let _ = tokio::fs::remove_file(&ref_tmp).await;
        result
    }

    async fn list_metas(&self, name: Option<&str>) -> Result<Vec<ArtifactMeta>> {
        let refs = self.root.join("refs");
        let dirs: Vec<PathBuf> = match name {
            Some(n) => vec![refs.join(encode(n))],
            None => {
                let mut out = Vec::new();
                let mut rd = tokio::fs::read_dir(&refs)
                    .await
                    .map_err(io("the store", "listing"))?;
                while let Some(e) = rd.next_entry().await.map_err(io("the store", "listing"))? {
                    out.push(e.path());
                }
                out
            }
        };
        let mut metas = Vec::new();
        for dir in dirs {
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(dir.display().to_string(), "listing")(e)),
            };
            while let Some(e) = rd
                .next_entry()
                .await
                .map_err(io(dir.display().to_string(), "listing"))?
            {
                let path = e.path();
                let file = e.file_name().to_string_lossy().into_owned();
                let Some(version) = file.strip_suffix(".json").and_then(decode) else {
                    continue;
                };
                let what = format!("{}@{version}", dir.display());
                if let Some(meta) = read_meta(&path, &what).await? {
                    metas.push(meta);
                }
            }
        }
        metas.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(metas)
    }

    /// The delete: removes the ref, and the blob once no other ref uses it.
    pub async fn remove(&self, id: &ArtifactId) -> Result<bool> {
        let _guard = self.writes.lock().await;
        let Some(meta) = self.read_ref(id).await? else {
            return Ok(false);
        };
        let ref_path = self.ref_path(id);
        tokio::fs::remove_file(&ref_path)
            .await
            .map_err(io(label(id), "deleting"))?;
        if let Some(dir) = ref_path.parent() {
            // Fails harmlessly while other versions remain.
            let _ = tokio::fs::remove_dir(dir).await;
        }
        let still_used = self
            .list_metas(None)
            .await?
            .iter()
            .any(|m| m.digest == meta.digest);
        if !still_used {
            match tokio::fs::remove_file(self.blob_path(&meta.digest)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(label(id), "deleting the blob of")(e)),
            }
        }
        Ok(true)
    }
}

async fn read_meta(path: &Path, what: &str) -> Result<Option<ArtifactMeta>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ArtifactError::Parse {
                file: path.display().to_string(),
                problem: format!(
                    "the ref of {what} is corrupt ({e}); restore it from a backup or delete and republish"
                ),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ArtifactError::Io {
            artifact: what.to_owned(),
            doing: "reading the ref of",
            source: e,
        }),
    }
}

#[async_trait]
impl ArtifactStore for FsArtifactStore {
    async fn put(
        &self,
        id: &ArtifactId,
        media_type: &str,
        metadata: &BTreeMap<String, String>,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> release_core::Result<ArtifactMeta> {
        Ok(self.publish_bytes(id, media_type, metadata, data).await?)
    }

    async fn get(
        &self,
        id: &ArtifactId,
        sink: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> release_core::Result<ArtifactMeta> {
        Ok(self.get_verified(id, sink).await?)
    }

    async fn stat(&self, id: &ArtifactId) -> release_core::Result<Option<ArtifactMeta>> {
        Ok(self.read_ref(id).await?)
    }

    async fn list(&self, name: Option<&str>) -> release_core::Result<Vec<ArtifactMeta>> {
        Ok(self.list_metas(name).await?)
    }

    async fn delete(&self, id: &ArtifactId) -> release_core::Result<bool> {
        Ok(self.remove(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_stays_inside() {
        for s in [
            "orders-api",
            "../etc/passwd",
            "a/b",
            "1.0.0+build.5",
            "%41",
            ".",
            "ünï",
        ] {
            let e = encode(s);
            assert!(!e.contains('/') && !e.starts_with('.'), "{e}");
            assert_eq!(decode(&e).as_deref(), Some(s));
        }
    }

    async fn store() -> (tempfile::TempDir, FsArtifactStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = FsArtifactStore::open(dir.path().join("store"))
            .await
            .unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let (_dir, s) = store().await;
        release_core::testkit::artifact_store_conformance(&s)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn flipped_byte_is_refused_and_never_handed_out_whole() {
        let (dir, s) = store().await;
        let id = ArtifactId::new("orders-api", "1.0.0");
        let bytes: Vec<u8> = (0..(2 * CHUNK + 5)).map(|i| (i % 253) as u8).collect();
        let meta = s
            .put(
                &id,
                "application/octet-stream",
                &BTreeMap::new(),
                &mut &bytes[..],
            )
            .await
            .unwrap();
        let blob = s.blob_path(&meta.digest);
        let mut stored = std::fs::read(&blob).unwrap();
        stored[CHUNK + 7] ^= 0x01;
        std::fs::write(&blob, &stored).unwrap();

        let mut out = Vec::new();
        let err = s.get_verified(&id, &mut out).await.unwrap_err();
        assert!(matches!(err, ArtifactError::DigestMismatch { .. }), "{err}");
        assert!(err.to_string().contains("orders-api@1.0.0"));
        assert!(
            out.len() < bytes.len(),
            "the whole corrupt artifact was handed out"
        );

        let dest = dir.path().join("orders-api.tar");
        let err = s.fetch_to(&id, &dest).await.unwrap_err();
        assert!(matches!(err, ArtifactError::DigestMismatch { .. }));
        assert!(!dest.exists());
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "only the store directory remains");

        // Through the trait the typed error is kept as the source.
        let core_err = ArtifactStore::get(&s, &id, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(!core_err.is_retryable());
        assert!(matches!(
            ArtifactError::find(&core_err),
            Some(ArtifactError::DigestMismatch { .. })
        ));
    }

    #[tokio::test]
    async fn identical_bytes_share_a_blob_and_delete_keeps_shared_blobs() {
        let (_dir, s) = store().await;
        let a = ArtifactId::new("a", "1");
        let b = ArtifactId::new("b", "1");
        let m = s
            .put(&a, "x", &BTreeMap::new(), &mut &b"same"[..])
            .await
            .unwrap();
        s.put(&b, "x", &BTreeMap::new(), &mut &b"same"[..])
            .await
            .unwrap();
        assert!(s.delete(&a).await.unwrap());
        assert!(s.blob_path(&m.digest).exists());
        let mut out = Vec::new();
        s.get(&b, &mut out).await.unwrap();
        assert_eq!(out, b"same");
        assert!(s.delete(&b).await.unwrap());
        assert!(!s.blob_path(&m.digest).exists());
        let tmp_left = std::fs::read_dir(s.root().join("tmp")).unwrap().count();
        assert_eq!(tmp_left, 0);
    }

    #[tokio::test]
    async fn conflict_and_invalid_ids_are_typed() {
        let (_dir, s) = store().await;
        let a = ArtifactId::new("a", "1");
        s.publish_bytes(&a, "x", &BTreeMap::new(), &mut &b"one"[..])
            .await
            .unwrap();
        let err = s
            .publish_bytes(&a, "x", &BTreeMap::new(), &mut &b"two"[..])
            .await
            .unwrap_err();
        assert!(matches!(err, ArtifactError::Conflict { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("publish the new bytes under a new version")
        );
        let err = s
            .publish_bytes(
                &ArtifactId::new("", "1"),
                "x",
                &BTreeMap::new(),
                &mut &b"x"[..],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ArtifactError::InvalidId { .. }));
        let weird = ArtifactId::new("../../escape", "1/2");
        s.publish_bytes(&weird, "x", &BTreeMap::new(), &mut &b"w"[..])
            .await
            .unwrap();
        let listed = s.list(None).await.unwrap();
        assert!(listed.iter().any(|m| m.id == weird));
    }
}
