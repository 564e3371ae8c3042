//! The testkit (feature `testkit`): conformance suites for plugin authors, fault injection
//! for hosts, and mockall mocks of every plugin trait.
//!
//! - [`conformance`]: `pub async fn` suites in the style of object_store's `integration.rs`.
//!   A plugin author enables the feature and calls, say, [`target_conformance`] from a
//!   `#[tokio::test]`; the suite picks its checks by the plugin's declared capabilities
//!   (OpenDAL's way) and uses ids prefixed `conformance-<suite>-` so suites can share a
//!   backend with other tests.
//! - [`FaultyTarget`]: wraps any target with a deterministic script of faults (failed,
//!   hanging and crashing applies, flapping health) so an engine's error handling can be
//!   tested without infrastructure.
//! - [`mock`]: `mockall` mocks for when a test needs to assert on exact calls.
//!
//! Decision: a suite does not panic. It runs every check and returns a
//! [`ConformanceFailure`] naming each failed check, so one run shows everything a plugin
//! gets wrong; `.unwrap()` on the result in a test prints the whole list.

pub mod conformance;
mod fault;
pub mod mock;

pub use conformance::{
    BackupSubject, CheckFailure, ConformanceFailure, ConformanceReport, SkippedCheck,
    artifact_store_conformance, backup_conformance, ledger_conformance,
    ledger_parallel_conformance, router_conformance, target_conformance,
};
pub use fault::{Fault, FaultRule, FaultScope, FaultyTarget, FiredFault, Hang, Schedule};
