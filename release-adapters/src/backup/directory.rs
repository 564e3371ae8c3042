//! The directory backup: snapshot into the store, verify, restore atomically.

use std::fs;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::Result;
use release_core::plugin::{Backup, BackupRecord, BackupRequest, BackupVerification};

use super::tree::{remove_tree, walk};
use super::{DirectoryBackupConfig, DirectoryBackupError};

const RECORD: &str = "record.json";
const TREE: &str = "tree";

/// A [`Backup`] of plain directories; see the [module docs](super).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use release_adapters::backup::DirectoryBackupConfig;
/// use release_core::plugin::{Backup, BackupRequest};
///
/// let dir = tempfile::tempdir().unwrap();
/// let live = dir.path().join("uploads");
/// std::fs::create_dir(&live).unwrap();
/// std::fs::write(live.join("a.txt"), "v1").unwrap();
/// let backup = DirectoryBackupConfig::new(dir.path().join("store"))
///     .with_directory("uploads", &live)
///     .build()
///     .unwrap();
/// let record = backup
///     .snapshot(&BackupRequest::new("production".into(), "uploads"), chrono::Utc::now())
///     .await
///     .unwrap();
/// std::fs::write(live.join("a.txt"), "v2").unwrap();
/// backup.restore(&record).await.unwrap();
/// assert_eq!(std::fs::read_to_string(live.join("a.txt")).unwrap(), "v1");
/// assert!(backup.verify(&record).await.unwrap().verified);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct DirectoryBackup {
    config: DirectoryBackupConfig,
}

/// A name usable as one directory level of the store.
fn check_name(what: &'static str, name: &str) -> Result<(), DirectoryBackupError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(DirectoryBackupError::BadName {
            what,
            name: name.to_owned(),
        });
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DirectoryBackupError> + Send + 'static,
) -> Result<T, DirectoryBackupError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DirectoryBackupError::Task(e.to_string()))?
}

impl DirectoryBackup {
    /// Checks the resource names and creates the store directory.
    pub fn new(config: DirectoryBackupConfig) -> Result<Self, DirectoryBackupError> {
        for name in config.directories.keys() {
            check_name("resource", name)?;
        }
        fs::create_dir_all(&config.store)
            .map_err(DirectoryBackupError::io(&config.store, "create the store"))?;
        Ok(Self { config })
    }

    /// The store directory.
    pub fn store(&self) -> &Path {
        &self.config.store
    }

    /// Where the stored copy of the backup `id` lives (`<store>/<id>/tree`), or `None` for
    /// an id this store could not have written.
    pub fn stored_tree(&self, id: &str) -> Option<PathBuf> {
        self.backup_dir(id).map(|d| d.join(TREE))
    }

    /// The live directory of a request.
    pub fn live_path(&self, request: &BackupRequest) -> Result<PathBuf, DirectoryBackupError> {
        check_name("environment", request.environment.as_str())?;
        let template = self
            .config
            .directories
            .get(&request.resource)
            .ok_or_else(|| DirectoryBackupError::UnknownResource {
                resource: request.resource.clone(),
                known: self.config.directories.keys().cloned().collect(),
            })?;
        let text = template.to_string_lossy();
        Ok(if text.contains("{environment}") {
            PathBuf::from(text.replace("{environment}", request.environment.as_str()))
        } else {
            template.clone()
        })
    }

    fn backup_dir(&self, id: &str) -> Option<PathBuf> {
        let parts: Vec<&str> = id.split('/').collect();
        if parts.len() != 3 || parts.iter().any(|p| check_name("id", p).is_err()) {
            return None;
        }
        Some(
            self.config
                .store
                .join(parts[0])
                .join(parts[1])
                .join(parts[2]),
        )
    }

    /// The stored record and the stored tree's digest, checked against `record`.
    fn check_stored(
        &self,
        record: &BackupRecord,
    ) -> Result<(PathBuf, Result<(), DirectoryBackupError>), DirectoryBackupError> {
        let unknown = || DirectoryBackupError::UnknownBackup {
            id: record.id.clone(),
            store: self.config.store.clone(),
        };
        let dir = self.backup_dir(&record.id).ok_or_else(unknown)?;
        let record_path = dir.join(RECORD);
        let text = match fs::read_to_string(&record_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(unknown()),
            Err(e) => return Err(DirectoryBackupError::io(&record_path, "read")(e)),
        };
        let stored: BackupRecord =
            serde_json::from_str(&text).map_err(|e| DirectoryBackupError::BadRecord {
                id: record.id.clone(),
                problem: format!(
                    "{} does not decode: {e}; the store was edited, restore from another backup",
                    record_path.display()
                ),
            })?;
        if stored.request != record.request {
            return Err(DirectoryBackupError::BadRecord {
                id: record.id.clone(),
                problem: format!(
                    "the record names {} in {}, the stored backup is of {} in {}; use the record the snapshot returned",
                    record.request.resource,
                    record.request.environment,
                    stored.request.resource,
                    stored.request.environment
                ),
            });
        }
        let tree = dir.join(TREE);
        let found = walk(&tree, None)?;
        let check = if stored.digest != record.digest {
            Err(DirectoryBackupError::DigestMismatch {
                id: record.id.clone(),
                expected: record.digest,
                found: stored.digest,
            })
        } else if found != record.digest {
            Err(DirectoryBackupError::DigestMismatch {
                id: record.id.clone(),
                expected: record.digest,
                found,
            })
        } else {
            Ok(())
        };
        Ok((tree, check))
    }

