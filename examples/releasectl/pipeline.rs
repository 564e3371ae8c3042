//! The commands that drive a release across CI jobs: `run`, `resume`, `status`, `approve`,
//! `reject`, `sign-off`, `test-report`, `promote`, `abort` and `rollback`.
//!
//! Decisions:
//! - `run` starts the release named by `--release` (or the only `Release` document in the
//!   files). Running a release that already has a journal continues it (a re-run CI job
//!   resumes, M5.1) — but only from the same manifests: if the documents differ from the
//!   journaled ones, it refuses (a changed release needs a new release id). A finished
//!   release is not run again; `run` reports how it ended, with its exit code.
//! - `approve`/`reject`/`promote`/`abort` only journal the operator's decision (any job, any
//!   time, even while another job runs the release); `resume` acts on it. `sign-off` and
//!   `test-report` journal gate evidence the same way (a sign-off by `--as` for `--role`; a
//!   JUnit XML file, parsed first, so a file that is not JUnit is invalid input and journals
//!   nothing) — what a GitLab job with `artifacts:reports:junit` or a Jenkins `junit` step
//!   would hand over. `rollback` is
//!   `abort` plus `resume` to the end: exit 0 once the stage is back on what ran before.
//!   A release that already ended cannot be rolled back by the engine (its stages completed
//!   or were already rolled back): run the previous release again instead, which the engine's
//!   rollback window makes fast.
//! - `status` exits like the release stands: 0 succeeded or still running, 3 rolled back,
//!   aborted or a gate failed, 4 waiting.
//! - While `run`/`resume` work, each journal record is printed as a timeline line (UTC time,
//!   environment, component, what happened); with `--json` only the final report is printed.

use std::path::{Path, PathBuf};

use release_core::engine::{Evidence, ReleaseState, RunOutcome, StepState};
use release_core::id::EnvironmentName;
use release_core::ledger::{Decision, Event, Outcome, Record};
use release_core::model::{Platform, Release, ReleaseId};
use release_gates::promotion::evidence::{EvidencePayload, SignOff};
use release_gates::promotion::junit::JunitReport;
use serde::Serialize;

use crate::Exit;
use crate::cmd::load_valid;
use crate::host::{host, runtime};
use crate::state::{Failure, ProcessSettings, Settings, StateDir, TargetKind, pick_release};
use crate::timeline::{line, render};

/// `run`'s target options (saved in the state directory for later commands).
#[derive(Clone, Debug, Default)]
pub(crate) struct TargetOptions {
    pub target: Option<TargetKind>,
    pub artifacts: Option<PathBuf>,
    pub command: Option<String>,
    pub args: Option<Vec<String>>,
    pub ports: Option<(u16, u16)>,
    pub probe_path: Option<String>,
    pub roles: Option<PathBuf>,
    pub prometheus: Option<String>,
    pub databases: Vec<(String, PathBuf)>,
}

/// Where the release waits.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Waiting {
    /// The environment.
    pub environment: Option<String>,
    /// Why, as the engine journaled it.
    pub reason: String,
}

/// The JSON of `run`, `resume` and `rollback`.
#[derive(Debug, Serialize)]
struct RunReport {
    release: String,
    /// `succeeded`, `rolled_back`, `aborted`, `gate_failed` or `waiting`.
    status: &'static str,
    exit: u8,
    outcome: Option<Outcome>,
    waiting: Option<Waiting>,
    /// Records in the release's journal.
    records: u64,
    /// Hash of the last record (the chain's head).
    head: Option<String>,
}

/// The word for how a release stands, and its exit code.
pub(crate) fn standing(finished: Option<&Outcome>, waiting: bool) -> (&'static str, Exit) {
    match finished {
        Some(Outcome::Succeeded) => ("succeeded", Exit::Ok),
        Some(Outcome::RolledBack { .. }) => ("rolled_back", Exit::Problems),
        Some(Outcome::Aborted { .. }) => ("aborted", Exit::Problems),
        Some(Outcome::GateFailed { .. }) => ("gate_failed", Exit::Problems),
        None if waiting => ("waiting", Exit::Waiting),
        None => ("running", Exit::Ok),
    }
}

