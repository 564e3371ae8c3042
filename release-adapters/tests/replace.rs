//! Replacing a slot's processes under traffic: the target reports the new endpoints to the
//! router before it stops the old replicas, so no request fails (issue #7).

#![cfg(all(feature = "process", feature = "router"))]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use release_adapters::process::ProcessTarget;
use release_adapters::router::{HttpRouter, RouterConfig};
use release_core::plugin::{
    ApplyRequest, DeploymentTarget, Route, SlotSpec, SlotWeight, TrafficRouter,
};
use support::Rig;

fn spec(version: &str) -> SlotSpec {
    SlotSpec::new(
        "web",
        "dev",
        "stable",
        semver::Version::parse(version).unwrap(),
        2,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_change_under_traffic_drops_no_request() {
    let rig = Rig::new(40_000, &[("1.0.0", false), ("2.0.0", false)]);
    let router = HttpRouter::new(RouterConfig::default());
    let target = ProcessTarget::new(rig.config.clone()).with_endpoint_hook(router.endpoint_hook());
    let route = Route::new("web", "dev");
    let addr = router
        .listen(route.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    target
        .apply(&ApplyRequest::new(spec("1.0.0")))
        .await
        .unwrap();
    assert_eq!(
        router.endpoints(&route)["stable"].len(),
        2,
        "the hook reported them"
    );
    router
        .set_weights(&route, &[SlotWeight::new("stable", 100)])
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed, v2) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (stop, sent, failed, v2) = (stop.clone(), sent.clone(), failed.clone(), v2.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..1_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                match client.get(format!("http://{addr}/")).send().await {
                    Ok(r) if r.status() == 200 => {
                        let body = r.text().await.unwrap_or_default();
                        v2.fetch_add(u64::from(body.contains("version=2.0.0")), Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = target
        .apply(&ApplyRequest::new(spec("2.0.0")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (sent, failed, v2) = (
        sent.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        v2.load(Ordering::Relaxed),
    );
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed during the replacement"
    );
    assert!(v2 > 0, "no request reached 2.0.0");
    assert_eq!(router.endpoints(&route)["stable"], status.endpoints);
    target
        .remove(&"web".into(), &"dev".into(), "stable")
        .await
        .unwrap();
    assert!(
        router.endpoints(&route).is_empty(),
        "removal is reported too"
    );
}
