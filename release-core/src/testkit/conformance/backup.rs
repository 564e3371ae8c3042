//! The backup suite (M2.6, M8.5).
//!
//! A [`Backup`] works on a live resource the suite cannot reach through the trait, so the
//! caller also hands in a [`BackupSubject`]: the live resource the suite may overwrite, a way
//! to fill it with known content and read it back, and a way to damage a stored backup. The
//! subject's view of the content must not go through the plugin under test, so a plugin that
//! restores the wrong bytes cannot also report them as right.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::ErrorKind;
use crate::plugin::{Backup, BackupRecord, BackupRequest};

use super::{ConformanceFailure, ConformanceReport, Context, Run, ensure};

/// The live resource a [`backup_conformance`] run snapshots, overwrites and restores.
#[async_trait]
pub trait BackupSubject: Send + Sync {
    /// The request naming the resource; the suite overwrites its content freely.
    fn request(&self) -> BackupRequest;

    /// Replaces the live content with content derived from `generation` alone: the same
    /// generation always writes the same content, different generations different content.
    async fn write(&self, generation: u32) -> crate::Result<()>;

    /// Reads the live content back as bytes that are equal exactly when the content is
    /// (a canonical dump, or the content itself when small).
    async fn read(&self) -> crate::Result<Vec<u8>>;

    /// Changes the stored copy of `record` (not the live resource), as bit rot or a hostile
    /// edit would.
    async fn tamper(&self, record: &BackupRecord) -> crate::Result<()>;
}

fn _assert_subject_object_safe(_: &dyn BackupSubject) {}

