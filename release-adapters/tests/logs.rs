//! The log watcher (issue #7; covers M6.2): real files in the local-process target's layout
//! appended by concurrent writers (partial lines, a rotation), counted per slot and window in
//! virtual time; then real processes under the process target and the engine, where a canary
//! that throws a new exception fails its analysis and is rolled back.

#![cfg(all(feature = "logs", feature = "process"))]

mod common;
mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::{DateTime, Utc};
use release_adapters::logs::{LogPattern, LogWatchError, LogWatcher, LogWatcherConfig};
use release_core::ErrorKind;
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{AnalysisOutcome, Event, InMemoryLedger, Ledger, Outcome, read_all};
use release_core::model::{HumanDuration, Pause, Release};
use release_core::plugin::{
    DeploymentTarget, ManualClock, MetricQuery, MetricScope, MetricsSource, RolloutSpec,
    RolloutStep, Series, Strategy, SystemClock,
};
use support::Rig;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc()
}

fn log_file(root: &Path, slot: &str, replica: u32) -> PathBuf {
    let dir = root.join("slots/prod/web").join(slot).join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("replica-{replica}.log"))
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn scope() -> MetricScope {
    MetricScope {
        component: "web".into(),
        environment: "prod".into(),
        slot: None,
    }
}

async fn at(watcher: &LogWatcher, query: &str, when: DateTime<Utc>) -> Series {
    watcher
        .query(&MetricQuery::instant(query, scope(), when))
        .await
        .unwrap()
}

async fn value(watcher: &LogWatcher, query: &str, when: DateTime<Utc>) -> Option<f64> {
    at(watcher, query, when).await.last()
}

/// Writes `lines` timestamped lines, 100 ms apart from `t0`, each in two pieces so the
/// reader sees partial lines; `exception(i)` says what line `i` throws, if anything.
/// After line `rotate_at` the file is renamed to `.1` and a new one started, as logrotate
/// does. The barrier is passed after the first 10 lines.
fn writer(
    path: PathBuf,
    lines: u32,
    rotate_at: Option<(u32, Arc<Barrier>)>,
    exception: fn(u32) -> Option<String>,
    barrier: Arc<Barrier>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let open = |p: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .unwrap()
        };
        let mut file = open(&path);
        for i in 0..lines {
            if i == 10 {
                barrier.wait();
            }
            if let Some((at, seen)) = &rotate_at
                && i == *at
            {
                // Rotate only once the watcher has read the file: a file renamed before it
                // was ever seen is invisible to any tailer (Fluent Bit's too).
                seen.wait();
                let mut rotated = path.clone().into_os_string();
                rotated.push(".1");
                std::fs::rename(&path, rotated).unwrap();
                file = open(&path);
            }
            let stamp = (t0() + chrono::Duration::milliseconds(100 * (i64::from(i) + 1)))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let text = match exception(i) {
                Some(e) => format!("{stamp} ERROR {e}\n"),
                None => format!("{stamp} INFO served request {i} in {} ms\n", i % 7),
            };
            let (head, tail) = text.split_at(text.len() / 2);
            file.write_all(head.as_bytes()).unwrap();
            file.flush().unwrap();
            std::thread::yield_now();
            file.write_all(tail.as_bytes()).unwrap();
        }
    })
}

/// Stable: a known KeyError every 10th line.
fn stable_exception(i: u32) -> Option<String> {
    i.is_multiple_of(10)
        .then(|| format!("KeyError: order {i} has no customer"))
}

