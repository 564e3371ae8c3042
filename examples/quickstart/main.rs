//! The main job: `cargo run --release --example quickstart`.
//!
//! The whole release lifecycle on real parts, on one machine, with nothing installed but the
//! Rust toolchain:
//!
//! 1. builds the demo HTTP service into versioned artifacts (orders-api 1.0.0, 2.0.0 and a
//!    3.0.0 whose error rate is high; web 1.0.0 and 2.0.0), each orders-api build carrying
//!    its database migrations, stores them in the filesystem store, and signs in-toto/SLSA
//!    provenance for each;
//! 2. loads the manifests in `examples/manifests/quickstart/` (two components over dev →
//!    staging → production, a SQLite orders database per environment, change requests,
//!    owners, rollback criteria), validates them, verifies every artifact's provenance and
//!    unpacks it for the local-process target, and pins each release to the migration set
//!    inside its artifact;
//! 3. ships 2026.12.0 and 2026.12.1 through the lifecycle on real OS processes: staging's
//!    sign-offs and test evidence and production's approval are given by named people, the
//!    migrations are rehearsed on a clone of production's database before production (the
//!    `migration_rehearsal` gate), every database is backed up before it is migrated, and the
//!    orders-api canary in production runs behind the weighted HTTP router with real
//!    generated traffic and is judged on the router's error rate, then promoted;
//! 4. ships 2026.12.2: its canary fails the analysis, traffic goes back to 2.0.0, and
//!    production's orders database, which 3.0.0's migration rewrote, is restored from the
//!    pre-deployment backup and checked against its digest; the rollback is announced and
//!    an RCA opened;
//! 5. writes everything under one output folder it prints: the SQLite ledger, the verified
//!    audit export of each release, the closure outputs and a summary.
//!
//! The executable is also the demo service: the artifacts carry a copy of it, and the
//! local-process target starts it as `demo-service serve`.
//!
//! Options: `--out DIR` (default `target/quickstart` in the workspace), `--ports N` (first
//! loopback port for the services, default 27100).

mod artifacts;
mod chat;
mod closure;
mod data;
mod people;
mod traffic;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use release_adapters::inventory::{DeploymentRow, InventoryConfig};
use release_adapters::probes::{HttpProbe, HttpProbeConfig};
use release_adapters::process::{ProcessTarget, ProcessTargetConfig, Readiness};
use release_adapters::router::{HttpRouter, RouterConfig};
use release_adapters::sqlite_ledger::{SqliteLedger, SqliteLedgerConfig};
use release_adapters::webhook::{BodyFormat, EndpointConfig, WebhookConfig};
use release_artifacts::{FsArtifactStore, VerificationPolicy};
use release_core::engine::{Engine, EngineOptions};
use release_core::ledger::{
    Event, Feedback, Ledger, Outcome, Record, Sentiment, export_jsonl, read_all, verify_chain,
};
use release_core::manifest::ManifestSet;
use release_core::model::{Platform, Release};
use release_core::plugin::{Clock, DeploymentTarget, Route, SystemClock};
use release_core::validate::{ValidateOptions, validate_set};
use release_examples::demo::Build;
use serde::Serialize;

use traffic::Traffic;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

struct Options {
    out: PathBuf,
    first_port: u16,
}

