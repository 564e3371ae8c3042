//! The Prometheus source's errors, mapped into [`release_core::Error`].

use release_core::config::SecretError;

/// What went wrong asking Prometheus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrometheusError {
    /// The configuration cannot work.
    #[error("Prometheus source configuration: `{field}` {problem}; {fix}")]
    Config {
        /// The field (`url`, `labels.slot`, `auth`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client for Prometheus: {0}")]
    Client(#[source] reqwest::Error),
    /// A `{{name}}` in the query is not one of the scope placeholders.
    #[error(
        "query `{query}` has the placeholder `{placeholder}`, which is not known; use {{{{component}}}}, {{{{environment}}}}, {{{{slot}}}} or {{{{scope}}}}"
    )]
    UnknownPlaceholder {
        /// The query as written.
        query: String,
        /// The placeholder.
        placeholder: String,
    },
    /// A `{{` without its `}}`.
    #[error("query `{query}` has a `{{{{` at byte {position} that is not closed; add `}}}}`")]
    UnclosedPlaceholder {
        /// The query as written.
        query: String,
        /// Byte offset of the `{{`.
        position: usize,
    },
    /// `{{slot}}` in a query whose scope names no slot.
    #[error(
        "query `{query}` uses {{{{slot}}}} but it measures {component} in {environment} without a slot; write the slot into the query (`slot=\"canary\"`) or use {{{{scope}}}}, which leaves the slot out"
    )]
    MissingSlot {
        /// The query as written.
        query: String,
        /// The scope's component.
        component: String,
        /// The scope's environment.
        environment: String,
    },
    /// A range query whose step cannot work.
    #[error("range query `{query}`: {problem}; {fix}")]
    Step {
        /// The query.
        query: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The bearer token or password could not be resolved.
    #[error("cannot resolve the Prometheus credentials: {0}")]
    Secret(#[source] SecretError),
    /// No answer within the timeout.
    #[error(
        "Prometheus at {url} did not answer `{query}` within {timeout_ms} ms; raise `timeout_ms` or simplify the query"
    )]
    Timeout {
        /// The endpoint.
        url: String,
        /// The query.
        query: String,
        /// The timeout.
        timeout_ms: u64,
    },
    /// The request did not reach Prometheus or its answer was cut.
    #[error("cannot reach Prometheus at {url}: {source}; check that it runs and the URL")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// Prometheus answered with an HTTP error status.
    #[error("Prometheus at {url} answered HTTP {status} to `{query}`{detail}", detail = detail(error_type.as_deref(), message))]
    Http {
        /// The endpoint.
        url: String,
        /// The query.
        query: String,
        /// The HTTP status.
        status: u16,
        /// Prometheus' `errorType`, when the body had one.
        error_type: Option<String>,
        /// Prometheus' `error`, or the start of the body.
        message: String,
    },
    /// Prometheus answered `"status": "error"`.
    #[error("Prometheus refused `{query}`: {error_type}: {message}")]
    Query {
        /// The query.
        query: String,
        /// Prometheus' `errorType` (`bad_data`, `execution`, `timeout`…).
        error_type: String,
        /// Prometheus' `error`.
        message: String,
    },
    /// The answer is not Prometheus' JSON.
    #[error(
        "Prometheus at {url} answered `{query}` with something that is not its API's JSON: {problem}"
    )]
    Malformed {
        /// The endpoint.
        url: String,
        /// The query.
        query: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A result type that is not a number per time (`string`, native histograms).
    #[error(
        "query `{query}` returned {what}, not numbers; wrap it so it returns a float vector (histogram_quantile, histogram_count, sum…)"
    )]
    Unsupported {
        /// The query.
        query: String,
        /// What came back.
        what: String,
    },
    /// Several series where one was expected.
    #[error(
        "query `{query}` returned {count} series ({shown}); aggregate it, e.g. `sum(…)` or `max by () (…)`, narrow the selector, or set `multiple_series` to sum, avg, min or max"
    )]
    MultipleSeries {
        /// The query as sent.
        query: String,
        /// How many series.
        count: usize,
        /// The first few series' labels.
        shown: String,
    },
}

fn detail(error_type: Option<&str>, message: &str) -> String {
    match (error_type, message.is_empty()) {
        (Some(t), _) => format!(": {t}: {message}"),
        (None, false) => format!(": {message}"),
        (None, true) => String::new(),
    }
}

/// Prometheus' error types that may pass on retry.
pub(crate) fn retryable_error_type(error_type: &str) -> bool {
    matches!(
        error_type,
        "timeout" | "canceled" | "unavailable" | "internal"
    )
}

impl PrometheusError {
    /// True when the same query may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Unreachable { .. } => true,
            Self::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Self::Query { error_type, .. } => retryable_error_type(error_type),
            Self::Secret(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl From<PrometheusError> for release_core::Error {
    fn from(e: PrometheusError) -> Self {
        match e {
            PrometheusError::Config { .. }
            | PrometheusError::UnknownPlaceholder { .. }
            | PrometheusError::UnclosedPlaceholder { .. }
            | PrometheusError::MissingSlot { .. }
            | PrometheusError::Step { .. } => release_core::Error::Invalid(e.to_string()),
            PrometheusError::Timeout {
                url,
                query,
                timeout_ms,
            } => release_core::Error::Timeout {
                what: format!("Prometheus query `{query}` at {url}"),
                seconds: timeout_ms.div_ceil(1000),
            },
            PrometheusError::Malformed { .. } => release_core::Error::InvalidReply {
                plugin: "prometheus".to_owned(),
                message: e.to_string(),
            },
            other => release_core::Error::Plugin {
                plugin: "prometheus".to_owned(),
                message: other.to_string(),
                retryable: other.is_retryable(),
                source: Some(Box::new(other)),
            },
        }
    }
}
