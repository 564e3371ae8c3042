//! The weighted HTTP router with in-process upstreams (issue #7).

#![cfg(feature = "router")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use release_adapters::router::{HttpRouter, RouterConfig, SLOT_HEADER};
use release_core::ErrorKind;
use release_core::plugin::{
    Endpoint, MetricQuery, MetricScope, MetricsSource, Route, SlotWeight, TrafficRouter,
};
use release_core::testkit::router_conformance;

/// An upstream answering `status` with its `name`, after `delay`.
async fn upstream(name: &'static str, status: u16, delay: Duration) -> Endpoint {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = service_fn(move |_req| async move {
                    tokio::time::sleep(delay).await;
                    let mut r = hyper::Response::new(Full::new(Bytes::from(name)));
                    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    Ok::<_, Infallible>(r)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Endpoint {
        url: format!("http://{addr}"),
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn route() -> Route {
    Route::new("web", "dev")
}

async fn send(client: &reqwest::Client, addr: SocketAddr) -> (u16, String) {
    let r = client.get(format!("http://{addr}/x")).send().await.unwrap();
    let slot = r
        .headers()
        .get(SLOT_HEADER)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), slot)
}

async fn metric(router: &HttpRouter, query: &str, slot: Option<&str>) -> Option<f64> {
    let scope = MetricScope {
        component: "web".into(),
        environment: "dev".into(),
        slot: slot.map(Into::into),
    };
    router
        .query(&MetricQuery::instant(query, scope, chrono::Utc::now()))
        .await
        .unwrap()
        .last()
}

#[tokio::test]
async fn passes_the_router_conformance_suite() {
    let router = HttpRouter::new(RouterConfig::default());
    let report = router_conformance(&router).await;
    assert!(report.is_ok(), "{}", report.unwrap_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_requests_exactly_by_weight() {
    let router = HttpRouter::new(RouterConfig::default());
    let addr = router.listen(route(), loopback()).await.unwrap();
    router.set_endpoints(
        &route(),
        "stable",
        vec![upstream("stable", 200, Duration::ZERO).await],
    );
    router.set_endpoints(
        &route(),
        "canary",
        vec![upstream("canary", 200, Duration::ZERO).await],
    );
    router
        .set_weights(
            &route(),
            &[SlotWeight::new("stable", 90), SlotWeight::new("canary", 10)],
        )
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let mut canary = 0;
    for _ in 0..200 {
        let (status, slot) = send(&client, addr).await;
        assert_eq!(status, 200);
        canary += usize::from(slot == "canary");
    }
    assert_eq!(canary, 20, "10 % of 200 requests, exactly");
    assert_eq!(
        metric(&router, "request_count", Some("canary")).await,
        Some(20.0)
    );
    assert_eq!(metric(&router, "request_count", None).await, Some(200.0));
    assert_eq!(metric(&router, "error_rate", None).await, Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weight_change_does_not_drop_requests_in_flight() {
    let router = HttpRouter::new(RouterConfig::default());
    let addr = router.listen(route(), loopback()).await.unwrap();
    router.set_endpoints(
        &route(),
        "blue",
        vec![upstream("blue", 200, Duration::from_millis(400)).await],
    );
    router.set_endpoints(
        &route(),
        "green",
        vec![upstream("green", 200, Duration::ZERO).await],
    );
    router
        .set_weights(&route(), &[SlotWeight::new("blue", 100)])
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { send(&client, addr).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    router
        .set_weights(&route(), &[SlotWeight::new("green", 100)])
        .await
        .unwrap();
    assert_eq!(send(&client, addr).await, (200, "green".to_owned()));
    assert_eq!(in_flight.await.unwrap(), (200, "blue".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_latency_are_measured_per_slot_and_exposed_to_prometheus() {
    let router = HttpRouter::new(RouterConfig::default());
    let addr = router.listen(route(), loopback()).await.unwrap();
    let metrics_addr = router.serve_prometheus(loopback()).await.unwrap();
    router.set_endpoints(
        &route(),
        "stable",
        vec![upstream("stable", 200, Duration::from_millis(5)).await],
    );
    router.set_endpoints(
        &route(),
        "canary",
        vec![upstream("canary", 503, Duration::ZERO).await],
    );
    router
        .set_weights(
            &route(),
            &[SlotWeight::new("stable", 50), SlotWeight::new("canary", 50)],
        )
        .await
        .unwrap();
    let client = reqwest::Client::new();
    for _ in 0..100 {
        send(&client, addr).await;
    }
    assert_eq!(
        metric(&router, "error_rate", Some("canary")).await,
        Some(1.0)
    );
    assert_eq!(
        metric(&router, "error_rate", Some("stable")).await,
        Some(0.0)
    );
    assert_eq!(metric(&router, "error_ratio", None).await, Some(0.5));
    assert_eq!(metric(&router, "error_count", None).await, Some(50.0));
    let p99 = metric(&router, "latency_p99", Some("stable"))
        .await
        .unwrap();
    assert!((0.005..1.0).contains(&p99), "p99 {p99} s");
    assert_eq!(
        metric(&router, "latency_p99", Some("nobody")).await,
        None,
        "no data"
    );
    let err = router
        .query(&MetricQuery::instant(
            "bogus",
            MetricScope {
                component: "web".into(),
                environment: "dev".into(),
                slot: None,
            },
            chrono::Utc::now(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(!err.is_retryable());
    let text = client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"release_router_errors_total{component="web",environment="dev",slot="canary"} 50"#
        ),
        "{text}"
    );
    assert!(
        text.contains("release_router_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_without_endpoints_answers_502_and_counts_as_errors() {
    let router = HttpRouter::new(RouterConfig::default());
    let addr = router.listen(route(), loopback()).await.unwrap();
    let client = reqwest::Client::new();
    assert_eq!(send(&client, addr).await.0, 503, "no weights yet");
    router
        .set_weights(&route(), &[SlotWeight::new("ghost", 100)])
        .await
        .unwrap();
    assert_eq!(send(&client, addr).await, (502, "ghost".to_owned()));
    // A dead upstream is an error too.
    router.set_endpoints(
        &route(),
        "ghost",
        vec![Endpoint {
            url: "http://127.0.0.1:1".into(),
        }],
    );
    assert_eq!(send(&client, addr).await.0, 502);
    assert_eq!(
        metric(&router, "error_rate", Some("ghost")).await,
        Some(1.0)
    );
}
