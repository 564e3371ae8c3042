//! The webhook notifier against a real HTTP server (axum on loopback): order, bodies,
//! signatures, filters, full queues, and rollback news overtaking a backlog — also through
//! the real engine.
//! covers M8.4 (rollback decisions announced at once to the people concerned).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use release_adapters::sqlite_ledger::SqliteLedgerConfig;
use release_adapters::webhook::{
    BodyFormat, EndpointConfig, WebhookConfig, WebhookError, is_rollback_event,
};
use release_core::config::InMemorySecrets;
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{Event, EventDraft, GENESIS, Ledger, Outcome, Record, read_all, seal};
use release_core::memory::InMemoryTarget;
use release_core::model::{SecretRef, SecretValue};
use release_core::plugin::{Notifier, TokioClock};
use release_core::testkit::{FaultRule, FaultyTarget};
use serde_json::Value;
use tokio::sync::watch;

/// What the server received: headers and body of each POST, in arrival order.
#[derive(Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// `<release>/<seq>`.
    fn delivery(&self) -> String {
        self.header("x-release-delivery").to_owned()
    }
}

#[derive(Clone)]
struct Server {
    received: Arc<Mutex<Vec<Received>>>,
    /// While false, each request is recorded and then held until it turns true.
    open: watch::Sender<bool>,
}

async fn hook(State(s): State<Server>, headers: HeaderMap, body: Bytes) -> StatusCode {
    s.received.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
    });
    let mut rx = s.open.subscribe();
    let _ = rx.wait_for(|open| *open).await;
    StatusCode::NO_CONTENT
}

