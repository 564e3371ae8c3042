//! The webhook notifier's serde configuration.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use release_core::config::SecretProvider;
use release_core::model::{EnvironmentName, SecretRef};
use release_core::plugin::{Clock, SystemClock};
use serde::{Deserialize, Serialize};

use super::{WebhookError, WebhookNotifier};

/// Every event type name an endpoint may filter on ([`Event::type_name`](release_core::ledger::Event::type_name)).
pub const EVENT_TYPES: &[&str] = release_core::ledger::Event::TYPE_NAMES;

/// How a delivery's body is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BodyFormat {
    /// `{"summary", "environment", "rollback", "record"}`.
    #[default]
    Json,
    /// `{"text", "blocks"}` for Slack incoming webhooks and compatible tools.
    Slack,
}

/// One receiver of notifications.
///
/// `Debug` shows secret references, never secret values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// A name for reports and errors (unique among the endpoints).
    pub name: String,
    /// The URL to POST to (`http` or `https`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A secret holding the URL, for URLs that are credentials (Slack's); instead of `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_secret: Option<SecretRef>,
    /// The body format.
    #[serde(default)]
    pub format: BodyFormat,
    /// Event types to send (empty: all); see [`EVENT_TYPES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Environments to send about (empty: all). Events about no environment in particular
    /// (a release starting, an operator's comment) are always sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<EnvironmentName>,
    /// The key the body is signed with (HMAC-SHA256), resolved at each delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<SecretRef>,
    /// The header carrying the signature.
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
    /// Extra headers (not secret: they are shown by `Debug`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn default_signature_header() -> String {
    "X-Release-Signature".to_owned()
}

impl EndpointConfig {
    /// An endpoint posting JSON bodies of every event to `url`.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: Some(url.into()),
            url_secret: None,
            format: BodyFormat::Json,
            events: Vec::new(),
            environments: Vec::new(),
            signing_secret: None,
            signature_header: default_signature_header(),
            headers: BTreeMap::new(),
        }
    }

    /// An endpoint whose URL is kept in a secret store.
    pub fn with_url_secret(name: impl Into<String>, url: SecretRef) -> Self {
        let mut e = Self::new(name, "");
        e.url = None;
        e.url_secret = Some(url);
        e
    }

    /// Sets the body format.
    pub fn with_format(mut self, format: BodyFormat) -> Self {
        self.format = format;
        self
    }

    /// Sends only these event types.
    pub fn with_events<S: Into<String>>(mut self, events: impl IntoIterator<Item = S>) -> Self {
        self.events = events.into_iter().map(Into::into).collect();
        self
    }

    /// Sends only about these environments.
    pub fn with_environments<E: Into<EnvironmentName>>(
        mut self,
        environments: impl IntoIterator<Item = E>,
    ) -> Self {
        self.environments = environments.into_iter().map(Into::into).collect();
        self
    }

    /// Signs bodies with the key behind `secret`.
    pub fn with_signing_secret(mut self, secret: SecretRef) -> Self {
        self.signing_secret = Some(secret);
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// Retries of one delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failure, in milliseconds.
    pub initial_backoff_ms: u64,
    /// Each wait is this many times the previous one.
    pub multiplier: u32,
    /// The longest wait, in milliseconds.
    pub max_backoff_ms: u64,
    /// Each wait is moved by up to this percentage either way (0–100).
    pub jitter_percent: u32,
    /// Seeds the jitter.
    pub seed: u64,
    /// The longest `Retry-After` honoured, in milliseconds; a longer one ends the delivery.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    /// 6 attempts, 0.5 s doubling up to 60 s, ±20 % jitter, `Retry-After` up to 5 minutes.
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff_ms: 500,
            multiplier: 2,
            max_backoff_ms: 60_000,
            jitter_percent: 20,
            seed: 0,
            max_retry_after_ms: 300_000,
        }
    }
}

impl RetryPolicy {
    /// Sets the attempts in all.
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the first wait and the longest.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff_ms = u64::try_from(initial.as_millis()).unwrap_or(u64::MAX);
        self.max_backoff_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the jitter percentage.
    pub fn with_jitter_percent(mut self, percent: u32) -> Self {
        self.jitter_percent = percent;
        self
    }

    /// Sets the jitter seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        self
    }
}