    fn snapshot_blocking(
        &self,
        request: &BackupRequest,
        now: DateTime<Utc>,
    ) -> Result<BackupRecord, DirectoryBackupError> {
        let live = self.live_path(request)?;
        if let (Ok(store), Ok(live)) = (self.config.store.canonicalize(), live.canonicalize())
            && store.starts_with(&live)
        {
            return Err(DirectoryBackupError::StoreInsideLive { store, live });
        }
        let parent = self
            .config
            .store
            .join(request.environment.as_str())
            .join(&request.resource);
        fs::create_dir_all(&parent).map_err(DirectoryBackupError::io(&parent, "create"))?;
        let stamp = now.format("%Y%m%dT%H%M%S%.6fZ").to_string();
        // Reserve a name: `create_dir` is atomic, so two snapshots never share one.
        let (name, partial) = (1u32..)
            .map(|n| {
                let name = format!("{stamp}-{n}");
                let partial = parent.join(format!(".{name}.partial"));
                (name, partial)
            })
            .find_map(|(name, partial)| {
                if parent.join(&name).exists() {
                    return None;
                }
                match fs::create_dir(&partial) {
                    Ok(()) => Some(Ok((name, partial))),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
                    Err(e) => Some(Err(DirectoryBackupError::io(&partial, "create")(e))),
                }
            })
            .unwrap_or_else(|| Err(DirectoryBackupError::Task("no free backup name".to_owned())))?;
        let result = (|| {
            let digest = walk(&live, Some(&partial.join(TREE)))?;
            let id = format!("{}/{}/{name}", request.environment, request.resource);
            let record = BackupRecord::new(id.clone(), request.clone(), digest, now);
            let json = serde_json::to_vec_pretty(&record).map_err(|e| {
                DirectoryBackupError::BadRecord {
                    id: id.clone(),
                    problem: format!("cannot encode the record: {e}"),
                }
            })?;
            let record_path = partial.join(RECORD);
            fs::write(&record_path, json)
                .map_err(DirectoryBackupError::io(&record_path, "write"))?;
            let done = parent.join(&name);
            fs::rename(&partial, &done).map_err(DirectoryBackupError::io(&done, "rename into"))?;
            Ok(record)
        })();
        if result.is_err() {
            let _ = remove_tree(&partial);
        }
        result
    }

    fn restore_blocking(&self, record: &BackupRecord) -> Result<(), DirectoryBackupError> {
        let live = self.live_path(&record.request)?;
        let (tree, check) = self.check_stored(record)?;
        check?;
        let parent = live
            .parent()
            .ok_or_else(|| DirectoryBackupError::NotADirectory { path: live.clone() })?;
        let name = live
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let beside = |kind: &str| {
            (1u32..)
                .map(|n| parent.join(format!(".{name}.{kind}-{n}")))
                .find(|p| fs::symlink_metadata(p).is_err())
                .unwrap_or_else(|| parent.join(format!(".{name}.{kind}")))
        };
        let staging = beside("restore");
        let copied = walk(&tree, Some(&staging));
        let copied = match copied {
            Ok(d) if d == record.digest => Ok(()),
            Ok(found) => Err(DirectoryBackupError::DigestMismatch {
                id: record.id.clone(),
                expected: record.digest,
                found,
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = copied {
            let _ = remove_tree(&staging);
            return Err(e);
        }
        let old = match fs::symlink_metadata(&live) {
            Ok(meta) if meta.is_dir() => {
                let old = beside("old");
                if let Err(e) = fs::rename(&live, &old) {
                    let _ = remove_tree(&staging);
                    return Err(DirectoryBackupError::io(&live, "move aside")(e));
                }
                Some(old)
            }
            Ok(_) => {
                let _ = remove_tree(&staging);
                return Err(DirectoryBackupError::NotADirectory { path: live });
            }
            Err(_) => None,
        };
        if let Err(e) = fs::rename(&staging, &live) {
            if let Some(old) = &old {
                let _ = fs::rename(old, &live);
            }
            let _ = remove_tree(&staging);
            return Err(DirectoryBackupError::io(
                &live,
                "move the restored copy into",
            )(e));
        }
        // The restore has succeeded; an old tree that cannot be deleted stays beside it as
        // `.<name>.old-<n>`, which is harmless.
        if let Some(old) = old {
            let _ = remove_tree(&old);
        }
        Ok(())
    }
}

#[async_trait]
impl Backup for DirectoryBackup {
    async fn snapshot(&self, request: &BackupRequest, now: DateTime<Utc>) -> Result<BackupRecord> {
        let this = self.clone();
        let request = request.clone();
        Ok(blocking(move || this.snapshot_blocking(&request, now)).await?)
    }

    async fn restore(&self, record: &BackupRecord) -> Result<()> {
        let this = self.clone();
        let record = record.clone();
        Ok(blocking(move || this.restore_blocking(&record)).await?)
    }

    async fn verify(&self, record: &BackupRecord) -> Result<BackupVerification> {
        let this = self.clone();
        let record = record.clone();
        let id = record.id.clone();
        let checked = blocking(move || this.check_stored(&record).map(|(_, check)| check)).await;
        let (verified, message) = match checked {
            Ok(Ok(())) => (
                true,
                "the stored copy hashes to the recorded digest".to_owned(),
            ),
            Ok(Err(mismatch)) => (false, mismatch.to_string()),
            Err(e @ DirectoryBackupError::BadRecord { .. }) => (false, e.to_string()),
            Err(e) => return Err(e.into()),
        };
        Ok(BackupVerification {
            id,
            verified,
            message,
        })
    }
}
