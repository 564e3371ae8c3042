//! Weighted HTTP router: a loopback reverse proxy that splits a route's requests between
//! slots by weight and measures each slot.
//!
//! The engine's `SetWeights` steps land here ([`TrafficRouter`](release_core::plugin::TrafficRouter));
//! analyses and rollback triggers read the measurements back through
//! [`MetricsSource`](release_core::plugin::MetricsSource); Prometheus can scrape the same
//! counters as text.
//!
//! Decisions:
//! - **One listener per route** ([`HttpRouter::listen`]): a route (component, environment)
//!   gets its own loopback port, so no Host or path rewriting is needed and a client points
//!   at the route's address as it would at a load balancer.
//! - **Deterministic weighted round-robin.** A change of weights precomputes a 100-entry
//!   schedule with nginx's smooth weighted round-robin; request `n` goes to `schedule[n %
//!   100]`, then round-robin over that slot's endpoints. Over every 100 consecutive requests
//!   the split is exact, and two runs split identically.
//! - **Atomic swaps.** A route's table (weights, schedule, endpoints) is an immutable
//!   `Arc` behind a `std::sync::RwLock`; a change builds a new table and swaps the `Arc`.
//!   A request clones the `Arc` once, so in-flight requests finish on the table they started
//!   with and nothing is dropped.
//! - **Endpoints** come from [`HttpRouter::set_endpoints`]; from the target itself through
//!   [`HttpRouter::endpoint_hook`] (the local-process target calls it after new replicas are
//!   ready and before old ones stop, so replacements drop nothing); and, when the router was
//!   given the deployment target ([`HttpRouter::with_target`]), from `observe` on every
//!   `set_weights` and on [`HttpRouter::refresh_endpoints`].
//! - **Measurements** per slot: requests, errors (a 5xx answer or no answer at all: connect
//!   errors and a slot without endpoints answer 502 and count as errors) and latency until
//!   the upstream's response head. Queries (`request_count`, `error_count`, `error_rate` /
//!   `error_ratio`, `request_rate`, `latency_p50`/`p90`/`p95`/`p99` in seconds) cover the
//!   configured window ending at the wall-clock now for instant queries, or `[start, end]` (per
//!   `step` when given) for range queries; a window without requests is no data (an empty
//!   series).
//! - **State** (weights, endpoints, measurements) lives in memory: a restarted router starts
//!   empty until the engine re-applies the journaled weights (resume) or the host sets them.
//! - Hop-by-hop headers are passed through untouched (HTTP/1.1 loopback only).

mod config;
mod error;
mod metrics;
mod proxy;

pub use config::{RouteListener, RouterConfig};
pub use error::RouterError;
pub use proxy::HttpRouter;

/// The response header naming the slot that served a request.
pub const SLOT_HEADER: &str = "x-release-slot";
