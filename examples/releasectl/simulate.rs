//! `releasectl simulate`: the whole release on in-memory targets in virtual time.
//!
//! Decisions (a simulation answers "what would the engine do?", not "will it work?"):
//! - Environments start empty, or running a `--baseline` release first (not printed), so a
//!   rollback has something to go back to.
//! - Gates are assumed to pass; each evaluation shows in the timeline as `simulated`.
//! - Metrics are healthy: every analysis measures a value that meets its success condition;
//!   rollback triggers see no data (and no data never fires a trigger).
//! - A pause until approved is promoted by the simulator (shown in the timeline).
//! - `--fail COMPONENT@ENV[:N]` makes the Nth slot apply (default 1st) of that component in
//!   that environment fail, permanently.
//! - Time is virtual (tokio's paused clock): hours of pauses and watch windows take
//!   milliseconds, and the same input prints byte-identical output.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::DateTime;
use release_core::engine::{Engine, EngineOptions, RunOutcome};
use release_core::ledger::{InMemoryLedger, Ledger, Outcome, read_all};
use release_core::memory::{InMemoryRouter, InMemoryTarget};
use release_core::model::{Comparison, GateSpec, Platform, Release};
use release_core::plugin::{
    Gate, GateContext, GateVerdict, Reason, Strategy, TokioClock, gate_name,
};
use release_core::testkit::{FaultRule, FaultyTarget};
use serde::Serialize;

use crate::Exit;
use crate::cmd::load_valid;
use crate::host::{with_healthy_metrics, with_target};
use crate::timeline::{Line, line, render};

/// Gates pass in a simulation, and say so.
struct SimulatedGate;

#[async_trait::async_trait]
impl Gate for SimulatedGate {
    async fn evaluate(&self, _: &GateContext) -> release_core::Result<GateVerdict> {
        Ok(GateVerdict::Pass {
            reasons: vec![Reason::new("simulated", "assumed to pass in simulation")],
        })
    }
}

/// Secrets resolve to a placeholder in a simulation; nothing real is fetched.
struct SimulatedSecrets;

#[async_trait::async_trait]
impl release_core::config::SecretProvider for SimulatedSecrets {
    async fn resolve(
        &self,
        _: &release_core::model::SecretRef,
    ) -> Result<release_core::model::SecretValue, release_core::config::SecretError> {
        Ok(release_core::model::SecretValue::new("simulated-secret"))
    }
}

/// The strategies a simulation can run.
pub fn strategies() -> Vec<Arc<dyn Strategy>> {
    let mut all: Vec<Arc<dyn Strategy>> = vec![Arc::new(release_core::plugin::AllAtOnce)];
    all.extend(crate::cmd::extra_strategies());
    all
}

/// A value that meets a condition (healthy metrics): half the bound below it, or a bit above.
pub(crate) fn healthy_value(template: &release_core::model::AnalysisTemplate) -> f64 {
    match &template.success {
        Some(c) => match c.op {
            Comparison::Less if c.value > 0.0 => c.value / 2.0,
            Comparison::Less => c.value - 1.0,
            Comparison::Greater => c.value + c.value.abs().max(1.0) * 0.5,
            Comparison::LessOrEqual | Comparison::Equal | Comparison::GreaterOrEqual => c.value,
        },
        None => 0.0,
    }
}

