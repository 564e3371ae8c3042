//! The router's added latency under an open-loop load at a fixed request rate.
//!
//! ```text
//! router-load [--rate R] [--seconds S] [--connections C] [--rounds K]
//! router-load --serve S
//! ```
//!
//! An in-process hyper upstream answers `hello`; the release-adapters `HttpRouter` listens
//! in front of it with one slot at weight 100. A wrk2-style open-loop generator sends `R`
//! requests per second (default 2,000) for `S` seconds (default 10) over up to `C` keep-alive
//! connections (default 64, opened as needed), first directly to the upstream, then through
//! the router, alternating `K` times (default 2) so drift hits both sides alike. Each
//! request's latency runs from its **scheduled** send time, not from when a connection was
//! free, so a stall counts against every request it delays (no coordinated omission).
//!
//! Why not `wrk -R`: `-R` is wrk2's; Debian's `wrk` 4.1 is closed-loop only (it has no fixed
//! rate), and a closed-loop tool under-reports tail latency. `benches/compare/router.py` still
//! runs Debian's `wrk` for a closed-loop throughput cross-check.
//!
//! `--serve S` only starts both endpoints, prints their URLs and serves for `S` seconds (for
//! an external load generator such as `wrk`).
//!
//! Prints `key value` lines: per side, the count, errors, p50/p90/p99/p99.9 in µs, and the
//! added latency per percentile. Everything shares the machine's cores with the generator.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use release_adapters::router::{HttpRouter, RouterConfig};
use release_core::plugin::{Endpoint, Route, SlotWeight, TrafficRouter};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

type Sender = SendRequest<Empty<Bytes>>;

async fn upstream() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

/// One keep-alive request; the connection goes back to the pool when it is still usable.
async fn request(addr: SocketAddr, pool: &Mutex<Vec<Sender>>) -> Result<(), String> {
    let taken = pool.lock().map_err(|_| "pool poisoned")?.pop();
    let mut sender = match taken {
        Some(s) => s,
        None => connect(addr).await?,
    };
    sender.ready().await.map_err(|e| e.to_string())?;
    let req = hyper::Request::get("/")
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("status {status}"));
    }
    pool.lock().map_err(|_| "pool poisoned")?.push(sender);
    Ok(())
}

struct Run {
    latencies_us: Vec<u64>,
    errors: usize,
}

/// Open loop: request `i` is due at `start + i / rate`, whatever happened before.
async fn open_loop(addr: SocketAddr, rate: u32, seconds: u32, connections: usize) -> Run {
    let pool = Arc::new(Mutex::new(Vec::with_capacity(connections)));
    for _ in 0..connections.min(8) {
        if let Ok(s) = connect(addr).await
            && let Ok(mut p) = pool.lock()
        {
            p.push(s);
        }
    }
    let total = u64::from(rate) * u64::from(seconds);
    let interval = Duration::from_secs(1) / rate;
    let results = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let errors = Arc::new(Mutex::new(0usize));
    let start = Instant::now() + Duration::from_millis(10);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due).await;
        let (pool, results, errors) = (pool.clone(), results.clone(), errors.clone());
        tasks.spawn(async move {
            match request(addr, &pool).await {
                Ok(()) => {
                    let took = Instant::now().saturating_duration_since(due);
                    if let Ok(mut r) = results.lock() {
                        r.push(took.as_micros() as u64);
                    }
                }
                Err(_) => {
                    if let Ok(mut e) = errors.lock() {
                        *e += 1;
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let latencies_us = results.lock().map(|r| r.clone()).unwrap_or_default();
    let errors = errors.lock().map(|e| *e).unwrap_or(0);
    Run {
        latencies_us,
        errors,
    }
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let at = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[at]
}

fn main() -> ExitCode {
    let (mut rate, mut seconds, mut connections, mut rounds) = (2_000u32, 10u32, 64usize, 2usize);
    let mut serve = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value: Option<u64> = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--rate", Some(v)) if v > 0 => rate = v as u32,
            ("--seconds", Some(v)) if v > 0 => seconds = v as u32,
            ("--connections", Some(v)) if v > 0 => connections = v as usize,
            ("--rounds", Some(v)) if v > 0 => rounds = v as usize,
            ("--serve", Some(v)) => serve = Some(v),
            _ => {
                eprintln!(
                    "usage: router-load [--rate R] [--seconds S] [--connections C] [--rounds K] | --serve S"
                );
                return ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(rate, seconds, connections, rounds, serve)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    rate: u32,
    seconds: u32,
    connections: usize,
    rounds: usize,
    serve: Option<u64>,
) -> Result<(), String> {
    let direct = upstream().await?;
    let router = HttpRouter::new(RouterConfig::default());
    let route = Route::new("web", "bench");
    let via = router
        .listen(route.clone(), "127.0.0.1:0".parse().map_err(|_| "address")?)
        .await
        .map_err(|e| e.to_string())?;
    router.set_endpoints(
        &route,
        "stable",
        vec![Endpoint {
            url: format!("http://{direct}"),
        }],
    );
    router
        .set_weights(&route, &[SlotWeight::new("stable", 100)])
        .await
        .map_err(|e| e.to_string())?;
    println!("direct_url http://{direct}/");
    println!("router_url http://{via}/");
    if let Some(serve) = serve {
        tokio::time::sleep(Duration::from_secs(serve)).await;
        return Ok(());
    }
    println!("rate_per_s {rate}");
    println!("seconds_per_run {seconds}");
    // Warm-up: one second each, not recorded.
    open_loop(direct, rate, 1, connections).await;
    open_loop(via, rate, 1, connections).await;
    let (mut d, mut r) = (Vec::new(), Vec::new());
    let (mut de, mut re) = (0, 0);
    for _ in 0..rounds {
        let run = open_loop(direct, rate, seconds, connections).await;
        d.extend(run.latencies_us);
        de += run.errors;
        let run = open_loop(via, rate, seconds, connections).await;
        r.extend(run.latencies_us);
        re += run.errors;
    }
    d.sort_unstable();
    r.sort_unstable();
    println!("direct_requests {}", d.len());
    println!("direct_errors {de}");
    println!("router_requests {}", r.len());
    println!("router_errors {re}");
    for (name, q) in [("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999)] {
        let (a, b) = (percentile(&d, q), percentile(&r, q));
        println!("direct_{name}_us {a}");
        println!("router_{name}_us {b}");
        println!("added_{name}_us {}", b as i64 - a as i64);
    }
    Ok(())
}
