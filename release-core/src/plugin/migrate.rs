//! Applying and rehearsing database migrations (M4.5, M8.2, M8.5).
//!
//! A [`Migrator`] owns one kind of database (SQLite files, a PostgreSQL server). The engine
//! asks it to bring the environment's database up to a [`MigrationSet`] after taking a
//! pre-deployment backup; hosts and CI ask it to rehearse the set on a clone, and record the
//! [`RehearsalReport`] as evidence. Migrators keep a history of applied versions with each
//! up part's checksum in the database itself (as Flyway and refinery do), so applying the same
//! set twice applies nothing the second time — which is what makes a resumed engine safe.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::id::{ComponentId, EnvironmentName};
use crate::migration::{MigrationSet, RehearsalReport};
use crate::model::DataCheck;

/// Which way to migrate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationDirection {
    /// Apply every migration of the set not yet applied, in version order.
    Up,
    /// Revert applied migrations above `to`, newest first, with their down parts.
    Down {
        /// The version to end at (0: revert everything the set knows).
        to: u64,
    },
}

/// A request to migrate one database.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MigrateRequest {
    /// The component whose migrations these are.
    pub component: ComponentId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The concrete database (the environment's binding of the component's resource).
    pub resource: String,
    /// The migrations.
    pub set: MigrationSet,
    /// Up or down.
    pub direction: MigrationDirection,
    /// When (recorded in the database's history).
    pub now: DateTime<Utc>,
}

impl MigrateRequest {
    /// A request to apply the set's pending migrations.
    pub fn up(
        component: ComponentId,
        environment: EnvironmentName,
        resource: impl Into<String>,
        set: MigrationSet,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            component,
            environment,
            resource: resource.into(),
            set,
            direction: MigrationDirection::Up,
            now,
        }
    }

    /// The same request going down to `version`.
    pub fn down_to(mut self, version: u64) -> Self {
        self.direction = MigrationDirection::Down { to: version };
        self
    }
}

/// What a migration run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrateReply {
    /// The versions applied (up) or reverted (down), in the order run; empty when there was
    /// nothing to do.
    pub versions: Vec<u64>,
    /// The highest applied version afterwards (0: none).
    pub current: u64,
}

impl MigrateReply {
    /// A reply.
    pub fn new(versions: Vec<u64>, current: u64) -> Self {
        Self { versions, current }
    }
}

/// A request to rehearse a set on a clone of an environment's database (M4.5).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RehearsalRequest {
    /// The component whose migrations these are.
    pub component: ComponentId,
    /// The environment whose database is cloned.
    pub environment: EnvironmentName,
    /// The concrete database.
    pub resource: String,
    /// The migrations.
    pub set: MigrationSet,
    /// The declared checks, run after the up pass.
    pub checks: Vec<DataCheck>,
    /// When (the report's time).
    pub now: DateTime<Utc>,
}

impl RehearsalRequest {
    /// A request without declared checks (referential integrity is always checked).
    pub fn new(
        component: ComponentId,
        environment: EnvironmentName,
        resource: impl Into<String>,
        set: MigrationSet,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            component,
            environment,
            resource: resource.into(),
            set,
            checks: Vec::new(),
            now,
        }
    }

    /// Adds declared checks.
    pub fn with_checks(mut self, checks: impl IntoIterator<Item = DataCheck>) -> Self {
        self.checks.extend(checks);
        self
    }
}

/// Applies migrations to a database and rehearses them on clones.
#[async_trait]
pub trait Migrator: Send + Sync {
    /// Migrates the live database. Idempotent: applied versions are recorded with their
    /// checksums; an applied version whose checksum differs from the set's is an error (the
    /// file changed after it ran), never silently re-run.
    async fn migrate(&self, request: &MigrateRequest) -> Result<MigrateReply>;

    /// Clones the database, applies the pending migrations, checks referential integrity and
    /// the declared checks, applies the down migrations, compares the schema and data digest
    /// with the original and drops the clone. A migration that fails on the clone is a
    /// failed check in the report, not an error; errors are for clones that cannot be made.
    async fn rehearse(&self, request: &RehearsalRequest) -> Result<RehearsalReport>;
}

fn _assert_migrator_object_safe(_: &dyn Migrator) {}
