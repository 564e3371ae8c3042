//! The [`HttpRouter`]: listeners, the weighted schedule, proxying and the plugin traits.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Utc;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use release_core::plugin::{
    DeploymentTarget, Endpoint, MetricQuery, MetricsSource, Route, Series, SlotName, SlotSpec,
    SlotWeight, TrafficRouter, check_weights,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::SLOT_HEADER;
use super::config::RouterConfig;
use super::error::RouterError;
use super::metrics::{Measurements, Metric, SlotLabels};

type Body = BoxBody<Bytes, hyper::Error>;

/// The immutable routing table of one route, swapped whole on every change.
#[derive(Debug, Default)]
struct RouteTable {
    /// Sorted by slot.
    weights: Vec<SlotWeight>,
    /// 100 slot names in smooth weighted round-robin order (empty: no weights).
    schedule: Vec<SlotName>,
    endpoints: BTreeMap<SlotName, Vec<Endpoint>>,
}

/// nginx's smooth weighted round-robin, unrolled over one cycle of `sum(weights)` picks.
fn schedule(weights: &[SlotWeight]) -> Vec<SlotName> {
    let live: Vec<&SlotWeight> = weights.iter().filter(|w| w.weight > 0).collect();
    let total: i64 = live.iter().map(|w| i64::from(w.weight)).sum();
    let mut current = vec![0i64; live.len()];
    let mut out = Vec::new();
    for _ in 0..total {
        let mut best = 0;
        for (i, w) in live.iter().enumerate() {
            current[i] += i64::from(w.weight);
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        out.push(live[best].slot.clone());
    }
    out
}

struct RouteState {
    table: RwLock<Arc<RouteTable>>,
    next: AtomicU64,
}

impl RouteState {
    fn new() -> Self {
        Self {
            table: RwLock::new(Arc::new(RouteTable::default())),
            next: AtomicU64::new(0),
        }
    }

    fn snapshot(&self) -> Arc<RouteTable> {
        match self.table.read() {
            Ok(t) => Arc::clone(&t),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Builds a new table from the current one and swaps it in, atomically for readers.
    fn update(&self, change: impl FnOnce(&RouteTable) -> RouteTable) {
        let mut guard = match self.table.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = change(&guard);
        *guard = Arc::new(next);
    }
}

struct Shared {
    config: RouterConfig,
    routes: RwLock<BTreeMap<Route, Arc<RouteState>>>,
    target: Option<Arc<dyn DeploymentTarget>>,
    client: Client<HttpConnector, Incoming>,
    measurements: Measurements,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn route(&self, route: &Route) -> Arc<RouteState> {
        if let Ok(routes) = self.routes.read()
            && let Some(state) = routes.get(route)
        {
            return Arc::clone(state);
        }
        let mut routes = match self.routes.write() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(
            routes
                .entry(route.clone())
                .or_insert_with(|| Arc::new(RouteState::new())),
        )
    }

    fn set_endpoints(&self, route: &Route, slot: &str, endpoints: Vec<Endpoint>) {
        self.route(route).update(|t| {
            let mut map = t.endpoints.clone();
            if endpoints.is_empty() {
                map.remove(slot);
            } else {
                map.insert(SlotName::from(slot), endpoints);
            }
            RouteTable {
                weights: t.weights.clone(),
                schedule: t.schedule.clone(),
                endpoints: map,
            }
        });
    }

    fn existing(&self, route: &Route) -> Option<Arc<RouteState>> {
        self.routes.read().ok()?.get(route).cloned()
    }
}

/// A weighted reverse proxy on loopback, a [`TrafficRouter`] and a [`MetricsSource`].
///
/// Cloning shares the router. Listeners stop when the last clone is dropped; requests already
/// accepted finish.
#[derive(Clone)]
pub struct HttpRouter {
    shared: Arc<Shared>,
    _guard: Arc<TaskGuard>,
}

/// Aborts the accept loops when the last router clone is dropped.
struct TaskGuard(Arc<Shared>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let tasks = match self.0.tasks.lock() {
            Ok(mut t) => std::mem::take(&mut *t),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for t in tasks {
            t.abort();
        }
    }
}

impl std::fmt::Debug for HttpRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRouter")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

fn text_response(status: StatusCode, slot: Option<&str>, text: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(text.to_owned()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    if let Some(slot) = slot
        && let Ok(v) = HeaderValue::from_str(slot)
    {
        response.headers_mut().insert(SLOT_HEADER, v);
    }
    response
}

impl HttpRouter {
    /// A router without listeners; open them with [`listen`](Self::listen).
    pub fn new(config: RouterConfig) -> Self {
        Self::build(config, None)
    }

    /// A router that reads slot endpoints from `target` on every `set_weights`.
    pub fn with_target(config: RouterConfig, target: Arc<dyn DeploymentTarget>) -> Self {
        Self::build(config, Some(target))
    }

    fn build(config: RouterConfig, target: Option<Arc<dyn DeploymentTarget>>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        let shared = Arc::new(Shared {
            measurements: Measurements::new(Duration::from_millis(config.retention_ms)),
            config,
            routes: RwLock::new(BTreeMap::new()),
            target,
            client,
            tasks: Mutex::new(Vec::new()),
        });
        Self {
            _guard: Arc::new(TaskGuard(Arc::clone(&shared))),
            shared,
        }
    }

    /// Builds the router and opens the listeners its configuration names; returns the
    /// router and the bound address of each configured route, in order.
    pub async fn start(
        config: RouterConfig,
        target: Option<Arc<dyn DeploymentTarget>>,
    ) -> Result<(Self, Vec<SocketAddr>), RouterError> {
        let routes = config.routes.clone();
        let metrics = config.metrics_listen;
        let router = Self::build(config, target);
        let mut bound = Vec::new();
        for r in routes {
            let route = Route::new(r.component.as_str(), r.environment.as_str());
            bound.push(router.listen(route, r.listen).await?);
        }
        if let Some(addr) = metrics {
            router.serve_prometheus(addr).await?;
        }
        Ok((router, bound))
    }

    /// Opens a listener for `route` on `addr` (port 0 picks one) and returns its address.
    pub async fn listen(&self, route: Route, addr: SocketAddr) -> Result<SocketAddr, RouterError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RouterError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| RouterError::Bind { addr, source })?;
        let shared = Arc::clone(&self.shared);
        let state = shared.route(&route);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let state = Arc::clone(&state);
                let route = route.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        let state = Arc::clone(&state);
                        let route = route.clone();
                        async move { Ok::<_, Infallible>(proxy(&shared, &state, &route, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        self.push_task(task);
        Ok(local)
    }

    /// Serves the Prometheus text exposition on `addr` (any path) and returns its address.
    pub async fn serve_prometheus(&self, addr: SocketAddr) -> Result<SocketAddr, RouterError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| RouterError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| RouterError::Bind { addr, source })?;
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |_req: Request<Incoming>| {
                        let text = shared.measurements.prometheus_text();
                        async move {
                            let mut r = text_response(StatusCode::OK, None, &text);
                            r.headers_mut().insert(
                                http::header::CONTENT_TYPE,
                                HeaderValue::from_static(
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                ),
                            );
                            Ok::<_, Infallible>(r)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        self.push_task(task);
        Ok(local)
    }

    fn push_task(&self, task: JoinHandle<()>) {
        match self.shared.tasks.lock() {
            Ok(mut t) => t.push(task),
            Err(poisoned) => poisoned.into_inner().push(task),
        }
    }

    /// The Prometheus text exposition of every route's measurements.
    pub fn prometheus_text(&self) -> String {
        self.shared.measurements.prometheus_text()
    }

    /// Sets the upstream endpoints of one slot of a route (an empty list removes the slot's
    /// endpoints). Takes effect for the next request.
    pub fn set_endpoints(&self, route: &Route, slot: &str, endpoints: Vec<Endpoint>) {
        self.shared.set_endpoints(route, slot, endpoints);
    }

    /// A callback for a deployment target to report a slot's endpoints as they change
    /// (e.g. `ProcessTarget::with_endpoint_hook`), so the router follows replacements
    /// before the old replicas stop. It holds the router weakly: it does nothing once the
    /// router is dropped.
    pub fn endpoint_hook(&self) -> impl Fn(&SlotSpec, &[Endpoint]) + Send + Sync + 'static {
        let shared = Arc::downgrade(&self.shared);
        move |spec: &SlotSpec, endpoints: &[Endpoint]| {
            if let Some(shared) = shared.upgrade() {
                let route = Route::new(spec.component.clone(), spec.environment.clone());
                shared.set_endpoints(&route, &spec.slot, endpoints.to_vec());
            }
        }
    }

    /// The endpoints the router sends each slot of `route` to.
    pub fn endpoints(&self, route: &Route) -> BTreeMap<SlotName, Vec<Endpoint>> {
        self.shared
            .existing(route)
            .map(|s| s.snapshot().endpoints.clone())
            .unwrap_or_default()
    }

    /// Replaces every slot's endpoints with what the target observes now; a no-op without a
    /// target.
    pub async fn refresh_endpoints(&self, route: &Route) -> Result<(), RouterError> {
        let Some(target) = &self.shared.target else {
            return Ok(());
        };
        let slots = target
            .observe(&route.component, &route.environment)
            .await
            .map_err(|source| RouterError::Target {
                route: route.to_string(),
                source,
            })?;
        let map: BTreeMap<SlotName, Vec<Endpoint>> = slots
            .into_iter()
            .filter(|s| !s.endpoints.is_empty())
            .map(|s| (s.spec.slot, s.endpoints))
            .collect();
        self.shared.route(route).update(|t| RouteTable {
            weights: t.weights.clone(),
            schedule: t.schedule.clone(),
            endpoints: map,
        });
        Ok(())
    }
}

async fn proxy(
    shared: &Shared,
    state: &RouteState,
    route: &Route,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let table = state.snapshot();
    if table.schedule.is_empty() {
        return text_response(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "no weights are set for this route\n",
        );
    }
    let n = state.next.fetch_add(1, Ordering::Relaxed);
    let len = table.schedule.len() as u64;
    // `len` is not zero (checked above), so the index is in bounds.
    let slot = &table.schedule[(n % len) as usize];
    let labels = SlotLabels {
        component: route.component.to_string(),
        environment: route.environment.to_string(),
        slot: slot.to_string(),
    };
    let started = Instant::now();
    let Some(endpoints) = table.endpoints.get(slot).filter(|e| !e.is_empty()) else {
        shared.measurements.record(&labels, started.elapsed(), true);
        return text_response(
            StatusCode::BAD_GATEWAY,
            Some(slot),
            "the slot has no endpoints\n",
        );
    };
    let endpoint = &endpoints[((n / len) % endpoints.len() as u64) as usize];
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri: Uri = match format!("{}{}", endpoint.url.trim_end_matches('/'), path).parse() {
        Ok(u) => u,
        Err(_) => {
            shared.measurements.record(&labels, started.elapsed(), true);
            return text_response(
                StatusCode::BAD_GATEWAY,
                Some(slot),
                "the slot's endpoint is not a valid URL\n",
            );
        }
    };
    *req.uri_mut() = uri;
    let timeout = Duration::from_millis(shared.config.upstream_timeout_ms);
    let answer = tokio::time::timeout(timeout, shared.client.request(req)).await;
    let latency = started.elapsed();
    match answer {
        Ok(Ok(response)) => {
            let error = response.status().is_server_error();
            shared.measurements.record(&labels, latency, error);
            let mut response = response.map(|b| b.boxed());
            if let Ok(v) = HeaderValue::from_str(slot) {
                response.headers_mut().insert(SLOT_HEADER, v);
            }
            response
        }
        Ok(Err(_)) => {
            shared.measurements.record(&labels, latency, true);
            text_response(
                StatusCode::BAD_GATEWAY,
                Some(slot),
                "the slot did not answer\n",
            )
        }
        Err(_) => {
            shared.measurements.record(&labels, latency, true);
            text_response(
                StatusCode::GATEWAY_TIMEOUT,
                Some(slot),
                "the slot did not answer in time\n",
            )
        }
    }
}

#[async_trait]
impl TrafficRouter for HttpRouter {
    async fn set_weights(&self, route: &Route, weights: &[SlotWeight]) -> release_core::Result<()> {
        check_weights(weights).map_err(|reason| RouterError::InvalidWeights {
            route: route.to_string(),
            weights: format!("{weights:?}"),
            reason,
        })?;
        self.refresh_endpoints(route).await?;
        let mut sorted = weights.to_vec();
        sorted.sort();
        let plan = schedule(&sorted);
        self.shared.route(route).update(|t| RouteTable {
            weights: sorted,
            schedule: plan,
            endpoints: t.endpoints.clone(),
        });
        Ok(())
    }

    async fn weights(&self, route: &Route) -> release_core::Result<Vec<SlotWeight>> {
        Ok(self
            .shared
            .existing(route)
            .map(|s| s.snapshot().weights.clone())
            .unwrap_or_default())
    }
}

#[async_trait]
impl MetricsSource for HttpRouter {
    async fn query(&self, query: &MetricQuery) -> release_core::Result<Series> {
        let metric = Metric::parse(&query.query).ok_or_else(|| RouterError::UnknownQuery {
            query: query.query.clone(),
        })?;
        let (start, end) = if query.start >= query.end {
            // An instant query: the window ending now (the router measures real traffic).
            let now = Utc::now();
            let window = chrono::Duration::milliseconds(
                i64::try_from(self.shared.config.window_ms).unwrap_or(i64::MAX / 2),
            );
            (now - window, now)
        } else {
            (query.start, query.end)
        };
        let samples = self.shared.measurements.series(
            metric,
            query.scope.component.as_str(),
            query.scope.environment.as_str(),
            query.scope.slot.as_deref(),
            start,
            end,
            query.step,
        );
        Ok(Series { samples })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_exact_and_interleaved() {
        let plan = schedule(&[SlotWeight::new("canary", 10), SlotWeight::new("stable", 90)]);
        assert_eq!(plan.len(), 100);
        assert_eq!(plan.iter().filter(|s| *s == "canary").count(), 10);
        // Smooth: canary picks are spread out, never adjacent.
        assert!(
            plan.windows(2)
                .all(|w| !(w[0] == "canary" && w[1] == "canary"))
        );
        let half = schedule(&[SlotWeight::new("a", 50), SlotWeight::new("b", 50)]);
        assert!(half.windows(2).all(|w| w[0] != w[1]));
    }

    #[test]
    fn zero_weights_are_never_picked() {
        let plan = schedule(&[SlotWeight::new("a", 0), SlotWeight::new("b", 100)]);
        assert!(plan.iter().all(|s| s == "b"));
    }
}
