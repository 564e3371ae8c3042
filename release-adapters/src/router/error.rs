//! The router's errors, mapped into [`release_core::Error`].

use std::net::SocketAddr;

/// What went wrong in the router.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// A listener could not be opened.
    #[error("cannot listen on {addr}: {source}; pick a free port or 0")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Weights that do not sum to 100 or name a slot twice.
    #[error("weights {weights} for route {route} are invalid: {reason}")]
    InvalidWeights {
        /// The route.
        route: String,
        /// The weights as given.
        weights: String,
        /// Why.
        reason: String,
    },
    /// A metric query the router does not know.
    #[error(
        "unknown router metric `{query}`; use request_count, error_count, error_rate, request_rate, latency_p50, latency_p90, latency_p95 or latency_p99"
    )]
    UnknownQuery {
        /// The query.
        query: String,
    },
    /// The deployment target could not be observed for endpoints.
    #[error("cannot read endpoints of route {route} from the target: {source}")]
    Target {
        /// The route.
        route: String,
        /// The target's error.
        #[source]
        source: release_core::Error,
    },
}

impl From<RouterError> for release_core::Error {
    fn from(e: RouterError) -> Self {
        match e {
            RouterError::InvalidWeights { .. } | RouterError::UnknownQuery { .. } => {
                release_core::Error::Invalid(e.to_string())
            }
            RouterError::Target { ref source, .. } => {
                let retryable = source.is_retryable();
                release_core::Error::Plugin {
                    plugin: "router".to_owned(),
                    message: e.to_string(),
                    retryable,
                    source: Some(Box::new(e)),
                }
            }
            RouterError::Bind { .. } => release_core::Error::Plugin {
                plugin: "router".to_owned(),
                message: e.to_string(),
                retryable: true,
                source: Some(Box::new(e)),
            },
        }
    }
}
