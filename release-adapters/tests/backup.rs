//! Directory backups on real directories: the conformance suite, symlinks, atomic restore,
//! and what bad input gets.
//! covers M2.6 (a backup proven before deploying), M8.5 (rollback restores data from it).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use release_adapters::backup::{
    DirectoryBackup, DirectoryBackupConfig, DirectoryBackupError, tree_digest,
};
use release_core::ErrorKind;
use release_core::plugin::{Backup, BackupRecord, BackupRequest};
use release_core::testkit::{BackupSubject, backup_conformance};

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// A store and one configured resource, `uploads`, at `<root>/{environment}/uploads`.
struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    backup: DirectoryBackup,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let backup = DirectoryBackupConfig::new(root.join("store"))
            .with_directory("uploads", root.join("{environment}/uploads"))
            .build()
            .unwrap();
        Self {
            _dir: dir,
            root,
            backup,
        }
    }

    fn live(&self, env: &str) -> PathBuf {
        self.root.join(env).join("uploads")
    }

    fn request(&self, env: &str) -> BackupRequest {
        BackupRequest::new(env.into(), "uploads")
    }
}

/// Every entry under `root`, read without the adapter: path → what it is.
fn dump(root: &Path) -> BTreeMap<String, String> {
    fn go(dir: &Path, rel: &str, out: &mut BTreeMap<String, String>) {
        for item in fs::read_dir(dir).unwrap() {
            let item = item.unwrap();
            let rel = format!("{rel}/{}", item.file_name().to_string_lossy());
            let meta = fs::symlink_metadata(item.path()).unwrap();
            if meta.is_symlink() {
                let target = fs::read_link(item.path()).unwrap();
                out.insert(rel, format!("link -> {}", target.display()));
            } else if meta.is_dir() {
                out.insert(rel.clone(), "dir".to_owned());
                go(&item.path(), &rel, out);
            } else {
                let exec = meta.permissions().mode() & 0o111 != 0;
                let content = fs::read(item.path()).unwrap();
                out.insert(
                    rel,
                    format!("file exec={exec} {}", String::from_utf8_lossy(&content)),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        go(root, "", &mut out);
    }
    out
}

/// A tree whose content depends on `generation` only.
fn fill(root: &Path, generation: u32) {
    if root.exists() {
        fs::remove_dir_all(root).unwrap();
    }
    fs::create_dir_all(root.join("docs/empty")).unwrap();
    fs::write(
        root.join("docs/readme.txt"),
        format!("generation {generation}\n"),
    )
    .unwrap();
    fs::write(
        root.join("big.bin"),
        vec![generation as u8; 3 * 1024 * 1024 + 5],
    )
    .unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let mode = if generation.is_multiple_of(2) {
        0o755
    } else {
        0o644
    };
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(mode)).unwrap();
    symlink("docs/readme.txt", root.join("current")).unwrap();
    if generation.is_multiple_of(3) {
        fs::write(root.join(format!("extra-{generation}")), "x").unwrap();
    }
}

struct Subject<'a> {
    rig: &'a Rig,
}

#[async_trait]
impl BackupSubject for Subject<'_> {
    fn request(&self) -> BackupRequest {
        self.rig.request("conformance")
    }

    async fn write(&self, generation: u32) -> release_core::Result<()> {
        fill(&self.rig.live("conformance"), generation);
        Ok(())
    }

    async fn read(&self) -> release_core::Result<Vec<u8>> {
        Ok(format!("{:?}", dump(&self.rig.live("conformance"))).into_bytes())
    }

    async fn tamper(&self, record: &BackupRecord) -> release_core::Result<()> {
        let tree = self.rig.backup.stored_tree(&record.id).unwrap();
        let file = tree.join("docs/readme.txt");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let mut text = fs::read(&file).unwrap();
        text.push(b'!');
        fs::write(&file, text).unwrap();
        Ok(())
    }
}

