//! The notifier: per-endpoint queues with a rollback lane, and their delivery tasks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::config::SecretProvider;
use release_core::ledger::{Event, Record};
use release_core::model::ReleaseId;
use release_core::plugin::{Clock, Notifier};
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::body::{environment_of, is_rollback_event, render};
use super::config::check_url;
use super::retry::retry_after;
use super::sign::signature;
use super::{EndpointConfig, RetryPolicy, WebhookConfig, WebhookError};

/// A delivery that was given up or dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FailedDelivery {
    /// The endpoint's name.
    pub endpoint: String,
    /// The release.
    pub release: ReleaseId,
    /// The record.
    pub seq: u64,
    /// Its event type.
    pub event: String,
    /// Attempts made (0 for a delivery dropped from a full queue).
    pub attempts: u32,
    /// Why it ended (never a secret or a secret URL).
    pub error: String,
}

/// What the notifier has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// Deliveries answered with 2xx.
    pub delivered: u64,
    /// Deliveries given up: a permanent answer, or retries exhausted.
    pub failed: Vec<FailedDelivery>,
    /// Deliveries dropped from a full queue.
    pub dropped: Vec<FailedDelivery>,
    /// Deliveries queued or in flight now.
    pub pending: usize,
}

/// Sends journal records to webhooks; see the [module docs](super).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use release_adapters::webhook::{BodyFormat, EndpointConfig, WebhookConfig};
/// use release_core::config::InMemorySecrets;
///
/// let notifier = Arc::new(
///     WebhookConfig::new()
///         .with_endpoint(
///             EndpointConfig::new("ops-chat", "https://chat.example/hooks/ops")
///                 .with_format(BodyFormat::Slack)
///                 .with_events(["trigger_fired", "rollback_started", "release_finished"]),
///         )
///         .build(Arc::new(InMemorySecrets::new()))?,
/// );
/// // Engine::builder().notifier(notifier.clone()) …; at the end:
/// notifier.shutdown().await;
/// # Ok(()) }
/// ```
pub struct WebhookNotifier {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoints: Vec<&EndpointConfig> =
            self.shared.endpoints.iter().map(|e| &e.config).collect();
        f.debug_struct("WebhookNotifier")
            .field("endpoints", &endpoints)
            .field("retry", &self.shared.retry)
            .field("pending", &*self.shared.outstanding.borrow())
            .finish_non_exhaustive()
    }
}

struct Shared {
    endpoints: Vec<Endpoint>,
    client: reqwest::Client,
    secrets: Arc<dyn SecretProvider>,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    capacity: usize,
    closed: AtomicBool,
    /// Deliveries queued or in flight, over all endpoints.
    outstanding: watch::Sender<usize>,
    tally: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    delivered: u64,
    failed: Vec<FailedDelivery>,
    dropped: Vec<FailedDelivery>,
}

struct Endpoint {
    config: EndpointConfig,
    lanes: Mutex<Lanes>,
    wake: Notify,
}

#[derive(Default)]
struct Lanes {
    rollback: VecDeque<Delivery>,
    ordinary: VecDeque<Delivery>,
}

struct Delivery {
    release: ReleaseId,
    seq: u64,
    event: &'static str,
    body: Arc<[u8]>,
    rollback: bool,
    attempts: u32,
    not_before: Option<DateTime<Utc>>,
}

impl Delivery {
    fn failed(&self, endpoint: &str, error: String) -> FailedDelivery {
        FailedDelivery {
            endpoint: endpoint.to_owned(),
            release: self.release.clone(),
            seq: self.seq,
            event: self.event.to_owned(),
            attempts: self.attempts,
            error,
        }
    }
}

/// Why an attempt failed.
struct Failure {
    retryable: bool,
    retry_after: Option<Duration>,
    message: String,
}