fn t0() -> DateTime<Utc> {
    // 2030-01-01T00:00:00Z; a constant, so the suite is deterministic.
    DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

async fn write(subject: &dyn BackupSubject, generation: u32) -> Result<Vec<u8>, String> {
    subject.write(generation).await.context(&format!(
        "writing generation {generation} into the live resource"
    ))?;
    subject.read().await.context("reading the live resource")
}

async fn snapshot(
    backup: &dyn Backup,
    request: &BackupRequest,
    now: DateTime<Utc>,
) -> Result<BackupRecord, String> {
    backup.snapshot(request, now).await.context(&format!(
        "snapshot of {} in {}",
        request.resource, request.environment
    ))
}

/// Runs the backup suite against `backup`, on the live resource of `subject`.
///
/// Checks: `snapshot_record` (the record names the request and the time given, and has an
/// id), `digest_tracks_content` (the same content gives the same digest, other content
/// another), `round_trip` (snapshot, overwrite, restore: the live content is back, and a new
/// snapshot has the original digest), `restore_twice` (restoring again changes nothing),
/// `verify_fresh` (a fresh backup verifies), `verify_detects_tamper` (a damaged stored copy
/// does not verify), `restore_refuses_tamper` (restoring a damaged copy is an error and
/// leaves the live content as it was), `forged_digest_refused` (a record whose digest was
/// changed neither verifies nor restores), `unknown_is_not_found` (restore and verify of a
/// record the plugin never wrote fail with [`ErrorKind::NotFound`]).
pub async fn backup_conformance(
    backup: &dyn Backup,
    subject: &dyn BackupSubject,
) -> Result<ConformanceReport, ConformanceFailure> {
    let mut run = Run::new("backup");
    let request = subject.request();
    let request = &request;

    run.check("snapshot_record", async {
        write(subject, 1).await?;
        let record = snapshot(backup, request, at(0)).await?;
        ensure!(
            &record.request == request,
            "the record names {:?}, the snapshot was of {request:?}",
            record.request
        );
        ensure!(
            record.taken_at == at(0),
            "the record says it was taken at {}, the snapshot was asked for at {}",
            record.taken_at,
            at(0)
        );
        ensure!(!record.id.is_empty(), "the record has an empty id");
        Ok(())
    })
    .await;

    run.check("digest_tracks_content", async {
        write(subject, 2).await?;
        let first = snapshot(backup, request, at(10)).await?;
        let second = snapshot(backup, request, at(11)).await?;
        ensure!(
            first.digest == second.digest,
            "two snapshots of unchanged content have digests {} and {}",
            first.digest,
            second.digest
        );
        write(subject, 3).await?;
        let third = snapshot(backup, request, at(12)).await?;
        ensure!(
            third.digest != first.digest,
            "snapshots of different content have the same digest {}",
            first.digest
        );
        Ok(())
    })
    .await;

    run.check("round_trip", async {
        let original = write(subject, 4).await?;
        let record = snapshot(backup, request, at(20)).await?;
        let changed = write(subject, 5).await?;
        ensure!(
            changed != original,
            "the subject wrote the same content for generations 4 and 5; fix the subject"
        );
        backup.restore(&record).await.context("restore")?;
        let restored = subject.read().await.context("reading after restore")?;
        ensure!(
            restored == original,
            "after restoring backup {}, the live content differs from what was backed up",
            record.id
        );
        let again = snapshot(backup, request, at(21)).await?;
        ensure!(
            again.digest == record.digest,
            "a snapshot of the restored content has digest {}, the backup has {}",
            again.digest,
            record.digest
        );
        Ok(())
    })
    .await;

    run.check("restore_twice", async {
        let original = write(subject, 6).await?;
        let record = snapshot(backup, request, at(30)).await?;
        write(subject, 7).await?;
        backup.restore(&record).await.context("restore")?;
        backup.restore(&record).await.context("second restore")?;
        let restored = subject.read().await.context("reading after restore")?;
        ensure!(
            restored == original,
            "after restoring backup {} twice, the live content differs from what was backed up",
            record.id
        );
        Ok(())
    })
    .await;

    run.check("verify_fresh", async {
        write(subject, 8).await?;
        let record = snapshot(backup, request, at(40)).await?;
        let v = backup.verify(&record).await.context("verify")?;
        ensure!(
            v.verified,
            "a backup just taken does not verify: {}",
            v.message
        );
        ensure!(
            v.id == record.id,
            "verify of {} answered for {}",
            record.id,
            v.id
        );
        Ok(())
    })
    .await;

    run.check("verify_detects_tamper", async {
        write(subject, 9).await?;
        let record = snapshot(backup, request, at(50)).await?;
        subject
            .tamper(&record)
            .await
            .context("tampering with the stored copy")?;
        match backup.verify(&record).await {
            Ok(v) if v.verified => Err(format!(
                "backup {} verifies after its stored copy was changed: {}",
                record.id, v.message
            )),
            Ok(_) | Err(_) => Ok(()),
        }
    })
    .await;

    run.check("restore_refuses_tamper", async {
        write(subject, 10).await?;
        let record = snapshot(backup, request, at(60)).await?;
        subject
            .tamper(&record)
            .await
            .context("tampering with the stored copy")?;
        let live = write(subject, 11).await?;
        if backup.restore(&record).await.is_ok() {
            return Err(format!(
                "backup {} was restored although its stored copy was changed",
                record.id
            ));
        }
        let after = subject
            .read()
            .await
            .context("reading after the refused restore")?;
        ensure!(
            after == live,
            "the refused restore of {} changed the live content",
            record.id
        );
        Ok(())
    })
    .await;

    run.check("forged_digest_refused", async {
        write(subject, 12).await?;
        let record = snapshot(backup, request, at(70)).await?;
        write(subject, 13).await?;
        let other = snapshot(backup, request, at(71)).await?;
        let mut forged = record.clone();
        forged.digest = other.digest;
        let live = subject.read().await.context("reading the live resource")?;
        match backup.verify(&forged).await {
            Ok(v) if v.verified => {
                return Err(format!(
                    "backup {} verifies against a digest it was not taken with",
                    record.id
                ));
            }
            Ok(_) | Err(_) => {}
        }
        if backup.restore(&forged).await.is_ok() {
            return Err(format!(
                "backup {} was restored against a digest it was not taken with",
                record.id
            ));
        }
        let after = subject
            .read()
            .await
            .context("reading after the refused restore")?;
        ensure!(
            after == live,
            "the refused restore of {} changed the live content",
            record.id
        );
        Ok(())
    })
    .await;

    run.check("unknown_is_not_found", async {
        write(subject, 14).await?;
        let known = snapshot(backup, request, at(80)).await?;
        let unknown = BackupRecord::new(
            "conformance-backup-never-taken",
            request.clone(),
            known.digest,
            at(80),
        );
        match backup.restore(&unknown).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "restore of a backup never taken should be NotFound, got: {e}"
                ));
            }
            Ok(()) => return Err("restore of a backup never taken succeeded".to_owned()),
        }
        match backup.verify(&unknown).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!(
                "verify of a backup never taken should be NotFound, got: {e}"
            )),
            Ok(v) => Err(format!(
                "verify of a backup never taken answered instead of failing: {v:?}"
            )),
        }
    })
    .await;

    run.finish()
}