/// Configuration of a [`WebhookNotifier`], e.g. from YAML:
///
/// ```
/// use release_adapters::webhook::{BodyFormat, WebhookConfig};
/// let config: WebhookConfig = serde_json::from_str(r#"{
///   "endpoints": [
///     { "name": "ops-chat", "url_secret": "vault://chat/ops-webhook", "format": "slack",
///       "events": ["trigger_fired", "rollback_started", "rollback_completed", "release_finished"] },
///     { "name": "audit", "url": "https://audit.example/hooks/release",
///       "signing_secret": "vault://audit/hmac", "environments": ["production"] }
///   ],
///   "retry": { "max_attempts": 8 }
/// }"#).unwrap();
/// assert_eq!(config.endpoints[0].format, BodyFormat::Slack);
/// assert_eq!(config.retry.max_attempts, 8);
/// assert_eq!(config.retry.initial_backoff_ms, 500);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The receivers.
    pub endpoints: Vec<EndpointConfig>,
    /// Retries of each delivery.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Deliveries each endpoint holds at most.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// How long one POST may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_queue_capacity() -> usize {
    1024
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl WebhookConfig {
    /// No endpoints yet; default retries, 1024 deliveries per endpoint, 10 s per POST.
    pub fn new() -> Self {
        Self {
            endpoints: Vec::new(),
            retry: RetryPolicy::default(),
            queue_capacity: default_queue_capacity(),
            timeout_ms: default_timeout_ms(),
        }
    }

    /// Adds an endpoint.
    pub fn with_endpoint(mut self, endpoint: EndpointConfig) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the deliveries each endpoint holds at most.
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Sets how long one POST may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Checks the configuration without starting anything.
    pub fn validate(&self) -> Result<(), WebhookError> {
        let bad = |endpoint: &str, field: &'static str, problem: String| WebhookError::Config {
            endpoint: endpoint.to_owned(),
            field,
            problem,
        };
        if self.endpoints.is_empty() {
            return Err(bad(
                "-",
                "endpoints",
                "no endpoint is configured; add at least one".to_owned(),
            ));
        }
        if self.queue_capacity == 0 {
            return Err(bad(
                "-",
                "queue_capacity",
                "is 0; set at least 1 (1024 is the default)".to_owned(),
            ));
        }
        if self.timeout_ms == 0 {
            return Err(bad(
                "-",
                "timeout_ms",
                "is 0; set a positive timeout (10000 is the default)".to_owned(),
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(bad(
                "-",
                "retry.max_attempts",
                "is 0; set at least 1 (the first attempt counts)".to_owned(),
            ));
        }
        if self.retry.jitter_percent > 100 {
            return Err(bad(
                "-",
                "retry.jitter_percent",
                format!("is {}; use 0 to 100", self.retry.jitter_percent),
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for e in &self.endpoints {
            if e.name.trim().is_empty() {
                return Err(bad(
                    "",
                    "name",
                    "is empty; give every endpoint a name".to_owned(),
                ));
            }
            if !names.insert(e.name.as_str()) {
                return Err(bad(
                    &e.name,
                    "name",
                    "is used by two endpoints; names must be unique".to_owned(),
                ));
            }
            match (&e.url, &e.url_secret) {
                (Some(url), None) => check_url(url).map_err(|p| bad(&e.name, "url", p))?,
                (None, Some(_)) => {}
                (Some(_), Some(_)) => {
                    return Err(bad(
                        &e.name,
                        "url",
                        "and `url_secret` are both set; keep one".to_owned(),
                    ));
                }
                (None, None) => {
                    return Err(bad(
                        &e.name,
                        "url",
                        "is missing; set `url`, or `url_secret` for a URL kept in a secret store"
                            .to_owned(),
                    ));
                }
            }
            for event in &e.events {
                if !EVENT_TYPES.contains(&event.as_str()) {
                    return Err(bad(
                        &e.name,
                        "events",
                        format!(
                            "`{event}` is not an event type; use one of: {}",
                            EVENT_TYPES.join(", ")
                        ),
                    ));
                }
            }
            for name in std::iter::once(&e.signature_header).chain(e.headers.keys()) {
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(bad(
                        &e.name,
                        "headers",
                        format!("`{name}` is not a valid header name"),
                    ));
                }
            }
            for (name, value) in &e.headers {
                if reqwest::header::HeaderValue::from_str(value).is_err() {
                    return Err(bad(
                        &e.name,
                        "headers",
                        format!("the value of `{name}` is not a valid header value"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks the configuration and starts one delivery task per endpoint on the current
    /// tokio runtime, with the system clock.
    pub fn build(&self, secrets: Arc<dyn SecretProvider>) -> Result<WebhookNotifier, WebhookError> {
        self.build_with_clock(secrets, Arc::new(SystemClock))
    }

    /// Like [`build`](Self::build), with the clock backoff deadlines are measured on.
    pub fn build_with_clock(
        &self,
        secrets: Arc<dyn SecretProvider>,
        clock: Arc<dyn Clock>,
    ) -> Result<WebhookNotifier, WebhookError> {
        self.validate()?;
        WebhookNotifier::start(self.clone(), secrets, clock)
    }
}

/// Checks that a URL parses and is http(s); the problem otherwise.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        Ok(u) => Err(format!(
            "`{url}` has scheme `{}`; use http or https",
            u.scheme()
        )),
        Err(e) => Err(format!("`{url}` is not a URL: {e}")),
    }
}