#[derive(Serialize)]
struct Report {
    release: String,
    outcome: Outcome,
    timeline: Vec<Line>,
    running: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// Parses `COMPONENT@ENV[:N]`.
fn parse_fail(spec: &str) -> Result<FaultRule, String> {
    let (component, rest) = spec
        .split_once('@')
        .ok_or_else(|| format!("`--fail {spec}`: write COMPONENT@ENV or COMPONENT@ENV:N"))?;
    let (env, nth) = match rest.split_once(':') {
        Some((env, n)) => (
            env,
            n.parse::<u32>()
                .map_err(|_| format!("`--fail {spec}`: N must be a positive number"))?,
        ),
        None => (rest, 1),
    };
    if component.is_empty() || env.is_empty() || nth == 0 {
        return Err(format!(
            "`--fail {spec}`: write COMPONENT@ENV or COMPONENT@ENV:N with N ≥ 1"
        ));
    }
    Ok(FaultRule::fail_apply(false)
        .for_component(component)
        .in_environment(env)
        .nth(nth))
}

async fn run_release(
    engine: &Engine,
    platform: &Platform,
    release: &Release,
) -> Result<RunOutcome, String> {
    let mut outcome = engine
        .start(platform, release, "simulator")
        .await
        .map_err(|e| e.to_string())?;
    // Pauses until approved (and inconclusive analyses) are promoted by the simulator.
    for _ in 0..1000 {
        match &outcome {
            RunOutcome::Waiting { .. } => {
                engine
                    .promote(
                        release.id(),
                        "simulator",
                        Some("promoted by the simulator".to_owned()),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                outcome = engine
                    .resume(release.id(), "simulator")
                    .await
                    .map_err(|e| e.to_string())?;
            }
            RunOutcome::Finished { .. } => break,
        }
    }
    Ok(outcome)
}

pub fn simulate(
    files: &[PathBuf],
    release: Option<&str>,
    baseline: Option<&str>,
    fail: Option<&str>,
    json: bool,
) -> Exit {
    let set = match load_valid(files, json) {
        Ok(set) => set,
        Err(exit) => return exit,
    };
    let by_id = |id: &str| set.releases.iter().find(|r| r.value.id().as_str() == id);
    let target_release = match release {
        Some(id) => by_id(id),
        None => set
            .releases
            .iter()
            .find(|r| baseline.is_none_or(|b| r.value.id().as_str() != b)),
    };
    let Some(target_release) = target_release else {
        eprintln!("no release to simulate; add a `kind: Release` document or check `--release`");
        return Exit::Invalid;
    };
    let baseline_release = match baseline {
        Some(id) => match by_id(id) {
            Some(r) => Some(r),
            None => {
                eprintln!("`--baseline {id}` names no release in the files");
                return Exit::Invalid;
            }
        },
        None => None,
    };
    let Some(platform) = set.platform_for(&target_release.value) else {
        return Exit::Invalid;
    };
    let rule = match fail.map(parse_fail).transpose() {
        Ok(rule) => rule,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Invalid;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the simulation runtime: {e}");
            return Exit::Failure;
        }
    };
    let platform = platform.value.clone();
    let release = target_release.value.clone();
    let baseline = baseline_release.map(|r| r.value.clone());
    let result = runtime.block_on(async move {
        let start = release
            .schedule
            .as_ref()
            .map(|s| s.start.to_utc())
            .unwrap_or_else(|| {
                DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                    .map(|d| d.to_utc())
                    .unwrap_or_default()
            });
        let memory = Arc::new(InMemoryTarget::new());
        let ledger: Arc<dyn Ledger> = Arc::new(InMemoryLedger::new());
        let build = |target: Arc<dyn release_core::plugin::DeploymentTarget>| {
            let builder = Engine::builder()
                .ledger(ledger.clone())
                .clock(Arc::new(TokioClock::new(start)))
                .router(Arc::new(InMemoryRouter::new()))
                .secrets(Arc::new(SimulatedSecrets))
                .options(EngineOptions::default().with_holder("simulator"));
            // One in-memory target stands in for every target the environments name.
            let mut builder =
                with_healthy_metrics(with_target(builder, &platform, target), &platform);
            for s in strategies() {
                builder = builder.strategy(s);
            }
            let gates: std::collections::BTreeSet<String> = platform
                .lifecycle
                .phases
                .iter()
                .flat_map(|p| p.entry_gates.iter().chain(&p.exit_gates))
                .map(|g: &GateSpec| gate_name(g).to_owned())
                .collect();
            for g in gates {
                builder = builder.gate(g, Arc::new(SimulatedGate));
            }
            builder.build().map_err(|e| e.to_string())
        };
        if let Some(baseline) = &baseline {
            let engine = build(memory.clone())?;
            run_release(&engine, &platform, baseline).await?;
        }
        let target: Arc<dyn release_core::plugin::DeploymentTarget> = match rule {
            Some(rule) => Arc::new(FaultyTarget::new(memory.clone()).with(rule)),
            None => memory.clone(),
        };
        let engine = build(target)?;
        let outcome = run_release(&engine, &platform, &release).await?;
        let records = read_all(ledger.as_ref(), release.id())
            .await
            .map_err(|e| e.to_string())?;
        let first = records.first().map_or(start, |r| r.at);
        let timeline: Vec<Line> = records.iter().filter_map(|r| line(first, r)).collect();
        let mut running = BTreeMap::new();
        for (_, env) in platform.lifecycle.environments() {
            let v: BTreeMap<String, Vec<String>> = memory
                .versions(env.as_str())
                .into_iter()
                .map(|(c, vs)| (c.to_string(), vs.iter().map(ToString::to_string).collect()))
                .collect();
            running.insert(env.to_string(), v);
        }
        let outcome = outcome
            .outcome()
            .cloned()
            .ok_or_else(|| "the release did not finish".to_owned())?;
        Ok::<_, String>(Report {
            release: release.id().to_string(),
            outcome,
            timeline,
            running,
        })
    });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simulation failed: {e}");
            return Exit::Invalid;
        }
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("cannot print the report: {e}");
                return Exit::Failure;
            }
        }
    } else {
        println!("Simulation of {} (virtual time)", report.release);
        for l in &report.timeline {
            println!("{}", render(&l.offset, l));
        }
        println!("\nRunning at the end:");
        for (env, components) in &report.running {
            let parts: Vec<String> = components
                .iter()
                .map(|(c, v)| format!("{c} {}", v.join("+")))
                .collect();
            println!(
                "  {env:<11} {}",
                if parts.is_empty() {
                    "nothing".to_owned()
                } else {
                    parts.join(", ")
                }
            );
        }
        println!("Outcome: {}", report.outcome);
    }
    if report.outcome.succeeded() {
        Exit::Ok
    } else {
        Exit::Problems
    }
}