#[cfg(test)]
mod tests {
    //! The suite against a tiny backup kept in memory, right and wrong: a suite that cannot
    //! fail proves nothing.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::digest::Sha256Digest;
    use crate::error::Error;
    use crate::plugin::BackupVerification;

    #[derive(Default)]
    struct Store {
        live: Mutex<Vec<u8>>,
        copies: Mutex<BTreeMap<String, Vec<u8>>>,
    }

    /// `honest: false` skips the digest check on verify and restore.
    struct MemoryBackup<'a> {
        store: &'a Store,
        honest: bool,
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[async_trait]
    impl Backup for MemoryBackup<'_> {
        async fn snapshot(
            &self,
            request: &BackupRequest,
            now: DateTime<Utc>,
        ) -> crate::Result<BackupRecord> {
            let bytes = lock(&self.store.live).clone();
            let mut copies = lock(&self.store.copies);
            let id = format!("b{}", copies.len());
            copies.insert(id.clone(), bytes.clone());
            Ok(BackupRecord::new(
                id,
                request.clone(),
                Sha256Digest::of(&bytes),
                now,
            ))
        }

        async fn restore(&self, record: &BackupRecord) -> crate::Result<()> {
            let bytes = lock(&self.store.copies)
                .get(&record.id)
                .cloned()
                .ok_or_else(|| Error::not_found(record.id.clone(), "take one"))?;
            if self.honest && Sha256Digest::of(&bytes) != record.digest {
                return Err(Error::permanent("memory-backup", "digest mismatch"));
            }
            *lock(&self.store.live) = bytes;
            Ok(())
        }

        async fn verify(&self, record: &BackupRecord) -> crate::Result<BackupVerification> {
            let bytes = lock(&self.store.copies)
                .get(&record.id)
                .cloned()
                .ok_or_else(|| Error::not_found(record.id.clone(), "take one"))?;
            Ok(BackupVerification {
                id: record.id.clone(),
                verified: !self.honest || Sha256Digest::of(&bytes) == record.digest,
                message: String::new(),
            })
        }
    }

    #[async_trait]
    impl BackupSubject for Store {
        fn request(&self) -> BackupRequest {
            BackupRequest::new("conformance".into(), "blob")
        }

        async fn write(&self, generation: u32) -> crate::Result<()> {
            *lock(&self.live) = generation.to_be_bytes().to_vec();
            Ok(())
        }

        async fn read(&self) -> crate::Result<Vec<u8>> {
            Ok(lock(&self.live).clone())
        }

        async fn tamper(&self, record: &BackupRecord) -> crate::Result<()> {
            if let Some(bytes) = lock(&self.copies).get_mut(&record.id) {
                bytes.push(0xff);
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_honest_backup_passes() {
        let store = Store::default();
        let backup = MemoryBackup {
            store: &store,
            honest: true,
        };
        let report = backup_conformance(&backup, &store).await.unwrap();
        assert_eq!(report.passed.len(), 9, "{report:?}");
    }

    #[tokio::test]
    async fn a_backup_that_skips_its_digests_fails_the_tamper_checks() {
        let store = Store::default();
        let backup = MemoryBackup {
            store: &store,
            honest: false,
        };
        let failure = backup_conformance(&backup, &store).await.unwrap_err();
        for check in [
            "verify_detects_tamper",
            "restore_refuses_tamper",
            "forged_digest_refused",
        ] {
            assert!(failure.failed(check), "{failure}");
        }
        assert!(!failure.failed("round_trip"), "{failure}");
    }
}
