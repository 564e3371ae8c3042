//! The webhook notifier's errors, and how they map into [`release_core::Error`].

use release_core::model::ReleaseId;

const PLUGIN: &str = "webhook";

/// What went wrong setting up the notifier or queueing a record. (Failed deliveries are
/// not errors of `notify`: they happen later and are in [`WebhookNotifier::report`](super::WebhookNotifier::report).)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The configuration cannot work.
    #[error("webhook endpoint `{endpoint}`: `{field}` {problem}")]
    Config {
        /// The endpoint (`-` for settings of the whole notifier).
        endpoint: String,
        /// The field.
        field: &'static str,
        /// What is wrong, and the fix.
        problem: String,
    },
    /// The notifier was built outside a tokio runtime.
    #[error(
        "the webhook notifier must be built inside a tokio runtime (it starts one delivery task per endpoint)"
    )]
    NoRuntime,
    /// The HTTP client could not be built.
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// A record arrived after `shutdown`.
    #[error("the webhook notifier was shut down; record {seq} of release {release} was not sent")]
    Closed {
        /// The release.
        release: ReleaseId,
        /// The record.
        seq: u64,
    },
    /// Endpoints' queues were full.
    #[error(
        "webhook queue full at endpoint(s) {}: record {seq} ({event}) of release {release} was dropped there; the receivers are down or slow — raise `queue_capacity` or fix them",
        endpoints.join(", ")
    )]
    QueueFull {
        /// The endpoints that dropped it.
        endpoints: Vec<String>,
        /// The release.
        release: ReleaseId,
        /// The record.
        seq: u64,
        /// Its event type.
        event: &'static str,
    },
}

impl From<WebhookError> for release_core::Error {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Config { .. } => release_core::Error::Invalid(e.to_string()),
            other => release_core::Error::Plugin {
                plugin: PLUGIN.to_owned(),
                message: other.to_string(),
                retryable: false,
                source: Some(Box::new(other)),
            },
        }
    }
}
