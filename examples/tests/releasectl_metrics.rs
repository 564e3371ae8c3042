//! `releasectl run --prometheus URL` (covers M5.5, M6.1, M8.1): a real Prometheus (the
//! Debian package's binary, or `RELEASE_TEST_PROMETHEUS_BIN`; `.ci/run` installs it) scrapes
//! an exporter this test serves; the release's rollback trigger is an analysis over that
//! metric. A low error ratio lets the release complete (exit 0), a high one rolls it back
//! (exit 3). Without the binary the test says so and skips.

mod releasectl_support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use releasectl_support::{Workspace, demo_build, http_get, ports, root};
use serde_json::Value;

fn prometheus_bin() -> Option<PathBuf> {
    let path = std::env::var_os("RELEASE_TEST_PROMETHEUS_BIN")
        .map_or_else(|| PathBuf::from("/usr/bin/prometheus"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    eprintln!(
        "skipping releasectl's Prometheus test: no binary at {}; install the Debian package `prometheus` (.ci/run does) or set RELEASE_TEST_PROMETHEUS_BIN",
        path.display()
    );
    None
}

/// Serves `demo_error_ratio{component="api",environment="staging"}` with the value in `ratio`.
fn exporter(ratio: Arc<AtomicU64>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut request = Vec::new();
            let mut buf = [0u8; 2048];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let value = f64::from_bits(ratio.load(Ordering::SeqCst));
            let body = format!(
                "# TYPE demo_error_ratio gauge\n\
                 demo_error_ratio{{component=\"api\",environment=\"staging\"}} {value}\n"
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A Prometheus server scraping the exporter every second; killed on drop.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(bin: &PathBuf, exporter: u16) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s }}\n\
             scrape_configs:\n  - job_name: demo\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{exporter}']\n"
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Waits until Prometheus answers `demo_error_ratio` with `value`.
fn wait_for(prometheus: &Prometheus, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, body)) = http_get(&prometheus.url, "/api/v1/query?query=demo_error_ratio")
            && let Ok(v) = serde_json::from_str::<Value>(&body)
            && v["data"]["result"][0]["value"][1] == value
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never reported demo_error_ratio = {value}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_trigger_over_prometheus_metrics_passes_a_healthy_release_and_rolls_back_a_bad_one() {
    let Some(bin) = prometheus_bin() else {
        return;
    };
    let ratio = Arc::new(AtomicU64::new(0.01f64.to_bits()));
    let prometheus = start_prometheus(&bin, exporter(ratio.clone()));
    wait_for(&prometheus, "0.01");

    let ws = Workspace::new();
    let art = ws.path().join("art");
    demo_build(&art, "api", "1.0.0", false);
    demo_build(&art, "api", "1.1.0", false);
    let manifest = root()
        .join("examples/tests/fixtures/ci-metrics.yaml")
        .display()
        .to_string();
    let ports = ports();
    let (code, out, err) = ws.run(&[
        "run",
        &manifest,
        "--release",
        "metrics-1.0.0",
        "--artifacts",
        "art",
        "--ports",
        &ports,
        "--prometheus",
        &prometheus.url,
        "--as",
        "ci-bot",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("watch window passed"), "{out}");

    // The new build's error ratio is high: the trigger fires in the watch window.
    ratio.store(0.3f64.to_bits(), Ordering::SeqCst);
    wait_for(&prometheus, "0.3");
    let (code, out, err) = ws.run(&["run", &manifest, "--release", "metrics-1.1.0", "--json"]);
    assert_eq!(code, 3, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "rolled_back");
    let reason = v["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("analysis error-rate") && reason.contains("0.3"),
        "{reason}"
    );
    // Back on the build that passed.
    let (_, out, _) = ws.run(&["inventory", "--json"]);
    let inventory: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        inventory["environments"][0]["components"][0]["slots"][0]["version"], "1.0.0",
        "{out}"
    );
}
