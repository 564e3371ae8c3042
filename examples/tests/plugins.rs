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
