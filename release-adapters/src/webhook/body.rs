//! What a delivery says: the one-line summary, and the JSON and Slack bodies.

use release_core::ledger::{Decision, Event, Outcome, Program, Record};
use release_core::model::EnvironmentName;
use release_core::plugin::{GatePosition, GateVerdict};
use serde_json::json;

use super::BodyFormat;

/// True for rollback news, which overtake other deliveries: a trigger firing, a rollback
/// starting, programmed or completing, a step of a rollback program, data restored from the
/// pre-deployment backup, and a release that ended rolled back or aborted.
pub fn is_rollback_event(event: &Event) -> bool {
    match event {
        Event::TriggerFired { .. }
        | Event::RollbackStarted { .. }
        | Event::RollbackProgrammed { .. }
        | Event::RollbackCompleted { .. }
        | Event::DataRestored { .. } => true,
        Event::StepStarted { key, .. }
        | Event::StepSucceeded { key }
        | Event::StepFailed { key, .. } => key.program == Program::Rollback,
        Event::ReleaseFinished { outcome } => {
            matches!(
                outcome,
                Outcome::RolledBack { .. } | Outcome::Aborted { .. }
            )
        }
        _ => false,
    }
}

/// The environment an event is about, when it is about one.
pub(crate) fn environment_of(event: &Event) -> Option<&EnvironmentName> {
    match event {
        Event::StageStarted { environment, .. }
        | Event::GateEvaluated { environment, .. }
        | Event::RollbackPlanned { environment, .. }
        | Event::ProbeChecked { environment, .. }
        | Event::AnalysisCompleted { environment, .. }
        | Event::TriggerFired { environment, .. }
        | Event::WatchStarted { environment, .. }
        | Event::WatchCompleted { environment }
        | Event::ApprovalRecorded { environment, .. }
        | Event::RollbackStarted { environment, .. }
        | Event::RollbackProgrammed { environment, .. }
        | Event::RollbackCompleted { environment }
        | Event::StageCompleted { environment } => Some(environment),
        Event::StepStarted { key, .. }
        | Event::StepSucceeded { key }
        | Event::StepFailed { key, .. } => Some(&key.environment),
        Event::Paused { environment, .. } | Event::EvidenceRecorded { environment, .. } => {
            environment.as_ref()
        }
        Event::ReleaseFinished { outcome } => match outcome {
            Outcome::RolledBack { environment, .. } | Outcome::GateFailed { environment, .. } => {
                Some(environment)
            }
            Outcome::Aborted { environment } => environment.as_ref(),
            Outcome::Succeeded => None,
        },
        _ => None,
    }
}

fn comment(c: &Option<String>) -> String {
    c.as_ref().map(|c| format!(": {c}")).unwrap_or_default()
}