impl Failure {
    fn permanent(message: String) -> Self {
        Self {
            retryable: false,
            retry_after: None,
            message,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

impl Endpoint {
    fn matches(&self, event: &Event) -> bool {
        let c = &self.config;
        let by_type = c.events.is_empty() || c.events.iter().any(|t| t == event.type_name());
        let by_env = c.environments.is_empty()
            || environment_of(event).is_none_or(|e| c.environments.contains(e));
        by_type && by_env
    }
}

impl WebhookNotifier {
    pub(crate) fn start(
        config: WebhookConfig,
        secrets: Arc<dyn SecretProvider>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, WebhookError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WebhookError::NoRuntime)?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("release-webhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(WebhookError::Client)?;
        let (outstanding, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            endpoints: config
                .endpoints
                .into_iter()
                .map(|config| Endpoint {
                    config,
                    lanes: Mutex::new(Lanes::default()),
                    wake: Notify::new(),
                })
                .collect(),
            client,
            secrets,
            clock,
            retry: config.retry,
            capacity: config.queue_capacity,
            closed: AtomicBool::new(false),
            outstanding,
            tally: Mutex::new(Tally::default()),
        });
        let workers = (0..shared.endpoints.len())
            .map(|i| runtime.spawn(deliver_loop(shared.clone(), i)))
            .collect();
        Ok(Self {
            shared,
            workers: Mutex::new(workers),
        })
    }

    /// Queues `record` for every endpoint that wants it, without waiting for the network.
    pub fn enqueue(&self, record: &Record) -> Result<(), WebhookError> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::SeqCst) {
            return Err(WebhookError::Closed {
                release: record.release.clone(),
                seq: record.seq,
            });
        }
        let rollback = is_rollback_event(&record.event);
        let mut full = Vec::new();
        for ep in shared.endpoints.iter().filter(|e| e.matches(&record.event)) {
            let body = match render(record, ep.config.format) {
                Ok(body) => body,
                Err(e) => {
                    let d = self.delivery(record, rollback, Arc::from(Vec::new()));
                    lock(&shared.tally)
                        .failed
                        .push(d.failed(&ep.config.name, format!("cannot encode the body: {e}")));
                    continue;
                }
            };
            let delivery = self.delivery(record, rollback, Arc::from(body));
            let mut lanes = lock(&ep.lanes);
            if lanes.rollback.len() + lanes.ordinary.len() >= shared.capacity {
                let evicted = if rollback {
                    lanes.ordinary.pop_front()
                } else {
                    None
                };
                match evicted {
                    Some(old) => {
                        lock(&shared.tally).dropped.push(old.failed(
                            &ep.config.name,
                            format!(
                                "queue full ({} deliveries): evicted for rollback news",
                                shared.capacity
                            ),
                        ));
                        shared.outstanding.send_modify(|n| *n = n.saturating_sub(1));
                    }
                    None => {
                        lock(&shared.tally).dropped.push(delivery.failed(
                            &ep.config.name,
                            format!("queue full ({} deliveries)", shared.capacity),
                        ));
                        full.push(ep.config.name.clone());
                        continue;
                    }
                }
            }
            if rollback {
                lanes.rollback.push_back(delivery);
            } else {
                lanes.ordinary.push_back(delivery);
            }
            shared.outstanding.send_modify(|n| *n += 1);
            drop(lanes);
            ep.wake.notify_one();
        }
        if full.is_empty() {
            Ok(())
        } else {
            Err(WebhookError::QueueFull {
                endpoints: full,
                release: record.release.clone(),
                seq: record.seq,
                event: record.event.type_name(),
            })
        }
    }

    fn delivery(&self, record: &Record, rollback: bool, body: Arc<[u8]>) -> Delivery {
        Delivery {
            release: record.release.clone(),
            seq: record.seq,
            event: record.event.type_name(),
            body,
            rollback,
            attempts: 0,
            not_before: None,
        }
    }

    /// Waits until every queued delivery is delivered or given up (retries included).
    pub async fn flush(&self) {
        let mut rx = self.shared.outstanding.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Refuses new records, drains the queues (retries included) and stops the delivery
    /// tasks.
    pub async fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        for ep in &self.shared.endpoints {
            ep.wake.notify_one();
        }
        self.flush().await;
        let workers = std::mem::take(&mut *lock(&self.workers));
        for w in workers {
            let _ = w.await;
        }
    }

    /// Deliveries so far: delivered, given up, dropped, pending.
    pub fn report(&self) -> DeliveryReport {
        let tally = lock(&self.shared.tally);
        DeliveryReport {
            delivered: tally.delivered,
            failed: tally.failed.clone(),
            dropped: tally.dropped.clone(),
            pending: *self.shared.outstanding.borrow(),
        }
    }
}

impl Drop for WebhookNotifier {
    fn drop(&mut self) {
        // The tasks drain what is queued, then stop.
        self.shared.closed.store(true, Ordering::SeqCst);
        for ep in &self.shared.endpoints {
            ep.wake.notify_one();
        }
    }
}

enum Next {
    Take(Delivery),
    Sleep(Duration),
    Idle,
    Stop,
}

async fn deliver_loop(shared: Arc<Shared>, index: usize) {
    let Some(ep) = shared.endpoints.get(index) else {
        return;
    };
    loop {
        let next = {
            let mut lanes = lock(&ep.lanes);
            let now = shared.clock.now();
            let Lanes { rollback, ordinary } = &mut *lanes;
            let lane = if rollback.is_empty() {
                ordinary
            } else {
                rollback
            };
            match lane.front().map(|d| d.not_before) {
                None if shared.closed.load(Ordering::SeqCst) => Next::Stop,
                None => Next::Idle,
                Some(Some(at)) if at > now => {
                    Next::Sleep((at - now).to_std().unwrap_or(Duration::ZERO))
                }
                Some(_) => lane.pop_front().map_or(Next::Idle, Next::Take),
            }
        };
        match next {
            Next::Stop => return,
            Next::Idle => ep.wake.notified().await,
            Next::Sleep(wait) => {
                // A new delivery (rollback news) ends the wait early.
                tokio::select! {
                    () = shared.clock.sleep(wait) => {}
                    () = ep.wake.notified() => {}
                }
            }
            Next::Take(delivery) => shared.attempt(ep, delivery).await,
        }
    }
}

