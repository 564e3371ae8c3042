//! Helpers shared by the database adapters' tests: one time, and requests for the `orders`
//! component's database in production.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use release_core::id::{ComponentId, EnvironmentName};
use release_core::migration::MigrationSet;
use release_core::plugin::{MigrateRequest, RehearsalRequest};

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

/// Bring `orders-db` in production up to `set`.
pub fn request(set: MigrationSet) -> MigrateRequest {
    MigrateRequest::up(
        ComponentId::new("orders"),
        EnvironmentName::new("production"),
        "orders-db",
        set,
        now(),
    )
}

/// Rehearse `set` on a clone of `orders-db` in production.
pub fn rehearsal(set: MigrationSet) -> RehearsalRequest {
    RehearsalRequest::new(
        ComponentId::new("orders"),
        EnvironmentName::new("production"),
        "orders-db",
        set,
        now(),
    )
}
