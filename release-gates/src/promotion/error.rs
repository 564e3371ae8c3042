//! The error of the promotion gates: bad input (a window that cannot be read, a report that
//! is not JUnit or SARIF) named with what was wrong, where, and the fix.

use release_core::id::EnvironmentName;

/// What went wrong while reading gate configuration or evidence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatesError {
    /// A deployment window or freeze cannot be evaluated.
    #[error("window {index} of environment `{environment}` is invalid: {problem}; {fix}")]
    InvalidWindow {
        /// The environment whose `windows` list holds it.
        environment: EnvironmentName,
        /// Its position in the list, from 0.
        index: usize,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A JUnit XML report is malformed.
    #[error("JUnit report `{source_name}` is malformed at line {line}: {problem}; {fix}")]
    InvalidJunit {
        /// The report's name (file name or CI job).
        source_name: String,
        /// The line (1-based) where the problem was found.
        line: u64,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A SARIF log is malformed or not version 2.1.0.
    #[error("SARIF log `{source_name}` is invalid: {problem}; {fix}")]
    InvalidSarif {
        /// The log's name.
        source_name: String,
        /// What is wrong (with the JSON line and column when known).
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// A gate's parameters (`custom` gate `params`) or evidence payload cannot be read.
    #[error("{what} is invalid: {problem}; {fix}")]
    InvalidInput {
        /// What was read (`params of gate load_test`, `evidence #12 (sign_off)`).
        what: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// The release could not be planned (the window gate needs the stage's duration).
    #[error("cannot plan the release to size the runway of `{environment}`: {source}")]
    Plan {
        /// The environment.
        environment: EnvironmentName,
        /// The planner's error.
        #[source]
        source: release_core::plan::PlanError,
    },
}

impl GatesError {
    /// Converts into the core error a gate returns, keeping this error as the source.
    pub fn into_core(self, gate: &str) -> release_core::Error {
        release_core::Error::Plugin {
            plugin: gate.to_owned(),
            message: self.to_string(),
            retryable: false,
            source: Some(Box::new(self)),
        }
    }
}