impl Shared {
    async fn attempt(&self, ep: &Endpoint, mut d: Delivery) {
        d.attempts += 1;
        let name = &ep.config.name;
        let failure = match self.post(ep, &d).await {
            Ok(()) => {
                lock(&self.tally).delivered += 1;
                self.outstanding.send_modify(|n| *n = n.saturating_sub(1));
                return;
            }
            Err(f) => f,
        };
        let wait = if failure.retryable && d.attempts < self.retry.max_attempts {
            match failure.retry_after {
                Some(asked) if asked > Duration::from_millis(self.retry.max_retry_after_ms) => {
                    Err(format!(
                        "{}; the receiver asked to wait {} s, longer than max_retry_after_ms ({} ms), so the delivery ends here",
                        failure.message,
                        asked.as_secs(),
                        self.retry.max_retry_after_ms
                    ))
                }
                Some(asked) => Ok(asked),
                None => {
                    let key = format!("{name}/{}/{}", d.release, d.seq);
                    let index = usize::try_from(d.attempts - 1).unwrap_or(usize::MAX);
                    Ok(self
                        .retry
                        .schedule(&key)
                        .get(index)
                        .copied()
                        .unwrap_or(Duration::ZERO))
                }
            }
        } else if failure.retryable {
            Err(format!(
                "{}; gave up after {} attempts",
                failure.message, d.attempts
            ))
        } else {
            Err(failure.message)
        };
        match wait {
            Ok(wait) => {
                let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                d.not_before = self.clock.now().checked_add_signed(wait);
                let mut lanes = lock(&ep.lanes);
                if d.rollback {
                    lanes.rollback.push_front(d);
                } else {
                    lanes.ordinary.push_front(d);
                }
            }
            Err(message) => {
                tracing::warn!(
                    endpoint = %name,
                    release = %d.release,
                    seq = d.seq,
                    event = d.event,
                    attempts = d.attempts,
                    error = %message,
                    "a webhook delivery was given up"
                );
                lock(&self.tally).failed.push(d.failed(name, message));
                self.outstanding.send_modify(|n| *n = n.saturating_sub(1));
            }
        }
    }

    async fn post(&self, ep: &Endpoint, d: &Delivery) -> Result<(), Failure> {
        let c = &ep.config;
        let secret_url = c.url.is_none();
        let url = match (&c.url, &c.url_secret) {
            (Some(url), _) => url.clone(),
            (None, Some(reference)) => {
                let value = self.secrets.resolve(reference).await.map_err(|e| Failure {
                    retryable: e.is_retryable(),
                    retry_after: None,
                    message: e.to_string(),
                })?;
                let url = value.expose().to_owned();
                if check_url(&url).is_err() {
                    return Err(Failure::permanent(format!(
                        "the value of secret `{reference}` is not an http(s) URL; store the webhook's URL there"
                    )));
                }
                url
            }
            (None, None) => {
                return Err(Failure::permanent(
                    "no URL is configured; set `url` or `url_secret`".to_owned(),
                ));
            }
        };
        let mut request = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Release-Event", d.event)
            .header("X-Release-Delivery", format!("{}/{}", d.release, d.seq))
            .header("X-Release-Attempt", d.attempts.to_string());
        for (name, value) in &c.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(reference) = &c.signing_secret {
            let key = self.secrets.resolve(reference).await.map_err(|e| Failure {
                retryable: e.is_retryable(),
                retry_after: None,
                message: e.to_string(),
            })?;
            request = request.header(
                c.signature_header.as_str(),
                signature(key.expose().as_bytes(), &d.body),
            );
        }
        let response = match request.body(d.body.to_vec()).send().await {
            Ok(r) => r,
            Err(e) => {
                let e = if secret_url { e.without_url() } else { e };
                return Err(Failure {
                    retryable: !e.is_builder(),
                    retry_after: None,
                    message: chain(&e),
                });
            }
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, self.clock.now()));
        let code = status.as_u16();
        if status.is_redirection() {
            return Err(Failure::permanent(format!(
                "answered {status}; redirects are not followed: configure the final URL"
            )));
        }
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(200).collect();
        let said = if excerpt.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", excerpt.trim())
        };
        let retryable = code == 408 || code == 429 || status.is_server_error();
        Err(Failure {
            retryable,
            retry_after,
            message: if retryable {
                format!("answered {status}{said}")
            } else {
                format!(
                    "answered {status}{said}; the request is refused for good, fix the endpoint's configuration"
                )
            },
        })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn wants(&self, event: &Event) -> bool {
        self.shared.endpoints.iter().any(|e| e.matches(event))
    }

    async fn notify(&self, record: &Record) -> release_core::Result<()> {
        Ok(self.enqueue(record)?)
    }
}
