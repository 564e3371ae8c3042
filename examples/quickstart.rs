//! The main job: `cargo run --release --example quickstart`.
//!
//! For now it runs the whole lifecycle on in-memory parts, in virtual time: it loads the shop
//! manifests, validates and plans them, ships the November baseline, then the December
//! release through dev → staging → production (canary, blue-green and rolling strategies),
//! then a release whose canary raises the error rate in production and is rolled back. It
//! writes the hash-chained journal of each release as JSON Lines to an output folder and
//! verifies the chains. (Real processes, the HTTP router and the SQLite ledger replace the
//! in-memory parts as their adapters land.)

use std::path::PathBuf;
use std::sync::Arc;

use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{InMemoryLedger, Ledger, export_jsonl, read_all, verify_chain};
use release_core::manifest::ManifestSet;
use release_core::memory::{
    InMemoryMetrics, InMemoryProbe, InMemoryRouter, InMemoryTarget, ScopeMatcher,
};
use release_core::model::{Platform, Release, SecretRef, SecretValue};
use release_core::plan::{PlanOptions, plan_release};
use release_core::plugin::{Clock, TokioClock};
use release_core::validate::{ValidateOptions, validate_set};
use release_gates::promotion::evidence::{SignOff, evidence_draft};
use release_gates::promotion::junit::JunitReport;
use release_gates::promotion::{GatesConfig, register};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn die(message: impl std::fmt::Display) -> ! {
    eprintln!("quickstart: {message}");
    std::process::exit(1)
}

/// The JUnit report the staging suite "produced".
const JUNIT: &str = r#"<testsuites>
  <testsuite name="orders-integration" tests="212" failures="0" errors="0" skipped="0"/>
  <testsuite name="checkout-journeys" tests="200" failures="0" errors="0" skipped="0"/>
</testsuites>"#;

