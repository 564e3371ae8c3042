//! Failure modes of webhook receivers that a well-behaved server does not produce on demand,
//! played by wiremock: 5xx then success, 429 with `Retry-After`, timeouts, permanent 4xx,
//! and a receiver whose URL is a secret.
//! covers M8.4 (notifications reach people despite flaky receivers, or are reported).

use std::sync::Arc;
use std::time::Duration;

use release_adapters::webhook::{EndpointConfig, RetryPolicy, WebhookConfig, WebhookNotifier};
use release_core::config::InMemorySecrets;
use release_core::ledger::{Event, EventDraft, GENESIS, Record, seal};
use release_core::model::{SecretRef, SecretValue};
use release_core::plugin::{ManualClock, Notifier};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn record(seq: u64) -> Record {
    let draft = EventDraft::new(
        "shop-1.0.0".into(),
        start(),
        "engine",
        vec![],
        Event::RollbackStarted {
            environment: "production".into(),
            reason: "error rate above 0.05".to_owned(),
        },
    );
    seal(draft, seq, GENESIS).unwrap()
}

/// Fast retries without jitter, so the tests do not wait long.
fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .with_jitter_percent(0)
}

fn notifier(url: String, retry: RetryPolicy) -> WebhookNotifier {
    WebhookConfig::new()
        .with_endpoint(EndpointConfig::new("ops", url))
        .with_retry(retry)
        .with_timeout(Duration::from_millis(300))
        .build(Arc::new(InMemorySecrets::new()))
        .unwrap()
}

async fn attempts_seen(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            r.headers
                .get("x-release-attempt")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn server_errors_are_retried_until_the_receiver_recovers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let n = notifier(format!("{}/hook", server.uri()), quick());
    n.notify(&record(1)).await.unwrap();
    n.flush().await;
    let report = n.report();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(attempts_seen(&server).await, ["1", "2", "3"]);
    // Every attempt carries the same delivery id, for the receiver to deduplicate.
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r.headers.get("x-release-delivery").unwrap() == "shop-1.0.0/1")
    );
    n.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured_on_the_notifiers_clock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = Arc::new(ManualClock::new(start()));
    let n = WebhookConfig::new()
        .with_endpoint(EndpointConfig::new("ops", server.uri()))
        .with_retry(quick())
        .build_with_clock(Arc::new(InMemorySecrets::new()), clock.clone())
        .unwrap();
    n.notify(&record(1)).await.unwrap();
    while attempts_seen(&server).await.is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The 10 ms backoff would have retried long ago; Retry-After holds the delivery.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(attempts_seen(&server).await, ["1"]);
    assert_eq!(n.report().pending, 1);
    clock.advance(Duration::from_secs(119));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(attempts_seen(&server).await, ["1"]);
    clock.advance(Duration::from_secs(1));
    n.flush().await;
    assert_eq!(attempts_seen(&server).await, ["1", "2"]);
    assert_eq!(n.report().delivered, 1);
    n.shutdown().await;
}

#[tokio::test]
async fn a_retry_after_longer_than_the_limit_ends_the_delivery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let n = notifier(
        server.uri(),
        quick().with_max_retry_after(Duration::from_secs(300)),
    );
    n.notify(&record(1)).await.unwrap();
    n.flush().await;
    let report = n.report();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let failed = &report.failed[0];
    assert_eq!(failed.attempts, 1);
    assert!(failed.error.contains("503"), "{}", failed.error);
    assert!(
        failed.error.contains("asked to wait 3600 s"),
        "{}",
        failed.error
    );
}

#[tokio::test]
async fn timeouts_are_retried_then_given_up_and_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let n = notifier(server.uri(), quick().with_max_attempts(2));
    n.notify(&record(7)).await.unwrap();
    n.flush().await;
    let report = n.report();
    assert_eq!(report.delivered, 0);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let failed = &report.failed[0];
    assert_eq!(
        (failed.endpoint.as_str(), failed.seq, failed.attempts),
        ("ops", 7, 2)
    );
    assert_eq!(failed.event, "rollback_started");
    assert!(failed.error.contains("timed out"), "{}", failed.error);
    assert!(
        failed.error.contains("gave up after 2 attempts"),
        "{}",
        failed.error
    );
}

#[tokio::test]
async fn a_permanent_client_error_is_given_up_at_once_and_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no such hook"))
        .mount(&server)
        .await;
    let n = notifier(server.uri(), quick());
    n.notify(&record(3)).await.unwrap();
    n.flush().await;
    assert_eq!(attempts_seen(&server).await, ["1"]);
    let report = n.report();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let error = &report.failed[0].error;
    assert!(error.contains("404 Not Found: no such hook"), "{error}");
    assert!(error.contains("refused for good"), "{error}");
}

#[tokio::test]
async fn a_url_kept_as_a_secret_never_shows_in_reports_or_debug() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let token = "T0KEN-abc123";
    let reference = SecretRef::parse("vault://chat/ops-webhook").unwrap();
    let unreachable = SecretRef::parse("vault://chat/down").unwrap();
    let secrets = InMemorySecrets::new()
        .with(
            reference.clone(),
            SecretValue::new(format!("{}/services/{token}", server.uri())),
        )
        // A closed port: connection refused, an error that would normally carry the URL.
        .with(
            unreachable.clone(),
            SecretValue::new(format!("http://127.0.0.1:9/services/{token}")),
        );
    let n = WebhookConfig::new()
        .with_endpoint(EndpointConfig::with_url_secret("chat", reference))
        .with_endpoint(EndpointConfig::with_url_secret("down", unreachable))
        .with_retry(quick().with_max_attempts(2))
        .build(Arc::new(secrets))
        .unwrap();
    n.notify(&record(1)).await.unwrap();
    n.flush().await;
    let report = n.report();
    assert_eq!(report.failed.len(), 2, "{report:?}");
    let shown = format!(
        "{report:?} {n:?} {}",
        serde_json::to_string(&report).unwrap()
    );
    assert!(!shown.contains(token), "{shown}");
    assert!(
        shown.contains("vault://chat/ops-webhook"),
        "references may show: {shown}"
    );
    // The request did reach the secret URL.
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].url.path().ends_with(token));
}

#[tokio::test]
async fn a_missing_signing_secret_is_reported_without_blocking_the_queue() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let n = WebhookConfig::new()
        .with_endpoint(
            EndpointConfig::new("audit", server.uri())
                .with_signing_secret(SecretRef::parse("vault://audit/missing").unwrap()),
        )
        .with_retry(quick())
        .build(Arc::new(InMemorySecrets::new()))
        .unwrap();
    n.notify(&record(1)).await.unwrap();
    n.notify(&record(2)).await.unwrap();
    n.flush().await;
    let report = n.report();
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert!(report.failed[0].error.contains("vault://audit/missing"));
    assert!(report.failed[0].error.contains("was not found"));
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing unsigned was sent"
    );
}
