//! Directory backups: [`release_core::plugin::Backup`] for plain directories (M2.6, M8.5).
//!
//! The engine (or a gate) snapshots a directory before a deployment touches it, proves the
//! backup reads back (`verify`), and a full rollback puts the directory back (`restore`).
//! [`DirectoryBackup`] copies the live tree into a store directory,
//! `<store>/<environment>/<resource>/<stamp>-<n>/` holding `tree/` (the copy) and
//! `record.json` (the [`BackupRecord`](release_core::plugin::BackupRecord)); the record's id
//! is `<environment>/<resource>/<stamp>-<n>`.
//!
//! Decisions:
//! - **Resources are named in the configuration** (`directories: { uploads: /srv/{environment}/uploads }`),
//!   never taken as raw paths from a request, so a manifest cannot make the engine restore
//!   over an arbitrary directory. `{environment}` in a path is replaced by the request's
//!   environment.
//! - **The digest** is SHA-256 over the tree sorted by relative path (bytes, `/`-separated):
//!   for each entry its type (directory, file, symlink), its path, and for files the
//!   executable bit, the size and the SHA-256 of the content, for symlinks the link text.
//!   Owners, timestamps and other mode bits are copied where possible but not digested: they
//!   change on a plain copy between machines and say nothing about the data.
//! - **Symlinks are kept as symlinks, never followed** (what `tar` and `rsync -a` do): a
//!   link out of the tree would otherwise back up (and restore over!) files elsewhere. The
//!   link text is part of the digest. A store inside the backed-up directory is refused
//!   ([`DirectoryBackupError::StoreInsideLive`]): a snapshot would copy itself. Sockets, FIFOs and device files are refused with
//!   [`DirectoryBackupError::Unsupported`] naming the path.
//! - **Snapshots are atomic**: the copy is built under a `.partial` name, hashed while it is
//!   written, its record written, and only then renamed into place. A crashed snapshot
//!   leaves a `.partial` directory that no id points to.
//! - **Restore replaces atomically and keeps the old until success**: the stored copy is
//!   first checked against the record's digest (a tampered or forged backup is refused and
//!   the live directory is not touched); it is copied beside the live directory
//!   (`.<name>.restore-<n>`, same filesystem), the copy is hashed again, the live directory
//!   is renamed to `.<name>.old-<n>`, the copy renamed into its place, and only then the
//!   old tree deleted. If the second rename fails the old tree is renamed back.
//! - **Verify** re-reads the stored copy and compares its digest with the record's (and the
//!   stored record's, so a record whose digest was edited does not verify). A mismatch is a
//!   [`BackupVerification`](release_core::plugin::BackupVerification) with `verified: false`
//!   and the two digests in the message; an id the store does not hold is
//!   [`release_core::Error::NotFound`].
//! - File system work runs on tokio's blocking pool.
//!
//! Passes release-core's `backup_conformance` suite (`tests/backup.rs`).

mod config;
mod directory;
mod error;
mod tree;

pub use config::DirectoryBackupConfig;
pub use directory::DirectoryBackup;
pub use error::DirectoryBackupError;
pub use tree::tree_digest;
