//! The Prometheus source's serde configuration.

use release_core::model::SecretRef;
use serde::{Deserialize, Serialize};

/// The label names the scope is matched on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ScopeLabels {
    /// The label holding the component (default `component`).
    pub component: String,
    /// The label holding the environment (default `environment`).
    pub environment: String,
    /// The label holding the slot (default `slot`).
    pub slot: String,
}

impl Default for ScopeLabels {
    fn default() -> Self {
        Self {
            component: "component".to_owned(),
            environment: "environment".to_owned(),
            slot: "slot".to_owned(),
        }
    }
}

impl ScopeLabels {
    /// Label names for component, environment and slot.
    pub fn new(
        component: impl Into<String>,
        environment: impl Into<String>,
        slot: impl Into<String>,
    ) -> Self {
        Self {
            component: component.into(),
            environment: environment.into(),
            slot: slot.into(),
        }
    }
}

/// How the source authenticates to Prometheus; secrets are references, resolved per query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum PrometheusAuth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// Where the token is kept (`vault://monitoring/prometheus-token`).
        token: SecretRef,
    },
    /// HTTP basic authentication.
    Basic {
        /// The user name (not secret).
        username: String,
        /// Where the password is kept.
        password: SecretRef,
    },
}

/// What to do when a query returns several series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MultipleSeries {
    /// A typed error listing the series: the query should aggregate (the default).
    #[default]
    Error,
    /// The sum of the series' values at each timestamp.
    Sum,
    /// The mean at each timestamp.
    Avg,
    /// The smallest value at each timestamp.
    Min,
    /// The largest value at each timestamp.
    Max,
}

/// What happens to `NaN` and `±Inf` samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NonFinite {
    /// Drop `NaN` (no data), keep `±Inf` (the default).
    #[default]
    DropNan,
    /// Drop `NaN` and `±Inf`.
    Drop,
    /// Keep every sample as Prometheus sent it.
    Keep,
}

/// Configuration of a [`PrometheusSource`](super::PrometheusSource).
///
/// ```
/// use release_adapters::prometheus::{MultipleSeries, PrometheusConfig};
/// let config: PrometheusConfig = serde_json::from_str(
///     r#"{ "url": "http://prometheus.internal:9090", "timeout_ms": 5000,
///          "labels": { "component": "app", "environment": "namespace", "slot": "track" },
///          "auth": { "bearer": { "token": "vault://monitoring/prometheus" } },
///          "multiple_series": "sum" }"#,
/// ).unwrap();
/// assert_eq!(config.labels.slot, "track");
/// assert_eq!(config.multiple_series, MultipleSeries::Sum);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PrometheusConfig {
    /// Prometheus' base URL, with a path prefix if it has one
    /// (default `http://127.0.0.1:9090`).
    pub url: String,
    /// Give up on a query after this many milliseconds (default 10 s); sent to Prometheus
    /// as the query's `timeout` too.
    pub timeout_ms: u64,
    /// The label names of the scope.
    pub labels: ScopeLabels,
    /// Authentication, if Prometheus needs it.
    pub auth: Option<PrometheusAuth>,
    /// What several series in an answer become.
    pub multiple_series: MultipleSeries,
    /// What `NaN` and `±Inf` samples become.
    pub non_finite: NonFinite,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:9090".to_owned(),
            timeout_ms: 10_000,
            labels: ScopeLabels::default(),
            auth: None,
            multiple_series: MultipleSeries::default(),
            non_finite: NonFinite::default(),
        }
    }
}

impl PrometheusConfig {
    /// The default configuration for a Prometheus at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the query timeout.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the scope's label names.
    pub fn with_labels(mut self, labels: ScopeLabels) -> Self {
        self.labels = labels;
        self
    }

    /// Sets the authentication.
    pub fn with_auth(mut self, auth: PrometheusAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Sets what several series become.
    pub fn with_multiple_series(mut self, policy: MultipleSeries) -> Self {
        self.multiple_series = policy;
        self
    }

    /// Sets what `NaN` and `±Inf` become.
    pub fn with_non_finite(mut self, policy: NonFinite) -> Self {
        self.non_finite = policy;
        self
    }
}