fn options() -> Result<Options, String> {
    let mut out = workspace().join("target").join("quickstart");
    let mut first_port = 27_100u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => {
                out = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--out needs a folder")?
            }
            "--ports" => {
                first_port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--ports needs a port number")?;
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}` (try --out DIR, --ports N)"
                ));
            }
        }
    }
    Ok(Options { out, first_port })
}

fn main() -> ExitCode {
    let serve = std::env::args().nth(1).as_deref() == Some("serve");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(if serve { 1 } else { 2 })
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("quickstart: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if serve {
        runtime.block_on(release_examples::demo::serve_from_env())
    } else {
        runtime.block_on(quickstart())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The builds of the demo service, each with the last database migration it carries.
fn builds() -> Vec<(Build, u64)> {
    let b = |component: &str, version: &str, error_every: u64, schema: u64| {
        let build = Build {
            component: component.to_owned(),
            version: version.to_owned(),
            error_every,
        };
        (build, schema)
    };
    vec![
        b("orders-api", "1.0.0", 0, 1),
        b("orders-api", "2.0.0", 0, 2),
        // The bad build: one checkout in two fails.
        b("orders-api", "3.0.0", 2, 3),
        b("web", "1.0.0", 0, 0),
        b("web", "2.0.0", 0, 0),
    ]
}

/// What the quickstart found, written to `summary.json` (and read by its test).
#[derive(Serialize)]
struct Summary {
    releases: Vec<ReleaseSummary>,
    /// environment → component → versions running.
    running: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// (route, answer) → count of the generated traffic.
    traffic: BTreeMap<String, u64>,
    /// What the release channel was told (Slack-style webhook posts).
    announcements: Vec<String>,
    /// What runs in production according to the inventory (CMDB).
    inventory_production: Vec<DeploymentRow>,
    /// Root-cause analyses opened by rollbacks.
    rcas: Vec<String>,
    /// environment → what its orders database holds at the end.
    databases: BTreeMap<String, data::DatabaseState>,
    seconds: f64,
}

#[derive(Serialize)]
struct ReleaseSummary {
    id: String,
    outcome: String,
    records: usize,
    chain_verified: bool,
    audit_export: PathBuf,
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:>14} {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// `V001, V002`: migration versions as their files name them.
fn versions(applied: &[u64]) -> String {
    if applied.is_empty() {
        return "none".to_owned();
    }
    applied
        .iter()
        .map(|v| format!("V{v:03}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A short line for the progress bar, from one journal record.
fn describe(record: &Record) -> Option<String> {
    Some(match &record.event {
        Event::StageStarted { environment, .. } => format!("{environment}: stage started"),
        Event::GateEvaluated {
            environment,
            gate,
            verdict,
            ..
        } => format!("{environment}: gate {gate}: {verdict:?}"),
        Event::StepStarted { key, step } => {
            format!("{}: {} {step:?}", key.environment, key.component)
        }
        Event::AnalysisCompleted {
            environment,
            component,
            outcome,
            ..
        } => format!("{environment}: {component} analysis {outcome:?}"),
        Event::TriggerFired {
            environment,
            trigger,
            observed,
            ..
        } => {
            format!("{environment}: rollback trigger {trigger} ({observed})")
        }
        Event::RollbackStarted {
            environment,
            reason,
        } => {
            format!("{environment}: ROLLING BACK: {reason}")
        }
        Event::BackupTaken {
            environment,
            record,
            ..
        } => format!(
            "{environment}: backed up {} before migrating",
            record.request.resource
        ),
        Event::MigrationApplied {
            environment,
            resource,
            applied,
            ..
        } => format!(
            "{environment}: {resource} migrated (applied {})",
            versions(applied)
        ),
        Event::DataRestored {
            environment,
            resource,
            verified,
            ..
        } => format!(
            "{environment}: {resource} restored from the pre-deployment backup ({})",
            if *verified {
                "digest verified"
            } else {
                "DIGEST MISMATCH"
            }
        ),
        Event::WatchStarted { environment, .. } => format!("{environment}: watching"),
        Event::StageCompleted { environment } => format!("{environment}: stage completed"),
        _ => return None,
    })
    .map(|s| s.chars().take(160).collect())
}

async fn quickstart() -> Result<(), String> {
    let started = Instant::now();
    let opts = options()?;
    let out = opts.out;
    let multi = MultiProgress::new();
    let say = |line: String| {
        let _ = multi.println(format!("  {line}"));
        if multi.is_hidden() {
            println!("  {line}");
        }
    };
    let heading = |line: String| {
        let _ = multi.println(line.clone());
        if multi.is_hidden() {
            println!("{line}");
        }
    };

    // A clean output folder; processes left by an earlier run are stopped first.
    let target_root = out.join("target");
    if target_root.is_dir() {
        let old = ProcessTarget::new(ProcessTargetConfig::new(&target_root, "demo-service"));
        old.stop_all().await.map_err(|e| e.to_string())?;
    }
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    heading(format!(
        "quickstart: writing everything to {}",
        out.display()
    ));

    // 1. Artifacts.
    heading("1. building the demo service into signed artifacts".to_owned());
    let store = FsArtifactStore::open(out.join("artifacts"))
        .await
        .map_err(|e| e.to_string())?;
    // The builder's key: fixed here so runs are reproducible; a real builder keeps it secret.
    let key = SigningKey::from_bytes(&[42; 32]);
    let dir = workspace().join("examples/manifests/quickstart");
    let built = artifacts::build_all(
        &store,
        &key,
        &builds(),
        &dir.join("db"),
        &out.join("provenance"),
    )
    .await?;
    for b in &built {
        say(format!(
            "{} {}: {} (provenance signed)",
            b.build.component,
            b.build.version,
            &b.reference[..19]
        ));
    }

    // 2. Manifests, validated; artifacts verified and unpacked.
    heading("2. loading, validating and planning the manifests".to_owned());
    let set = ManifestSet::load(&[dir.join("shop.yaml"), dir.join("releases.yaml")]).map_err(
        |errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        },
    )?;
    validate_set(&set, &ValidateOptions::default()).map_err(|v| v.to_string())?;
    let platform: Platform = set
        .platforms
        .first()
        .map(|p| p.value.clone())
        .ok_or("no platform in the quickstart manifests")?;
    let policy = VerificationPolicy::new([key.verifying_key()]).with_builder(artifacts::BUILDER);
    let mut data = data::Data::open(&out, &platform)?;
    for b in &built {
        let unpacked = artifacts::unpack(&store, &policy, b, &target_root).await?;
        if b.build.component == data::COMPONENT {
            data.add_set(&b.build.version, &unpacked)?;
        }
    }
    say(format!(
        "{} artifacts verified (digest + provenance) and unpacked",
        built.len()
    ));
    let mut releases: Vec<Release> = set.releases.iter().map(|r| r.value.clone()).collect();
    for release in &mut releases {
        for (component, v) in &mut release.components {
            let b = built
                .iter()
                .find(|b| {
                    b.build.component == component.as_str()
                        && b.build.version == v.version.to_string()
                })
                .ok_or_else(|| format!("no artifact built for {component} {}", v.version))?;
            v.artifact = Some(b.reference.clone());
        }
        // The migrations the artifact carries, pinned and validated (expand/contract, M8.2).
        data.pin(release)?;
        let shipped = release
            .components
            .get(data::COMPONENT)
            .and_then(|v| data.sets.get(&v.version.to_string()));
        if let Some(shipped) = shipped {
            let options =
                ValidateOptions::default().migration_set(data::COMPONENT, shipped.clone());
            let violations = release_core::validate::validate_release(&platform, release, &options);
            if !violations.is_empty() {
                return Err(violations
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"));
            }
        }
        let plan = release_core::plan::plan_release(
            &platform,
            release,
            &release_core::plan::PlanOptions::default(),
        )
        .map_err(|e| e.to_string())?;
        say(format!(
            "{}: {} stages, critical path {}{}",
            release.id(),
            plan.stages.len(),
            plan.critical_path
                .components
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" → "),
            shipped.map_or_else(String::new, |s| format!(
                ", migrations {} pinned",
                &s.digest().to_string()[..19]
            ))
        ));
    }

    // 3. The real parts: SQLite ledger, local processes, weighted router, HTTP probes.
    let ledger: Arc<dyn Ledger> = Arc::new(
        SqliteLedger::open(SqliteLedgerConfig::new(out.join("ledger.db")))
            .map_err(|e| e.to_string())?,
    );
    let router = HttpRouter::new(RouterConfig::default().with_window(Duration::from_secs(2)));
    let process = Arc::new(
        ProcessTarget::new(
            ProcessTargetConfig::new(&target_root, "demo-service")
                .with_args(["serve"])
                .with_env(
                    "ORDERS_DATA_DIR",
                    data::Data::dir(&out).to_string_lossy().into_owned(),
                )
                .with_ports(opts.first_port, opts.first_port.saturating_add(200))
                .with_readiness(Readiness::Http {
                    path: "/healthz".to_owned(),
                })
                .with_grace_period(Duration::from_secs(2)),
        )
        .with_endpoint_hook(router.endpoint_hook()),
    );
    let target: Arc<dyn DeploymentTarget> = process.clone();
    let mut routes = Vec::new();
    for env in ["dev", "staging", "production"] {
        for component in ["orders-api", "web"] {
            let route = Route::new(component, env);
            let addr = router
                .listen(route, "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
                .await
                .map_err(|e| e.to_string())?;
            routes.push((format!("{component}@{env}"), addr, env == "production"));
        }
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // The release channel hears about rollbacks (first) and about every release's end; the
    // inventory (CMDB) is fed every record.
    let (chat_url, inbox) = chat::start().await?;
    let announcer = Arc::new(
        WebhookConfig::new()
            .with_endpoint(
                EndpointConfig::new("release-channel", chat_url)
                    .with_format(BodyFormat::Slack)
                    .with_events([
                        "trigger_fired",
                        "rollback_started",
                        "rollback_completed",
                        "release_finished",
                    ]),
            )
            .build(Arc::new(release_core::config::InMemorySecrets::new()))
            .map_err(|e| e.to_string())?,
    );
    let inventory = Arc::new(
        InventoryConfig::new(out.join("inventory.db"))
            .open()
            .map_err(|e| e.to_string())?
            .with_ledger(ledger.clone()),
    );
    let builder = Engine::builder()
        .notifier(announcer.clone())
        .notifier(inventory.clone())
        .ledger(ledger.clone())
        .clock(clock.clone())
        .target("local", target.clone())
        .router(Arc::new(router.clone()))
        .metrics("router", Arc::new(router.clone()))
        .metrics("default", Arc::new(router.clone()))
        .probe(
            "health",
            Arc::new(HttpProbe::new(HttpProbeConfig::get("/healthz")).map_err(|e| e.to_string())?),
        )
        .options(
            EngineOptions::default()
                .with_holder("quickstart")
                .with_poll_interval(Duration::from_millis(200))
                .with_progress_deadline(Duration::from_secs(60)),
        );
    let builder = data.register(release_strategies::register(builder));
    let engine = release_gates::promotion::register(builder, &people::roles())
        .build()
        .map_err(|e| e.to_string())?;

    // Progress: one spinner follows the journal of whatever release is running.
    let spinner = multi.add(ProgressBar::new_spinner());
    spinner.set_style(bar_style());
    spinner.enable_steady_tick(Duration::from_millis(120));
    let mut events = engine.subscribe();
    let follow = {
        let spinner = spinner.clone();
        tokio::spawn(async move {
            while let Ok(record) = events.recv().await {
                spinner.set_prefix(record.release.to_string());
                if let Some(line) = describe(&record) {
                    spinner.set_message(line);
                }
            }
        })
    };
    let traffic = Traffic::start(&routes, Duration::from_millis(8));

    let mut outcomes = Vec::new();
    for (n, release) in releases.iter().enumerate() {
        heading(format!(
            "{}. shipping {} ({})",
            ["3a", "3b", "4"].get(n).copied().unwrap_or("4"),
            release.id(),
            release
                .components
                .iter()
                .map(|(c, v)| format!("{c} {}", v.version))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let outcome =
            people::ship(&engine, &ledger, &clock, &platform, release, &data, &say).await?;
        // What happened to the data, from the journal: backups, migrations, restores.
        let journal = read_all(ledger.as_ref(), release.id())
            .await
            .map_err(|e| e.to_string())?;
        for record in &journal {
            if matches!(
                record.event,
                Event::BackupTaken { .. }
                    | Event::MigrationApplied { .. }
                    | Event::DataRestored { .. }
            ) && let Some(line) = describe(record)
            {
                say(line);
            }
        }
        say(format!(
            "{}: {}",
            release.id(),
            outcome
                .outcome()
                .map_or_else(|| format!("{outcome:?}"), ToString::to_string)
        ));
        if n == 0 && outcome.outcome() == Some(&Outcome::Succeeded) {
            data.place_orders()?;
            say("customers placed 4 orders in each environment's orders database".to_owned());
        }
        outcomes.push(outcome);
    }
    let tally = traffic.stop().await;
    announcer.flush().await;
    let announcements = chat::texts(&inbox);
    heading("   the release channel was told:".to_owned());
    for text in &announcements {
        say(text.clone());
    }
    let inventory_production = inventory
        .running_in(&"production".into())
        .await
        .map_err(|e| e.to_string())?;
    follow.abort();
    spinner.finish_and_clear();

    // 5. Journals verified and exported; what runs where; the summary.
    // Early users' feedback on 2026.12.1, journaled before the audit exports are written.
    if let Some(good) = releases.get(1) {
        engine
            .record_feedback(
                good.id(),
                "ana@shop.example",
                Feedback::new(
                    "early-access customers",
                    Sentiment::Positive,
                    "order notes show up at checkout; nothing else changed for us",
                ),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    heading(format!("5. audit exports and summary in {}", out.display()));
    let audit = out.join("audit");
    std::fs::create_dir_all(&audit).map_err(|e| format!("{}: {e}", audit.display()))?;
    let mut summaries = Vec::new();
    let mut journals = Vec::new();
    for (release, outcome) in releases.iter().zip(&outcomes) {
        let records = read_all(ledger.as_ref(), release.id())
            .await
            .map_err(|e| e.to_string())?;
        verify_chain(&records).map_err(|e| format!("{}: {e}", release.id()))?;
        let path = audit.join(format!("{}.jsonl", release.id()));
        std::fs::write(&path, export_jsonl(&records).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        say(format!(
            "{}: {} records, hash chain verified",
            release.id(),
            records.len()
        ));
        summaries.push(ReleaseSummary {
            id: release.id().to_string(),
            outcome: outcome
                .outcome()
                .map_or_else(|| "waiting".to_owned(), ToString::to_string),
            records: records.len(),
            chain_verified: true,
            audit_export: path,
        });
        journals.push(records);
    }
    // The release manager's key signs the evidence bundles.
    let manager_key = SigningKey::from_bytes(&[7; 32]);
    let junit = people::JUNIT.as_bytes().to_vec();
    let mut rca_lines = Vec::new();
    for records in &journals {
        let closed = closure::close(
            &out,
            records,
            &manager_key,
            &[("tests/staging-tests.xml".to_owned(), junit.clone())],
        )?;
        say(format!(
            "{}: summary, review, report.html and a signed evidence bundle of {} members (verified) in {}",
            closed.release,
            closed.bundle_members,
            closed.dir.display()
        ));
        for (id, components, reason) in closed.rcas {
            let line = format!("RCA {id} opened for {components}: {reason}");
            say(line.clone());
            rca_lines.push(line);
        }
    }
    let pains = closure::pain_points(&out, &journals)?;
    say(format!(
        "pain points across the releases: {}",
        pains.display()
    ));
    let mut running: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for env in ["dev", "staging", "production"] {
        for component in ["orders-api", "web"] {
            let slots = target
                .observe(&component.into(), &env.into())
                .await
                .map_err(|e| e.to_string())?;
            let mut versions: Vec<String> = slots
                .iter()
                .filter(|s| s.ready_replicas > 0)
                .map(|s| s.spec.version.to_string())
                .collect();
            versions.sort();
            versions.dedup();
            running
                .entry(env.to_owned())
                .or_default()
                .insert(component.to_owned(), versions);
        }
    }
    let summary = Summary {
        releases: summaries,
        running,
        traffic: tally
            .into_iter()
            .map(|((route, answer), n)| (format!("{route} {answer}"), n))
            .collect(),
        announcements,
        inventory_production,
        rcas: rca_lines,
        databases: data.states()?,
        seconds: started.elapsed().as_secs_f64(),
    };
    let path = out.join("summary.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&summary).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    process.stop_all().await.map_err(|e| e.to_string())?;

    println!("\nRunning at the end (the services are stopped now):");
    for (env, components) in &summary.running {
        let parts: Vec<String> = components
            .iter()
            .map(|(c, v)| format!("{c} {}", v.join("+")))
            .collect();
        println!("  {env:<11} {}", parts.join(", "));
    }
    println!(
        "What runs in production, by the inventory ({}):",
        out.join("inventory.db").display()
    );
    for row in &summary.inventory_production {
        println!(
            "  {:<11} {} since {} ({})",
            row.component.as_str(),
            row.version,
            row.since.format("%H:%M:%S"),
            row.release
        );
    }
    println!("The orders database (migrations applied; columns of orders):");
    for (env, db) in &summary.databases {
        println!(
            "  {env:<11} {}; {}",
            versions(&db.applied),
            db.order_columns.join(", ")
        );
    }
    println!("Releases:");
    for r in &summary.releases {
        println!("  {:<16} {}", r.id, r.outcome);
    }
    println!(
        "Done in {:.0} s. Everything is in {}",
        summary.seconds,
        out.display()
    );
    let expected = matches!(outcomes.as_slice(), [a, b, c]
        if a.outcome() == Some(&Outcome::Succeeded)
        && b.outcome() == Some(&Outcome::Succeeded)
        && matches!(c.outcome(), Some(Outcome::RolledBack { .. })));
    if expected {
        Ok(())
    } else {
        Err("the releases did not end as the quickstart expects (see above)".to_owned())
    }
}