#[tokio::test]
async fn the_directory_backup_passes_the_backup_conformance_suite() {
    let rig = Rig::new();
    let report = backup_conformance(&rig.backup, &Subject { rig: &rig })
        .await
        .unwrap();
    assert_eq!(report.suite, "backup");
    assert!(
        report.passed.iter().any(|c| c == "round_trip"),
        "{report:?}"
    );
    assert_eq!(report.passed.len(), 9, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
}

#[tokio::test]
async fn restore_brings_back_the_tree_exactly_and_leaves_nothing_beside_it() {
    let rig = Rig::new();
    let live = rig.live("production");
    fill(&live, 2);
    let before = dump(&live);
    let record = rig
        .backup
        .snapshot(&rig.request("production"), now())
        .await
        .unwrap();
    assert!(
        record.id.starts_with("production/uploads/20261201T090000"),
        "{}",
        record.id
    );
    assert_eq!(record.digest, tree_digest(&live).unwrap());

    // The deployment changes data, adds and removes files, and flips a mode bit.
    fill(&live, 3);
    fs::remove_file(live.join("docs/readme.txt")).unwrap();
    fs::write(live.join("new-upload.jpg"), "jpeg").unwrap();
    assert_ne!(dump(&live), before);

    rig.backup.restore(&record).await.unwrap();
    assert_eq!(dump(&live), before);
    assert_eq!(tree_digest(&live).unwrap(), record.digest);
    let beside: Vec<String> = fs::read_dir(live.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside, ["uploads"], "staging or old copies left behind");
}

#[tokio::test]
async fn symlinks_are_kept_as_links_and_never_followed() {
    let rig = Rig::new();
    let live = rig.live("production");
    fill(&live, 1);
    // A link out of the tree: backing it up must not copy what it points to.
    let outside = rig.root.join("secret-elsewhere.txt");
    fs::write(&outside, "not part of the backup").unwrap();
    symlink(&outside, live.join("escape")).unwrap();
    let record = rig
        .backup
        .snapshot(&rig.request("production"), now())
        .await
        .unwrap();
    let stored = rig.backup.stored_tree(&record.id).unwrap();
    let meta = fs::symlink_metadata(stored.join("escape")).unwrap();
    assert!(meta.is_symlink());
    assert_eq!(fs::read_link(stored.join("escape")).unwrap(), outside);

    // Restoring does not write through the link either.
    fs::remove_dir_all(&live).unwrap();
    rig.backup.restore(&record).await.unwrap();
    assert_eq!(fs::read_link(live.join("escape")).unwrap(), outside);
    assert_eq!(
        fs::read_to_string(&outside).unwrap(),
        "not part of the backup"
    );
    assert_eq!(
        fs::read_link(live.join("current"))
            .unwrap()
            .as_os_str()
            .as_bytes(),
        b"docs/readme.txt"
    );
}

#[tokio::test]
async fn restore_creates_a_missing_live_directory() {
    let rig = Rig::new();
    let live = rig.live("staging");
    fill(&live, 4);
    let before = dump(&live);
    let record = rig
        .backup
        .snapshot(&rig.request("staging"), now())
        .await
        .unwrap();
    fs::remove_dir_all(&live).unwrap();
    rig.backup.restore(&record).await.unwrap();
    assert_eq!(dump(&live), before);
}

#[tokio::test]
async fn a_tampered_backup_does_not_verify_and_is_not_restored() {
    let rig = Rig::new();
    let live = rig.live("production");
    fill(&live, 1);
    let record = rig
        .backup
        .snapshot(&rig.request("production"), now())
        .await
        .unwrap();
    Subject { rig: &rig }.tamper(&record).await.unwrap();
    let v = rig.backup.verify(&record).await.unwrap();
    assert!(!v.verified);
    assert!(
        v.message.contains(&record.digest.to_string()),
        "{}",
        v.message
    );
    assert!(
        v.message.contains("restore from another backup"),
        "{}",
        v.message
    );

    fill(&live, 2);
    let live_before = dump(&live);
    let err = rig.backup.restore(&record).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Plugin);
    assert!(!err.is_retryable());
    assert!(err.to_string().contains(&record.id), "{err}");
    assert_eq!(
        dump(&live),
        live_before,
        "a refused restore touched the live tree"
    );
}

#[tokio::test]
async fn bad_requests_get_typed_errors_that_say_what_to_fix() {
    let rig = Rig::new();
    let err = rig
        .backup
        .snapshot(&BackupRequest::new("production".into(), "photos"), now())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let text = err.to_string();
    assert!(
        text.contains("`photos`") && text.contains("uploads"),
        "{text}"
    );
    assert!(text.contains("add it under `directories`"), "{text}");

    let err = rig
        .backup
        .snapshot(&BackupRequest::new("../etc".into(), "uploads"), now())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");

    // A live directory that does not exist.
    let err = rig
        .backup
        .snapshot(&rig.request("nowhere"), now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nowhere/uploads"), "{err}");

    // A record with an id the store could not have written, even one trying to escape it.
    let digest = release_core::digest::Sha256Digest::of(b"x");
    for id in ["../../etc/passwd", "production/uploads/none", "x"] {
        let record = BackupRecord::new(id, rig.request("production"), digest, now());
        let err = rig.backup.verify(&record).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{id}: {err}");
        assert!(err.to_string().contains("take a backup first"), "{err}");
    }
}

#[tokio::test]
async fn sockets_in_the_tree_are_refused_by_name() {
    let rig = Rig::new();
    let live = rig.live("production");
    fill(&live, 1);
    let _listener = std::os::unix::net::UnixListener::bind(live.join("app.sock")).unwrap();
    let err = rig
        .backup
        .snapshot(&rig.request("production"), now())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("app.sock") && text.contains("socket"),
        "{text}"
    );
    // Nothing half-written stays in the store.
    let dir = rig.root.join("store/production/uploads");
    assert_eq!(fs::read_dir(dir).unwrap().count(), 0);
}

#[tokio::test]
async fn a_store_inside_the_backed_up_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("data");
    fs::create_dir(&live).unwrap();
    fs::write(live.join("a"), "1").unwrap();
    let backup = DirectoryBackupConfig::new(live.join(".backups"))
        .with_directory("data", &live)
        .build()
        .unwrap();
    let err = backup
        .snapshot(&BackupRequest::new("production".into(), "data"), now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("move the store elsewhere"),
        "{err}"
    );
}

#[test]
fn the_config_reads_from_yaml_like_json_and_rejects_unknown_fields() {
    let err = serde_json::from_str::<DirectoryBackupConfig>(r#"{ "store": "/x", "dirs": {} }"#)
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `dirs`"), "{err}");
    let bad = DirectoryBackupConfig::new(std::env::temp_dir().join("release-backup-bad-name"))
        .with_directory("a/b", "/tmp")
        .build()
        .unwrap_err();
    assert!(matches!(bad, DirectoryBackupError::BadName { .. }), "{bad}");
}
