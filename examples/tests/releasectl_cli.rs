//! releasectl's commands and exit codes (M5.2), run as a CI job would run them.

mod releasectl_support;

use releasectl_support::{root, run_in};

fn run(args: &[&str]) -> (i32, String, String) {
    run_in(&root(), args)
}

#[test]
fn validate_accepts_the_shop_with_exit_0() {
    let (code, out, _) = run(&["validate", "examples/manifests/shop.yaml"]);
    assert_eq!(code, 0);
    assert!(out.contains("valid: 1 platform(s), 1 release(s)"), "{out}");
    let (code, out, _) = run(&[
        "validate",
        "examples/manifests/toml/shop-platform.toml",
        "examples/manifests/toml/shop-release.toml",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], true);
}

#[test]
fn validate_rejects_with_exit_2_and_every_violation_on_stderr() {
    let (code, _, err) = run(&[
        "validate",
        "examples/manifests/broken/m1.1-unapproved-change.yaml",
    ]);
    assert_eq!(code, 2);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("is `submitted`, not approved"))
        .collect();
    assert_eq!(lines.len(), 2, "both changes are reported: {err}");
    assert!(
        lines[0].starts_with("examples/manifests/broken/m1.1-unapproved-change.yaml:"),
        "{err}"
    );
    assert!(err.contains("2 problems found"), "{err}");

    let (code, out, _) = run(&[
        "validate",
        "examples/manifests/broken/syntax-error.yaml",
        "--json",
    ]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["errors"][0].as_str().unwrap().contains("syntax error"));
}

#[test]
fn plan_prints_text_and_byte_identical_json() {
    let (code, out, _) = run(&["plan", "examples/manifests/shop.yaml"]);
    assert_eq!(code, 0);
    assert!(out.contains("Critical path"), "{out}");
    assert!(out.contains("Stage 3/3: production"), "{out}");
    let (_, a, _) = run(&["plan", "examples/manifests/shop.yaml", "--json"]);
    let (_, b, _) = run(&["plan", "examples/manifests/shop.yaml", "--json"]);
    assert_eq!(a, b);
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["stages"].as_array().unwrap().len(), 3);
    let (code, out, _) = run(&[
        "plan",
        "examples/manifests/shop.yaml",
        "--env",
        "staging",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stages"][0]["environment"], "staging");
}

#[test]
fn plan_of_an_unknown_environment_is_invalid_input() {
    let (code, _, err) = run(&["plan", "examples/manifests/shop.yaml", "--env", "qa"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("qa"), "{err}");
}

#[test]
fn schema_is_json_schema() {
    let (code, out, _) = run(&["schema"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["$schema"].as_str().unwrap().contains("json-schema.org"));
    assert!(out.contains("release_manager"));
}

#[test]
fn conflicts_exit_3_when_found_and_0_when_not() {
    let (code, out, _) = run(&["conflicts", "examples/manifests/shop.yaml"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&[
        "conflicts",
        "examples/manifests/shop.yaml",
        "examples/manifests/conflicting.yaml",
        "--json",
    ]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["conflicts"], 4, "{out}");
}

#[test]
fn a_missing_file_is_invalid_input() {
    let (code, _, err) = run(&["validate", "examples/manifests/nope.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope.yaml"), "{err}");
}

const SIM: &str = "examples/tests/fixtures/sim.yaml";

#[test]
fn simulate_completes_with_exit_0_and_prints_the_same_bytes_twice() {
    let args = [
        "simulate",
        SIM,
        "--release",
        "shop-2.0.0",
        "--baseline",
        "shop-1.0.0",
    ];
    let (code, a, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        a.contains("production  web            step 1: apply stable ×3 v2.0.0"),
        "{a}"
    );
    assert!(a.contains("Outcome: succeeded"), "{a}");
    let (_, b, _) = run(&args);
    assert_eq!(a, b, "simulation output must be byte-identical");
    let (_, j1, _) = run(&[&args[..], &["--json"]].concat());
    let (_, j2, _) = run(&[&args[..], &["--json"]].concat());
    assert_eq!(j1, j2);
    let v: serde_json::Value = serde_json::from_str(&j1).unwrap();
    assert_eq!(v["outcome"]["outcome"], "succeeded");
    assert_eq!(v["running"]["production"]["web"][0], "2.0.0");
}

#[test]
fn simulate_a_failure_rolls_back_with_exit_3() {
    let (code, out, _) = run(&[
        "simulate",
        SIM,
        "--release",
        "shop-2.0.0",
        "--baseline",
        "shop-1.0.0",
        "--fail",
        "api@production",
        "--json",
    ]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"]["outcome"], "rolled_back");
    assert_eq!(v["outcome"]["environment"], "production");
    // No mixed state: production is back on 1.0.0, staging keeps 2.0.0.
    for c in ["api", "db", "pay", "search", "web"] {
        assert_eq!(
            v["running"]["production"][c],
            serde_json::json!(["1.0.0"]),
            "{c}"
        );
        assert_eq!(
            v["running"]["staging"][c],
            serde_json::json!(["2.0.0"]),
            "{c}"
        );
    }
}

#[test]
fn simulate_refuses_bad_input_with_exit_2() {
    let (code, _, err) = run(&["simulate", SIM, "--fail", "api"]);
    assert_eq!(code, 2);
    assert!(err.contains("COMPONENT@ENV"), "{err}");
    let (code, _, _) = run(&["simulate", "examples/manifests/broken/cycle.yaml"]);
    assert_eq!(code, 2);
    let (code, _, err) = run(&["simulate", SIM, "--release", "shop-9.9.9"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn simulate_runs_each_strategy_of_the_shop_and_shows_weights_and_replicas() {
    let args = [
        "simulate",
        "examples/manifests/shop.yaml",
        "examples/manifests/shop-baseline.yaml",
        "--baseline",
        "shop-2026.11.3",
        "--release",
        "shop-2026.12.1",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    // canary (orders-api): weights per step and the canary's replica count
    assert!(
        out.contains("production  orders-api     step 3: weights stable 90 / canary 10"),
        "{out}"
    );
    assert!(
        out.contains("orders-api     step 2: apply canary ×1 v3.8.0"),
        "{out}"
    );
    assert!(out.contains("analysis error-rate: successful"), "{out}");
    // rolling (web): batches bounded by surge and unavailability
    assert!(
        out.contains("web            step 2: weights next 25 / stable 75"),
        "{out}"
    );
    assert!(out.contains("Outcome: succeeded"), "{out}");

    // A failing canary in production sends all traffic back to stable first.
    let (code, out, _) = run(&[&args[..], &["--fail", "orders-api@production:2"]].concat());
    assert_eq!(code, 3);
    let rollback: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("production  orders-api     rollback step"))
        .collect();
    assert!(
        rollback[0].ends_with("rollback step 1: weights stable 100"),
        "{rollback:?}"
    );
    assert!(
        out.contains(
            "  production  catalog-api 2.8.1, catalog-db 9.4.0, orders-api 3.7.2, orders-db 14.1.0"
        ),
        "{out}"
    );
}
