//! The router's added latency: p50/p99 of sequential requests to an in-process upstream,
//! direct and through the router. Ignored by default; run it in release mode:
//!
//! ```text
//! CARGO_TARGET_DIR=/work/helper-target-2 cargo test --release -p release-adapters \
//!   --features router --test router_latency -- --ignored --nocapture
//! ```

#![cfg(feature = "router")]

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use release_adapters::router::{HttpRouter, RouterConfig};
use release_core::plugin::{Endpoint, Route, SlotWeight, TrafficRouter};

const WARMUP: usize = 500;
const REQUESTS: usize = 5_000;

async fn upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
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
    format!("http://{addr}")
}

/// (p50, p99) in microseconds over sequential keep-alive requests.
async fn measure(client: &reqwest::Client, url: &str) -> (f64, f64) {
    for _ in 0..WARMUP {
        client.get(url).send().await.unwrap().bytes().await.unwrap();
    }
    let mut took = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let t = Instant::now();
        let r = client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        took.push(t.elapsed());
    }
    took.sort();
    let at = |q: f64| took[((q * REQUESTS as f64) as usize).min(REQUESTS - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(at(0.50)), us(at(0.99)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
async fn router_added_latency() {
    let direct = upstream().await;
    let router = HttpRouter::new(RouterConfig::default());
    let route = Route::new("web", "bench");
    let addr = router
        .listen(route.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    router.set_endpoints(
        &route,
        "stable",
        vec![Endpoint {
            url: direct.clone(),
        }],
    );
    router
        .set_weights(&route, &[SlotWeight::new("stable", 100)])
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let (d50, d99) = measure(&client, &format!("{direct}/")).await;
    let (r50, r99) = measure(&client, &format!("http://{addr}/")).await;
    println!("direct:      p50 {d50:.0} µs  p99 {d99:.0} µs");
    println!("via router:  p50 {r50:.0} µs  p99 {r99:.0} µs");
    println!(
        "added:       p50 {:.0} µs  p99 {:.0} µs",
        r50 - d50,
        r99 - d99
    );
}
