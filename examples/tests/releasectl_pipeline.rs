//! releasectl driving releases across CI jobs (M5.2): every command is a separate process,
//! the state lives in a directory, and each exit code means what CI files rely on —
//! 0 done, 1 anything else, 2 invalid input, 3 rolled back or a gate failed, 4 waiting.
//!
//! The first test runs real processes (the demo service as the artifact) on loopback with
//! the SQLite ledger; the others use the simulated target, which keeps its slots in the
//! state directory and runs in virtual time.

mod releasectl_support;

use releasectl_support::{Workspace, ci_manifest, demo_build, http_get, ports};
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The endpoints serving `component` in `environment`, from `inventory --json`.
fn endpoints(ws: &Workspace, environment: &str, component: &str) -> Vec<String> {
    let (code, out, err) = ws.run(&["inventory", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let env = v["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == environment)
        .unwrap_or_else(|| panic!("{environment} missing: {out}"));
    env["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["component"] == component)
        .flat_map(|c| c["slots"].as_array().unwrap().clone())
        .flat_map(|s| s["endpoints"].as_array().unwrap().clone())
        .map(|e| e.as_str().unwrap().to_owned())
        .collect()
}

fn serves(endpoint: &str) -> String {
    let (status, body) = http_get(endpoint, "/").expect("the service answers");
    assert_eq!(status, 200, "{endpoint}: {body}");
    body.trim().to_owned()
}

#[test]
fn a_ci_pipeline_on_real_processes_waits_approves_resumes_rolls_back_and_verifies() {
    // covers M5.2, M5.3, M5.4, M8.1
    let ws = Workspace::new();
    let art = ws.path().join("art");
    for component in ["api", "web"] {
        demo_build(&art, component, "1.0.0", false);
        demo_build(&art, component, "1.1.0", true);
    }
    let manifest = ci_manifest();
    let ports = ports();

    // Job 1: staging, then exit 4 at production's approval gate.
    let (code, out, err) = ws.run(&[
        "run",
        &manifest,
        "--release",
        "ci-1.0.0",
        "--artifacts",
        "art",
        "--ports",
        &ports,
        "--probe-path",
        "/healthz",
        "--as",
        "ci-bot",
        "--json",
    ]);
    assert_eq!(code, 4, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["status"], "waiting");
    assert_eq!(v["waiting"]["environment"], "production");
    assert!(
        v["waiting"]["reason"]
            .as_str()
            .unwrap()
            .contains("`approval`"),
        "{out}"
    );
    // releasectl has exited; staging's processes keep serving, production has none yet.
    let staging_api = endpoints(&ws, "staging", "api");
    assert_eq!(staging_api.len(), 1);
    assert_eq!(serves(&staging_api[0]), "api 1.0.0");
    assert!(endpoints(&ws, "production", "api").is_empty());

    // Job 2: the one who started the release cannot approve it.
    assert_eq!(
        ws.run(&["approve", "--env", "production", "--as", "ci-bot"])
            .0,
        0
    );
    let (code, out, _) = ws.run(&["resume", "--as", "ci-bot"]);
    assert_eq!(code, 4, "self-approval must not count: {out}");
    assert!(out.contains("started the release"), "{out}");

    // Job 3: alice approves, in a process of her own.
    let (code, out, err) = ws.run(&[
        "approve",
        "--env",
        "production",
        "--as",
        "alice",
        "--comment",
        "go",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["by"], "alice");

    // Job 4: resume finishes production.
    let (code, out, err) = ws.run(&["resume", "--release", "ci-1.0.0", "--as", "ci-bot"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("entry gate approval: pass"), "{out}");
    assert!(out.contains("Outcome of ci-1.0.0: succeeded"), "{out}");
    let (code, out, _) = ws.run(&["status", "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["status"], "succeeded");
    assert!(
        v["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["by"] == "alice" && a["environment"] == "production"),
        "{out}"
    );
    let production_api = endpoints(&ws, "production", "api");
    assert_eq!(production_api.len(), 2, "two replicas in production");
    for e in &production_api {
        assert_eq!(serves(e), "api 1.0.0");
    }

    // Job 5: a build whose health check fails is rolled back in staging, exit 3.
    let (code, out, err) = ws.run(&["run", &manifest, "--release", "ci-1.1.0", "--json"]);
    assert_eq!(code, 3, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["status"], "rolled_back");
    assert_eq!(v["outcome"]["environment"], "staging");
    assert!(
        v["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("status 500"),
        "{out}"
    );
    let staging_api = endpoints(&ws, "staging", "api");
    assert_eq!(staging_api.len(), 1);
    assert_eq!(
        serves(&staging_api[0]),
        "api 1.0.0",
        "back on the old build"
    );
    for e in endpoints(&ws, "production", "api") {
        assert_eq!(serves(&e), "api 1.0.0", "production untouched");
    }
    // The CMDB (M7.1) records the deployment and the rollback.
    let (code, out, _) = ws.run(&["inventory", "--history"]);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l.contains("staging")
            && l.contains("api")
            && l.contains("rolled back")
            && l.contains("1.1.0 -> 1.0.0")
            && l.contains("ci-1.1.0")),
        "{out}"
    );
    // The closure projections (M7.3, M7.5) tell the same story.
    let (code, out, _) = ws.run(&["report", "--release", "ci-1.1.0", "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["summary"]["outcome"]["status"], "rolled_back");
    assert_eq!(v["review"]["incidents"][0]["environment"], "staging");
    assert!(
        v["timeline"].as_array().unwrap().iter().any(|l| l["detail"]
            .as_str()
            .unwrap()
            .contains("probe http on stable: unhealthy")),
        "{out}"
    );

    // The audit trail verifies, from the ledger and from an export.
    let (code, out, err) = ws.run(&["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 journal(s) verified"), "{out}");
    assert_eq!(ws.run(&["audit", "export", "--out", "audit.jsonl"]).0, 0);
    assert_eq!(ws.run(&["audit", "verify", "--export", "audit.jsonl"]).0, 0);

    // Someone rewrites alice's approval in the ledger: the chain says where.
    let db = rusqlite::Connection::open(ws.path().join(".release/ledger.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE events SET record = replace(record, '\"actor\":\"alice\"', '\"actor\":\"mallory\"') WHERE release = 'ci-1.0.0' AND record LIKE '%\"actor\":\"alice\"%'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let (code, out, err) = ws.run(&["audit", "verify"]);
    assert_eq!(code, 3, "{out}{err}");
    let line = out.lines().find(|l| l.starts_with("TAMPERED")).unwrap();
    assert!(line.contains("ci-1.0.0"), "{line}");
    assert!(line.contains("the record was changed"), "{line}");
    assert!(out.contains("ok        ci-1.1.0"), "{out}");
    assert!(err.contains("1 of 2 journal(s) fail verification"), "{err}");
}

/// Starts `ci-1.0.0` on the simulated target; it stops at production's approval.
fn simulated(ws: &Workspace, state: &str) {
    let (code, out, err) = ws.run(&[
        "run",
        &ci_manifest(),
        "--release",
        "ci-1.0.0",
        "--state",
        state,
        "--target",
        "simulated",
        "--as",
        "ci-bot",
    ]);
    assert_eq!(code, 4, "{out}{err}");
}

#[test]
fn exit_0_when_done() {
    let ws = Workspace::new();
    simulated(&ws, "s");
    let (code, _, err) = ws.run(&[
        "approve",
        "--state",
        "s",
        "--env",
        "production",
        "--as",
        "alice",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = ws.run(&["resume", "--state", "s", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["exit"], 0);
    assert!(v["head"].as_str().unwrap().len() == 64, "{out}");
    assert_eq!(ws.run(&["status", "--state", "s"]).0, 0);
    // Closure (M7.2, M7.3, M7.5): summary, review, HTML report, audit export and a signed
    // evidence bundle, the key handed over as a CI secret.
    let seed = "7f".repeat(32);
    let (code, out, err) = ws.run_with(
        ("RELEASE_BUNDLE_KEY", &seed),
        &[
            "report",
            "--state",
            "s",
            "--out",
            "out",
            "--sign-key",
            "env://RELEASE_BUNDLE_KEY",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("# Release ci-1.0.0 (v1.0.0)"), "{out}");
    assert!(
        out.contains("# Post-implementation review: ci-1.0.0"),
        "{out}"
    );
    assert!(out.contains("approved by alice"), "{out}");
    assert!(
        !out.contains(&seed) && !err.contains(&seed),
        "the key is never printed"
    );
    for file in [
        "summary.md",
        "summary.json",
        "review.md",
        "review.json",
        "report.html",
        "audit.jsonl",
        "evidence.tar",
    ] {
        assert!(
            ws.path().join("out/ci-1.0.0").join(file).is_file(),
            "{file}"
        );
    }
    let public = err
        .split("--trusted-key ")
        .nth(1)
        .and_then(|rest| rest.get(..64))
        .unwrap_or_else(|| panic!("the public key is printed: {err}"))
        .to_owned();
    let bundle = "out/ci-1.0.0/evidence.tar";
    let (code, out, err) = ws.run(&[
        "audit",
        "verify",
        "--bundle",
        bundle,
        "--trusted-key",
        &public,
        "--state",
        "s",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ok        ci-1.0.0"), "{out}");
    // Only someone else's key is trusted.
    let other: String = ed25519_dalek::SigningKey::from_bytes(&[1; 32])
        .verifying_key()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (code, out, _) = ws.run(&[
        "audit",
        "verify",
        "--bundle",
        bundle,
        "--trusted-key",
        &other,
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("untrusted keys"), "{out}");
    // One byte of the archived journal changed: found.
    let path = ws.path().join(bundle);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(9)
        .position(|w| w == b"\"ci-bot\",")
        .expect("the journal names who started the release");
    bytes[at + 1] = b'X';
    std::fs::write(&path, bytes).unwrap();
    let (code, out, _) = ws.run(&[
        "audit",
        "verify",
        "--bundle",
        bundle,
        "--trusted-key",
        &public,
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("TAMPERED"), "{out}");

    // The simulated target kept its slots between the three invocations.
    let (code, out, _) = ws.run(&["inventory", "--state", "s"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.contains("api") && l.contains("1.0.0") && l.contains("ci-1.0.0")),
        "{out}"
    );
    assert_eq!(ws.run(&["audit", "verify", "--state", "s"]).0, 0);
    // A re-run of the finished job reports how it ended, with the same exit code.
    let (code, out, _) = ws.run(&[
        "run",
        &ci_manifest(),
        "--release",
        "ci-1.0.0",
        "--state",
        "s",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("continuing its journal"), "{out}");
}

#[test]
fn exit_2_for_invalid_input_naming_the_thing_and_the_fix() {
    let ws = Workspace::new();
    let (code, _, err) = ws.run(&["resume", "--state", "empty"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no ledger at") && err.contains("releasectl run"),
        "{err}"
    );
    let (code, _, err) = ws.run(&["run", &ci_manifest(), "--release", "ci-9.9.9"]);
    assert_eq!(code, 2);
    assert!(err.contains("names no release"), "{err}");
    assert!(err.contains("ci-1.0.0, ci-1.1.0"), "{err}");
    let (code, _, err) = ws.run(&["run", &ci_manifest(), "--release", "ci-1.0.0"]);
    assert_eq!(code, 2, "the process target needs builds");
    assert!(err.contains("--artifacts DIR"), "{err}");

    simulated(&ws, "s");
    let (code, out, err) = ws.run(&[
        "approve", "--state", "s", "--env", "qa", "--as", "alice", "--json",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`--env qa`") && err.contains("it has staging, production"),
        "{err}"
    );
    assert_eq!(json(&out)["exit"], 2);
    let (code, _, err) = ws.run(&["status", "--state", "s", "--release", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("release nope has no journal") && err.contains("ci-1.0.0"),
        "{err}"
    );
    let (code, _, err) = ws.run(&[
        "run",
        &ci_manifest(),
        "--release",
        "ci-1.0.0",
        "--state",
        "s",
        "--target",
        "process",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("drives one target"), "{err}");
    // The same release id from changed manifests.
    let changed = ws.path().join("changed.yaml");
    std::fs::write(
        &changed,
        std::fs::read_to_string(ci_manifest())
            .unwrap()
            .replace("first release of the shop", "something else"),
    )
    .unwrap();
    let (code, _, err) = ws.run(&[
        "run",
        changed.to_str().unwrap(),
        "--release",
        "ci-1.0.0",
        "--state",
        "s",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("was started from other manifests") && err.contains("new release id"),
        "{err}"
    );
    let (code, _, err) = ws.run(&["audit", "verify", "--ledger", "missing.db"]);
    assert_eq!(code, 2);
    assert!(err.contains("no ledger file at missing.db"), "{err}");
    // A finished release cannot be rolled back; say how to go back instead.
    ws.run(&[
        "approve",
        "--state",
        "s",
        "--env",
        "production",
        "--as",
        "alice",
    ]);
    assert_eq!(ws.run(&["resume", "--state", "s"]).0, 0);
    let (code, _, err) = ws.run(&["rollback", "--state", "s", "--as", "ops"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("has already ended") && err.contains("run that release again"),
        "{err}"
    );
    // clap's own refusals exit 2 as well.
    assert_eq!(ws.run(&["run", "--ports", "9-1", &ci_manifest()]).0, 2);
}

#[test]
fn exit_3_when_a_gate_failed_or_the_release_was_aborted() {
    let ws = Workspace::new();
    simulated(&ws, "rejected");
    let (code, _, err) = ws.run(&[
        "reject",
        "--state",
        "rejected",
        "--env",
        "production",
        "--as",
        "bob",
        "--comment",
        "not this week",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = ws.run(&["resume", "--state", "rejected", "--json"]);
    assert_eq!(code, 3, "{out}");
    let v = json(&out);
    assert_eq!(v["status"], "gate_failed");
    assert_eq!(v["outcome"]["gate"], "approval");
    assert_eq!(ws.run(&["status", "--state", "rejected"]).0, 3);

    simulated(&ws, "aborted");
    assert_eq!(ws.run(&["abort", "--state", "aborted", "--as", "ops"]).0, 0);
    let (code, out, _) = ws.run(&["resume", "--state", "aborted"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("Outcome of ci-1.0.0: aborted in production"),
        "{out}"
    );
    let (code, out, _) = ws.run(&["status", "--state", "aborted", "--json"]);
    assert_eq!(code, 3);
    assert_eq!(json(&out)["status"], "aborted");
}

#[test]
fn exit_4_while_waiting_for_an_approval() {
    let ws = Workspace::new();
    simulated(&ws, "s");
    let (code, out, _) = ws.run(&["status", "--state", "s", "--json"]);
    assert_eq!(code, 4);
    let v = json(&out);
    assert_eq!(v["status"], "waiting");
    assert_eq!(v["current_stage"], "production");
    assert_eq!(v["stages"][0]["state"], "completed");
    // Resuming without an approval waits again, and says what to type next.
    let (code, out, _) = ws.run(&["resume", "--state", "s"]);
    assert_eq!(code, 4);
    assert!(
        out.contains("next: releasectl approve --state") && out.contains("--env production"),
        "{out}"
    );
}

#[test]
fn exit_1_when_another_job_drives_the_same_state() {
    let ws = Workspace::new();
    simulated(&ws, "s");
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(ws.path().join("s/lock"))
        .unwrap();
    lock.lock().unwrap();
    let (code, _, err) = ws.run(&["resume", "--state", "s"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("another releasectl is driving a release") && err.contains("wait for"),
        "{err}"
    );
    // Decisions take no lock: they are journal appends the running job reads.
    assert_eq!(
        ws.run(&[
            "approve",
            "--state",
            "s",
            "--env",
            "production",
            "--as",
            "alice"
        ])
        .0,
        0
    );
    lock.unlock().unwrap();
    assert_eq!(ws.run(&["resume", "--state", "s"]).0, 0);
}

#[test]
fn rollback_aborts_and_carries_the_rollback_out_with_exit_0() {
    // covers M8.1: production goes back to what ran before; staging keeps what it passed.
    let ws = Workspace::new();
    simulated(&ws, "s");
    ws.run(&[
        "approve",
        "--state",
        "s",
        "--env",
        "production",
        "--as",
        "alice",
    ]);
    assert_eq!(ws.run(&["resume", "--state", "s"]).0, 0);
    // The next release passes staging and waits at production's gate; roll it back there.
    let (code, _, err) = ws.run(&[
        "run",
        &ci_manifest(),
        "--release",
        "ci-1.1.0",
        "--state",
        "s",
        "--as",
        "ci-bot",
    ]);
    assert_eq!(code, 4, "{err}");
    let (code, out, err) = ws.run(&[
        "rollback",
        "--state",
        "s",
        "--as",
        "ops",
        "--comment",
        "customer escalation",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(json(&out)["status"], "aborted");
    let (code, out, _) = ws.run(&["inventory", "--state", "s", "--json"]);
    assert_eq!(code, 0);
    let v = json(&out);
    let version = |env: &str| {
        v["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["environment"] == env)
            .unwrap()["components"][0]
            .clone()
    };
    // The CMDB and the target agree: staging keeps what it passed, production went back.
    assert_eq!(version("staging")["version"], "1.1.0");
    assert_eq!(version("staging")["slots"][0]["version"], "1.1.0");
    assert_eq!(version("production")["version"], "1.0.0");
    assert_eq!(version("production")["release"], "ci-1.0.0");
    assert_eq!(version("production")["slots"][0]["version"], "1.0.0");
    let (_, out, _) = ws.run(&["report", "--state", "s", "--release", "ci-1.1.0"]);
    assert!(out.contains("abort by ops: customer escalation"), "{out}");
    assert!(out.contains("**Outcome:** aborted"), "{out}");
}

/// A workspace whose `ci.yaml` gives staging these exit gates, with a roles file and two
/// JUnit reports (`passing.xml`, `failing.xml`); `ci-1.0.0` is started on the simulated
/// target and waits in staging (exit 4). Returns the workspace and `run`'s stdout.
fn gated(exit_gates: &str, roles: &str) -> (Workspace, String) {
    let ws = Workspace::new();
    let manifest = std::fs::read_to_string(ci_manifest()).unwrap().replace(
        "- { name: verify, environments: [staging] }",
        &format!("- {{ name: verify, environments: [staging], exit_gates: {exit_gates} }}"),
    );
    assert!(manifest.contains("exit_gates"));
    std::fs::write(ws.path().join("ci.yaml"), manifest).unwrap();
    std::fs::write(ws.path().join("roles.yaml"), roles).unwrap();
    for (file, failures) in [("passing.xml", 0), ("failing.xml", 1)] {
        std::fs::write(
            ws.path().join(file),
            format!(r#"<testsuite name="checkout" tests="10" failures="{failures}" errors="0" skipped="0"/>"#),
        )
        .unwrap();
    }
    let (code, out, err) = ws.run(&[
        "run",
        "ci.yaml",
        "--release",
        "ci-1.0.0",
        "--state",
        "s",
        "--target",
        "simulated",
        "--roles",
        "roles.yaml",
        "--as",
        "ci-bot",
    ]);
    assert_eq!(code, 4, "{out}{err}");
    (ws, out)
}

/// Staging's exit gates want sign-offs from QA and the business owner and a passing JUnit
/// report: CI jobs journal them with `sign-off` and `test-report`; a failing report fails
/// the gate (M4.4, M4.6, M5.2).
#[test]
fn sign_offs_and_test_reports_recorded_by_ci_jobs_are_judged_by_staging_s_exit_gates() {
    let (ws, out) = gated(
        "[ { sign_off: { roles: [qa-lead, business-owner] } }, { junit: { min_pass_rate: 100% } } ]",
        "roles:\n  mia@shop.example: [qa-lead]\n  omar@shop.example: [business-owner]\n",
    );
    assert!(out.contains("next: releasectl sign-off --state "), "{out}");
    let (code, out, _) = ws.run(&["status", "--state", "s", "--json"]);
    assert_eq!(
        (code, &json(&out)["current_stage"]),
        (4, &Value::from("staging"))
    );

    for (person, role) in [
        ("mia@shop.example", "qa-lead"),
        ("omar@shop.example", "business-owner"),
    ] {
        let (code, out, err) = ws.run(&[
            "sign-off",
            "--state",
            "s",
            "--env",
            "staging",
            "--role",
            role,
            "--as",
            person,
            "--comment",
            "checked",
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(json(&out)["action"], "sign-off");
    }
    // Signed off, but no test report yet: still waiting in staging, now for the tests.
    let (code, out, _) = ws.run(&["resume", "--state", "s"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("next: releasectl test-report"), "{out}");

    // A report that is not JUnit, or no file at all, is invalid input.
    std::fs::write(ws.path().join("junk.xml"), "not xml at all").unwrap();
    for file in ["junk.xml", "missing.xml"] {
        let (code, _, err) = ws.run(&[
            "test-report",
            file,
            "--state",
            "s",
            "--env",
            "staging",
            "--as",
            "ci-bot",
        ]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(file), "{err}");
    }

    // A failing report fails the exit gate on resume: staging rolls back, exit 3.
    let (code, _, err) = ws.run(&[
        "test-report",
        "failing.xml",
        "--state",
        "s",
        "--env",
        "staging",
        "--as",
        "ci-bot",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = ws.run(&["resume", "--state", "s", "--json"]);
    assert_eq!(code, 3, "{out}");
    let v = json(&out);
    assert_eq!(v["status"], "rolled_back", "{out}");
    let reason = v["outcome"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("exit gate `junit` failed") && reason.contains("pass rate 90.00%"),
        "{reason}"
    );
}

/// A passing report and the sign-off open staging's exit gates: the release goes on to
/// wait for production's approval.
#[test]
fn a_passing_test_report_and_the_sign_off_move_the_release_to_production() {
    let (ws, _) = gated(
        "[ { sign_off: { roles: [qa-lead] } }, { junit: { min_pass_rate: 100% } } ]",
        "roles:\n  mia@shop.example: [qa-lead]\n",
    );
    for args in [
        vec![
            "sign-off",
            "--state",
            "s",
            "--env",
            "staging",
            "--role",
            "qa-lead",
            "--as",
            "mia@shop.example",
        ],
        vec![
            "test-report",
            "passing.xml",
            "--state",
            "s",
            "--env",
            "staging",
            "--as",
            "ci-bot",
        ],
    ] {
        let (code, _, err) = ws.run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let (code, out, _) = ws.run(&["resume", "--state", "s", "--json"]);
    assert_eq!(code, 4, "{out}");
    let v = json(&out);
    assert_eq!(v["waiting"]["environment"], "production", "{out}");
    assert!(
        v["waiting"]["reason"]
            .as_str()
            .unwrap()
            .contains("`approval`"),
        "{out}"
    );
    // A late report for the finished release is kept, and releasectl says no gate reads it.
    let (code, _, err) = ws.run(&[
        "approve",
        "--state",
        "s",
        "--env",
        "production",
        "--as",
        "alice",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ws.run(&["resume", "--state", "s"]).0, 0);
    let (code, out, err) = ws.run(&[
        "test-report",
        "passing.xml",
        "--state",
        "s",
        "--env",
        "production",
        "--as",
        "ci-bot",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ci-1.0.0 already ended (succeeded)") && out.contains("no gate reads it"),
        "{out}"
    );
    // The report's timeline shows who recorded which evidence.
    let (code, out, err) = ws.run(&["report", "--state", "s"]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "evidence sign_off recorded by mia@shop.example",
        "evidence junit recorded by ci-bot",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
}
