//! The plugin-authoring examples do what their docs say: the custom target passes the
//! conformance suite, the custom gate holds a release until the risk is accepted.

use std::process::Command;

fn example(name: &str) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    Command::new(
        dir.join("examples")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX)),
    )
}

#[test]
fn the_custom_target_passes_the_conformance_suite() {
    let out = example("custom_target").output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ok  apply_idempotent"), "{stdout}");
    assert!(stdout.contains("ok  remove_missing_is_ok"), "{stdout}");
}

#[test]
fn the_custom_gate_waits_for_accepted_risk_then_passes() {
    let out = example("custom_gate").output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("high-risk requests CR-7 (high) need a `risk_accepted`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Finished { outcome: Succeeded }"),
        "{stdout}"
    );
}

/// The main job, end to end on in-memory parts: gates answered by named people, the bad
/// canary rolled back, every journal verified.
#[test]
fn the_quickstart_ships_two_releases_and_rolls_the_third_back() {
    let out = example("quickstart").output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("signed off by mia@shop.example as qa-lead"),
        "{stdout}"
    );
    assert!(
        stdout.contains("approved by tom@shop.example (release manager) for production"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rolled back in production: orders-api"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("chain verified").count(), 3, "{stdout}");
    let production = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("production "))
        .unwrap();
    assert!(production.contains("orders-api 3.8.0"), "{production}");
    let staging = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("staging "))
        .unwrap();
    assert!(staging.contains("orders-api 3.9.0"), "{staging}");
}
