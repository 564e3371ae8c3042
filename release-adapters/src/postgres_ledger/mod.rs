//! The PostgreSQL ledger: one journal and one set of locks shared by several engine replicas.
//!
//! The scale-out [`release_core::ledger::Ledger`] (DESIGN.md, "Scale-out"): replicas on
//! different machines append to the same hash-chained journals, and environment locks are
//! leases with fencing tokens, so two replicas never deploy to one environment at once and
//! any replica can `resume` a release another one started.
//!
//! - **Appends** run in one transaction each: the fence (when given) is checked with
//!   `SELECT … FOR SHARE` on the lock's row — so a concurrent acquisition waits until the
//!   append commits, and an append under a lost lease writes nothing — then the release's
//!   head row is locked (`SELECT … FOR UPDATE`), which serialises appends per release (not
//!   across releases); the record is sealed with core's
//!   [`seal`](release_core::ledger::seal) after the head's seq and hash, inserted under a
//!   `PRIMARY KEY (release, seq)`, and the head moved.
//! - **Leases**: one conditional `UPDATE … WHERE holder IS NULL OR expires_at <= now OR
//!   holder = $holder … RETURNING token`; the token grows by one on every new acquisition
//!   and never goes back. Times come from the caller (the engine's clock), stored as
//!   nanoseconds since the epoch so a lease reads back exactly.
//! - **Migrations** run on connect, under an advisory lock, recorded in a `schema_version`
//!   table of the configured schema; a schema written by a newer build is refused with
//!   [`PostgresLedgerError::NewerSchema`].
//!
//! Connections come from a `deadpool-postgres` pool; errors a retry may cure (pool
//! exhausted, connection lost, serialisation failure, deadlock) map to retryable
//! [`release_core::Error::Plugin`] errors.

mod config;
mod error;
mod ledger;

pub use config::PostgresLedgerConfig;
pub use error::PostgresLedgerError;
pub use ledger::{PostgresLedger, SCHEMA_VERSION};
