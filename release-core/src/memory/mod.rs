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
//! - Every plugin is deterministic: state lives in `BTreeMap`s, histories are in call order,
//!   and nothing reads the system clock.
//! - Each keeps a history of the calls that changed something, so a test asserts outcomes
//!   ("no mixed versions", "traffic went back first") rather than call counts. A history
//!   keeps the last [`DEFAULT_HISTORY_LIMIT`] entries unless the plugin is built with
//!   another limit (`with_history_limit`), so a process that runs releases for months does
//!   not keep every call it ever received.
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
