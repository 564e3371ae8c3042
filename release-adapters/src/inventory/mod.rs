//! The inventory (CMDB): which version of each component runs in each environment, since
//! when and by which release, its deployment history and the dependencies between
//! components (M7.1) — a projection of the ledger, kept in one SQLite file.
//!
//! The ledger is the source of truth; [`Inventory`] folds its [`Record`](release_core::ledger::Record)s:
//!
//! | event | what the inventory does |
//! |---|---|
//! | `release_started` | remembers the release (platform, version, component versions) and takes the platform's dependencies when this is the newest release of that platform seen |
//! | `rollback_planned` | remembers what ran in the environment before the stage (the version of the slot with the most traffic, else the most replicas; no slot = not deployed) |
//! | `step_started` (deploy program) | remembers that the stage touched the component |
//! | `stage_completed` | every component of the release now runs the release's version there: a `deployed` history row, and the current row replaced |
//! | `rollback_completed` | every touched component is back on what ran before: a `rolled_back` history row, and the current row set back (removed when nothing ran before) |
//!
//! Decisions:
//! - **Idempotent.** The inventory stores the last applied `(release, seq)`; a record at or
//!   below it is skipped, so replaying a journal twice, or feeding it live and then syncing
//!   from the ledger, changes nothing. The record and the new position are written in one
//!   transaction.
//! - **Time order.** [`Inventory::sync`] applies pending records in time order (`at`, then
//!   release, then seq), as the engine produced them. A current row is never replaced by an
//!   event older than the row's `since`, so a late, out-of-order feed cannot put an old
//!   version back; history rows are keyed by `(release, seq, component)`.
//! - **Live feed.** The inventory is a [`Notifier`](release_core::plugin::Notifier), so
//!   `EngineBuilder::notifier` keeps it current as the engine journals. With
//!   [`Inventory::with_ledger`] each notification first catches up the release from the
//!   ledger, so a notification that failed (a busy database) leaves no gap; without it,
//!   call [`Inventory::sync`] at start-up.
//! - **A record of a release whose start the inventory never saw** is refused with
//!   [`InventoryError::UnknownRelease`] (sync from the ledger instead), rather than guessed.
//! - **Environments are per platform**: rows carry the platform name, queries by environment
//!   return every platform's rows. Rows are serde-serialisable and sorted by stable keys
//!   (platform, environment, component; history by time, release, seq).
//! - The schema is versioned with `PRAGMA user_version`; a file written by a newer build is
//!   refused with [`InventoryError::NewerSchema`]. SQLite work runs on tokio's blocking pool.

mod config;
mod error;
mod fold;
mod rows;
mod store;

pub use config::InventoryConfig;
pub use error::InventoryError;
pub use rows::{DependencyRow, DeploymentAction, DeploymentRow, HistoryRow, InventorySnapshot};
pub use store::{Inventory, SCHEMA_VERSION};
