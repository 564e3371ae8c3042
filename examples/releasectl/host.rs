//! What releasectl plugs into the engine for `run`, `resume` and the operator commands.
//!
//! - **Ledger**: the state directory's SQLite ledger.
//! - **Target**: the state directory's process or simulated target (see `target.rs`),
//!   registered under every target name the platform's environments use and as `default`.
//! - **Inventory**: release-adapters' CMDB in `<state>/inventory.db`, as a notifier.
//! - **Strategies**: release-strategies' rolling, blue-green, canary (plus all-at-once).
//! - **Gates**: release-gates' promotion gates (`release_gates::promotion::register`) with
//!   the roles `--roles FILE` gave `run`.
//! - **Probe**: with `--probe-path`, an HTTP `GET` of that path on every replica after each
//!   step (release-adapters' `HttpProbe`, M5.4); a failure fails the step and rolls back.
//! - **Metrics**: with `--prometheus URL`, release-adapters' Prometheus source, under every
//!   source name the platform's analyses use and as `default` (the one rollback triggers
//!   read): a CI job cannot host a metrics store, Prometheus outlives the jobs. Not the
//!   weighted router: it keeps its metrics in the memory of the process that runs it, and
//!   releasectl exits between jobs (releases that shift traffic by weight belong to a
//!   long-lived host; the quickstart shows one). Without `--prometheus`, analyses have no
//!   source (they fail as errors) and triggers see no data (they never fire). The simulated
//!   target measures healthy values instead, as `simulate` does.
//! - **Databases**: release-adapters' SQLite adapter as migrator and backup of each database
//!   the release kept when it started (`run --database RESOURCE=PATH`), and the migration
//!   sets it kept (`data.rs`).
//! - **Secrets**: CI systems hand secrets to jobs as environment variables, so `env://NAME`
//!   reads `$NAME`, and any other reference `scheme://path` reads
//!   `RELEASECTL_SECRET_<SCHEME>_<PATH>` (upper case, other characters as `_`):
//!   `vault://shop/orders/db` → `RELEASECTL_SECRET_VAULT_SHOP_ORDERS_DB`. Values are never
//!   printed.
//! - **Clock**: the system clock for processes; for the simulated target a virtual clock
//!   (tokio's paused time) that starts at the later of now and the ledger's last record, so
//!   pauses and watch windows pass at once and time never runs backwards in the ledger.

use std::collections::BTreeSet;
use std::sync::Arc;

use release_adapters::probes::{HttpProbe, HttpProbeConfig};
use release_adapters::prometheus::{PrometheusConfig, PrometheusSource};
use release_core::config::{SecretError, SecretProvider};
use release_core::engine::{Engine, EngineBuilder, EngineOptions};
use release_core::ledger::Ledger;
use release_core::memory::InMemoryMetrics;
use release_core::model::{Platform, SecretRef, SecretValue};
use release_core::plugin::{Clock, DeploymentTarget, MetricQuery, SystemClock, TokioClock};

use crate::state::{Failure, Settings, StateDir, TargetKind};
use crate::target::{InstallingProcesses, SimulatedTarget};

/// The engine's lock-holder identity, the same for every invocation (see `state.rs`).
pub(crate) const HOLDER: &str = "releasectl";

/// Secrets from environment variables.
struct EnvSecrets;

/// The variable a reference is read from.
pub(crate) fn secret_variable(reference: &SecretRef) -> String {
    let text = reference.as_str();
    if let Some(name) = text.strip_prefix("env://") {
        return name.to_owned();
    }
    let flat: String = text
        .replace("://", "_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("RELEASECTL_SECRET_{flat}")
}

#[async_trait::async_trait]
impl SecretProvider for EnvSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<SecretValue, SecretError> {
        let variable = secret_variable(reference);
        std::env::var(&variable)
            .map(SecretValue::new)
            .map_err(|_| SecretError::Backend {
                reference: reference.clone(),
                message: format!(
                    "releasectl reads it from the environment variable `{variable}`, which is not set; define it as a (masked) CI variable of the job"
                ),
                retryable: false,
                source: None,
            })
    }
}

/// Registers `target` as `default` and under every target name the environments use.
pub(crate) fn with_target(
    mut builder: EngineBuilder,
    platform: &Platform,
    target: Arc<dyn DeploymentTarget>,
) -> EngineBuilder {
    let names: BTreeSet<&String> = platform
        .environments
        .iter()
        .flat_map(|e| e.targets.values())
        .collect();
    for name in names {
        builder = builder.target(name.clone(), target.clone());
    }
    builder.target("default", target)
}

