//! `releasectl report` and `releasectl inventory`: projections of the journal (M7.1, M7.5).
//!
//! `report` folds one release's journal into a summary for stakeholders — what shipped
//! (changes, component versions), how it ended, who started, approved or acted, each
//! stage's span and outcome, what failed — followed by the timeline. `--out DIR` also writes
//! it as `<release>.summary.md` and `<release>.summary.json`.
//!
//! `inventory` prints what runs per environment from two sources side by side: the CMDB
//! (release-adapters' inventory in `<state>/inventory.db`, synced from the ledger first):
//! version, release, since when, deployed or rolled back; and the target, asked (`observe`)
//! what it runs now: slots, versions, ready replicas, endpoints. They differ mid-stage (the
//! CMDB moves when a stage completes or rolls back) and when something outside the engine
//! stopped a process. `--history` adds the CMDB's deployment history; the JSON always has
//! `history` and `dependencies`.
//!
//! Both are deterministic for a given journal: environments in lifecycle order, components
//! and releases sorted by id.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use release_adapters::inventory::{DependencyRow, DeploymentAction, HistoryRow};
use release_core::engine::ReleaseState;
use release_core::ledger::{Decision, Event, Ledger, Outcome, Record};
use release_core::model::Platform;
use serde::Serialize;

use crate::Exit;
use crate::host::{runtime, target};
use crate::pipeline::{Waiting, standing, to_json, waiting_environment};
use crate::state::{Failure, StateDir, TargetKind, pick_release};
use crate::timeline::{Line, line, render};

#[derive(Debug, Serialize)]
struct ChangeLine {
    id: String,
    request: String,
    components: Vec<String>,
    summary: Option<String>,
}