/// The environment of the last `paused` record.
pub(crate) fn waiting_environment(records: &[Record]) -> Option<String> {
    records.iter().rev().find_map(|r| match &r.event {
        Event::Paused { environment, .. } => Some(environment.as_ref().map(ToString::to_string)),
        _ => None,
    })?
}

fn print_line(r: &Record) {
    if let Some(l) = line(r.at, r) {
        println!(
            "{}",
            render(&r.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), &l)
        );
    }
}

/// What to type next when a release waits.
fn next_steps(release: &ReleaseId, state: &Path, waiting: &Waiting) -> String {
    let state = state.display();
    let env = waiting.environment.as_deref().unwrap_or("ENV");
    let resume = format!("releasectl resume --state {state} --release {release}");
    // What the waiting gate needs recorded, by the marker its reason carries.
    let record = [
        (
            "`sign_off`",
            format!("sign-off --env {env} --role <role> --as <person> (one per required role)"),
        ),
        (
            "`junit`",
            format!("test-report <junit.xml> --env {env} --as <ci>"),
        ),
        (
            "`migration_rehearsal`",
            format!("rehearse --env {env} --as <ci>"),
        ),
        ("`approval`", format!("approve --env {env} --as <approver>")),
        ("promote", "promote --as <operator>".to_owned()),
    ]
    .into_iter()
    .find(|(marker, _)| waiting.reason.contains(marker));
    match record {
        Some((marker, command)) => {
            let fallback = if marker == "promote" {
                " (or releasectl rollback)"
            } else {
                ""
            };
            let (verb, rest) = command.split_once(' ').unwrap_or((command.as_str(), ""));
            format!(
                "next: releasectl {verb} --state {state} --release {release} {rest}, then {resume}{fallback}"
            )
        }
        None => format!("next: once the reason is dealt with, {resume}"),
    }
}

/// Drives `start`/`resume` and prints records as they are appended.
async fn drive<F>(
    engine: &release_core::engine::Engine,
    json: bool,
    run: F,
) -> Result<RunOutcome, Failure>
where
    F: std::future::Future<Output = release_core::Result<RunOutcome>>,
{
    let mut events = engine.subscribe();
    tokio::pin!(run);
    let outcome = loop {
        tokio::select! {
            biased;
            Ok(record) = events.recv() => {
                if !json {
                    print_line(&record);
                }
            }
            result = &mut run => break result,
        }
    };
    while let Ok(record) = events.try_recv() {
        if !json {
            print_line(&record);
        }
    }
    Ok(outcome?)
}

/// Prints how a run ended and returns its exit code.
async fn conclude(
    ledger: &dyn release_core::ledger::Ledger,
    state: &StateDir,
    release: &ReleaseId,
    outcome: &RunOutcome,
    json: bool,
) -> Result<Exit, Failure> {
    let records = release_core::ledger::read_all(ledger, release).await?;
    let (finished, waiting) = match outcome {
        RunOutcome::Finished { outcome } => (Some(outcome.clone()), None),
        RunOutcome::Waiting {
            environment,
            reason,
        } => (
            None,
            Some(Waiting {
                environment: environment.as_ref().map(ToString::to_string),
                reason: reason.clone(),
            }),
        ),
    };
    let (status, exit) = standing(finished.as_ref(), waiting.is_some());
    if json {
        let report = RunReport {
            release: release.to_string(),
            status,
            exit: exit as u8,
            outcome: finished,
            waiting,
            records: records.last().map_or(0, |r| r.seq),
            head: records.last().map(|r| r.hash.hex()),
        };
        println!("{}", to_json(&report)?);
    } else {
        match (&finished, &waiting) {
            (Some(outcome), _) => println!("Outcome of {release}: {outcome}"),
            (None, Some(w)) => {
                println!(
                    "Waiting{}: {}",
                    w.environment
                        .as_ref()
                        .map(|e| format!(" in {e}"))
                        .unwrap_or_default(),
                    w.reason
                );
                println!("{}", next_steps(release, state.path(), w));
            }
            (None, None) => {}
        }
    }
    Ok(exit)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map_err(|e| Failure::other(format!("cannot print the report as JSON: {e}")))
}