/// Registers, under every source the platform's analyses name, metrics that meet each
/// analysis's success condition (a simulation's healthy release).
pub(crate) fn with_healthy_metrics(
    mut builder: EngineBuilder,
    platform: &Platform,
) -> EngineBuilder {
    let analyses = platform.analyses.clone();
    let metrics = Arc::new(InMemoryMetrics::new().with_fn(move |q: &MetricQuery| {
        analyses
            .values()
            .find(|t| t.metric.query == q.query)
            .map(crate::simulate::healthy_value)
    }));
    let sources: BTreeSet<String> = platform
        .analyses
        .values()
        .map(|t| t.metric.source.clone())
        .collect();
    for source in sources {
        builder = builder.metrics(source, metrics.clone());
    }
    builder
}

/// Registers Prometheus under every source the platform's analyses name and as `default`,
/// the source rollback triggers read.
fn with_prometheus(
    mut builder: EngineBuilder,
    platform: &Platform,
    url: &str,
) -> Result<EngineBuilder, Failure> {
    let source = PrometheusSource::builder(PrometheusConfig::new(url))
        .secrets(Arc::new(EnvSecrets))
        .build()
        .map_err(|e| Failure::invalid(format!("--prometheus {url}: {e}")))?;
    let source = Arc::new(source);
    let names: BTreeSet<String> = platform
        .analyses
        .values()
        .map(|t| t.metric.source.clone())
        .chain(["default".to_owned()])
        .collect();
    for name in names {
        builder = builder.metrics(name, source.clone());
    }
    Ok(builder)
}

/// The engine and the parts a command may need besides it.
pub(crate) struct Host {
    /// The engine.
    pub engine: Engine,
    /// The ledger it journals to.
    pub ledger: Arc<dyn Ledger>,
    /// The engine's clock (virtual on the simulated target), for what is recorded beside it.
    pub clock: Arc<dyn Clock>,
}

/// A runtime for the target: real time for processes, paused (virtual) time for simulation.
pub(crate) fn runtime(kind: TargetKind) -> Result<tokio::runtime::Runtime, Failure> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if kind == TargetKind::Simulated {
        builder.start_paused(true);
    }
    builder
        .build()
        .map_err(|e| Failure::other(format!("cannot start the async runtime: {e}")))
}

/// The target of a state directory.
pub(crate) async fn target(
    state: &StateDir,
    settings: &Settings,
) -> Result<Arc<dyn DeploymentTarget>, Failure> {
    Ok(match settings.target {
        TargetKind::Process => {
            let process = settings.process.clone().ok_or_else(|| {
                Failure::invalid(format!(
                    "{}/releasectl.json says `target: process` but has no `process` settings; run `releasectl run --target process --artifacts DIR` again",
                    state.path().display()
                ))
            })?;
            Arc::new(InstallingProcesses::new(state.path(), process))
        }
        TargetKind::Simulated => Arc::new(
            SimulatedTarget::load(state.path())
                .await
                .map_err(Failure::other)?,
        ),
    })
}

/// Builds the engine for a platform.
pub(crate) async fn host(
    state: &StateDir,
    settings: &Settings,
    platform: &Platform,
    release: &release_core::model::ReleaseId,
) -> Result<Host, Failure> {
    let ledger = state.ledger()?;
    let target = target(state, settings).await?;
    let clock: Arc<dyn Clock> = match settings.target {
        TargetKind::Process => Arc::new(SystemClock),
        TargetKind::Simulated => {
            // Virtual time runs ahead of the wall clock; start after every record of every
            // release, so the ledger's times never run backwards.
            let mut start = SystemClock.now();
            for id in ledger.releases().await? {
                if let Some(r) = ledger.events(&id, 0).await?.last() {
                    start = start.max(r.at);
                }
            }
            Arc::new(TokioClock::new(start))
        }
    };
    let mut builder = Engine::builder()
        .ledger(ledger.clone())
        .clock(clock.clone())
        .secrets(Arc::new(EnvSecrets))
        .options(EngineOptions::default().with_holder(HOLDER));
    builder = with_target(builder, platform, target);
    for strategy in release_strategies::all() {
        builder = builder.strategy(strategy);
    }
    builder = release_gates::promotion::register(builder, &settings.gates);
    if let Some(path) = settings.process.as_ref().and_then(|p| p.probe_path.clone())
        && settings.target == TargetKind::Process
    {
        let probe = HttpProbe::new(HttpProbeConfig::get(path))
            .map_err(|e| Failure::invalid(format!("--probe-path: {e}")))?;
        builder = builder.probe("http", Arc::new(probe));
    }
    builder = match (settings.target, &settings.prometheus) {
        (TargetKind::Simulated, _) => with_healthy_metrics(builder, platform),
        (TargetKind::Process, Some(url)) => with_prometheus(builder, platform, url)?,
        (TargetKind::Process, None) => builder,
    };
    builder = crate::data::register(builder, state, platform, release)?;
    // The CMDB (M7.1) is fed as the engine journals; `inventory` also syncs it from the
    // ledger, so a record it missed is never lost.
    let cmdb = state.inventory()?.with_ledger(ledger.clone());
    builder = builder.notifier(Arc::new(cmdb));
    let engine = builder.build()?;
    Ok(Host {
        engine,
        ledger,
        clock,
    })
}
