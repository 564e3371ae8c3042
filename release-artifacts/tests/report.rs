//! The HTML report of a real engine run: deterministic, self-contained, with SVG charts of the
//! timeline, the traffic weights and the canary's metrics against the baseline — and it
//! renders in headless Chromium (Debian's `chromium`; skipped, with one message, when absent).
#![cfg(feature = "html-report")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use release_artifacts::report::render_html;

const CHROMIUM: &str = "/usr/bin/chromium";

#[tokio::test(start_paused = true)]
async fn the_report_is_deterministic_and_holds_every_chart() {
    let s = common::canary_rollback().await;
    let html = render_html(&s.v2).unwrap();
    assert_eq!(
        render_html(&s.v2).unwrap(),
        html,
        "same journal, same bytes"
    );
    // Self-contained: no scripts, no external resources.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http"));
    assert!(!html.contains("href=\"http"));
    for id in [
        "chart-timeline",
        "chart-weights-0",
        "chart-analysis-0",
        "chart-samples-0",
        "summary",
        "review",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    // One weighted route (checkout; frontend goes all at once) in each environment.
    assert!(html.contains("Traffic weights: checkout in production"));
    assert!(html.contains("Traffic weights: checkout in staging"));
    assert!(!html.contains("Traffic weights: frontend"));
    // Staging's three analyses passed; production's first failed against the bound.
    assert!(html.contains("Analysis error-ratio of checkout in production: failed"));
    // (Each analysis once in its chart's caption and once in the figure's caption.)
    assert_eq!(
        html.matches("Analysis error-ratio of checkout in staging: successful (")
            .count(),
        3
    );
    assert!(html.contains("baseline bound: success &lt; 0.02"));
    assert!(html.contains("error_ratio: checkout in production"));
    // The SVG's text: legends name the canary and its stable baseline.
    let texts: Vec<&str> = html
        .split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>'))
        .filter_map(|(_, rest)| rest.split_once("</text>"))
        .map(|(text, _)| text.trim())
        .collect();
    assert!(
        texts.contains(&"canary") && texts.contains(&"stable"),
        "{texts:?}"
    );
    assert_eq!(
        html.matches("<svg").count(),
        8,
        "timeline, 2 weights, 4 analyses, 1 samples"
    );
    // The summary and review from the same journal.
    assert!(html.contains(
        "<td>production</td><td>rolled back</td><td>checkout 1.0.0, frontend 1.0.0</td>"
    ));
    assert!(html.contains("<td>SUP-12</td><td>high</td>"));
    assert!(html.contains("RCA-store-2.0.0-production-1"));
    assert!(html.contains("<td>gate approval</td>") || html.contains("gate approval waits"));
    // A 1.0.0 report (no canary) says so instead of drawing empty charts.
    let first = render_html(&s.v1).unwrap();
    assert!(first.contains("No rollout shifted traffic by weight."));
}

/// Runs Chromium headless with a fresh profile; returns stdout.
fn chromium(args: &[String], profile: &Path) -> String {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // Read stdout while it runs: a DOM larger than the pipe's buffer would block Chromium.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
        out
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium failed: {status}");
            return reader.join().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_report_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!(
            "skipping: {CHROMIUM} is missing (Debian package `chromium`; .ci/run installs it)"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let s = runtime.block_on(common::canary_rollback());
    let html = render_html(&s.v2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    // The DOM Chromium built holds the SVG charts, parsed as SVG elements.
    let dom = chromium(
        &["--dump-dom".into(), url.clone()],
        &dir.path().join("profile-dom"),
    );
    assert!(
        dom.contains("<figure class=\"chart\" id=\"chart-timeline\">"),
        "{}",
        &dom[..dom.len().min(2000)]
    );
    assert_eq!(dom.matches("<svg").count(), 8);
    assert!(dom.contains("<rect") && dom.contains("<polyline") && dom.contains("<text"));

    // The screenshot is a real picture, not a blank page.
    let shot: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
            url,
        ],
        &dir.path().join("profile-shot"),
    );
    println!("report screenshot: {}", shot.display());
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000));
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let mut colors: Vec<&[u8]> = pixels.clone();
    colors.sort_unstable();
    colors.dedup();
    let non_white = pixels
        .iter()
        .filter(|p| p.iter().take(3).any(|c| *c < 200))
        .count();
    assert!(
        colors.len() > 50,
        "only {} colours: a blank page",
        colors.len()
    );
    assert!(
        non_white > pixels.len() / 50,
        "only {non_white} of {} pixels are drawn",
        pixels.len()
    );
}
