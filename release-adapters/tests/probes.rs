//! HTTP, TCP, command, journey and security probes against the real demo service (issue #7).

#![cfg(all(feature = "probes", feature = "process"))]

mod support;

use release_adapters::probes::{
    CommandProbe, CommandProbeConfig, HttpProbe, HttpProbeConfig, JourneyProbe, SecurityProbe,
    SecurityProbeConfig, TcpProbe, TcpProbeConfig,
};
use release_core::ErrorKind;
use release_core::plugin::{
    ApplyRequest, DeploymentTarget, Endpoint, Probe, ProbeRequest, SlotSpec,
};
use support::Rig;

async fn serving(rig: &Rig, version: &str) -> ProbeRequest {
    let spec = SlotSpec::new(
        "web",
        "dev",
        "stable",
        semver::Version::parse(version).unwrap(),
        1,
    );
    let status = rig.target.apply(&ApplyRequest::new(spec)).await.unwrap();
    ProbeRequest::new(
        "web".into(),
        "dev".into(),
        "stable".into(),
        status.endpoints,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tcp_and_command_probes() {
    let rig = Rig::new(37_000, &[("1.0.0", false)]);
    let request = serving(&rig, "1.0.0").await;

    let healthy =
        HttpProbe::new(HttpProbeConfig::get("/").with_body_contains("version=1.0.0")).unwrap();
    let outcome = healthy.check(&request).await.unwrap();
    assert!(outcome.healthy, "{}", outcome.message);

    let wrong_body =
        HttpProbe::new(HttpProbeConfig::get("/").with_body_contains("version=2")).unwrap();
    let outcome = wrong_body.check(&request).await.unwrap();
    assert!(!outcome.healthy);
    assert!(
        outcome
            .message
            .contains("body does not contain \"version=2\""),
        "{}",
        outcome.message
    );

    let wrong_status = HttpProbe::new(HttpProbeConfig::get("/orders/nope")).unwrap();
    let outcome = wrong_status.check(&request).await.unwrap();
    assert!(
        outcome.message.contains("status 404, expected 2xx"),
        "{}",
        outcome.message
    );

    let too_slow = HttpProbe::new(HttpProbeConfig::get("/").with_max_latency_ms(0)).unwrap();
    // 0 ms is only met by a sub-millisecond answer; accept either, but the message says so.
    let outcome = too_slow.check(&request).await.unwrap();
    assert!(
        outcome.healthy || outcome.message.contains("slower than 0 ms"),
        "{}",
        outcome.message
    );

    assert!(TcpProbe::default().check(&request).await.unwrap().healthy);
    let closed = ProbeRequest::new(
        "web".into(),
        "dev".into(),
        "stable".into(),
        vec![Endpoint {
            url: "http://127.0.0.1:1".into(),
        }],
    );
    let outcome = TcpProbe::new(TcpProbeConfig::default())
        .check(&closed)
        .await
        .unwrap();
    assert!(!outcome.healthy && outcome.message.contains("connect to 127.0.0.1:1 failed"));

    let curl_like = CommandProbe::new(CommandProbeConfig::new(
        "sh",
        [
            "-c",
            "test \"$PROBE_SLOT\" = stable && case \"$PROBE_ENDPOINT\" in http://127.0.0.1:*) exit 0;; esac; exit 3",
        ],
    ));
    assert!(curl_like.check(&request).await.unwrap().healthy);
    let failing = CommandProbe::new(CommandProbeConfig::new("sh", ["-c", "exit 3"]));
    let outcome = failing.check(&request).await.unwrap();
    assert!(
        outcome.message.contains("exit 3, expected 0"),
        "{}",
        outcome.message
    );
    let missing = CommandProbe::new(CommandProbeConfig::new(
        "/no/such/probe",
        Vec::<String>::new(),
    ));
    assert!(missing.check(&request).await.is_err());

    let nothing = ProbeRequest::new("web".into(), "dev".into(), "stable".into(), Vec::new());
    assert!(!healthy.check(&nothing).await.unwrap().healthy);
    rig.target.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_journey_captures_a_value_and_uses_it_in_the_next_request() {
    let rig = Rig::new(38_000, &[("1.0.0", false), ("2.0.0", true)]);
    let request = serving(&rig, "1.0.0").await;
    let journey = JourneyProbe::from_yaml(
        r#"
name: order round trip
steps:
  - name: create
    method: POST
    path: /orders
    headers: { content-type: application/json }
    body: '{"item": "tea"}'
    expect: { status: [201] }
    capture: { order: /id }
  - name: read back
    path: "/orders/{{order}}"
    expect: { json: { /item: tea, /id: "{{order}}" } }
"#,
    );
    let outcome = journey.unwrap().check(&request).await.unwrap();
    assert!(outcome.healthy, "{}", outcome.message);
    assert!(
        outcome
            .message
            .contains("journey order round trip passed (2 steps)")
    );

    let journey = JourneyProbe::from_yaml(
        r#"
name: order round trip
steps:
  - { name: create, method: POST, path: /orders, body: '{"item": "tea"}',
      expect: { status: [201] }, capture: { order: /id } }
  - { name: read back, path: "/orders/{{order}}", expect: { json: { /item: tea } } }
"#,
    )
    .unwrap();
    let outcome = journey.check(&request).await.unwrap();
    assert!(outcome.healthy, "{}", outcome.message);

    // The same journey against the broken 2.0.0 fails at its first step.
    let broken = serving(&rig, "2.0.0").await;
    let outcome = journey.check(&broken).await.unwrap();
    assert!(
        outcome.message.contains("create: status 500, expected 201"),
        "{}",
        outcome.message
    );

    let err = JourneyProbe::from_yaml("name: x\nsteps: [ { method: GET } ]").unwrap_err();
    let err = release_core::Error::from(err);
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(
        err.to_string().contains("journey definition is invalid"),
        "{err}"
    );
    rig.target.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_probes_pass_only_when_requests_are_refused() {
    let rig = Rig::new(39_000, &[("1.0.0", false)]);
    let request = serving(&rig, "1.0.0").await;
    let refused = SecurityProbe::new(
        SecurityProbeConfig::from_yaml(
            r#"
checks:
  - { name: no credentials, path: /admin }
  - { name: wrong credentials, path: /admin, headers: { authorization: Bearer guess } }
  - { name: quote injection, path: "/search?q=%27%20OR%201=1", refused_with: [400, 403, 422] }
"#,
        )
        .unwrap(),
    )
    .unwrap();
    let outcome = refused.check(&request).await.unwrap();
    assert!(outcome.healthy, "{}", outcome.message);
    assert!(
        outcome.message.contains("no credentials refused (401)"),
        "{}",
        outcome.message
    );

    let leaky = SecurityProbe::new(
        SecurityProbeConfig::from_yaml(
            "checks:\n  - { name: valid token accepted, path: /admin, headers: { authorization: Bearer letmein } }\n",
        )
        .unwrap(),
    )
    .unwrap();
    let outcome = leaky.check(&request).await.unwrap();
    assert!(!outcome.healthy);
    assert!(
        outcome
            .message
            .contains("valid token accepted: answered 200, but must be refused with 401 or 403"),
        "{}",
        outcome.message
    );
    rig.target.stop_all().await.unwrap();
}