/// Canary: the known KeyError and a timeout stable only had in its history, plus a new
/// ZeroDivisionError: an exception on every 4th line.
fn canary_exception(i: u32) -> Option<String> {
    match i % 12 {
        0 => Some(format!("KeyError: order {i} has no customer")),
        4 => Some(format!(
            "TimeoutError: upstream 10.0.{}.{i} did not answer",
            i % 3
        )),
        8 => Some(format!(
            "ZeroDivisionError: division by zero in cart 0x{:x}",
            i * 4099
        )),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_appended_concurrently_are_counted_per_slot_and_window() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // History from before the watcher: stable once timed out (learned, not counted), and a
    // slot that only ever logs without timestamps.
    let stable0 = log_file(root, "stable", 0);
    append(
        &stable0,
        "2026-12-01T08:00:00.000Z ERROR TimeoutError: upstream 10.0.0.9 did not answer\n",
    );
    let clock = Arc::new(ManualClock::new(t0()));
    let watcher = LogWatcher::new(
        LogWatcherConfig::new(root).with_window(Duration::from_secs(60)),
        clock.clone(),
    )
    .unwrap();
    assert_eq!(value(&watcher, "exceptions", t0()).await, Some(0.0));

    // Three writers at once: stable ×2 (200 lines, every 10th a KeyError), canary ×1
    // (200 lines, every 4th an exception, rotated after line 100). Queries run meanwhile.
    let barrier = Arc::new(Barrier::new(4));
    let seen = Arc::new(Barrier::new(2));
    let writers = vec![
        writer(stable0, 200, None, stable_exception, barrier.clone()),
        writer(
            log_file(root, "stable", 1),
            200,
            None,
            stable_exception,
            barrier.clone(),
        ),
        writer(
            log_file(root, "canary", 0),
            200,
            Some((100, seen.clone())),
            canary_exception,
            barrier.clone(),
        ),
    ];
    // Each writer has written 10 lines; read once so the canary file is known before its
    // rotation, then keep reading while they write.
    let b = barrier.clone();
    tokio::task::spawn_blocking(move || b.wait()).await.unwrap();
    let end = t0() + chrono::Duration::seconds(30);
    at(&watcher, "exceptions", end).await;
    tokio::task::spawn_blocking(move || seen.wait())
        .await
        .unwrap();
    let mut reads = 1;
    while !writers.iter().all(|w| w.is_finished()) {
        at(&watcher, "exceptions", end).await;
        reads += 1;
        tokio::task::yield_now().await;
    }
    for w in writers {
        w.join().unwrap();
    }
    assert!(reads > 0);

    // Every line was counted once, rotation and partial writes notwithstanding.
    assert_eq!(
        value(&watcher, r#"exceptions{slot="stable"}"#, end).await,
        Some(40.0)
    );
    assert_eq!(
        value(&watcher, r#"exceptions{slot="canary"}"#, end).await,
        Some(50.0)
    );
    assert_eq!(value(&watcher, "count(exceptions)", end).await, Some(90.0));
    let rate = value(&watcher, r#"rate(exceptions{slot="canary"})"#, end)
        .await
        .unwrap();
    assert!((rate - 50.0 / 60.0).abs() < 1e-9, "{rate}");
    // New: the ZeroDivisionError only (one fingerprint for 16 occurrences); the KeyError is
    // stable's, the TimeoutError was in stable's history.
    assert_eq!(
        value(&watcher, r#"new(exceptions{slot="canary"})"#, end).await,
        Some(1.0)
    );
    let new = watcher
        .new_exceptions(&MetricQuery::instant(
            r#"new(exceptions{slot="canary", baseline="stable"})"#,
            scope(),
            end,
        ))
        .await
        .unwrap();
    assert_eq!(
        new,
        vec!["ERROR ZeroDivisionError: division by zero in cart <hex>".to_owned()]
    );
    // Against stable, canary knows everything stable logs.
    assert_eq!(
        value(
            &watcher,
            r#"new(exceptions{slot="stable", baseline="canary"})"#,
            end
        )
        .await,
        Some(0.0)
    );

    // Windows: lines are at t0 + 0.1 s … t0 + 20 s; canary's exceptions split 25 / 25.
    let mut range = MetricQuery::instant(r#"exceptions{slot="canary"}"#, scope(), end);
    range.start = t0();
    range.step = Some(Duration::from_secs(10));
    let buckets: Vec<f64> = watcher
        .query(&range)
        .await
        .unwrap()
        .samples
        .iter()
        .map(|s| s.value)
        .collect();
    assert_eq!(buckets, vec![25.0, 25.0, 0.0]);
    let later = t0() + chrono::Duration::seconds(70);
    assert_eq!(
        value(&watcher, r#"exceptions{slot="canary"}"#, later).await,
        Some(25.0)
    );

    // A slot without log files is no data; one with only quiet lines is zero.
    assert!(
        at(&watcher, r#"exceptions{slot="blue"}"#, end)
            .await
            .samples
            .is_empty()
    );
    append(&log_file(root, "green", 0), "all good\n");
    assert_eq!(
        value(&watcher, r#"exceptions{slot="green"}"#, end).await,
        Some(0.0)
    );
    assert!(
        at(
            &watcher,
            r#"new(exceptions{slot="canary", baseline="blue"})"#,
            end
        )
        .await
        .samples
        .is_empty()
    );
}

#[tokio::test]
async fn lines_without_timestamps_count_when_read_and_truncation_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let watcher = LogWatcher::new(
        LogWatcherConfig::new(dir.path())
            .with_window(Duration::from_secs(60))
            .with_query(
                "timeouts",
                LogPattern::new(["(?i)timed? ?out"]).with_exclude(["retrying"]),
            ),
        clock.clone(),
    )
    .unwrap();
    let file = log_file(dir.path(), "batch", 0);
    append(
        &file,
        "job 1 timed out\njob 2 timeout, retrying\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad row 17\n",
    );
    let q = r#"timeouts{slot="batch"}"#;
    let now = t0() + chrono::Duration::minutes(5);
    clock.set(now);
    assert_eq!(value(&watcher, q, now).await, Some(1.0));
    assert_eq!(
        value(&watcher, r#"exceptions{slot="batch"}"#, now).await,
        Some(1.0)
    );
    // Read at 09:05, so gone from the window two minutes later.
    let after = now + chrono::Duration::minutes(2);
    clock.set(after);
    assert_eq!(value(&watcher, q, after).await, Some(0.0));
    // copytruncate: the file starts over, shorter; its lines are read again from 0.
    std::fs::write(&file, "job 9 timed out\n").unwrap();
    assert_eq!(value(&watcher, q, after).await, Some(1.0));
}

#[tokio::test]
async fn bad_queries_and_patterns_get_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let err = LogWatcher::new(
        LogWatcherConfig::new(dir.path()).with_query("broken", LogPattern::new(["(unclosed"])),
        clock.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, LogWatchError::Pattern { query, pattern, .. } if query == "broken" && pattern == "(unclosed"),
        "{err}"
    );
    let watcher = LogWatcher::new(LogWatcherConfig::new(dir.path()), clock).unwrap();
    let ask = |q: &'static str| {
        let watcher = &watcher;
        async move {
            watcher
                .query(&MetricQuery::instant(q, scope(), t0()))
                .await
                .unwrap_err()
        }
    };
    let e = ask("errors").await;
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(!e.is_retryable());
    assert_eq!(
        e.to_string(),
        "invalid input: log query `errors` names `errors`, which is not configured; configured: `exceptions`"
    );
    let e = ask("new(exceptions)").await;
    assert!(
        e.to_string().contains("names no slot for web in prod"),
        "{e}"
    );
    let e = ask(r#"new(exceptions{slot="stable"})"#).await;
    assert!(e.to_string().contains("with itself"), "{e}");
    let e = ask(r#"exceptions{slot="../../etc"}"#).await;
    assert!(e.to_string().contains("cannot name a log directory"), "{e}");
    let e = ask("exceptions{slot=}").await;
    assert!(e.to_string().contains("has no value"), "{e}");
}

// ---- Real processes through the engine ----

/// A service that answers `/healthz` and logs a timestamped line every 50 ms: a known
/// KeyError once a second; a broken release (`FAIL` in its directory) also raises a
/// ZeroDivisionError on every line, with a traceback.
const SERVICE: &str = r#"
import datetime, os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BROKEN = os.path.exists("FAIL")

def log(message):
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    print("%s %s" % (stamp, message), flush=True)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *args):
        pass

def work():
    i = 0
    while True:
        i += 1
        log("INFO served order %d" % i)
        if i % 20 == 0:
            log("ERROR KeyError: order %d has no customer" % i)
        if BROKEN:
            log("ERROR Traceback (most recent call last):")
            print('  File "shop.py", line 42, in checkout', flush=True)
            log("ERROR ZeroDivisionError: division by zero in cart %d" % i)
        time.sleep(0.05)

server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
threading.Thread(target=work, daemon=True).start()
log("listening version %s" % os.environ.get("RELEASE_VERSION"))
server.serve_forever()
"#;

const PLATFORM: &str = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: web, owner: { primary: a@x, backup: b@x }, strategy: { custom: { name: log-canary } } }
environments:
  - { name: dev, tier: development }
lifecycle:
  phases:
    - { name: develop, environments: [dev] }
analyses:
  new-exceptions:
    metric: { source: logs, query: 'new(exceptions{slot="canary"})' }
    success: "< 1"
    interval: 1s
    count: 3
    failure_limit: 0
"#;

fn release(version: &str) -> Release {
    common::web_release(version, "  watch_window: 0s")
}

/// The first release goes to `stable`; later ones run one canary replica for two seconds,
/// judge it on the logs, then replace stable and remove the canary.
struct LogCanary;

impl Strategy for LogCanary {
    fn name(&self) -> &str {
        "log-canary"
    }

    fn steps(&self, spec: &RolloutSpec) -> release_core::Result<Vec<RolloutStep>> {
        if spec.previous.is_empty() {
            return Ok(vec![RolloutStep::Apply(spec.slot("stable", 1))]);
        }
        Ok(vec![
            RolloutStep::Apply(spec.slot("canary", 1)),
            RolloutStep::Pause(Pause::For(HumanDuration::from_secs(2))),
            RolloutStep::Analyze {
                analysis: "new-exceptions".into(),
            },
            RolloutStep::Apply(spec.slot("stable", 1)),
            RolloutStep::RemoveSlot {
                slot: "canary".into(),
            },
        ])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_that_logs_a_new_exception_is_rolled_back() {
    let rig = Rig::new(
        43_000,
        &[("1.0.0", false), ("1.1.0", false), ("2.0.0", true)],
    );
    let script = rig.dir.path().join("service.py");
    std::fs::write(&script, SERVICE).unwrap();
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        let run = rig.dir.path().join("releases").join(version).join("run.sh");
        std::fs::write(
            &run,
            format!("#!/bin/sh\nexec python3 -u {}\n", script.display()),
        )
        .unwrap();
    }
    let platform = common::parse_platform(PLATFORM);
    let watcher = Arc::new(
        LogWatcher::new(
            LogWatcherConfig::new(&rig.config.root).with_window(Duration::from_secs(30)),
            Arc::new(SystemClock),
        )
        .unwrap(),
    );
    let target: Arc<dyn DeploymentTarget> = rig.target.clone();
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let engine = Engine::builder()
        .ledger(ledger.clone())
        .clock(Arc::new(SystemClock))
        .target("default", target.clone())
        .metrics("logs", watcher.clone())
        .strategy(Arc::new(LogCanary))
        .options(
            EngineOptions::default()
                .with_holder("engine-a")
                .with_poll_interval(Duration::from_millis(100))
                .with_progress_deadline(Duration::from_secs(20)),
        )
        .build()
        .unwrap();

    let outcome = |r: &release_core::engine::RunOutcome| r.outcome().cloned();
    let first = engine
        .start(&platform, &release("1.0.0"), "ana@x")
        .await
        .unwrap();
    assert_eq!(outcome(&first), Some(Outcome::Succeeded));
    // Stable logs its KeyError once a second; let it do so before a canary is judged.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // A healthy canary logs only the exception stable knows: promoted.
    let second = engine
        .start(&platform, &release("1.1.0"), "ana@x")
        .await
        .unwrap();
    assert_eq!(outcome(&second), Some(Outcome::Succeeded));

    let started = Utc::now();
    let third = engine
        .start(&platform, &release("2.0.0"), "ana@x")
        .await
        .unwrap();
    let ended = Utc::now();
    match outcome(&third) {
        Some(Outcome::RolledBack {
            environment,
            reason,
        }) => {
            assert_eq!(environment.as_str(), "dev");
            assert!(reason.contains("new-exceptions"), "{reason}");
        }
        other => panic!("expected a rollback, got {other:?}"),
    }
    let records = read_all(ledger.as_ref(), &"shop-2.0.0".into())
        .await
        .unwrap();
    let analysis = records
        .iter()
        .find_map(|r| match &r.event {
            Event::AnalysisCompleted {
                outcome,
                measurements,
                ..
            } => Some((*outcome, measurements.clone())),
            _ => None,
        })
        .expect("the analysis was journaled");
    assert_eq!(analysis.0, AnalysisOutcome::Failed, "{analysis:?}");
    assert!(
        analysis
            .1
            .last()
            .copied()
            .flatten()
            .is_some_and(|v| v >= 1.0),
        "{analysis:?}"
    );

    // While it ran, the canary logged far more exceptions than stable, and the one new
    // fingerprint is the ZeroDivisionError.
    let mut during = MetricQuery::instant(r#"exceptions{slot="canary"}"#, scope_dev(), ended);
    during.start = started;
    let canary = watcher.query(&during).await.unwrap().last().unwrap();
    during.query = r#"exceptions{slot="stable"}"#.to_owned();
    let stable = watcher.query(&during).await.unwrap().last().unwrap();
    assert!(
        canary > 3.0 * stable.max(1.0),
        "canary {canary}, stable {stable}"
    );
    during.query = r#"new(exceptions{slot="canary"})"#.to_owned();
    assert_eq!(
        watcher.new_exceptions(&during).await.unwrap(),
        vec!["ERROR ZeroDivisionError: division by zero in cart <n>".to_owned()]
    );

    // What runs now: stable 1.1.0 only.
    let slots = target.observe(&"web".into(), &"dev".into()).await.unwrap();
    assert_eq!(slots.len(), 1, "{slots:?}");
    assert_eq!(slots[0].spec.slot, "stable");
    assert_eq!(slots[0].spec.version.to_string(), "1.1.0");
    rig.target.stop_all().await.unwrap();
}

fn scope_dev() -> MetricScope {
    MetricScope {
        component: "web".into(),
        environment: "dev".into(),
        slot: None,
    }
}