#[derive(Debug, Serialize)]
struct StageLine {
    environment: String,
    /// `pending`, `running`, `completed`, `rolled_back` (after a rollback) or `waiting`.
    state: &'static str,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_seconds: Option<i64>,
    attempts: u32,
    rollback_reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct ActionLine {
    at: DateTime<Utc>,
    by: String,
    action: String,
    environment: Option<String>,
    comment: Option<String>,
}

#[derive(Debug, Serialize)]
struct FailureLine {
    at: DateTime<Utc>,
    environment: String,
    component: String,
    error: String,
}

/// The JSON of `report`.
#[derive(Debug, Serialize)]
struct Summary {
    release: String,
    version: String,
    platform: String,
    status: &'static str,
    outcome: Option<Outcome>,
    waiting: Option<Waiting>,
    started_by: Option<String>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_seconds: Option<i64>,
    components: BTreeMap<String, String>,
    changes: Vec<ChangeLine>,
    stages: Vec<StageLine>,
    decisions: Vec<ActionLine>,
    failures: Vec<FailureLine>,
    records: u64,
    head: Option<String>,
    timeline: Vec<Line>,
}

fn summarize(records: &[Record]) -> Result<Summary, Failure> {
    let folded = ReleaseState::fold(records);
    let (Some(platform), Some(release)) = (folded.platform.clone(), folded.spec.clone()) else {
        return Err(Failure::invalid(
            "the journal does not start with `release_started`; check it with `releasectl audit verify`",
        ));
    };
    let waiting = folded.waiting.clone().map(|reason| Waiting {
        environment: waiting_environment(records),
        reason,
    });
    let (status, _) = standing(folded.finished.as_ref(), waiting.is_some());
    let started_at = records.first().map(|r| r.at);
    let ended_at = records.iter().rev().find_map(|r| match r.event {
        Event::ReleaseFinished { .. } => Some(r.at),
        _ => None,
    });
    let mut stages = Vec::new();
    for (_, env) in platform.lifecycle.environments() {
        let st = folded.stage(env);
        let of_env = |r: &&Record| match &r.event {
            Event::StageStarted { environment, .. }
            | Event::StageCompleted { environment }
            | Event::RollbackCompleted { environment } => environment == env,
            _ => false,
        };
        let started = records
            .iter()
            .find(|r| matches!(&r.event, Event::StageStarted { environment, .. } if environment == env))
            .map(|r| r.at);
        let ended = records
            .iter()
            .filter(of_env)
            .rev()
            .find(|r| {
                matches!(
                    r.event,
                    Event::StageCompleted { .. } | Event::RollbackCompleted { .. }
                )
            })
            .map(|r| r.at);
        let state = if st.rolled_back {
            "rolled_back"
        } else if st.completed {
            "completed"
        } else if folded.current_stage.as_ref() == Some(env) && waiting.is_some() {
            "waiting"
        } else if st.started {
            "running"
        } else {
            "pending"
        };
        stages.push(StageLine {
            environment: env.to_string(),
            state,
            started_at: started,
            ended_at: ended,
            duration_seconds: started.zip(ended).map(|(s, e)| (e - s).num_seconds()),
            attempts: st.attempt.max(u32::from(st.started)),
            rollback_reason: st.rollback_started.clone(),
        });
    }
    let mut decisions = Vec::new();
    let mut failures = Vec::new();
    for r in records {
        match &r.event {
            Event::ApprovalRecorded {
                environment,
                decision,
                comment,
            } => decisions.push(ActionLine {
                at: r.at,
                by: r.actor.clone(),
                action: match decision {
                    Decision::Approve => "approve".to_owned(),
                    Decision::Reject => "reject".to_owned(),
                },
                environment: Some(environment.to_string()),
                comment: comment.clone(),
            }),
            Event::OperatorActed { action, comment } => decisions.push(ActionLine {
                at: r.at,
                by: r.actor.clone(),
                action: action.to_string(),
                environment: None,
                comment: comment.clone(),
            }),
            Event::StepFailed { key, error } => failures.push(FailureLine {
                at: r.at,
                environment: key.environment.to_string(),
                component: key.component.to_string(),
                error: error.clone(),
            }),
            _ => {}
        }
    }
    let first = started_at.unwrap_or_default();
    Ok(Summary {
        release: release.id().to_string(),
        version: release.version.to_string(),
        platform: platform.metadata.name.clone(),
        status,
        outcome: folded.finished.clone(),
        waiting,
        started_by: folded.started_by.clone(),
        started_at,
        ended_at,
        duration_seconds: started_at.zip(ended_at).map(|(s, e)| (e - s).num_seconds()),
        components: release
            .components
            .iter()
            .map(|(c, v)| (c.to_string(), v.version.to_string()))
            .collect(),
        changes: release
            .changes
            .iter()
            .map(|c| ChangeLine {
                id: c.id.to_string(),
                request: c.request.to_string(),
                components: c.components.iter().map(ToString::to_string).collect(),
                summary: c.summary.clone(),
            })
            .collect(),
        stages,
        decisions,
        failures,
        records: folded.last_seq,
        head: records.last().map(|r| r.hash.hex()),
        timeline: records.iter().filter_map(|r| line(first, r)).collect(),
    })
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// The summary as Markdown (also what the text output prints).
fn markdown(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Release {} (v{}, platform {})\n",
        s.release, s.version, s.platform
    );
    let outcome = s
        .outcome
        .as_ref()
        .map_or_else(|| s.status.replace('_', " "), ToString::to_string);
    let _ = writeln!(out, "- **Outcome:** {outcome}");
    if let Some(w) = &s.waiting {
        let _ = writeln!(out, "- **Waiting:** {}", w.reason);
    }
    let _ = writeln!(
        out,
        "- **Started** by {} at {}; **ended** at {}{}",
        s.started_by.as_deref().unwrap_or("?"),
        time(s.started_at),
        time(s.ended_at),
        s.duration_seconds
            .map(|d| format!(" ({d} s)"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "- **Journal:** {} records, head `{}`\n",
        s.records,
        s.head.as_deref().unwrap_or("-")
    );
    let _ = writeln!(out, "## Components\n");
    for (c, v) in &s.components {
        let _ = writeln!(out, "- {c} {v}");
    }
    if !s.changes.is_empty() {
        let _ = writeln!(out, "\n## Changes\n");
        for c in &s.changes {
            let _ = writeln!(
                out,
                "- {} ({}): {}{}",
                c.id,
                c.request,
                c.components.join(", "),
                c.summary
                    .as_ref()
                    .map(|t| format!(" — {t}"))
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(out, "\n## Stages\n");
    let _ = writeln!(out, "| environment | state | started | ended | attempts |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for st in &s.stages {
        let _ = writeln!(
            out,
            "| {} | {}{} | {} | {} | {} |",
            st.environment,
            st.state,
            st.rollback_reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            time(st.started_at),
            time(st.ended_at),
            st.attempts
        );
    }
    if !s.decisions.is_empty() {
        let _ = writeln!(out, "\n## Decisions\n");
        for d in &s.decisions {
            let _ = writeln!(
                out,
                "- {} {}{} by {}{}",
                time(Some(d.at)),
                d.action,
                d.environment
                    .as_ref()
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default(),
                d.by,
                d.comment
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            );
        }
    }
    if !s.failures.is_empty() {
        let _ = writeln!(out, "\n## Failures\n");
        for f in &s.failures {
            let _ = writeln!(
                out,
                "- {} {} in {}: {}",
                time(Some(f.at)),
                f.component,
                f.environment,
                f.error
            );
        }
    }
    let _ = writeln!(out, "\n## Timeline\n\n```text");
    for l in &s.timeline {
        let _ = writeln!(out, "{}", render(&l.offset, l));
    }
    let _ = writeln!(out, "```");
    out
}

/// `releasectl report`.
pub(crate) fn report(
    release: Option<&str>,
    state_path: &Path,
    out: Option<&Path>,
    json: bool,
) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let records = runtime(TargetKind::Process)?.block_on(async {
            let ledger = state.ledger()?;
            let (_, records) = pick_release(ledger.as_ref(), release, &state.ledger_path()).await?;
            Ok::<_, Failure>(records)
        })?;
        let summary = summarize(&records)?;
        let text = markdown(&summary);
        let json_text = to_json(&summary)?;
        if let Some(dir) = out {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
            for (name, content) in [
                (format!("{}.summary.md", summary.release), &text),
                (format!("{}.summary.json", summary.release), &json_text),
            ] {
                let path = dir.join(name);
                std::fs::write(&path, content)
                    .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
                eprintln!("wrote {}", path.display());
            }
        }
        if json {
            println!("{json_text}");
        } else {
            print!("{text}");
        }
        Ok(Exit::Ok)
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}

/// One component in one environment.
#[derive(Debug, Serialize)]
struct Running {
    component: String,
    /// The version the CMDB records (what the last completed stage or rollback left).
    version: Option<String>,
    /// The release that put it there.
    release: Option<String>,
    /// Since when.
    since: Option<DateTime<Utc>>,
    /// `deployed` or `rolled_back`.
    via: Option<DeploymentAction>,
    /// The slots the target runs now (more than one mid-canary or mid-switch).
    slots: Vec<SlotLine>,
}

#[derive(Debug, Serialize)]
struct SlotLine {
    slot: String,
    version: String,
    replicas: u32,
    ready: u32,
    endpoints: Vec<String>,
}

/// The JSON of `inventory`.
#[derive(Debug, Serialize)]
struct InventoryReport {
    environments: Vec<EnvironmentInventory>,
    history: Vec<HistoryRow>,
    dependencies: Vec<DependencyRow>,
}

#[derive(Debug, Serialize)]
struct EnvironmentInventory {
    environment: String,
    components: Vec<Running>,
}

/// The newest platform document of each platform in the ledger.
async fn platforms(ledger: &dyn Ledger) -> Result<BTreeMap<String, Platform>, Failure> {
    let mut newest: BTreeMap<String, (DateTime<Utc>, Platform)> = BTreeMap::new();
    for id in ledger.releases().await? {
        let records = ledger.events(&id, 0).await?;
        for r in records.iter().take(1) {
            if let Event::ReleaseStarted { platform, .. } = &r.event {
                let name = platform.metadata.name.clone();
                if newest.get(&name).is_none_or(|(at, _)| r.at >= *at) {
                    newest.insert(name, (r.at, (**platform).clone()));
                }
            }
        }
    }
    Ok(newest.into_iter().map(|(n, (_, p))| (n, p)).collect())
}

/// `releasectl inventory`.
pub(crate) fn inventory(state_path: &Path, history: bool, json: bool) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let settings = state.required_settings()?;
        let report = runtime(settings.target)?.block_on(async {
            let ledger = state.ledger()?;
            let cmdb = state.inventory()?;
            cmdb.sync(ledger.as_ref())
                .await
                .map_err(|e| Failure::other(e.to_string()))?;
            let snapshot = cmdb
                .snapshot()
                .await
                .map_err(|e| Failure::other(e.to_string()))?;
            let target = target(&state, &settings).await?;
            let mut environments: Vec<EnvironmentInventory> = Vec::new();
            for (name, platform) in platforms(ledger.as_ref()).await? {
                for (_, env) in platform.lifecycle.environments() {
                    let mut components = Vec::new();
                    for component in &platform.components {
                        let row = snapshot.deployments.iter().find(|d| {
                            d.platform == name
                                && &d.environment == env
                                && d.component == component.id
                        });
                        let slots: Vec<SlotLine> = target
                            .observe(&component.id, env)
                            .await?
                            .iter()
                            .filter(|s| s.spec.replicas > 0)
                            .map(|s| SlotLine {
                                slot: s.spec.slot.clone(),
                                version: s.spec.version.to_string(),
                                replicas: s.spec.replicas,
                                ready: s.ready_replicas,
                                endpoints: s.endpoints.iter().map(|e| e.url.clone()).collect(),
                            })
                            .collect();
                        if row.is_none() && slots.is_empty() {
                            continue;
                        }
                        components.push(Running {
                            component: component.id.to_string(),
                            version: row.map(|r| r.version.to_string()),
                            release: row.map(|r| r.release.to_string()),
                            since: row.map(|r| r.since),
                            via: row.map(|r| r.via),
                            slots,
                        });
                    }
                    components.sort_by(|a, b| a.component.cmp(&b.component));
                    match environments
                        .iter_mut()
                        .find(|e| e.environment == env.as_str())
                    {
                        Some(e) => e.components.extend(components),
                        None => environments.push(EnvironmentInventory {
                            environment: env.to_string(),
                            components,
                        }),
                    }
                }
            }
            Ok::<_, Failure>(InventoryReport {
                environments,
                history: snapshot.history,
                dependencies: snapshot.dependencies,
            })
        })?;
        if json {
            println!("{}", to_json(&report)?);
            return Ok(Exit::Ok);
        }
        for env in &report.environments {
            println!("{}:", env.environment);
            if env.components.is_empty() {
                println!("  nothing runs");
            }
            for c in &env.components {
                let slots: Vec<String> = c
                    .slots
                    .iter()
                    .map(|s| format!("{} {} {}/{} ready", s.slot, s.version, s.ready, s.replicas))
                    .collect();
                println!(
                    "  {:<14} {:<10} {:<22} {}",
                    c.component,
                    c.version.as_deref().unwrap_or("-"),
                    match (&c.release, c.via) {
                        (Some(r), Some(DeploymentAction::RolledBack)) =>
                            format!("{r} (rolled back)"),
                        (Some(r), _) => r.clone(),
                        (None, _) => "(no completed stage)".to_owned(),
                    },
                    if slots.is_empty() {
                        "not running".to_owned()
                    } else {
                        slots.join(", ")
                    }
                );
            }
        }
        if history {
            println!("history:");
            for h in &report.history {
                println!(
                    "  {}  {:<11} {:<14} {:<11} {} -> {}  {}",
                    h.at.format("%Y-%m-%dT%H:%M:%SZ"),
                    h.environment,
                    h.component,
                    match h.action {
                        DeploymentAction::Deployed => "deployed",
                        DeploymentAction::RolledBack => "rolled back",
                    },
                    h.replaced
                        .as_ref()
                        .map_or("-".to_owned(), ToString::to_string),
                    h.version
                        .as_ref()
                        .map_or("-".to_owned(), ToString::to_string),
                    h.release
                );
            }
        }
        Ok(Exit::Ok)
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}