/// Ships a release; whenever it waits for people, named people act as a real team would:
/// QA and the business owner sign off staging (they wrote none of the changes), CI records
/// the test results, and a release manager other than the one who started it approves
/// production.
async fn ship(
    engine: &Engine,
    ledger: &Arc<dyn Ledger>,
    clock: &Arc<TokioClock>,
    platform: &Platform,
    release: &Release,
) -> RunOutcome {
    let mut outcome = engine
        .start(platform, release, "ana@shop.example")
        .await
        .unwrap_or_else(|e| die(e));
    for _ in 0..10 {
        let RunOutcome::Waiting {
            environment,
            reason,
        } = &outcome
        else {
            break;
        };
        println!("   waiting: {reason}");
        let env = environment.clone().unwrap_or_else(|| "production".into());
        if reason.contains("`sign_off`") {
            for (person, role) in [
                ("mia@shop.example", "qa-lead"),
                ("omar@shop.example", "business-owner"),
            ] {
                let sign = SignOff {
                    role: role.into(),
                    person: person.into(),
                    comment: Some("looks good".to_owned()),
                };
                let draft = evidence_draft(
                    release.id().clone(),
                    clock.now(),
                    person,
                    Some(env.clone()),
                    &sign,
                );
                ledger.append(draft, None).await.unwrap_or_else(|e| die(e));
                println!("   signed off by {person} as {role}");
            }
        } else if reason.contains("`junit`") {
            let report =
                JunitReport::parse("ci/staging-tests.xml", JUNIT).unwrap_or_else(|e| die(e));
            let draft = evidence_draft(
                release.id().clone(),
                clock.now(),
                "ci@shop.example",
                Some(env.clone()),
                &report,
            );
            ledger.append(draft, None).await.unwrap_or_else(|e| die(e));
            println!("   test results recorded by CI: 412 of 412 passed");
        } else if reason.contains("`approval`") {
            engine
                .approve(
                    release.id(),
                    &env,
                    "tom@shop.example",
                    Some("go".to_owned()),
                )
                .await
                .unwrap_or_else(|e| die(e));
            println!("   approved by tom@shop.example (release manager) for {env}");
        } else {
            die(format!("nobody can answer: {reason}"));
        }
        outcome = engine
            .resume(release.id(), "ana@shop.example")
            .await
            .unwrap_or_else(|e| die(e));
    }
    outcome
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let files = [
        root().join("manifests/shop.yaml"),
        root().join("manifests/shop-baseline.yaml"),
    ];
    let set = ManifestSet::load(&files).unwrap_or_else(|errors| {
        for e in &errors {
            eprintln!("{e}");
        }
        die("the example manifests do not load")
    });
    validate_set(&set, &ValidateOptions::default()).unwrap_or_else(|v| die(v));
    let platform = set.platforms[0].value.clone();
    let release_of = |id: &str| {
        set.releases
            .iter()
            .find(|r| r.value.id().as_str() == id)
            .map(|r| r.value.clone())
            .unwrap_or_else(|| die(format!("release {id} missing")))
    };
    let baseline = release_of("shop-2026.11.3");
    let december = release_of("shop-2026.12.1");
    let plan =
        plan_release(&platform, &december, &PlanOptions::default()).unwrap_or_else(|e| die(e));
    println!(
        "1. validated and planned {}: {} stages, critical path {}",
        december.id(),
        plan.stages.len(),
        plan.critical_path
            .components
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(" → ")
    );

    let out = std::env::temp_dir().join("release-quickstart");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| die(e));
    let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
    let target = Arc::new(InMemoryTarget::new());
    let router = Arc::new(InMemoryRouter::new());
    let metrics = Arc::new(InMemoryMetrics::new());
    metrics.set("error_ratio", ScopeMatcher::any(), 0.002);
    metrics.set("error_rate", ScopeMatcher::any(), 0.002);
    let mut secrets = release_core::config::InMemorySecrets::new();
    for env in ["staging", "production"] {
        let reference =
            SecretRef::parse(&format!("vault://shop/{env}/orders/db")).unwrap_or_else(|e| die(e));
        secrets.insert(reference, SecretValue::new(format!("{env}-password")));
    }
    let start = december
        .schedule
        .as_ref()
        .map(|s| s.start.to_utc())
        .unwrap_or_default();
    let clock = Arc::new(TokioClock::new(start));
    let builder = Engine::builder()
        .ledger(ledger.clone())
        .clock(clock.clone())
        .target("local", target.clone())
        .router(router)
        .metrics("router", metrics.clone())
        .metrics("default", metrics.clone())
        .probe("health", Arc::new(InMemoryProbe::new()))
        .secrets(Arc::new(secrets))
        .options(EngineOptions::default().with_holder("quickstart"));
    let builder = release_strategies::all()
        .into_iter()
        .fold(builder, |b, strategy| b.strategy(strategy));
    // Who holds which role: the gates read it (approvals by role, distinct sign-offs, M4.6).
    let people = GatesConfig::default()
        .with_role("mia@shop.example", "qa-lead")
        .with_role("omar@shop.example", "business-owner")
        .with_role("ana@shop.example", "release-manager")
        .with_role("tom@shop.example", "release-manager");
    let builder = register(builder, &people);
    let engine = builder.build().unwrap_or_else(|e| die(e));

    println!("2. shipping the baseline {}", baseline.id());
    let outcome = ship(&engine, &ledger, &clock, &platform, &baseline).await;
    println!(
        "   {}",
        outcome
            .outcome()
            .map_or("waiting".to_owned(), ToString::to_string)
    );

    println!(
        "3. shipping {} (canary for orders-api, blue-green for payments, rolling for web)",
        december.id()
    );
    let outcome = ship(&engine, &ledger, &clock, &platform, &december).await;
    println!(
        "   {}",
        outcome
            .outcome()
            .map_or("waiting".to_owned(), ToString::to_string)
    );

    // A third release whose orders-api canary errors in production.
    let mut bad = december.clone();
    bad.metadata.id = "shop-2026.12.2".into();
    bad.version = semver::Version::new(2026, 12, 2);
    if let Some(v) = bad.components.get_mut("orders-api") {
        v.version = semver::Version::new(3, 9, 0);
    }
    bad.schedule = None;
    metrics.set(
        "error_ratio",
        ScopeMatcher::of("orders-api", "production"),
        0.21,
    );
    println!(
        "4. shipping {}: its canary returns errors in production",
        bad.id()
    );
    let outcome = ship(&engine, &ledger, &clock, &platform, &bad).await;
    println!(
        "   {}",
        outcome
            .outcome()
            .map_or("waiting".to_owned(), ToString::to_string)
    );

    println!("5. journals, verified and written to {}", out.display());
    for release in [&baseline, &december, &bad] {
        let records = read_all(ledger.as_ref(), release.id())
            .await
            .unwrap_or_else(|e| die(e));
        verify_chain(&records).unwrap_or_else(|e| die(e));
        let path = out.join(format!("{}.audit.jsonl", release.id()));
        std::fs::write(&path, export_jsonl(&records).unwrap_or_else(|e| die(e)))
            .unwrap_or_else(|e| die(e));
        println!(
            "   {}: {} records, chain verified",
            path.display(),
            records.len()
        );
    }
    println!("\nRunning now:");
    for (_, env) in platform.lifecycle.environments() {
        let parts: Vec<String> = target
            .versions(env.as_str())
            .into_iter()
            .map(|(c, v)| {
                format!(
                    "{c} {}",
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("+")
                )
            })
            .collect();
        println!("  {:<11} {}", env.as_str(), parts.join(", "));
    }
}
