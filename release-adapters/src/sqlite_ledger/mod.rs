//! The SQLite ledger: the embedded default journal and lock store of one engine process.
//!
//! A [`release_core::ledger::Ledger`] in one SQLite file (bundled SQLite, WAL mode). Events
//! are stored as the record's JSON with `release`, `seq` and `hash` columns beside it and a
//! `UNIQUE(release, seq)` constraint; locks are rows of a `locks` table whose fencing token
//! only increases. The schema is versioned with `PRAGMA user_version`; a file written by a
//! newer build is refused with [`SqliteLedgerError::NewerSchema`].
//!
//! **Writes and group commit.** All writes (appends, acquire, renew, release) go through a
//! channel to one writer thread that owns the write connection. It takes everything queued
//! (up to [`SqliteLedgerConfig::max_batch`]) and applies it in one `BEGIN IMMEDIATE`
//! transaction: each append reads its release's last `seq` and hash inside that transaction,
//! seals the record with core's [`seal`](release_core::ledger::seal) and inserts it; an
//! append with a stale fence is refused there and writes nothing. After `COMMIT` each caller
//! gets its own result. One appender pays one commit per append; many concurrent appenders
//! (many releases, or parallel waves) share commits, which is where the throughput comes
//! from. If SQLite itself fails inside a batch, the batch is rolled back and its jobs are
//! retried one transaction each, so one bad job never takes the others with it.
//!
//! **Durability.** The default `synchronous = NORMAL` in WAL mode does not fsync on each
//! commit, only at checkpoints: a power loss (not a process crash — the OS still has the
//! data) may lose the last committed groups, but never corrupts the file, never reorders
//! records and never leaves half a group. Because the engine appends *before* it acts, a
//! lost tail means at most the last steps are redone on resume, and steps are idempotent.
//! [`Synchronous::Full`] fsyncs the WAL on every commit (group commit amortises it) for
//! hosts that must not lose an acknowledged record.
//!
//! **Reads** use separate connections (WAL lets readers run beside the writer) on tokio's
//! blocking pool. A row whose JSON does not decode or disagrees with its columns is reported
//! as [`release_core::Error::Tampered`] naming the release and seq; reads never panic.

mod config;
mod error;
mod ledger;

pub use config::{SqliteLedgerConfig, Synchronous};
pub use error::SqliteLedgerError;
pub use ledger::{SCHEMA_VERSION, SqliteLedger};
