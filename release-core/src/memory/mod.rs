//! In-memory reference plugins, always compiled: a deployment target, a traffic router, a
//! scripted metrics source and probe, a content-addressed artifact store and a recording
//! notifier.
//!
//! They are the reference behaviour every real adapter is held to by the conformance suites
//! in the `testkit` feature, and the fakes a host uses to test its pipelines without any
//! infrastructure (STYLE practices 8 and 9). With [`crate::ledger::InMemoryLedger`] and
//! [`crate::plugin::ManualClock`] they make a complete engine in one process.
//!
//! Decisions:
//! - Every plugin is deterministic: what it reports is sorted (slots by name, weights by
//!   slot, versions by component) or in call order, and nothing reads the system clock.
//!   Lookups are hashed (by route; by environment and component), and the few entries a
//!   route or a component has are kept inline (`few.rs`).
//! - The target, router, metrics source and probe keep a log of the calls they received
//!   (applies and removes, weight changes, queries, checks), so a test asserts outcomes ("no
//!   mixed versions", "traffic went back first") rather than call counts. A log keeps the
//!   last [`DEFAULT_HISTORY_LIMIT`] entries unless the plugin is built with another limit
//!   (`with_history_limit`; `usize::MAX` keeps all), so a process that runs releases for
//!   months does not keep every call it ever received; each says how many it dropped. The
//!   [`RecordingNotifier`] is the exception: recording is all it does, so it keeps every
//!   record (filter it by event type to keep fewer).
//! - Their internal mutexes are never held across an `.await`, and a poisoned mutex is
//!   recovered: every update is a whole-value insert, so state is never half-written.

mod artifact;
mod few;
mod history;
mod metrics;
mod notifier;
mod router;
mod target;

pub use artifact::InMemoryArtifactStore;
pub use history::DEFAULT_HISTORY_LIMIT;
pub use metrics::{InMemoryMetrics, InMemoryProbe, ScopeMatcher};
pub use notifier::RecordingNotifier;
pub use router::{InMemoryRouter, WeightChange};
pub use target::{Convergence, InMemoryTarget, TargetChange};

/// Locks a mutex, recovering from poisoning (every update in this module is a whole-value
/// write, so a panicking holder cannot leave state half-written).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
