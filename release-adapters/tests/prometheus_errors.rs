//! Failure modes of the Prometheus source a real server does not produce on demand (5xx,
//! rate limits, `status: error` bodies, malformed JSON, slowness), and the exact request it
//! sends with a bearer token (which Prometheus itself does not check), against wiremock.

#![cfg(feature = "prometheus")]

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use release_adapters::prometheus::{
    PrometheusAuth, PrometheusConfig, PrometheusError, PrometheusSource, ScopeLabels,
};
use release_core::config::InMemorySecrets;
use release_core::model::{SecretRef, SecretValue};
use release_core::plugin::{MetricQuery, MetricScope, MetricsSource};
use release_core::{Error, ErrorKind};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn scope() -> MetricScope {
    MetricScope {
        component: "web".into(),
        environment: "prod".into(),
        slot: Some("canary".into()),
    }
}

fn at() -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

/// The core error for one canned answer to an instant query.
async fn answer(response: ResponseTemplate) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/query"))
        .respond_with(response)
        .mount(&server)
        .await;
    let source = PrometheusSource::new(PrometheusConfig::new(server.uri())).unwrap();
    source
        .query(&MetricQuery::instant("up{ {{scope}} }", scope(), at()))
        .await
        .unwrap_err()
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable() {
    let e = answer(json(
        500,
        r#"{"status":"error","errorType":"internal","error":"storage is on fire"}"#,
    ))
    .await;
    assert_eq!(e.kind(), ErrorKind::Plugin);
    assert!(e.is_retryable());
    assert!(
        e.to_string()
            .contains("HTTP 500 to `up{ component=\"web\",environment=\"prod\",slot=\"canary\" }`: internal: storage is on fire"),
        "{e}"
    );
    let e = answer(ResponseTemplate::new(503).set_body_string("upstream connect error")).await;
    assert!(e.is_retryable());
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    assert!(e.to_string().ends_with(": upstream connect error"), "{e}");
    assert!(answer(ResponseTemplate::new(429)).await.is_retryable());
}

#[tokio::test]
async fn bad_queries_are_not_retryable() {
    for (status, body) in [
        (
            400,
            r#"{"status":"error","errorType":"bad_data","error":"1:4: parse error: unclosed left parenthesis"}"#,
        ),
        (
            422,
            r#"{"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"}"#,
        ),
        (
            200,
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter"}"#,
        ),
    ] {
        let e = answer(json(status, body)).await;
        assert_eq!(e.kind(), ErrorKind::Plugin, "{e}");
        assert!(!e.is_retryable(), "{e}");
    }
    // A query-level timeout Prometheus reports in its body may pass on retry.
    let e = answer(json(
        200,
        r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#,
    ))
    .await;
    assert!(e.is_retryable(), "{e}");
    assert!(
        e.to_string()
            .contains("timeout: query timed out in expression evaluation"),
        "{e}"
    );
}

#[tokio::test]
async fn malformed_answers_are_invalid_replies() {
    let e = answer(ResponseTemplate::new(200).set_body_string("<html>login</html>")).await;
    assert_eq!(e.kind(), ErrorKind::InvalidReply);
    assert!(!e.is_retryable());
    assert!(
        e.to_string()
            .contains("the body starts `<html>login</html>`"),
        "{e}"
    );
    let e = answer(json(200, r#"{"status":"success"}"#)).await;
    assert_eq!(e.kind(), ErrorKind::InvalidReply);
    assert!(e.to_string().contains("no `data`"), "{e}");
    let e = answer(json(
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"lots"]}]}}"#,
    ))
    .await;
    assert_eq!(e.kind(), ErrorKind::InvalidReply);
    assert!(e.to_string().contains("`lots` is not a number"), "{e}");
    let e = answer(json(
        200,
        r#"{"status":"success","data":{"resultType":"string","result":[1700000000,"hello"]}}"#,
    ))
    .await;
    assert_eq!(e.kind(), ErrorKind::Plugin);
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("returned a string"), "{e}");
}

#[tokio::test]
async fn a_slow_prometheus_times_out_and_a_closed_port_is_unreachable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            json(
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            )
            .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let slow = PrometheusSource::new(
        PrometheusConfig::new(server.uri()).with_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    let e = slow
        .query(&MetricQuery::instant("up", scope(), at()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.is_retryable());
    assert!(
        e.to_string()
            .starts_with("Prometheus query `up` at http://"),
        "{e}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed =
        PrometheusSource::new(PrometheusConfig::new(format!("http://127.0.0.1:{port}"))).unwrap();
    let e = closed
        .run(&MetricQuery::instant("up", scope(), at()))
        .await
        .unwrap_err();
    assert!(matches!(e, PrometheusError::Unreachable { .. }), "{e}");
    assert!(e.is_retryable());
    assert!(Error::from(e).is_retryable());
}

#[tokio::test]
async fn range_requests_carry_the_scope_times_step_and_bearer_token() {
    let server = MockServer::start().await;
    // rate(x{app="web",env="prod",track="canary"}[1m]), form-encoded.
    let encoded =
        "query=rate%28x%7Bapp%3D%22web%22%2Cenv%3D%22prod%22%2Ctrack%3D%22canary%22%7D%5B1m%5D%29";
    Mock::given(method("POST"))
        .and(path("/prom/api/v1/query_range"))
        .and(header("authorization", "Bearer tok-123"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains(encoded))
        .and(body_string_contains("start=1700000000.000"))
        .and(body_string_contains("end=1700000090.000"))
        .and(body_string_contains("step=30.000"))
        .and(body_string_contains("timeout=10000ms"))
        .respond_with(json(
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"app":"web"},"values":[[1700000030,"0.5"],[1700000060,"NaN"],[1700000090,"+Inf"]]}]}}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let token = SecretRef::parse("vault://monitoring/prometheus-token").unwrap();
    let secrets = InMemorySecrets::new().with(token.clone(), SecretValue::new("tok-123"));
    let source = PrometheusSource::builder(
        PrometheusConfig::new(format!("{}/prom", server.uri()))
            .with_labels(ScopeLabels::new("app", "env", "track"))
            .with_auth(PrometheusAuth::Bearer {
                token: token.clone(),
            }),
    )
    .secrets(Arc::new(secrets))
    .build()
    .unwrap();
    assert!(!format!("{source:?}").contains("tok-123"));
    let mut query = MetricQuery::instant(
        "rate(x{{{scope}}}[1m])",
        scope(),
        at() + chrono::Duration::seconds(90),
    );
    query.start = at();
    query.step = Some(Duration::from_secs(30));
    let series = source.query(&query).await.unwrap();
    // NaN is dropped, +Inf kept, times as Prometheus stamped them.
    let got: Vec<(i64, f64)> = series
        .samples
        .iter()
        .map(|s| (s.at.timestamp(), s.value))
        .collect();
    assert_eq!(
        got,
        vec![(1_700_000_030, 0.5), (1_700_000_090, f64::INFINITY)]
    );

    // A reference the store does not hold: an error naming it, never a value.
    let missing = PrometheusSource::builder(PrometheusConfig::new(server.uri()).with_auth(
        PrometheusAuth::Bearer {
            token: SecretRef::parse("vault://monitoring/other").unwrap(),
        },
    ))
    .secrets(Arc::new(
        InMemorySecrets::new().with(token, SecretValue::new("tok-123")),
    ))
    .build()
    .unwrap();
    let e = missing
        .query(&MetricQuery::instant("up", scope(), at()))
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("vault://monitoring/other"), "{e}");
    assert!(!e.to_string().contains("tok-123"));
}
