#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod lease_time;
#[cfg(feature = "postgres")]
pub mod postgres_ledger;
#[cfg(feature = "sqlite")]
pub mod sqlite_ledger;

#[cfg(feature = "process")]
pub mod process;

#[cfg(feature = "router")]
pub mod router;

#[cfg(feature = "probes")]
pub mod probes;

#[cfg(feature = "backup")]
pub mod backup;

#[cfg(feature = "inventory")]
pub mod inventory;

#[cfg(feature = "webhook")]
pub mod webhook;

#[cfg(feature = "prometheus")]
pub mod prometheus;

#[cfg(feature = "logs")]
pub mod logs;

#[cfg(feature = "migrations")]
pub mod migrations;
