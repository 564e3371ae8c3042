//! The log watcher's errors, mapped into [`release_core::Error`].

use std::path::PathBuf;

/// An example of each query form, for messages.
const FORMS: &str = "write `exceptions`, `rate(exceptions)`, `exceptions{slot=\"canary\"}` or `new(exceptions{slot=\"canary\", baseline=\"stable\"})`";

/// What went wrong configuring or querying the log watcher.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogWatchError {
    /// A pattern is not a valid regular expression.
    #[error("log query `{query}`: pattern `{pattern}` is not a valid regular expression: {source}")]
    Pattern {
        /// The named query.
        query: String,
        /// The pattern as written.
        pattern: String,
        /// The regex compiler's message.
        #[source]
        source: regex::Error,
    },
    /// A named query has no include pattern.
    #[error("log query `{query}` has no `include` pattern; add at least one regex")]
    NoPatterns {
        /// The named query.
        query: String,
    },
    /// A configured name or a number that cannot work.
    #[error("log watcher configuration: `{field}` {problem}")]
    Config {
        /// The field.
        field: &'static str,
        /// What is wrong, and the fix.
        problem: String,
    },
    /// The query names no configured pattern set.
    #[error("log query `{query}` names `{name}`, which is not configured; configured: {known}")]
    UnknownQuery {
        /// The query as written.
        query: String,
        /// The name in it.
        name: String,
        /// The configured names.
        known: String,
    },
    /// The query does not parse.
    #[error("log query `{query}` does not parse: {reason}; {FORMS}")]
    Syntax {
        /// The query as written.
        query: String,
        /// What is wrong.
        reason: String,
    },
    /// `new(…)` without a slot to compare.
    #[error(
        "log query `{query}` compares a slot with its baseline but names no slot for {component} in {environment}; add `{{slot=\"canary\"}}`"
    )]
    MissingSlot {
        /// The query as written.
        query: String,
        /// The scope's component.
        component: String,
        /// The scope's environment.
        environment: String,
    },
    /// `new(…)` comparing a slot with itself.
    #[error("log query `{query}` compares slot `{slot}` with itself; name another `baseline` slot")]
    SameSlot {
        /// The query as written.
        query: String,
        /// The slot.
        slot: String,
    },
    /// A component, environment or slot name that is no directory name.
    #[error(
        "log query `{query}`: {what} `{name}` cannot name a log directory; use a name without `/`, `\\` or `..`"
    )]
    Name {
        /// The query as written.
        query: String,
        /// `slot`, `component`, `environment`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A range that cannot be split into steps.
    #[error("log query `{query}`: {problem}")]
    Step {
        /// The query as written.
        query: String,
        /// What is wrong, and the fix.
        problem: String,
    },
    /// A log file or directory could not be read.
    #[error("cannot read {}: {source}; check the permissions of the slot's log directory", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The reading task stopped unexpectedly.
    #[error("the log reading task failed: {0}")]
    Task(String),
}

impl LogWatchError {
    /// True when the same query may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Read { .. })
    }
}

impl From<LogWatchError> for release_core::Error {
    fn from(e: LogWatchError) -> Self {
        match e {
            LogWatchError::Read { .. } | LogWatchError::Task(_) => release_core::Error::Plugin {
                plugin: "logs".to_owned(),
                message: e.to_string(),
                retryable: e.is_retryable(),
                source: Some(Box::new(e)),
            },
            other => release_core::Error::Invalid(other.to_string()),
        }
    }
}