/// One line a person reads in a chat channel, e.g.
/// `shop-2.0.0: ROLLBACK of production started: error rate above 0.05`.
pub fn summary(record: &Record) -> String {
    let r = &record.release;
    match &record.event {
        Event::ReleaseStarted {
            platform, release, ..
        } => format!(
            "{r}: release {} of {} started by {}",
            release.version, platform.metadata.name, record.actor
        ),
        Event::StageStarted {
            environment,
            attempt,
        } => {
            let again = if *attempt > 1 {
                format!(" (attempt {attempt})")
            } else {
                String::new()
            };
            format!("{r}: deploying to {environment}{again}")
        }
        Event::GateEvaluated {
            environment,
            position,
            gate,
            verdict,
            ..
        } => {
            let position = match position {
                GatePosition::Entry => "entry",
                GatePosition::Exit => "exit",
            };
            let (word, reasons) = match verdict {
                GateVerdict::Pass { reasons } => ("passed", reasons),
                GateVerdict::Fail { reasons } => ("FAILED", reasons),
                GateVerdict::Wait { reasons, .. } => ("waiting", reasons),
            };
            let why: Vec<&str> = reasons.iter().map(|x| x.message.as_str()).collect();
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(": {}", why.join("; "))
            };
            format!("{r}: {position} gate {gate} of {environment} {word}{why}")
        }
        Event::LockAcquired { lock, token } => format!("{r}: took lock {lock} (token {token})"),
        Event::LockReleased { lock } => format!("{r}: released lock {lock}"),
        Event::RollbackPlanned {
            environment,
            components,
            ..
        } => format!(
            "{r}: rollback plan for {environment} recorded ({} components)",
            components.len()
        ),
        Event::StepStarted { key, step } => format!("{r}: {key}: {}", step.label()),
        Event::StepSucceeded { key } => format!("{r}: {key} done"),
        Event::StepFailed { key, error } => format!("{r}: {key} FAILED: {error}"),
        Event::ProbeChecked {
            environment,
            component,
            slot,
            probe,
            outcome,
        } => format!(
            "{r}: probe {probe} of {component}/{slot} in {environment}: {}{}",
            if outcome.healthy {
                "healthy"
            } else {
                "UNHEALTHY"
            },
            if outcome.message.is_empty() {
                String::new()
            } else {
                format!(" ({})", outcome.message)
            }
        ),
        Event::AnalysisCompleted {
            environment,
            component,
            analysis,
            outcome,
            ..
        } => format!("{r}: analysis {analysis} of {component} in {environment}: {outcome:?}"),
        Event::TriggerFired {
            environment,
            component,
            trigger,
            observed,
        } => format!(
            "{r}: ROLLBACK TRIGGER `{trigger}` fired in {environment}{}: {observed}",
            component
                .as_ref()
                .map(|c| format!(" for {c}"))
                .unwrap_or_default()
        ),
        Event::WatchStarted { environment, until } => format!(
            "{r}: watching {environment} until {}",
            until.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Event::WatchCompleted { environment } => {
            format!("{r}: watch window of {environment} passed without a trigger")
        }
        Event::Paused {
            environment,
            reason,
        } => format!(
            "{r}: paused{}: {reason}",
            environment
                .as_ref()
                .map(|e| format!(" in {e}"))
                .unwrap_or_default()
        ),
        Event::OperatorActed { action, comment: c } => {
            format!("{r}: {} asked to {action}{}", record.actor, comment(c))
        }
        Event::ApprovalRecorded {
            environment,
            decision,
            comment: c,
        } => format!(
            "{r}: {} {} {environment}{}",
            record.actor,
            match decision {
                Decision::Approve => "approved",
                Decision::Reject => "REJECTED",
            },
            comment(c)
        ),
        Event::EvidenceRecorded {
            kind, environment, ..
        } => format!(
            "{r}: {kind} evidence recorded{}",
            environment
                .as_ref()
                .map(|e| format!(" for {e}"))
                .unwrap_or_default()
        ),
        Event::RollbackStarted {
            environment,
            reason,
        } => format!("{r}: ROLLBACK of {environment} started: {reason}"),
        Event::RollbackProgrammed {
            environment,
            component,
            steps,
            ..
        } => format!(
            "{r}: rolling back {component} in {environment}: {}",
            steps
                .iter()
                .map(|s| s.label())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::RollbackCompleted { environment } => {
            format!("{r}: {environment} ROLLED BACK to what ran before")
        }
        Event::StageCompleted { environment } => format!("{r}: {environment} deployed"),
        Event::ReleaseFinished { outcome } => format!("{r}: release {outcome}"),
        other => format!("{r}: {}", other.type_name()),
    }
}

/// The body of a delivery in `format`.
pub(crate) fn render(record: &Record, format: BodyFormat) -> Result<Vec<u8>, serde_json::Error> {
    let summary = summary(record);
    let rollback = is_rollback_event(&record.event);
    let body = match format {
        BodyFormat::Slack => {
            let icon = if rollback { ":rotating_light: " } else { "" };
            let context = format!(
                "release `{}` · {} · #{} · {} · {}",
                record.release,
                record.event.type_name(),
                record.seq,
                record.at.format("%Y-%m-%d %H:%M:%S UTC"),
                record.actor
            );
            json!({
                "text": format!("{icon}{summary}"),
                "blocks": [
                    { "type": "section", "text": { "type": "mrkdwn", "text": format!("{icon}{}", slack_escape(&summary)) } },
                    { "type": "context", "elements": [ { "type": "mrkdwn", "text": slack_escape(&context) } ] }
                ]
            })
        }
        _ => json!({
            "summary": summary,
            "environment": environment_of(&record.event).map(|e| e.as_str()),
            "rollback": rollback,
            "record": record,
        }),
    };
    serde_json::to_vec(&body)
}

/// Slack's mrkdwn escapes: `&`, `<`, `>`.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