/// The operator's identity: `--as`, then `RELEASECTL_AS` (read by clap), then `$USER`.
pub(crate) fn operator(given: Option<String>) -> String {
    given
        .filter(|s| !s.trim().is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "releasectl".to_owned())
}

/// The settings `run` uses: the saved ones, overridden by what this invocation gave.
/// This run's `--database` flags, with absolute paths (processes run elsewhere).
fn given_databases(
    options: &TargetOptions,
) -> Result<std::collections::BTreeMap<String, PathBuf>, Failure> {
    options
        .databases
        .iter()
        .map(|(resource, path)| {
            std::path::absolute(path)
                .map(|p| (resource.clone(), p))
                .map_err(|e| Failure::invalid(format!("--database {resource}: {e}")))
        })
        .collect()
}

fn settings_for_run(state: &StateDir, options: &TargetOptions) -> Result<Settings, Failure> {
    let saved = state.settings()?;
    let kind = match (options.target, &saved) {
        (Some(kind), Some(saved)) if kind != saved.target => {
            return Err(Failure::invalid(format!(
                "{} already drives the {:?} target; a state directory drives one target: use another `--state` for the {kind:?} target",
                state.path().display(),
                saved.target
            )));
        }
        (Some(kind), _) => kind,
        (None, Some(saved)) => saved.target,
        (None, None) => TargetKind::Process,
    };
    let mut settings = saved.unwrap_or(Settings {
        target: kind,
        process: None,
        gates: Default::default(),
        prometheus: None,
        databases: Default::default(),
    });
    settings.databases.extend(given_databases(options)?);
    if let Some(path) = &options.roles {
        settings.gates = read_roles(path)?;
    }
    if let Some(url) = &options.prometheus {
        settings.prometheus = Some(url.clone());
    }
    if kind == TargetKind::Process {
        let previous = settings.process.clone();
        let artifacts = match (&options.artifacts, &previous) {
            (Some(dir), _) => std::path::absolute(dir)
                .map_err(|e| Failure::invalid(format!("--artifacts {}: {e}", dir.display())))?,
            (None, Some(p)) => p.artifacts.clone(),
            (None, None) => {
                return Err(Failure::invalid(
                    "the process target needs builds: pass `--artifacts DIR` with one directory per component and version (`DIR/<component>/<version>/run.sh`), or `--target simulated`",
                ));
            }
        };
        let mut process = previous.unwrap_or(ProcessSettings {
            artifacts: artifacts.clone(),
            command: "run.sh".to_owned(),
            args: Vec::new(),
            ports: release_adapters::process::PortRange::default(),
            probe_path: None,
            grace_period_ms: 5_000,
            ready_timeout_ms: 10_000,
        });
        process.artifacts = artifacts;
        if let Some(command) = &options.command {
            process.command = command.clone();
        }
        if let Some(args) = &options.args {
            process.args = args.clone();
        }
        if let Some((start, end)) = options.ports {
            process.ports = release_adapters::process::PortRange { start, end };
        }
        if let Some(path) = &options.probe_path {
            process.probe_path = Some(path.clone());
        }
        settings.process = Some(process);
    }
    Ok(settings)
}

/// Reads `--roles FILE`: YAML, TOML or JSON `{ roles: { person: [role, …] }, teams: … }`.
fn read_roles(path: &Path) -> Result<release_gates::promotion::GatesConfig, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::invalid(format!(
            "--roles {}: {e}; give a YAML, TOML or JSON file like `roles: {{ alice@example.com: [release-manager] }}`",
            path.display()
        ))
    })?;
    let parsed = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml_roles(&text),
        Some("json") => serde_json::from_str(&text).map_err(|e| e.to_string()),
        _ => serde_saphyr::from_str(&text).map_err(|e| e.to_string()),
    };
    parsed.map_err(|e| {
        Failure::invalid(format!(
            "--roles {}: {e}; the file maps people to roles: `roles: {{ alice@example.com: [release-manager] }}`",
            path.display()
        ))
    })
}

fn toml_roles(text: &str) -> Result<release_gates::promotion::GatesConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string())
}