impl Server {
    async fn start(open: bool) -> (Self, SocketAddr) {
        let server = Self {
            received: Arc::new(Mutex::new(Vec::new())),
            open: watch::Sender::new(open),
        };
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (server, addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn open(&self) {
        self.open.send_replace(true);
    }

    async fn wait_for_requests(&self, n: usize) {
        for _ in 0..2_000 {
            if self.received.lock().unwrap().len() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the server never received {n} requests");
    }
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/hook")
}

fn key_ref() -> SecretRef {
    SecretRef::parse("vault://hooks/signing-key").unwrap()
}

const KEY: &str = "s3cr3t-signing-key";

fn secrets() -> Arc<InMemorySecrets> {
    Arc::new(InMemorySecrets::new().with(key_ref(), SecretValue::new(KEY)))
}

fn at(secs: i64) -> chrono::DateTime<chrono::Utc> {
    common::start_time() + chrono::Duration::seconds(secs)
}

/// A journal of `events` for release `r`, sealed and chained like the ledger does.
fn journal(r: &str, events: Vec<Event>) -> Vec<Record> {
    let mut prev = GENESIS;
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let draft = EventDraft::new(r.into(), at(i as i64), "engine", vec![], event);
            let record = seal(draft, i as u64 + 1, prev).unwrap();
            prev = record.hash;
            record
        })
        .collect()
}

fn paused(reason: &str) -> Event {
    Event::Paused {
        environment: None,
        reason: reason.to_owned(),
    }
}

fn rollback_started(env: &str) -> Event {
    Event::RollbackStarted {
        environment: env.into(),
        reason: "error rate above 0.05".to_owned(),
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn deliveries_arrive_in_journal_order_signed_with_the_late_resolved_key() {
    let (server, addr) = Server::start(true).await;
    let notifier = WebhookConfig::new()
        .with_endpoint(
            EndpointConfig::new("audit", url(addr))
                .with_signing_secret(key_ref())
                .with_header("X-Team", "platform"),
        )
        .build(secrets())
        .unwrap();
    let records = journal(
        "shop-1.0.0",
        vec![
            paused("waiting for the change board"),
            Event::StageStarted {
                environment: "staging".into(),
                attempt: 1,
            },
            Event::StageCompleted {
                environment: "staging".into(),
            },
            Event::ReleaseFinished {
                outcome: Outcome::Succeeded,
            },
        ],
    );
    for r in &records {
        notifier.notify(r).await.unwrap();
    }
    notifier.flush().await;

    let got = server.received();
    let order: Vec<String> = got.iter().map(Received::delivery).collect();
    assert_eq!(
        order,
        [
            "shop-1.0.0/1",
            "shop-1.0.0/2",
            "shop-1.0.0/3",
            "shop-1.0.0/4"
        ]
    );
    for (request, record) in got.iter().zip(&records) {
        // The signature verifies with an independent HMAC implementation.
        let sig = request.header("x-release-signature");
        let hex_mac = sig.strip_prefix("sha256=").expect(sig);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        mac.update(&request.body);
        mac.verify_slice(&hex(hex_mac)).unwrap();

        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("x-release-event"), record.event.type_name());
        assert_eq!(request.header("x-team"), "platform");
        let body = request.json();
        let sent: Record = serde_json::from_value(body["record"].clone()).unwrap();
        assert_eq!(&sent, record, "the body carries the journal record as is");
        assert_eq!(body["rollback"], false);
    }
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    assert_eq!(
        bodies[0]["summary"],
        "shop-1.0.0: paused: waiting for the change board"
    );
    assert_eq!(bodies[1]["environment"], "staging");
    assert_eq!(bodies[1]["summary"], "shop-1.0.0: deploying to staging");
    assert_eq!(bodies[3]["summary"], "shop-1.0.0: release succeeded");
    assert_eq!(bodies[3]["environment"], Value::Null);

    let report = notifier.report();
    assert_eq!(report.delivered, 4);
    assert!(report.failed.is_empty() && report.dropped.is_empty());
    assert_eq!(report.pending, 0);
    // The key is never shown.
    assert!(!format!("{notifier:?}").contains(KEY));
    notifier.shutdown().await;
}

#[tokio::test]
async fn slack_bodies_read_as_one_line_with_blocks() {
    let (server, addr) = Server::start(true).await;
    let notifier = WebhookConfig::new()
        .with_endpoint(EndpointConfig::new("chat", url(addr)).with_format(BodyFormat::Slack))
        .build(secrets())
        .unwrap();
    let records = journal(
        "shop-2.0.0",
        vec![
            Event::TriggerFired {
                environment: "production".into(),
                component: Some("api".into()),
                trigger: "error_rate > 0.05".to_owned(),
                observed: "error rate 0.2 <= 5 min".to_owned(),
            },
            rollback_started("production"),
        ],
    );
    for r in &records {
        notifier.notify(r).await.unwrap();
    }
    notifier.shutdown().await;
    let bodies: Vec<Value> = server.received().iter().map(Received::json).collect();
    assert_eq!(
        bodies[0]["text"],
        ":rotating_light: shop-2.0.0: ROLLBACK TRIGGER `error_rate > 0.05` fired in production for api: error rate 0.2 <= 5 min"
    );
    assert_eq!(bodies[0]["blocks"][0]["type"], "section");
    assert_eq!(
        bodies[0]["blocks"][0]["text"]["text"],
        ":rotating_light: shop-2.0.0: ROLLBACK TRIGGER `error_rate &gt; 0.05` fired in production for api: error rate 0.2 &lt;= 5 min",
        "mrkdwn escapes <, > and &"
    );
    assert_eq!(bodies[0]["blocks"][1]["type"], "context");
    assert!(
        bodies[1]["text"]
            .as_str()
            .unwrap()
            .ends_with("shop-2.0.0: ROLLBACK of production started: error rate above 0.05")
    );
    assert!(bodies.iter().all(|b| b.get("record").is_none()));
}

#[tokio::test]
async fn endpoints_filter_by_event_type_and_environment() {
    let (server, addr) = Server::start(true).await;
    let notifier = WebhookConfig::new()
        .with_endpoint(
            EndpointConfig::new("prod-outcomes", url(addr))
                .with_events(["release_finished", "rollback_started"])
                .with_environments(["production"]),
        )
        .build(secrets())
        .unwrap();
    let events = vec![
        Event::StageStarted {
            environment: "production".into(),
            attempt: 1,
        },
        rollback_started("staging"),
        Event::ReleaseFinished {
            outcome: Outcome::Succeeded,
        },
        rollback_started("production"),
    ];
    let records = journal("shop-3.0.0", events);
    let wanted: Vec<bool> = records.iter().map(|r| notifier.wants(&r.event)).collect();
    assert_eq!(wanted, [false, false, true, true]);
    for r in &records {
        // The engine asks `wants` first; `notify` filters too.
        notifier.notify(r).await.unwrap();
    }
    notifier.shutdown().await;
    let mut sent: Vec<String> = server.received().iter().map(Received::delivery).collect();
    // (The rollback news may overtake the release's end if that is still queued.)
    sent.sort();
    assert_eq!(sent, ["shop-3.0.0/3", "shop-3.0.0/4"]);
}

#[tokio::test]
async fn rollback_news_overtakes_a_backlog_and_evicts_chatter_from_a_full_queue() {
    let (server, addr) = Server::start(false).await;
    let notifier = WebhookConfig::new()
        .with_endpoint(EndpointConfig::new("ops", url(addr)))
        .with_queue_capacity(3)
        .build(secrets())
        .unwrap();
    let records = journal(
        "shop-4.0.0",
        vec![
            paused("1"),
            paused("2"),
            paused("3"),
            paused("4"),
            rollback_started("production"),
            paused("6"),
            Event::RollbackCompleted {
                environment: "production".into(),
            },
        ],
    );
    // Record 1 goes out and hangs at the receiver: everything after it queues.
    notifier.notify(&records[0]).await.unwrap();
    server.wait_for_requests(1).await;
    for r in &records[1..4] {
        notifier.notify(r).await.unwrap();
    }
    // The queue holds 2, 3, 4: rollback news evicts the oldest chatter (2), chatter is dropped.
    notifier.notify(&records[4]).await.unwrap();
    let err = notifier.enqueue(&records[5]).unwrap_err();
    assert!(
        matches!(err, WebhookError::QueueFull { seq: 6, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("raise `queue_capacity`"), "{err}");
    notifier.notify(&records[6]).await.unwrap(); // full of 5, 3, 4: evicts 3
    let report = notifier.report();
    assert_eq!(report.pending, 4, "{report:?}");

    server.open();
    notifier.flush().await;
    let order: Vec<String> = server.received().iter().map(Received::delivery).collect();
    assert_eq!(
        order,
        [
            "shop-4.0.0/1",
            "shop-4.0.0/5",
            "shop-4.0.0/7",
            "shop-4.0.0/4"
        ]
    );
    let report = notifier.report();
    assert_eq!(report.delivered, 4);
    let dropped: Vec<u64> = report.dropped.iter().map(|d| d.seq).collect();
    assert_eq!(dropped, [2, 6, 3]);
    assert!(
        report.dropped[0]
            .error
            .contains("evicted for rollback news")
    );
    notifier.shutdown().await;
}

#[tokio::test]
async fn after_shutdown_records_are_refused() {
    let (_server, addr) = Server::start(true).await;
    let notifier = WebhookConfig::new()
        .with_endpoint(EndpointConfig::new("ops", url(addr)))
        .build(secrets())
        .unwrap();
    notifier.shutdown().await;
    let records = journal("shop-5.0.0", vec![paused("late")]);
    let err = notifier.notify(&records[0]).await.unwrap_err();
    assert!(err.to_string().contains("shut down"), "{err}");
}

#[test]
fn bad_configurations_name_the_endpoint_the_field_and_the_fix() {
    let cases: Vec<(WebhookConfig, &str)> = vec![
        (WebhookConfig::new(), "add at least one"),
        (
            WebhookConfig::new().with_endpoint(EndpointConfig::new("a", "ftp://x/y")),
            "webhook endpoint `a`: `url` `ftp://x/y` has scheme `ftp`; use http or https",
        ),
        (
            WebhookConfig::new()
                .with_endpoint(EndpointConfig::new("a", "http://x").with_events(["rollback_done"])),
            "`rollback_done` is not an event type; use one of: release_started",
        ),
        (
            WebhookConfig::new()
                .with_endpoint(EndpointConfig::new("a", "http://x"))
                .with_endpoint(EndpointConfig::new("a", "http://y")),
            "names must be unique",
        ),
        (
            WebhookConfig::new()
                .with_endpoint(EndpointConfig::new("a", "http://x").with_header("bad header", "v")),
            "`bad header` is not a valid header name",
        ),
    ];
    for (config, expected) in cases {
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    let err = serde_json::from_str::<WebhookConfig>(
        r#"{ "endpoints": [ { "name": "a", "uri": "http://x" } ] }"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `uri`"), "{err}");
    // Outside a runtime, building is an error, not a panic.
    let err = WebhookConfig::new()
        .with_endpoint(EndpointConfig::new("a", "http://x"))
        .build(secrets())
        .unwrap_err();
    assert!(matches!(err, WebhookError::NoRuntime), "{err}");
}

/// The real engine, a SQLite ledger file, and a receiver that hangs on the first request:
/// release 1.0.0 ships, release 2.0.0 fails in production and is rolled back. When the
/// receiver recovers, the rollback's news comes before the backlog of ordinary events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_engine_a_rollback_reaches_the_endpoint_before_the_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(
        SqliteLedgerConfig::new(dir.path().join("ledger.db"))
            .open()
            .unwrap(),
    );
    let (server, addr) = Server::start(false).await;
    let notifier = Arc::new(
        WebhookConfig::new()
            .with_endpoint(EndpointConfig::new("ops", url(addr)).with_signing_secret(key_ref()))
            .build(secrets())
            .unwrap(),
    );
    let target = Arc::new(FaultyTarget::new(Arc::new(InMemoryTarget::new())));
    let engine = Engine::builder()
        .ledger(ledger.clone())
        .clock(Arc::new(TokioClock::new(common::start_time())))
        .target("default", target.clone())
        .notifier(notifier.clone())
        .options(EngineOptions::default().with_holder("engine-a"))
        .build()
        .unwrap();
    let first = engine
        .start(
            &common::platform(),
            &common::release("shop-1.0.0", "1.0.0"),
            "ana@x",
        )
        .await
        .unwrap();
    assert_eq!(first.outcome(), Some(&Outcome::Succeeded));
    target.inject(
        FaultRule::fail_apply(false)
            .for_component("web")
            .in_environment("production")
            .times(1),
    );
    let second = engine
        .start(
            &common::platform(),
            &common::release("shop-2.0.0", "2.0.0"),
            "ana@x",
        )
        .await
        .unwrap();
    assert!(
        matches!(second.outcome(), Some(Outcome::RolledBack { .. })),
        "{second:?}"
    );
    // Both releases ran to the end while the receiver hung on the first request.
    assert_eq!(server.received().len(), 1);
    assert!(notifier.report().pending > 50, "{:?}", notifier.report());

    server.open();
    notifier.flush().await;

    let mut journal = read_all(ledger.as_ref(), &"shop-1.0.0".into())
        .await
        .unwrap();
    journal.extend(
        read_all(ledger.as_ref(), &"shop-2.0.0".into())
            .await
            .unwrap(),
    );
    let id = |r: &Record| format!("{}/{}", r.release, r.seq);
    let (rollback, ordinary): (Vec<&Record>, Vec<&Record>) = journal[1..]
        .iter()
        .partition(|r| is_rollback_event(&r.event));
    assert!(
        rollback.len() >= 5,
        "rollback started, programmed, its steps, completed, release finished: {rollback:?}"
    );
    let mut expected = vec![id(&journal[0])];
    expected.extend(rollback.iter().map(|r| id(r)));
    expected.extend(ordinary.iter().map(|r| id(r)));
    let got: Vec<String> = server.received().iter().map(Received::delivery).collect();
    assert_eq!(got, expected);

    // The first rollback news is the rollback of production starting, signed like the rest.
    let requests = server.received();
    let first_news = requests[1].json();
    assert_eq!(first_news["record"]["event"]["type"], "rollback_started");
    assert_eq!(first_news["rollback"], true);
    assert_eq!(first_news["environment"], "production");
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-release-signature").starts_with("sha256="))
    );
    let report = notifier.report();
    assert_eq!(report.delivered as usize, journal.len());
    assert!(report.failed.is_empty() && report.dropped.is_empty());
    notifier.shutdown().await;
}
