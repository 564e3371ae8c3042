//! Timelines: a release's journal records as lines a person reads, shared by `simulate`,
//! `run`/`resume` (printed as records are appended) and `report`.
//!
//! Locks and rollback plans are bookkeeping and left out; everything a person acts on or
//! waits for (gates, evidence, steps, probes, analyses, approvals, pauses, rollbacks, backups,
//! migrations, restores) is in.

use chrono::{DateTime, Utc};
use release_core::ledger::{Decision, Event, Record};
use release_core::plugin::GateVerdict;
use serde::Serialize;

/// One line of a timeline (the JSON shape of `simulate`'s and `report`'s `timeline` items).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Line {
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Time since the first record, `+HH:MM:SS`.
    pub offset: String,
    /// The environment, if the event concerns one.
    pub environment: Option<String>,
    /// The component, if the event concerns one.
    pub component: Option<String>,
    /// The event's type (`step_started`).
    pub event: String,
    /// What a person reads.
    pub detail: String,
}

/// `+HH:MM:SS` from `start` to `at`.
pub(crate) fn offset(start: DateTime<Utc>, at: DateTime<Utc>) -> String {
    let secs = (at - start).num_seconds().max(0);
    format!(
        "+{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// The timeline line of a record; `None` for bookkeeping records (locks, rollback plans).
pub(crate) fn line(start: DateTime<Utc>, r: &Record) -> Option<Line> {
    let (environment, component, detail): (Option<String>, Option<String>, String) = match &r.event
    {
        Event::ReleaseStarted { release, .. } => (
            None,
            None,
            format!("{} v{}", release.metadata.id, release.version),
        ),
        Event::StageStarted {
            environment,
            attempt,
        } => (
            Some(environment.to_string()),
            None,
            format!("attempt {attempt}"),
        ),
        Event::GateEvaluated {
            environment,
            gate,
            position,
            verdict,
            ..
        } => {
            let v = match verdict {
                GateVerdict::Pass { .. } => "pass",
                GateVerdict::Fail { .. } => "fail",
                GateVerdict::Wait { .. } => "wait",
            };
            let why: Vec<&str> = verdict
                .reasons()
                .iter()
                .map(|x| x.message.as_str())
                .collect();
            (
                Some(environment.to_string()),
                None,
                format!("{position:?} gate {gate}: {v} ({})", why.join("; ")).to_lowercase(),
            )
        }
        Event::StepStarted { key, step } => {
            let program = match key.program {
                release_core::ledger::Program::Deploy => "",
                release_core::ledger::Program::Rollback => "rollback ",
            };
            (
                Some(key.environment.to_string()),
                Some(key.component.to_string()),
                format!("{program}step {}: {}", key.index + 1, step.label()),
            )
        }
        Event::StepFailed { key, error } => (
            Some(key.environment.to_string()),
            Some(key.component.to_string()),
            format!("step {} failed: {error}", key.index + 1),
        ),
        Event::AnalysisCompleted {
            environment,
            component,
            analysis,
            outcome,
            measurements,
        } => (
            Some(environment.to_string()),
            Some(component.to_string()),
            format!(
                "analysis {analysis}: {} [{}]",
                format!("{outcome:?}").to_lowercase(),
                measurements
                    .iter()
                    .map(|m| m.map_or_else(|| "no data".to_owned(), |v| v.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Event::TriggerFired {
            environment,
            component,
            trigger,
            observed,
        } => (
            Some(environment.to_string()),
            component.as_ref().map(ToString::to_string),
            format!("trigger fired: {trigger} ({observed})"),
        ),
        Event::WatchStarted { environment, until } => (
            Some(environment.to_string()),
            None,
            format!("watch window until {}", offset(start, *until)),
        ),
        Event::WatchCompleted { environment } => (
            Some(environment.to_string()),
            None,
            "watch window passed".to_owned(),
        ),
        Event::Paused {
            environment,
            reason,
        } => (
            environment.as_ref().map(ToString::to_string),
            None,
            format!("paused: {reason}"),
        ),
        Event::OperatorActed { action, comment } => (
            None,
            None,
            format!(
                "{action} by {}{}",
                r.actor,
                comment
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
        ),
        Event::RollbackStarted {
            environment,
            reason,
        } => (
            Some(environment.to_string()),
            None,
            format!("rollback: {reason}"),
        ),
        Event::RollbackCompleted { environment } => (
            Some(environment.to_string()),
            None,
            "rolled back".to_owned(),
        ),
        Event::StageCompleted { environment } => (
            Some(environment.to_string()),
            None,
            "stage completed".to_owned(),
        ),
        Event::ReleaseFinished { outcome } => (None, None, format!("release {outcome}")),
        Event::ApprovalRecorded {
            environment,
            decision,
            comment,
        } => (
            Some(environment.to_string()),
            None,
            format!(
                "{} by {}{}",
                match decision {
                    Decision::Approve => "approved",
                    Decision::Reject => "rejected",
                },
                r.actor,
                comment
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
        ),
        Event::ProbeChecked {
            environment,
            component,
            slot,
            probe,
            outcome,
        } => (
            Some(environment.to_string()),
            Some(component.to_string()),
            format!(
                "probe {probe} on {slot}: {} ({})",
                if outcome.healthy {
                    "healthy"
                } else {
                    "unhealthy"
                },
                outcome.message
            ),
        ),
        Event::EvidenceRecorded {
            kind, environment, ..
        } => (
            environment.as_ref().map(ToString::to_string),
            None,
            format!("evidence {kind} recorded by {}", r.actor),
        ),
        Event::BackupTaken {
            environment,
            component,
            record,
            ..
        } => (
            Some(environment.to_string()),
            Some(component.to_string()),
            format!(
                "backup {} of {} taken ({})",
                record.id, record.request.resource, record.digest
            ),
        ),
        Event::MigrationApplied {
            environment,
            component,
            resource,
            applied,
            ..
        } => (
            Some(environment.to_string()),
            Some(component.to_string()),
            format!(
                "{resource} migrated: {}",
                if applied.is_empty() {
                    "nothing pending".to_owned()
                } else {
                    applied
                        .iter()
                        .map(|v| format!("V{v:03}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ),
        Event::DataRestored {
            environment,
            component,
            resource,
            backup,
            verified,
            ..
        } => (
            Some(environment.to_string()),
            Some(component.to_string()),
            format!(
                "{resource} restored from backup {backup} ({})",
                if *verified {
                    "digest verified"
                } else {
                    "DIGEST MISMATCH"
                }
            ),
        ),
        _ => return None,
    };
    Some(Line {
        at: r.at,
        offset: offset(start, r.at),
        environment,
        component,
        event: r.event.type_name().to_owned(),
        detail,
    })
}

/// The line as text: `time  environment  component  detail`.
pub(crate) fn render(time: &str, l: &Line) -> String {
    format!(
        "{time}  {:<11} {:<14} {}",
        l.environment.as_deref().unwrap_or("-"),
        l.component.as_deref().unwrap_or(""),
        l.detail
    )
}
