//! Notifiers and backups.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::Result;
use crate::id::EnvironmentName;
use crate::ledger::{Event, Record};

/// Receives the engine's journal records as they are written (M8.4).
#[async_trait]
pub trait Notifier: Send + Sync {
    /// True when this notifier wants records of this event. Defaults to all.
    fn wants(&self, event: &Event) -> bool {
        let _ = event;
        true
    }

    /// Delivers one record.
    async fn notify(&self, record: &Record) -> Result<()>;
}

fn _assert_notifier_object_safe(_: &dyn Notifier) {}

/// What to back up: a named resource (database, directory) of an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackupRequest {
    /// The environment.
    pub environment: EnvironmentName,
    /// The resource (a shared resource id or a path the plugin understands).
    pub resource: String,
}

impl BackupRequest {
    /// A backup of `resource` in `environment`.
    pub fn new(environment: EnvironmentName, resource: impl Into<String>) -> Self {
        Self {
            environment,
            resource: resource.into(),
        }
    }
}

/// A backup that was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackupRecord {
    /// The plugin's id for it.
    pub id: String,
    /// What was backed up.
    pub request: BackupRequest,
    /// Digest of the backed-up content.
    pub digest: Sha256Digest,
    /// When.
    pub taken_at: DateTime<Utc>,
}

impl BackupRecord {
    /// A record of a backup.
    pub fn new(
        id: impl Into<String>,
        request: BackupRequest,
        digest: Sha256Digest,
        taken_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.into(),
            request,
            digest,
            taken_at,
        }
    }
}

/// The result of verifying a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupVerification {
    /// The backup.
    pub id: String,
    /// True when it restored (or read back) to the recorded digest.
    pub verified: bool,
    /// What was found.
    pub message: String,
}

/// Snapshots, restores and verifies data (M2.6, M8.5).
#[async_trait]
pub trait Backup: Send + Sync {
    /// Takes a backup.
    async fn snapshot(&self, request: &BackupRequest, now: DateTime<Utc>) -> Result<BackupRecord>;

    /// Restores a backup over the live resource.
    async fn restore(&self, record: &BackupRecord) -> Result<()>;

    /// Checks that a backup reads back to its digest.
    async fn verify(&self, record: &BackupRecord) -> Result<BackupVerification>;

    /// The digest of the live resource now, computed the way [`Backup::snapshot`] computes a
    /// backup's, so a restore can be checked against the recorded digest (M8.5). `None`
    /// (the default) when the plugin cannot tell; the engine then relies on
    /// [`Backup::verify`].
    async fn live_digest(&self, request: &BackupRequest) -> Result<Option<Sha256Digest>> {
        let _ = request;
        Ok(None)
    }
}

fn _assert_backup_object_safe(_: &dyn Backup) {}
