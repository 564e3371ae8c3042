//! The probes' errors, mapped into [`release_core::Error`].

/// What stops a probe from running at all (a failed check is an unhealthy outcome instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// A journey or security probe definition does not parse.
    #[error("{what} definition is invalid: {message}")]
    Yaml {
        /// What was parsed.
        what: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// A command probe's program could not be started.
    #[error("cannot run probe command `{program}`: {source}; check the path and permissions")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A method name is not valid HTTP.
    #[error("`{method}` is not an HTTP method")]
    Method {
        /// The method.
        method: String,
    },
}

impl From<ProbeError> for release_core::Error {
    fn from(e: ProbeError) -> Self {
        match e {
            ProbeError::Yaml { .. } | ProbeError::Method { .. } => {
                release_core::Error::Invalid(e.to_string())
            }
            other => release_core::Error::Plugin {
                plugin: "probe".to_owned(),
                message: other.to_string(),
                retryable: false,
                source: Some(Box::new(other)),
            },
        }
    }
}
