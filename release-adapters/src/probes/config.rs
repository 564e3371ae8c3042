//! The probes' serde configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn default_path() -> String {
    "/healthz".to_owned()
}

fn get() -> String {
    "GET".to_owned()
}

fn default_timeout() -> u64 {
    5_000
}

fn refused() -> Vec<u16> {
    vec![401, 403]
}

/// An HTTP check: status, body and latency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpProbeConfig {
    /// The path (default `/healthz`).
    #[serde(default = "default_path")]
    pub path: String,
    /// The method (default `GET`).
    #[serde(default = "get")]
    pub method: String,
    /// Accepted statuses; empty accepts any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Slowest acceptable answer, in milliseconds.
    #[serde(default)]
    pub max_latency_ms: Option<u64>,
    /// Give up after this many milliseconds (default 5 s).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

impl Default for HttpProbeConfig {
    fn default() -> Self {
        Self {
            path: default_path(),
            method: get(),
            expect_status: Vec::new(),
            body_contains: None,
            max_latency_ms: None,
            timeout_ms: default_timeout(),
        }
    }
}

impl HttpProbeConfig {
    /// A `GET path` expecting any 2xx.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }

    /// Requires the body to contain `text`.
    pub fn with_body_contains(mut self, text: impl Into<String>) -> Self {
        self.body_contains = Some(text.into());
        self
    }

    /// Requires one of these statuses.
    pub fn with_status(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.expect_status = statuses.into_iter().collect();
        self
    }

    /// Requires an answer within `ms` milliseconds.
    pub fn with_max_latency_ms(mut self, ms: u64) -> Self {
        self.max_latency_ms = Some(ms);
        self
    }
}

/// A TCP connect check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TcpProbeConfig {
    /// Give up after this many milliseconds (default 5 s).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

impl Default for TcpProbeConfig {
    fn default() -> Self {
        Self {
            timeout_ms: default_timeout(),
        }
    }
}

/// A command whose exit code decides; it gets `PROBE_ENDPOINT`, `PROBE_SLOT`,
/// `PROBE_COMPONENT` and `PROBE_ENVIRONMENT` in its environment, once per endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CommandProbeConfig {
    /// The program.
    pub program: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The exit code that means healthy (default 0).
    #[serde(default)]
    pub expect_exit: i32,
    /// Give up (and kill it) after this many milliseconds (default 5 s).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

impl CommandProbeConfig {
    /// Runs `program` with `args`, expecting exit code 0.
    pub fn new(
        program: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            expect_exit: 0,
            timeout_ms: default_timeout(),
        }
    }
}

/// What a journey step expects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JourneyExpect {
    /// Accepted statuses; empty accepts any 2xx.
    #[serde(default)]
    pub status: Vec<u16>,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// JSON pointer → the value found there.
    #[serde(default)]
    pub json: BTreeMap<String, serde_json::Value>,
}

/// One request of a journey.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JourneyStep {
    /// A name for messages.
    #[serde(default)]
    pub name: String,
    /// The method (default `GET`).
    #[serde(default = "get")]
    pub method: String,
    /// The path, with `{{variables}}`.
    pub path: String,
    /// Request headers, with `{{variables}}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A request body, with `{{variables}}`.
    #[serde(default)]
    pub body: Option<String>,
    /// What the answer must look like.
    #[serde(default)]
    pub expect: JourneyExpect,
    /// Variable → JSON pointer into the answer (`/id`).
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

/// A named sequence of HTTP requests: a smoke or regression check (M4.4, M6.3).
///
/// ```
/// use release_adapters::probes::Journey;
/// let journey = Journey::from_yaml(r#"
/// name: order round trip
/// steps:
///   - { name: create, method: POST, path: /orders, body: '{"item":"tea"}',
///       expect: { status: [201] }, capture: { id: /id } }
///   - { name: read, path: "/orders/{{id}}", expect: { json: { /item: tea } } }
/// "#).unwrap();
/// assert_eq!(journey.steps.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Journey {
    /// The journey's name.
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<JourneyStep>,
    /// Per-request timeout in milliseconds (default 5 s).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

/// A request that must be refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SecurityCheck {
    /// A name for messages (`no credentials`, `SQL injection in id`).
    pub name: String,
    /// The method (default `GET`).
    #[serde(default = "get")]
    pub method: String,
    /// The path.
    pub path: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A request body.
    #[serde(default)]
    pub body: Option<String>,
    /// Statuses that count as refused (default 401, 403).
    #[serde(default = "refused")]
    pub refused_with: Vec<u16>,
}

/// Requests that must all be refused (M4.3).
///
/// ```
/// use release_adapters::probes::SecurityProbeConfig;
/// let config = SecurityProbeConfig::from_yaml(r#"
/// checks:
///   - { name: no credentials, path: /admin }
///   - { name: injection, path: "/orders?id=1%27%20OR%201=1", refused_with: [400, 403, 422] }
/// "#).unwrap();
/// assert_eq!(config.checks[0].refused_with, vec![401, 403]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SecurityProbeConfig {
    /// The checks.
    pub checks: Vec<SecurityCheck>,
    /// Per-request timeout in milliseconds (default 5 s).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

impl Journey {
    /// Parses a journey from YAML.
    pub fn from_yaml(text: &str) -> Result<Self, super::ProbeError> {
        serde_saphyr::from_str(text).map_err(|e| super::ProbeError::Yaml {
            what: "journey",
            message: e.to_string(),
        })
    }
}

impl SecurityProbeConfig {
    /// Parses security checks from YAML.
    pub fn from_yaml(text: &str) -> Result<Self, super::ProbeError> {
        serde_saphyr::from_str(text).map_err(|e| super::ProbeError::Yaml {
            what: "security probe",
            message: e.to_string(),
        })
    }
}
