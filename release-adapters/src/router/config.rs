//! The router's serde configuration.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// A route's listener, for configuring the router from a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteListener {
    /// The component.
    pub component: String,
    /// The environment.
    pub environment: String,
    /// Where to listen (`127.0.0.1:8080`; port 0 picks a free one).
    pub listen: SocketAddr,
}

/// Configuration of an [`HttpRouter`](super::HttpRouter).
///
/// ```
/// use release_adapters::router::RouterConfig;
/// let config: RouterConfig = serde_json::from_str(
///     r#"{ "window_ms": 30000, "routes": [
///          { "component": "web", "environment": "prod", "listen": "127.0.0.1:0" } ] }"#,
/// ).unwrap();
/// assert_eq!(config.routes.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RouterConfig {
    /// The window instant metric queries cover, in milliseconds (default 60 s).
    pub window_ms: u64,
    /// How long measurements are kept, in milliseconds (default 10 min).
    pub retention_ms: u64,
    /// Upstream request timeout in milliseconds (default 30 s); a timeout is an error.
    pub upstream_timeout_ms: u64,
    /// Listeners to open in [`HttpRouter::start`](super::HttpRouter::start).
    pub routes: Vec<RouteListener>,
    /// Where to serve Prometheus text (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            window_ms: 60_000,
            retention_ms: 600_000,
            upstream_timeout_ms: 30_000,
            routes: Vec::new(),
            metrics_listen: None,
        }
    }
}

impl RouterConfig {
    /// Sets the window of instant queries.
    pub fn with_window(mut self, window: std::time::Duration) -> Self {
        self.window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        self
    }
}
