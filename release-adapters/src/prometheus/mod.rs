//! Prometheus metrics source: PromQL over Prometheus' HTTP API, scoped to a component,
//! environment and slot, for analyses and rollback triggers.
//!
//! The engine asks a [`MetricsSource`](release_core::plugin::MetricsSource) for a
//! [`MetricQuery`](release_core::plugin::MetricQuery); [`PrometheusSource`] fills the scope
//! into the PromQL text, sends it to `/api/v1/query` (no `step`: an instant query at `end`)
//! or `/api/v1/query_range` (`start`, `end`, `step`), and turns the answer into a
//! [`Series`](release_core::plugin::Series).
//!
//! Decisions:
//! - **Scope by placeholders.** `{{component}}`, `{{environment}}` and `{{slot}}` are replaced
//!   by the scope's values escaped for a PromQL double-quoted string (`\` → `\\`, `"` → `\"`,
//!   line breaks → `\n`), so write them inside quotes: `errors{app="{{component}}"}`.
//!   `{{scope}}` becomes the label matchers `component="…",environment="…"` plus
//!   `slot="…"` when the scope names a slot, with the label names from
//!   [`ScopeLabels`] (Prometheus setups call them `app`, `namespace`, `track`…); it goes
//!   inside braces: `http_requests_total{ {{scope}} }` or `http_requests_total{{{scope}}}`.
//!   A query without placeholders is sent unchanged. `{{slot}}` without a slot in the scope
//!   is an error (the engine's analyses and triggers measure the whole component, so name
//!   the slot in the query there); any other `{{name}}` is an error naming it. Outside string
//!   literals PromQL never contains `{{`, so valid PromQL is not taken for a placeholder (a
//!   literal `{{` inside a label value is not supported). Rewriting every
//!   selector of an arbitrary PromQL expression would need a PromQL parser and would hide
//!   what is really sent; placeholders keep the query a person reads the query that runs.
//! - **One series.** An analysis judges one number per measurement. A vector with one
//!   series gives its samples; with several series, the default is a typed error listing
//!   them ("aggregate with `sum(…)`"), because silently picking one hides a wrong query.
//!   [`MultipleSeries`] can instead sum, average, or take the minimum or maximum per
//!   timestamp. An empty vector is no data (an empty series), never zero. A scalar result
//!   is one sample; a string result is an error.
//! - **NaN and infinities** ([`NonFinite`]): by default `NaN` samples are dropped — PromQL
//!   gives `NaN` for `0/0`, an error ratio without traffic, which is no data, not a value —
//!   while `±Inf` is kept (`histogram_quantile` answers `+Inf` when observations exceed the
//!   top bucket: really slow, not unknown); the engine judges non-finite values inconclusive.
//! - **Requests** are `POST` with a form body (Prometheus accepts both; long queries do
//!   not hit URL length limits). The client timeout (`timeout_ms`) is also sent as the
//!   query's `timeout` parameter so Prometheus gives up at the same time. A range query
//!   with more than 11,000 points per series is refused before sending, as Prometheus would.
//! - **Authentication**: a bearer token or basic-auth password is a
//!   [`SecretRef`](release_core::model::SecretRef) in the configuration, resolved through the
//!   [`SecretProvider`](release_core::config::SecretProvider) at each query (so a rotated
//!   secret is picked up) and never stored, logged or shown: `Debug` shows the reference.
//! - **Errors** ([`PrometheusError`]): a timeout, a refused connection, HTTP 5xx, 429, and
//!   Prometheus' `timeout`, `canceled`, `unavailable` and `internal` error types may pass
//!   on retry; HTTP 4xx, `bad_data`, `execution`, several series and unknown placeholders
//!   will not; a body that is not Prometheus' JSON is an invalid reply.

mod config;
mod error;
mod source;

pub use config::{MultipleSeries, NonFinite, PrometheusAuth, PrometheusConfig, ScopeLabels};
pub use error::PrometheusError;
pub use source::{PrometheusSource, PrometheusSourceBuilder, expand_query};
