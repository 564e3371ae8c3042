//! Databases behind release-core's data-safety traits (M2.6, M4.5, M8.2, M8.5): SQLite files
//! and PostgreSQL databases as [`Migrator`](release_core::plugin::Migrator)s (apply a
//! [`MigrationSet`](release_core::migration::MigrationSet), rehearse it on a clone) and as
//! [`Backup`](release_core::plugin::Backup)s (pre-deployment backup, full restore, verify).
//!
//! **Migrations** are recorded in a history table in the database itself (version,
//! description, checksum of the up part, time), like Flyway's and refinery's; each migration
//! runs in its own transaction with its history row, so a crash leaves it either applied and
//! recorded or not at all, and applying a set again applies only what is missing. An applied
//! version whose checksum changed, an applied version the set does not know, or a pending
//! version below the newest applied one is an error, never silently fixed.
//! - SQLite runs each migration with foreign keys off (SQLite's documented procedure for
//!   schema changes) and, on the live database, checks `PRAGMA foreign_key_check` before
//!   committing: a migration that leaves orphans is rolled back.
//! - PostgreSQL runs a migration that holds `CONCURRENTLY` or `VACUUM` outside a transaction
//!   (PostgreSQL refuses them inside one), statement by statement; a session advisory lock
//!   keeps two migrators off one database.
//!
//! **Digests** come from a canonical dump in stable order: per table its columns (by name),
//! keys, constraints, indexes and triggers, and its rows (every column in name order, rows
//! sorted); views, sequence definitions, enum types and functions by their definitions.
//! Column order, sequence positions and SQLite's stored SQL layout are not part of it: they do
//! not change what code sees. A mismatch names the tables that differ.
//!
//! **Rehearsals** (M4.5) clone the live database — SQLite with the online backup API into a
//! scratch file; PostgreSQL with `CREATE DATABASE … TEMPLATE`, which needs the source to have
//! no other sessions, so `clone: auto` falls back to `pg_dump` of a consistent snapshot
//! restored with `pg_restore` — then apply up, check referential integrity (SQLite:
//! `PRAGMA foreign_key_check` and `integrity_check`; PostgreSQL: every `NOT VALID` foreign
//! key and check constraint validated), run the declared checks, apply down, compare the
//! digest (without the history table) with the original's, and drop the clone. A migration
//! that fails on the clone is a failed check, not an error.
//!
//! **Backups**: SQLite copies the live file with the online backup API; PostgreSQL runs
//! `pg_dump` of a snapshot exported by a repeatable-read transaction in which the digest is
//! computed too, so the recorded digest is exactly the dumped data's. A restore copies the
//! backup over the live file (SQLite) or recreates the database and runs `pg_restore`
//! (PostgreSQL: sessions on it end); `live_digest` lets the engine check the restore.
//!
//! Secrets: the PostgreSQL URL may carry a password; it is never printed (the configuration's
//! `Debug` leaves it out) and reaches `pg_dump` through `PGPASSWORD`, not its command line.

mod config;
mod dump;
mod error;
mod postgres;
mod sqlite;

use std::collections::BTreeMap;

use release_core::migration::MigrationSet;

pub use config::{CloneMethod, PostgresDatabaseConfig, SqliteDatabaseConfig};
pub use error::DataError;
pub use postgres::PostgresDatabase;
pub use sqlite::SqliteDatabase;

/// Every applied version must be in the set with the same checksum.
pub(crate) fn check_history(
    database: &str,
    set: &MigrationSet,
    applied: &BTreeMap<u64, String>,
) -> Result<(), DataError> {
    for (version, checksum) in applied {
        let Some(m) = set.get(*version) else {
            return Err(DataError::UnknownApplied {
                database: database.to_owned(),
                version: *version,
            });
        };
        if m.checksum().to_string() != *checksum {
            return Err(DataError::ChecksumMismatch {
                database: database.to_owned(),
                version: *version,
                file: m.file().to_owned(),
                recorded: checksum.clone(),
                expected: m.checksum().to_string(),
            });
        }
    }
    let newest = applied.keys().next_back().copied().unwrap_or(0);
    if let Some(m) = set
        .migrations()
        .iter()
        .find(|m| m.version() < newest && !applied.contains_key(&m.version()))
    {
        return Err(DataError::OutOfOrder {
            database: database.to_owned(),
            version: m.version(),
            applied: newest,
        });
    }
    Ok(())
}