/// Picks the release document `run` starts.
fn pick_document<'a>(
    set: &'a release_core::manifest::ManifestSet,
    wanted: Option<&str>,
) -> Result<(&'a Platform, &'a Release), Failure> {
    let releases: Vec<&Release> = set.releases.iter().map(|r| &r.value).collect();
    let release = match wanted {
        Some(id) => releases
            .iter()
            .find(|r| r.id().as_str() == id)
            .copied()
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "`--release {id}` names no release in the files; they hold: {}",
                    names(&releases)
                ))
            })?,
        None => match releases.as_slice() {
            [only] => *only,
            [] => {
                return Err(Failure::invalid(
                    "the files hold no `kind: Release` document; add one or pass the file that has it",
                ));
            }
            _ => {
                return Err(Failure::invalid(format!(
                    "the files hold several releases ({}); say which with `--release`",
                    names(&releases)
                )));
            }
        },
    };
    let platform = set
        .platform_for(release)
        .map(|p| &p.value)
        .ok_or_else(|| {
            Failure::invalid(format!(
                "release {} names platform `{}`, which is in none of the files; pass the platform's file too",
                release.id(),
                release.platform
            ))
        })?;
    Ok((platform, release))
}

fn names(releases: &[&Release]) -> String {
    releases
        .iter()
        .map(|r| r.id().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses to continue a journal from different manifests.
fn same_documents(state: &ReleaseState, platform: &Platform, release: &Release) -> bool {
    let same = |a: Option<serde_json::Value>, b: Option<serde_json::Value>| a.is_some() && a == b;
    same(
        state
            .platform
            .as_deref()
            .and_then(|p| serde_json::to_value(p).ok()),
        serde_json::to_value(platform).ok(),
    ) && same(
        state
            .spec
            .as_deref()
            .and_then(|r| serde_json::to_value(r).ok()),
        serde_json::to_value(release).ok(),
    )
}

/// `releasectl run`.
pub(crate) fn run(
    files: &[PathBuf],
    release: Option<&str>,
    state_path: &Path,
    options: &TargetOptions,
    operator: &str,
    json: bool,
) -> Exit {
    let set = match load_valid(files, json) {
        Ok(set) => set,
        Err(exit) => return exit,
    };
    let outcome = (|| {
        let (platform, release) = pick_document(&set, release)?;
        let state = StateDir::create(state_path)?;
        let _lock = state.lock()?;
        let settings = settings_for_run(&state, options)?;
        let given = given_databases(options)?;
        runtime(settings.target)?.block_on(async {
            let ledger = state.ledger()?;
            let records = release_core::ledger::read_all(ledger.as_ref(), release.id()).await?;
            drop(ledger);
            let started = !records.is_empty();
            if started {
                let folded = ReleaseState::fold(&records);
                if !same_documents(&folded, platform, release) {
                    return Err(Failure::invalid(format!(
                        "release {} was started from other manifests than {}; a changed release needs a new release id (`metadata.id`), or run `releasectl resume` to continue the journaled one",
                        release.id(),
                        files
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            // Checked before anything is kept: a refused run changes nothing.
            crate::data::prepare(
                &state,
                &set,
                platform,
                release,
                &settings.databases,
                &given,
                started,
            )?;
            state.save_settings(&settings)?;
            let host = host(&state, &settings, platform, release.id()).await?;
            let result = if !started {
                drive(
                    &host.engine,
                    json,
                    host.engine.start(platform, release, operator),
                )
                .await?
            } else {
                if !json {
                    let folded = ReleaseState::fold(&records);
                    println!(
                        "{} was started earlier (by {}); continuing its journal",
                        release.id(),
                        folded.started_by.as_deref().unwrap_or("someone")
                    );
                }
                drive(
                    &host.engine,
                    json,
                    host.engine.resume(release.id(), operator),
                )
                .await?
            };
            conclude(host.ledger.as_ref(), &state, release.id(), &result, json).await
        })
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}

/// `releasectl resume`.
pub(crate) fn resume(release: Option<&str>, state_path: &Path, operator: &str, json: bool) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let _lock = state.lock()?;
        let settings = state.required_settings()?;
        runtime(settings.target)?.block_on(async {
            let (id, _, platform) = journaled(&state, release).await?;
            let host = host(&state, &settings, &platform, &id).await?;
            let result = drive(&host.engine, json, host.engine.resume(&id, operator)).await?;
            conclude(host.ledger.as_ref(), &state, &id, &result, json).await
        })
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}

/// The release's id, journal and platform (as started).
pub(crate) async fn journaled(
    state: &StateDir,
    release: Option<&str>,
) -> Result<(ReleaseId, Vec<Record>, Platform), Failure> {
    let ledger = state.ledger()?;
    let (id, records) = pick_release(ledger.as_ref(), release, &state.ledger_path()).await?;
    let folded = ReleaseState::fold(&records);
    let platform = folded.platform.as_deref().cloned().ok_or_else(|| {
        Failure::invalid(format!(
            "the journal of {id} in {} does not start with `release_started`; it cannot be driven (check it with `releasectl audit verify`)",
            state.ledger_path().display()
        ))
    })?;
    Ok((id, records, platform))
}

/// An operator decision: what to journal.
#[derive(Clone, Debug)]
pub(crate) enum Act {
    Approve,
    Reject,
    Promote,
    Abort,
    /// A sign-off for this role.
    SignOff(String),
    /// The JUnit XML report in this file.
    TestReport(PathBuf),
}

/// Journals gate evidence in the format its gate reads.
async fn record<P: EvidencePayload>(
    engine: &release_core::engine::Engine,
    id: &ReleaseId,
    operator: &str,
    env: &EnvironmentName,
    payload: &P,
) -> Result<(), Failure> {
    let value = serde_json::to_value(payload)
        .map_err(|e| Failure::invalid(format!("the evidence cannot be written as JSON: {e}")))?;
    engine
        .record_evidence(
            id,
            operator,
            Evidence::new(P::KIND, value).for_environment(env.clone()),
        )
        .await?;
    Ok(())
}

/// `approve`, `reject`, `promote`, `abort`, `sign-off`, `test-report`: journal the decision
/// or the evidence; `resume` acts on it.
pub(crate) fn act(
    act: Act,
    release: Option<&str>,
    env: Option<&str>,
    state_path: &Path,
    operator: &str,
    comment: Option<String>,
    json: bool,
) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let settings = state.required_settings()?;
        runtime(settings.target)?.block_on(async {
            let (id, _, platform) = journaled(&state, release).await?;
            let host = host(&state, &settings, &platform, &id).await?;
            let engine = &host.engine;
            let environment = || -> Result<EnvironmentName, Failure> {
                let env = env.ok_or_else(|| Failure::invalid("say which environment with `--env`"))?;
                if platform.environment(env).is_none() {
                    let known: Vec<&str> =
                        platform.environments.iter().map(|e| e.name.as_str()).collect();
                    return Err(Failure::invalid(format!(
                        "`--env {env}`: platform {} of release {id} has no such environment; it has {}",
                        platform.metadata.name,
                        known.join(", ")
                    )));
                }
                Ok(EnvironmentName::from(env))
            };
            let (word, env_name) = match &act {
                Act::Approve => {
                    let env = environment()?;
                    engine.approve(&id, &env, operator, comment.clone()).await?;
                    ("approve", Some(env))
                }
                Act::Reject => {
                    let env = environment()?;
                    engine.reject(&id, &env, operator, comment.clone()).await?;
                    ("reject", Some(env))
                }
                Act::Promote => {
                    engine.promote(&id, operator, comment.clone()).await?;
                    ("promote", None)
                }
                Act::Abort => {
                    engine.abort(&id, operator, comment.clone()).await?;
                    ("abort", None)
                }
                Act::SignOff(role) => {
                    let env = environment()?;
                    let sign = SignOff {
                        role: role.as_str().into(),
                        person: operator.into(),
                        comment: comment.clone(),
                    };
                    record(engine, &id, operator, &env, &sign).await?;
                    ("sign-off", Some(env))
                }
                Act::TestReport(file) => {
                    let env = environment()?;
                    let xml = std::fs::read_to_string(file).map_err(|e| {
                        Failure::invalid(format!(
                            "cannot read the test report {}: {e}; pass the JUnit XML file the tests wrote",
                            file.display()
                        ))
                    })?;
                    let report = JunitReport::parse(&file.display().to_string(), &xml)
                        .map_err(|e| Failure::invalid(e.to_string()))?;
                    record(engine, &id, operator, &env, &report).await?;
                    ("test-report", Some(env))
                }
            };
            let last = release_core::ledger::read_all(host.ledger.as_ref(), &id).await?;
            let seq = last.last().map_or(0, |r| r.seq);
            if json {
                println!(
                    "{}",
                    to_json(&serde_json::json!({
                        "release": id,
                        "action": word,
                        "environment": env_name,
                        "by": operator,
                        "seq": seq,
                        "exit": 0,
                    }))?
                );
            } else {
                let target = env_name.map(|e| format!(" for {e}")).unwrap_or_default();
                println!("{word} of {id}{target} by {operator} journaled as record {seq}");
                let finished = ReleaseState::fold(&last).finished;
                let then = match (&act, finished) {
                    (_, Some(outcome)) => format!(
                        "{id} already ended ({outcome}): the record is kept with its journal (its report and evidence bundle show it); no gate reads it any more"
                    ),
                    (Act::Abort, None) => "a running releasectl rolls back at its next step boundary; otherwise `releasectl rollback` (or `resume`) carries it out".to_owned(),
                    (_, None) => "`releasectl resume` continues the release".to_owned(),
                };
                println!("{then}");
            }
            Ok(Exit::Ok)
        })
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}

/// `releasectl rollback`: abort, then resume until the rollback is done.
pub(crate) fn rollback(
    release: Option<&str>,
    state_path: &Path,
    operator: &str,
    comment: Option<String>,
    json: bool,
) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let _lock = state.lock()?;
        let settings = state.required_settings()?;
        runtime(settings.target)?.block_on(async {
            let (id, records, platform) = journaled(&state, release).await?;
            let folded = ReleaseState::fold(&records);
            if let Some(outcome) = &folded.finished {
                return Err(Failure::invalid(format!(
                    "release {id} has already ended ({outcome}); nothing of it is left to roll back. To go back to an earlier version, run that release again (`releasectl run FILES --release <earlier release>`)"
                )));
            }
            let host = host(&state, &settings, &platform, &id).await?;
            if !folded.abort_requested {
                host.engine.abort(&id, operator, comment).await?;
            }
            let result = drive(&host.engine, json, host.engine.resume(&id, operator)).await?;
            let exit = conclude(host.ledger.as_ref(), &state, &id, &result, json).await?;
            // The rollback did what was asked: the stage is back on what ran before.
            Ok(match result {
                RunOutcome::Finished {
                    outcome: Outcome::Aborted { .. } | Outcome::RolledBack { .. },
                } => Exit::Ok,
                _ => exit,
            })
        })
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}

/// The JSON of `status`.
#[derive(Debug, Serialize)]
struct StatusReport {
    release: String,
    /// `succeeded`, `rolled_back`, `aborted`, `gate_failed`, `waiting` or `running`.
    status: &'static str,
    exit: u8,
    outcome: Option<Outcome>,
    waiting: Option<Waiting>,
    current_stage: Option<String>,
    started_by: Option<String>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    last_record_at: Option<chrono::DateTime<chrono::Utc>>,
    records: u64,
    head: Option<String>,
    stages: Vec<StageReport>,
    approvals: Vec<ApprovalReport>,
    steps: StepCounts,
}

#[derive(Debug, Serialize)]
struct StageReport {
    environment: String,
    /// `pending`, `running`, `completed`, `rolling_back` or `rolled_back`.
    state: &'static str,
    attempt: u32,
    gates_passed: Vec<String>,
    watch_until: Option<chrono::DateTime<chrono::Utc>>,
    triggers: Vec<String>,
    rollback_reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct ApprovalReport {
    environment: String,
    decision: Decision,
    by: String,
    seq: u64,
}

#[derive(Debug, Default, Serialize)]
struct StepCounts {
    succeeded: usize,
    failed: usize,
    in_flight: Vec<String>,
}

fn status_report(id: &ReleaseId, records: &[Record]) -> StatusReport {
    let folded = ReleaseState::fold(records);
    let waiting = folded.waiting.clone().map(|reason| Waiting {
        environment: waiting_environment(records),
        reason,
    });
    let (status, exit) = standing(folded.finished.as_ref(), waiting.is_some());
    let order: Vec<EnvironmentName> = folded
        .platform
        .as_ref()
        .map(|p| p.lifecycle.environments().map(|(_, e)| e.clone()).collect())
        .unwrap_or_default();
    let stages = order
        .iter()
        .map(|env| {
            let st = folded.stage(env);
            let state = if st.rolled_back {
                "rolled_back"
            } else if st.rollback_started.is_some() {
                "rolling_back"
            } else if st.completed {
                "completed"
            } else if st.started {
                "running"
            } else {
                "pending"
            };
            StageReport {
                environment: env.to_string(),
                state,
                attempt: st.attempt,
                gates_passed: st
                    .gates_passed
                    .iter()
                    .map(|(position, gate)| format!("{position:?}:{gate}").to_lowercase())
                    .collect(),
                watch_until: st.watch_until,
                triggers: st.triggers.clone(),
                rollback_reason: st.rollback_started.clone(),
            }
        })
        .collect();
    let mut steps = StepCounts::default();
    for (key, step) in folded.steps.iter() {
        match step {
            StepState::Succeeded => steps.succeeded += 1,
            StepState::Failed { .. } => steps.failed += 1,
            StepState::Started { .. } => steps.in_flight.push(key.to_string()),
        }
    }
    StatusReport {
        release: id.to_string(),
        status,
        exit: exit as u8,
        outcome: folded.finished.clone(),
        waiting,
        current_stage: folded.current_stage.as_ref().map(ToString::to_string),
        started_by: folded.started_by.clone(),
        started_at: records.first().map(|r| r.at),
        last_record_at: records.last().map(|r| r.at),
        records: folded.last_seq,
        head: records.last().map(|r| r.hash.hex()),
        stages,
        approvals: folded
            .approvals
            .iter()
            .map(|(env, decision, by, seq)| ApprovalReport {
                environment: env.to_string(),
                decision: *decision,
                by: by.clone(),
                seq: *seq,
            })
            .collect(),
        steps,
    }
}

/// `releasectl status`.
pub(crate) fn status(release: Option<&str>, state_path: &Path, json: bool) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        runtime(TargetKind::Process)?.block_on(async {
            let ledger = state.ledger()?;
            let (id, records) =
                pick_release(ledger.as_ref(), release, &state.ledger_path()).await?;
            let report = status_report(&id, &records);
            let exit = match report.exit {
                0 => Exit::Ok,
                3 => Exit::Problems,
                _ => Exit::Waiting,
            };
            if json {
                println!("{}", to_json(&report)?);
                return Ok(exit);
            }
            println!("{}: {}", report.release, report.status);
            if let Some(outcome) = &report.outcome {
                println!("  outcome: {outcome}");
            }
            if let Some(w) = &report.waiting {
                println!(
                    "  waiting{}: {}",
                    w.environment
                        .as_ref()
                        .map(|e| format!(" in {e}"))
                        .unwrap_or_default(),
                    w.reason
                );
                println!("  {}", next_steps(&id, state.path(), w));
            }
            println!(
                "  started by {} at {}; {} records, head {}",
                report.started_by.as_deref().unwrap_or("?"),
                report
                    .started_at
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                    .unwrap_or_default(),
                report.records,
                report
                    .head
                    .as_deref()
                    .map_or("-", |h| &h[..12.min(h.len())])
            );
            for s in &report.stages {
                println!(
                    "  {:<11} {:<12} attempt {}{}{}",
                    s.environment,
                    s.state,
                    s.attempt.max(1),
                    if s.gates_passed.is_empty() {
                        String::new()
                    } else {
                        format!("; gates passed: {}", s.gates_passed.join(", "))
                    },
                    s.rollback_reason
                        .as_ref()
                        .map(|r| format!("; rollback: {r}"))
                        .unwrap_or_default()
                );
            }
            for a in &report.approvals {
                println!(
                    "  {:?} for {} by {} (record {})",
                    a.decision, a.environment, a.by, a.seq
                );
            }
            println!(
                "  steps: {} succeeded, {} failed, {} in flight",
                report.steps.succeeded,
                report.steps.failed,
                report.steps.in_flight.len()
            );
            Ok(exit)
        })
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}
