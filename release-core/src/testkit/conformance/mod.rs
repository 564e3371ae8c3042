//! Conformance suites: the behaviour every plugin of a kind must show, as async functions
//! any plugin's own tests call.
//!
//! ```
//! # #[cfg(feature = "testkit")]
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use release_core::memory::InMemoryTarget;
//! use release_core::testkit::target_conformance;
//!
//! let report = target_conformance(&InMemoryTarget::new()).await.unwrap();
//! assert!(report.passed.iter().any(|c| c == "apply_idempotent"));
//! # });
//! ```

mod artifact;
mod backup;
mod ledger;
mod router;
mod target;

use std::fmt;
use std::future::Future;

pub use artifact::artifact_store_conformance;
pub use backup::{BackupSubject, backup_conformance};
pub use ledger::{ledger_conformance, ledger_parallel_conformance};
pub use router::router_conformance;
pub use target::target_conformance;

/// What a suite found when every check it ran passed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConformanceReport {
    /// The suite (`target`, `router`, `ledger`, `artifact_store`).
    pub suite: &'static str,
    /// The checks that passed, in the order they ran.
    pub passed: Vec<String>,
    /// The checks not run because the plugin does not declare the capability.
    pub skipped: Vec<SkippedCheck>,
}

/// A check a suite did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedCheck {
    /// The check.
    pub check: String,
    /// Why not (the missing capability).
    pub reason: String,
}

/// One check that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckFailure {
    /// The check (`apply_idempotent`).
    pub check: String,
    /// What was expected and what the plugin did.
    pub message: String,
}

/// A suite's verdict when at least one check failed: every failure, with its check's name.
///
/// Its `Debug` is its `Display` (one line per failed check), so `.unwrap()` on a suite's
/// result in a test prints a readable list.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConformanceFailure {
    /// The suite.
    pub suite: &'static str,
    /// The checks that failed, in the order they ran.
    pub failures: Vec<CheckFailure>,
    /// The checks that passed.
    pub passed: Vec<String>,
    /// The checks not run.
    pub skipped: Vec<SkippedCheck>,
}

impl ConformanceFailure {
    /// True when the check named `check` failed.
    pub fn failed(&self, check: &str) -> bool {
        self.failures.iter().any(|f| f.check == check)
    }
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} conformance: {} of {} checks failed",
            self.suite,
            self.failures.len(),
            self.failures.len() + self.passed.len()
        )?;
        for failure in &self.failures {
            writeln!(f, "  - {}: {}", failure.check, failure.message)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConformanceFailure {}

/// The outcome of one check: `Err` carries the message a plugin author reads.
pub(crate) type Check = Result<(), String>;

/// Collects check outcomes for one suite.
pub(crate) struct Run {
    suite: &'static str,
    passed: Vec<String>,
    skipped: Vec<SkippedCheck>,
    failures: Vec<CheckFailure>,
}

impl Run {
    pub(crate) fn new(suite: &'static str) -> Self {
        Self {
            suite,
            passed: Vec::new(),
            skipped: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Runs one check and records its outcome under `name`.
    pub(crate) async fn check(&mut self, name: &str, check: impl Future<Output = Check>) {
        match check.await {
            Ok(()) => self.passed.push(name.to_owned()),
            Err(message) => self.failures.push(CheckFailure {
                check: name.to_owned(),
                message,
            }),
        }
    }

    /// Records a check that was not run.
    pub(crate) fn skip(&mut self, name: &str, reason: &str) {
        self.skipped.push(SkippedCheck {
            check: name.to_owned(),
            reason: reason.to_owned(),
        });
    }

    pub(crate) fn finish(self) -> Result<ConformanceReport, ConformanceFailure> {
        if self.failures.is_empty() {
            Ok(ConformanceReport {
                suite: self.suite,
                passed: self.passed,
                skipped: self.skipped,
            })
        } else {
            Err(ConformanceFailure {
                suite: self.suite,
                failures: self.failures,
                passed: self.passed,
                skipped: self.skipped,
            })
        }
    }
}

/// Turns a plugin error into a check failure saying what was being done.
pub(crate) trait Context<T> {
    fn context(self, doing: &str) -> Result<T, String>;
}

impl<T> Context<T> for crate::Result<T> {
    fn context(self, doing: &str) -> Result<T, String> {
        self.map_err(|e| format!("{doing} failed: {e}"))
    }
}

/// Fails the check with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;
