//! The local-process target against real Python processes on loopback (issue #7).

#![cfg(feature = "process")]

mod support;

use std::time::Duration;

use release_adapters::process::ProcessTarget;
use release_core::ErrorKind;
use release_core::config::{RenderedConfig, RenderedFile};
use release_core::plugin::{ApplyRequest, DeploymentTarget, SlotSpec};
use release_core::testkit::target_conformance;
use support::Rig;

fn spec(version: &str, slot: &str, replicas: u32) -> SlotSpec {
    SlotSpec::new(
        "web",
        "dev",
        slot,
        semver::Version::parse(version).unwrap(),
        replicas,
    )
}

fn pids(dir: &std::path::Path, slot: &str) -> Vec<u32> {
    let text =
        std::fs::read_to_string(dir.join(format!("slots/dev/web/{slot}/state.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["pid"].as_u64().unwrap() as u32)
        .collect()
}

fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(false)
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_target_conformance_suite() {
    let rig = Rig::new(31_000, &[("1.0.0", false), ("2.0.0", false)]);
    let report = target_conformance(rig.target.as_ref()).await;
    assert!(report.is_ok(), "{}", report.unwrap_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_serve_on_their_ports_with_config_files_and_logs() {
    let rig = Rig::new(32_000, &[("1.0.0", false)]);
    let config =
        RenderedConfig::new().with_file("app.toml", RenderedFile::text("level = 'info'\n"));
    let s = spec("1.0.0", "stable", 2).with_config(config);
    let status = rig
        .target
        .apply(&ApplyRequest::new(s.clone()))
        .await
        .unwrap();
    assert_eq!(status.ready_replicas, 2);
    assert_eq!(status.endpoints.len(), 2);
    for e in &status.endpoints {
        assert!(e.url.starts_with("http://127.0.0.1:"), "{}", e.url);
        let (code, body) = get(&format!("{}/", e.url)).await;
        assert_eq!(code, 200);
        assert!(body.contains("version=1.0.0 slot=stable"), "{body}");
        let (_, names) = get(&format!("{}/config", e.url)).await;
        assert_eq!(names, r#"["app.toml"]"#);
    }
    let file = rig
        .dir
        .path()
        .join("slots/dev/web/stable/config")
        .join(s.config_digest.hex())
        .join("app.toml");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "level = 'info'\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let log = rig.target.log_file("dev", "web", "stable", 0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("listening on"), "{text}");
    rig.target.stop_all().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_versions_replace_processes_and_scale_down_stops_them() {
    let rig = Rig::new(33_000, &[("1.0.0", false), ("2.0.0", false)]);
    let t = rig.target.as_ref();
    t.apply(&ApplyRequest::new(spec("1.0.0", "stable", 2)))
        .await
        .unwrap();
    let v1 = pids(rig.dir.path(), "stable");
    // Idempotent: the same spec keeps the same processes.
    t.apply(&ApplyRequest::new(spec("1.0.0", "stable", 2)))
        .await
        .unwrap();
    assert_eq!(pids(rig.dir.path(), "stable"), v1);
    let status = t
        .apply(&ApplyRequest::new(spec("2.0.0", "stable", 2)))
        .await
        .unwrap();
    assert_eq!(status.ready_replicas, 2);
    let v2 = pids(rig.dir.path(), "stable");
    assert!(
        v1.iter().all(|p| !v2.contains(p) && !alive(*p)),
        "{v1:?} {v2:?}"
    );
    let (_, body) = get(&format!("{}/", status.endpoints[0].url)).await;
    assert!(body.contains("version=2.0.0"), "{body}");
    t.apply(&ApplyRequest::new(spec("2.0.0", "stable", 1)))
        .await
        .unwrap();
    let v3 = pids(rig.dir.path(), "stable");
    assert_eq!(v3.len(), 1);
    assert!(v2.iter().filter(|p| !v3.contains(p)).all(|p| !alive(*p)));
    t.remove(&"web".into(), &"dev".into(), "stable")
        .await
        .unwrap();
    assert!(!alive(v3[0]));
    assert!(
        t.observe(&"web".into(), &"dev".into())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_and_dead_replicas_come_back_on_apply() {
    let rig = Rig::new(34_000, &[("1.0.0", false)]);
    let before = rig
        .target
        .apply(&ApplyRequest::new(spec("1.0.0", "stable", 2)))
        .await
        .unwrap();
    let original = pids(rig.dir.path(), "stable");
    // A new target value over the same root: as after an engine restart.
    let reopened: std::sync::Arc<ProcessTarget> = rig.reopen();
    let seen = reopened
        .observe(&"web".into(), &"dev".into())
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].ready_replicas, 2);
    assert_eq!(seen[0].endpoints, before.endpoints);
    // One replica dies behind the target's back.
    std::process::Command::new("kill")
        .args(["-KILL", &original[0].to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = reopened
        .observe(&"web".into(), &"dev".into())
        .await
        .unwrap();
    assert_eq!(seen[0].ready_replicas, 1, "observe reports what is alive");
    let healed = reopened
        .apply(&ApplyRequest::new(spec("1.0.0", "stable", 2)))
        .await
        .unwrap();
    assert_eq!(healed.ready_replicas, 2);
    let now = pids(rig.dir.path(), "stable");
    assert!(now.contains(&original[1]), "the live replica was kept");
    assert!(!now.contains(&original[0]));
    reopened.stop_all().await.unwrap();
    assert!(now.iter().all(|p| !alive(*p)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_is_not_unpacked_is_not_found() {
    let rig = Rig::new(35_000, &[("1.0.0", false)]);
    let err = rig
        .target
        .apply(&ApplyRequest::new(spec("9.9.9", "stable", 1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("releases/9.9.9"), "{err}");
    let err = rig
        .target
        .apply(&ApplyRequest::new(spec("1.0.0", "../evil", 1)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_crashes_on_start_leaves_the_old_one_serving() {
    let rig = Rig::new(35_500, &[("1.0.0", false)]);
    support::unpack_crashing(rig.dir.path(), "3.0.0");
    let t = rig.target.as_ref();
    let before = t
        .apply(&ApplyRequest::new(spec("1.0.0", "stable", 1)))
        .await
        .unwrap();
    let err = t
        .apply(&ApplyRequest::new(spec("3.0.0", "stable", 1)))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("replica 0 of slot stable exited before it was ready"),
        "{text}"
    );
    let log = t.log_file("dev", "web", "stable", 0);
    assert!(text.contains(&log.display().to_string()), "{text}");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("no database")
    );
    let seen = t.observe(&"web".into(), &"dev".into()).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].spec.version.to_string(), "1.0.0");
    assert_eq!(seen[0].endpoints, before.endpoints);
    // A slot that never converged is not reported.
    assert!(
        t.apply(&ApplyRequest::new(spec("3.0.0", "canary", 1)))
            .await
            .is_err()
    );
    let seen = t.observe(&"web".into(), &"dev".into()).await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    t.stop_all().await.unwrap();
}

// Several components on one target, each with its own artifacts: `releases/<component>/
// <version>/` wins over the shared `releases/<version>/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_release_directory_wins_over_the_shared_one() {
    let rig = Rig::new(30_400, &[("1.0.0", false)]);
    // `api` 1.0.0 has its own (broken) build; `web` 1.0.0 uses the shared one.
    let own = rig.dir.path().join("releases").join("api");
    std::fs::create_dir_all(&own).unwrap();
    support::unpack(&own, "1.0.0", true);
    std::fs::rename(own.join("releases").join("1.0.0"), own.join("1.0.0")).unwrap();
    let v = semver::Version::new(1, 0, 0);
    assert_eq!(
        rig.target.component_release_dir("api", &v),
        own.join("1.0.0")
    );
    assert_eq!(
        rig.target.component_release_dir("web", &v),
        rig.dir.path().join("releases").join("1.0.0")
    );
    let api = SlotSpec::new("api", "dev", "stable", v.clone(), 1);
    let web = SlotSpec::new("web", "dev", "stable", v, 1);
    let api = rig.target.apply(&ApplyRequest::new(api)).await.unwrap();
    let web = rig.target.apply(&ApplyRequest::new(web)).await.unwrap();
    assert_eq!(get(&format!("{}/", api.endpoints[0].url)).await.0, 500);
    assert_eq!(get(&format!("{}/", web.endpoints[0].url)).await.0, 200);
    rig.target.stop_all().await.unwrap();
}
