//! The Prometheus metrics source against a real Prometheus server (issue #7; covers M6.1,
//! M5.5, M8.1): the test starts `prometheus` (the Debian package's binary, or
//! `RELEASE_TEST_PROMETHEUS_BIN`) on a free loopback port with a temporary TSDB, scraping a
//! small exporter this test serves every second, then checks instant and range queries,
//! scope labels, NaN handling, bad queries, basic auth, and a rollback trigger through the
//! engine. Without the binary every test says once that it skips.

#![cfg(feature = "prometheus")]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use release_adapters::prometheus::{
    MultipleSeries, NonFinite, PrometheusAuth, PrometheusConfig, PrometheusError, PrometheusSource,
    ScopeLabels,
};
use release_core::ErrorKind;
use release_core::config::InMemorySecrets;
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{Event, InMemoryLedger, Ledger, Outcome, read_all};
use release_core::memory::InMemoryTarget;
use release_core::model::{Release, SecretRef, SecretValue};
use release_core::plugin::{
    DeploymentTarget, MetricQuery, MetricScope, MetricsSource, Series, SystemClock,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

static SKIP: std::sync::Once = std::sync::Once::new();

/// The Prometheus binary, or `None` (saying so once) when it is not installed.
fn prometheus_bin() -> Option<PathBuf> {
    let path = std::env::var_os("RELEASE_TEST_PROMETHEUS_BIN")
        .map_or_else(|| PathBuf::from("/usr/bin/prometheus"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    SKIP.call_once(|| {
        eprintln!(
            "skipping the Prometheus tests: no binary at {}; install the Debian package `prometheus` (.ci/run does) or set RELEASE_TEST_PROMETHEUS_BIN",
            path.display()
        );
    });
    None
}

/// Serves Prometheus text with known values; `demo_scrapes_total` counts the scrapes.
async fn exporter() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scrapes = Arc::new(AtomicU64::new(0));
    let counter = scrapes.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let body = format!(
                    "# TYPE demo_error_ratio gauge\n\
                     demo_error_ratio{{app=\"web\",env=\"prod\",track=\"stable\"}} 0.01\n\
                     demo_error_ratio{{app=\"web\",env=\"prod\",track=\"canary\"}} 0.25\n\
                     demo_error_ratio{{app=\"api\",env=\"prod\",track=\"stable\"}} 0.5\n\
                     # TYPE demo_scrapes_total counter\n\
                     demo_scrapes_total{{app=\"web\",env=\"prod\"}} {n}\n\
                     # TYPE demo_idle_ratio gauge\n\
                     demo_idle_ratio{{app=\"web\",env=\"prod\"}} NaN\n\
                     # TYPE demo_latency_seconds gauge\n\
                     demo_latency_seconds{{app=\"web\",env=\"prod\"}} +Inf\n"
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (port, scrapes)
}

/// A Prometheus server scraping the exporter every second; killed on drop.
struct Server {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// bcrypt (cost 4) of `obs-test-password`, for `basic_auth_users`.
const PASSWORD_HASH: &str = "$2b$04$v7hUw6DK49.Yg7upvBHlCu75zQ7BMDkEnfSx70oHJ6phqqLOnI62q";

async fn start_server(bin: &PathBuf, exporter_port: u16, basic_auth: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\n\
             scrape_configs:\n  - job_name: demo\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
        ),
    )
    .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--log.level=warn".to_owned(),
    ];
    if basic_auth {
        let web = dir.path().join("web.yml");
        std::fs::write(
            &web,
            format!("basic_auth_users:\n  ops: '{PASSWORD_HASH}'\n"),
        )
        .unwrap();
        args.push(format!("--web.config.file={}", web.display()));
    }
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(bin)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    };
    // Ready: /-/ready answers (200, or 401 behind basic auth).
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{}/-/ready", server.url)).send().await
            && (r.status().is_success() || r.status() == 401)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus did not become ready; log: {}",
            std::fs::read_to_string(server.dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
}

fn scope(component: &str, slot: Option<&str>) -> MetricScope {
    MetricScope {
        component: component.into(),
        environment: "prod".into(),
        slot: slot.map(Into::into),
    }
}

fn labels() -> ScopeLabels {
    ScopeLabels::new("app", "env", "track")
}

fn source(url: &str) -> PrometheusSource {
    PrometheusSource::new(PrometheusConfig::new(url).with_labels(labels())).unwrap()
}

async fn instant(source: &dyn MetricsSource, query: &str, scope: MetricScope) -> Series {
    source
        .query(&MetricQuery::instant(query, scope, Utc::now()))
        .await
        .unwrap()
}

/// Waits until `query` has data (the first scrapes take a moment).
async fn wait_for(source: &dyn MetricsSource, query: &str, scope: MetricScope) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while instant(source, query, scope.clone())
        .await
        .samples
        .is_empty()
    {
        assert!(Instant::now() < deadline, "no data for {query}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instant_and_range_queries_read_what_prometheus_scraped() {
    let Some(bin) = prometheus_bin() else { return };
    let (port, scrapes) = exporter().await;
    let server = start_server(&bin, port, false).await;
    let prom = source(&server.url);
    let canary = scope("web", Some("canary"));
    let ratio = "demo_error_ratio{ {{scope}} }";
    wait_for(&prom, ratio, canary.clone()).await;

    // The scope labels (configured as app / env / track) pick the series.
    let value = |s: Series| s.last().unwrap();
    assert_eq!(value(instant(&prom, ratio, canary.clone()).await), 0.25);
    assert_eq!(
        value(instant(&prom, ratio, scope("web", Some("stable"))).await),
        0.01
    );
    assert_eq!(
        value(
            instant(
                &prom,
                "demo_error_ratio{{{scope}}}",
                scope("api", Some("stable"))
            )
            .await
        ),
        0.5
    );
    // Single placeholders inside the query's own quotes.
    assert_eq!(
        value(
            instant(
                &prom,
                r#"max(demo_error_ratio{app="{{component}}",env="{{environment}}"})"#,
                scope("web", None),
            )
            .await
        ),
        0.25
    );
    // Without a slot the selector matches two series: a typed error, or an aggregate.
    let err = prom
        .run(&MetricQuery::instant(ratio, scope("web", None), Utc::now()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PrometheusError::MultipleSeries { count: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(r#"track="canary""#), "{err}");
    let summed = PrometheusSource::new(
        PrometheusConfig::new(&server.url)
            .with_labels(labels())
            .with_multiple_series(MultipleSeries::Sum),
    )
    .unwrap();
    let total = value(instant(&summed, ratio, scope("web", None)).await);
    assert!((total - 0.26).abs() < 1e-12, "{total}");
    // A scalar, and a metric nobody exports (no data, not zero).
    assert_eq!(value(instant(&prom, "1 + 1", canary.clone()).await), 2.0);
    assert!(
        instant(&prom, "demo_missing{ {{scope}} }", canary.clone())
            .await
            .samples
            .is_empty()
    );

    // NaN is no data by default, kept on request; +Inf stays.
    let web = scope("web", None);
    wait_for(&prom, "demo_latency_seconds{ {{scope}} }", web.clone()).await;
    assert!(
        instant(&prom, "demo_idle_ratio{ {{scope}} }", web.clone())
            .await
            .samples
            .is_empty()
    );
    assert_eq!(
        value(instant(&prom, "demo_latency_seconds{ {{scope}} }", web.clone()).await),
        f64::INFINITY
    );
    let keep = PrometheusSource::new(
        PrometheusConfig::new(&server.url)
            .with_labels(labels())
            .with_non_finite(NonFinite::Keep),
    )
    .unwrap();
    assert!(value(instant(&keep, "demo_idle_ratio{ {{scope}} }", web.clone()).await).is_nan());

    // Range: wait for a few more scrapes, then one sample per second, rising with the
    // exporter's scrape counter.
    let seen = scrapes.load(Ordering::SeqCst);
    while scrapes.load(Ordering::SeqCst) < seen + 4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let end = Utc::now();
    let mut range = MetricQuery::instant("demo_scrapes_total{ {{scope}} }", web.clone(), end);
    range.start = end - chrono::Duration::seconds(3);
    range.step = Some(Duration::from_secs(1));
    let series = prom.query(&range).await.unwrap();
    assert_eq!(series.samples.len(), 4, "{series:?}");
    assert!(
        series.samples.windows(2).all(|w| w[0].at < w[1].at
            && w[1].at - w[0].at == chrono::Duration::seconds(1)
            && w[0].value <= w[1].value),
        "{series:?}"
    );
    assert!(
        series.samples[3].value > series.samples[0].value,
        "{series:?}"
    );
    assert!(series.samples[3].value <= scrapes.load(Ordering::SeqCst) as f64);
    let mut ratios = range.clone();
    ratios.query = ratio.to_owned();
    ratios.scope = canary.clone();
    let series = prom.query(&ratios).await.unwrap();
    assert_eq!(series.samples.len(), 4);
    assert!(series.samples.iter().all(|s| s.value == 0.25));

    // A query Prometheus cannot parse: its bad_data message, not retryable.
    let err = prom
        .query(&MetricQuery::instant("sum(", canary.clone(), Utc::now()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Plugin);
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("HTTP 400") && err.to_string().contains("bad_data"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_comes_from_a_secret_reference() {
    let Some(bin) = prometheus_bin() else { return };
    let (port, _) = exporter().await;
    let server = start_server(&bin, port, true).await;
    let reference = SecretRef::parse("vault://monitoring/prometheus").unwrap();
    let auth = PrometheusAuth::Basic {
        username: "ops".into(),
        password: reference.clone(),
    };
    let secrets = Arc::new(
        InMemorySecrets::new().with(reference.clone(), SecretValue::new("obs-test-password")),
    );
    let prom = PrometheusSource::builder(
        PrometheusConfig::new(&server.url)
            .with_labels(labels())
            .with_auth(auth.clone()),
    )
    .secrets(secrets)
    .build()
    .unwrap();
    let canary = scope("web", Some("canary"));
    wait_for(&prom, "demo_error_ratio{ {{scope}} }", canary.clone()).await;
    assert_eq!(
        instant(&prom, "demo_error_ratio{ {{scope}} }", canary.clone())
            .await
            .last(),
        Some(0.25)
    );
    let shown = format!("{prom:?}");
    assert!(
        shown.contains("vault://monitoring/prometheus") && !shown.contains("obs-test-password"),
        "{shown}"
    );

    // Without credentials, or with a wrong password: 401, not retryable.
    let wrong = Arc::new(InMemorySecrets::new().with(reference, SecretValue::new("guess")));
    let anonymous = source(&server.url);
    let guessing = PrometheusSource::builder(
        PrometheusConfig::new(&server.url)
            .with_labels(labels())
            .with_auth(auth),
    )
    .secrets(wrong)
    .build()
    .unwrap();
    for source in [&anonymous, &guessing] {
        let err = source
            .query(&MetricQuery::instant("up", canary.clone(), Utc::now()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("HTTP 401"), "{err}");
        assert!(!err.is_retryable());
        assert!(!err.to_string().contains("guess"));
    }
}

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: web, owner: { primary: a@x, backup: b@x } }
environments:
  - { name: prod, tier: production }
lifecycle:
  phases:
    - { name: release, environments: [prod] }
analyses:
  canary-errors:
    metric:
      source: prometheus
      query: 'max(demo_error_ratio{app="{{component}}",env="{{environment}}",track="canary"})'
    success: "< 0.1"
  stable-errors:
    metric:
      source: prometheus
      query: 'max(demo_error_ratio{app="{{component}}",env="{{environment}}",track="stable"})'
    success: "< 0.1"
"#;

fn release(version: &str, trigger: &str) -> Release {
    common::web_release(
        version,
        &format!("  watch_window: 2s\n  triggers:\n    - analysis: {{ name: {trigger} }}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_rolls_back_on_a_prometheus_analysis_trigger() {
    let Some(bin) = prometheus_bin() else { return };
    let (port, _) = exporter().await;
    let server = start_server(&bin, port, false).await;
    let prom = Arc::new(source(&server.url));
    wait_for(
        prom.as_ref(),
        "demo_error_ratio{ {{scope}} }",
        scope("web", Some("canary")),
    )
    .await;
    let platform = common::parse_platform(PLATFORM);
    let target = Arc::new(InMemoryTarget::new());
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let engine = Engine::builder()
        .ledger(ledger.clone())
        .clock(Arc::new(SystemClock))
        .target("default", target.clone())
        .metrics("prometheus", prom.clone())
        .options(
            EngineOptions::default()
                .with_holder("engine-a")
                .with_poll_interval(Duration::from_millis(200)),
        )
        .build()
        .unwrap();

    // 1.0.0 is watched on the stable series (0.01 < 0.1): it stays.
    let first = engine
        .start(&platform, &release("1.0.0", "stable-errors"), "ana@x")
        .await
        .unwrap();
    assert_eq!(first.outcome(), Some(&Outcome::Succeeded));
    // 2.0.0 is watched on the canary series (0.25): the trigger fires and 1.0.0 comes back.
    let second = engine
        .start(&platform, &release("2.0.0", "canary-errors"), "ana@x")
        .await
        .unwrap();
    match second.outcome() {
        Some(Outcome::RolledBack {
            environment,
            reason,
        }) => {
            assert_eq!(environment.as_str(), "prod");
            assert!(reason.contains("canary-errors"), "{reason}");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    let records = read_all(ledger.as_ref(), &"shop-2.0.0".into())
        .await
        .unwrap();
    let observed: Vec<&str> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::TriggerFired { observed, .. } => Some(observed.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(observed.len(), 1, "{observed:?}");
    assert!(observed[0].ends_with("= 0.25"), "{observed:?}");
    let slots = target.observe(&"web".into(), &"prod".into()).await.unwrap();
    assert_eq!(slots.len(), 1, "{slots:?}");
    assert_eq!(slots[0].spec.version.to_string(), "1.0.0");
}
