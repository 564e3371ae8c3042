//! The post-implementation review (M7.3, M7.4): success criteria, planned against actual
//! timeline, incidents with time to detect and to recover, and pain points — per release and
//! aggregated across releases.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::markdown::{Table, cell};
use super::records::{Issue, issues};
use super::summary::{EnvironmentStatus, issue_table, name_of, plan_of};
use super::{ReleaseOutcome, format_secs, secs, started, to_json};
use crate::error::Result;
use crate::id::{ComponentId, EnvironmentName, ReleaseId};
use crate::ledger::{AnalysisOutcome, Decision, Event, Record, StepKey};
use crate::model::{Pause, Severity};
use crate::plugin::{GatePosition, GateVerdict, RolloutStep};

/// Who the engine journals as.
const ENGINE: &str = "engine";

/// One success criterion and whether it was met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Criterion {
    /// What was expected.
    pub criterion: String,
    /// Whether it held.
    pub met: bool,
    /// What was observed.
    pub detail: String,
}

/// A stage planned against what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StageTimeline {
    /// The environment.
    pub environment: EnvironmentName,
    /// Planned start: the schedule's start (or the release's) plus the earlier stages'
    /// estimates.
    pub planned_start: DateTime<Utc>,
    /// Planned end.
    pub planned_end: DateTime<Utc>,
    /// The plan's estimate for the stage.
    pub planned_secs: i64,
    /// When its first attempt started.
    pub actual_start: Option<DateTime<Utc>>,
    /// When its last attempt completed or rolled back.
    pub actual_end: Option<DateTime<Utc>>,
    /// Actual length.
    pub actual_secs: Option<i64>,
    /// Actual minus planned length (positive: late).
    pub variance_secs: Option<i64>,
    /// Attempts made.
    pub attempts: u32,
    /// Where it ended up.
    pub status: EnvironmentStatus,
}

/// A journaled sign that something was wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Signal {
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    pub what: String,
}

/// A rollback and how quickly the problem behind it was found and undone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Incident {
    /// The environment.
    pub environment: EnvironmentName,
    /// The component blamed, when one is.
    pub component: Option<ComponentId>,
    /// Why the stage rolled back.
    pub cause: String,
    /// The first bad signal (or the stage's first deploy step when none was journaled).
    pub first_signal: Signal,
    /// When the trigger fired or the failure was journaled.
    pub detected_at: DateTime<Utc>,
    /// When the rollback completed.
    pub recovered_at: Option<DateTime<Utc>>,
    /// From the first signal to detection.
    pub time_to_detect_secs: i64,
    /// From detection to the completed rollback.
    pub time_to_recover_secs: Option<i64>,
    /// The RCA the rollback opened.
    pub rca: Option<String>,
}

/// What a release waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// A gate said *wait* (an approval, a window, missing evidence).
    Gate,
    /// A pause step of a rollout.
    PauseStep,
    /// The release was paused (by an operator, an inconclusive analysis, a manual policy).
    Paused,
}

impl WaitKind {
    fn text(self) -> &'static str {
        match self {
            Self::Gate => "gate",
            Self::PauseStep => "pause step",
            Self::Paused => "paused",
        }
    }
}

/// One wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Wait {
    /// What kind of wait.
    pub kind: WaitKind,
    /// The environment.
    pub environment: Option<EnvironmentName>,
    /// The gate, the step or the reason.
    pub subject: String,
    /// From.
    pub from: DateTime<Utc>,
    /// Until (`None`: still waiting at the end of the journal).
    pub until: Option<DateTime<Utc>>,
    /// Length (up to the last record when still waiting).
    pub secs: i64,
}

/// A stage started again, or a step run again after a resume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Retry {
    /// The environment.
    pub environment: EnvironmentName,
    /// `stage` (a new attempt) or `step` (a step re-run after a resume).
    pub kind: String,
    /// The attempt or the step.
    pub subject: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who asked for it (`engine` for a re-run on resume).
    pub by: String,
}

/// A person acting on the release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Intervention {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// `approve`, `reject`, `pause`, `resume`, `abort`, `promote-full`, `retry`.
    pub action: String,
    /// The environment, when the action names one.
    pub environment: Option<EnvironmentName>,
    /// Their comment.
    pub comment: Option<String>,
}

/// A gate whose verdict flipped within a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FlakyGate {
    /// The environment.
    pub environment: EnvironmentName,
    /// The gate.
    pub gate: String,
    /// Verdicts in order (`pass`, `fail`, `wait`).
    pub verdicts: Vec<String>,
    /// Pass → fail/wait and fail → pass transitions.
    pub flips: u32,
}

/// The pain points of one release (M7.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PainPoints {
    /// Every wait, longest first.
    pub longest_waits: Vec<Wait>,
    /// Retries, in order.
    pub retries: Vec<Retry>,
    /// Manual interventions, in order.
    pub manual_interventions: Vec<Intervention>,
    /// Gates that flipped.
    pub flaky_gates: Vec<FlakyGate>,
}

/// The post-implementation review of one release (M7.3).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PostImplementationReview {
    /// The release.
    pub release: ReleaseId,
    /// Its version.
    pub version: String,
    /// How it ended.
    pub outcome: ReleaseOutcome,
    /// True when every criterion was met.
    pub success: bool,
    /// The success criteria.
    pub success_criteria: Vec<Criterion>,
    /// Planned against actual, per stage in plan order.
    pub timeline: Vec<StageTimeline>,
    /// The plan's estimate for the whole release.
    pub planned_secs: i64,
    /// From the start to the end of the journal's last stage (or of the journal).
    pub actual_secs: i64,
    /// Rollbacks with time to detect and recover.
    pub incidents: Vec<Incident>,
    /// Post-deployment issues.
    pub issues: Vec<Issue>,
    /// Pain points.
    pub pain_points: PainPoints,
}

/// The post-implementation review of the release whose journal `records` is.
pub fn post_implementation_review(records: &[Record]) -> Result<PostImplementationReview> {
    let start = started(records)?;
    let plan = plan_of(&start)?;
    let outcome = ReleaseOutcome::of(records);
    let all_issues = issues(records);
    let success_criteria = criteria(records, &outcome, &all_issues);

    let planned_from = start
        .release
        .schedule
        .as_ref()
        .map_or(start.record.at, |s| s.start.to_utc());
    let mut cursor = planned_from;
    let mut timeline = Vec::new();
    for stage in &plan.stages {
        let env = &stage.environment;
        let planned =
            i64::try_from(stage.estimated_duration.as_duration().as_secs()).unwrap_or(i64::MAX);
        let planned_end = cursor + chrono::Duration::seconds(planned);
        let mut actual_start = None;
        let mut actual_end = None;
        let mut attempts = 0;
        let mut status = EnvironmentStatus::NotReached;
        for r in records {
            match &r.event {
                Event::StageStarted {
                    environment,
                    attempt,
                } if environment == env => {
                    actual_start.get_or_insert(r.at);
                    attempts = attempts.max(*attempt);
                    status = EnvironmentStatus::InProgress;
                }
                Event::StageCompleted { environment } if environment == env => {
                    actual_end = Some(r.at);
                    status = EnvironmentStatus::Deployed;
                }
                Event::RollbackCompleted { environment } if environment == env => {
                    actual_end = Some(r.at);
                    status = EnvironmentStatus::RolledBack;
                }
                _ => {}
            }
        }
        let actual_secs = actual_start.zip(actual_end).map(|(s, e)| secs(s, e));
        timeline.push(StageTimeline {
            environment: env.clone(),
            planned_start: cursor,
            planned_end,
            planned_secs: planned,
            actual_start,
            actual_end,
            actual_secs,
            variance_secs: actual_secs.map(|a| a - planned),
            attempts,
            status,
        });
        cursor = planned_end;
    }
    let last_at = timeline
        .iter()
        .filter_map(|t| t.actual_end)
        .max()
        .or_else(|| records.last().map(|r| r.at))
        .unwrap_or(start.record.at);
    Ok(PostImplementationReview {
        release: start.release.id().clone(),
        version: start.release.version.to_string(),
        success: success_criteria.iter().all(|c| c.met),
        outcome,
        success_criteria,
        planned_secs: secs(planned_from, cursor),
        actual_secs: secs(start.record.at, last_at),
        timeline,
        incidents: incidents(records),
        issues: all_issues,
        pain_points: pain_points(records),
    })
}

fn criteria(records: &[Record], outcome: &ReleaseOutcome, issues: &[Issue]) -> Vec<Criterion> {
    let mut out = vec![Criterion {
        criterion: "the release completes every stage".to_owned(),
        met: outcome.succeeded(),
        detail: outcome.text.clone(),
    }];
    // Analyses, in journal order.
    for r in records {
        if let Event::AnalysisCompleted {
            environment,
            component,
            analysis,
            outcome,
            measurements,
        } = &r.event
        {
            let values: Vec<String> = measurements
                .iter()
                .map(|m| m.map_or_else(|| "no data".to_owned(), |v| v.to_string()))
                .collect();
            out.push(Criterion {
                criterion: format!("analysis {analysis} of {component} in {environment} passes"),
                met: *outcome == AnalysisOutcome::Successful,
                detail: format!("{}: {}", name_of(outcome), values.join(", ")),
            });
        }
    }
    // Watch windows and triggers, per environment in the order they were first watched.
    let mut watched: Vec<EnvironmentName> = Vec::new();
    for r in records {
        if let Event::WatchStarted { environment, .. } | Event::TriggerFired { environment, .. } =
            &r.event
            && !watched.contains(environment)
        {
            watched.push(environment.clone());
        }
    }
    for env in &watched {
        let fired: Vec<String> = records
            .iter()
            .filter_map(|r| match &r.event {
                Event::TriggerFired {
                    environment,
                    trigger,
                    observed,
                    ..
                } if environment == env => Some(format!("{trigger}: {observed}")),
                _ => None,
            })
            .collect();
        let completed = records.iter().any(
            |r| matches!(&r.event, Event::WatchCompleted { environment } if environment == env),
        );
        out.push(Criterion {
            criterion: format!("no rollback trigger fires in {env}"),
            met: fired.is_empty(),
            detail: if !fired.is_empty() {
                fired.join("; ")
            } else if completed {
                "the watch window passed".to_owned()
            } else {
                "no trigger fired so far".to_owned()
            },
        });
    }
    // Probes, per environment.
    let mut probes: BTreeMap<&EnvironmentName, (u32, u32, Vec<String>)> = BTreeMap::new();
    for r in records {
        if let Event::ProbeChecked {
            environment,
            component,
            slot,
            probe,
            outcome,
        } = &r.event
        {
            let e = probes.entry(environment).or_default();
            e.1 += 1;
            if outcome.healthy {
                e.0 += 1;
            } else {
                e.2.push(format!(
                    "{probe} on {component}/{slot}: {}",
                    outcome.message
                ));
            }
        }
    }
    for (env, (healthy, total, failures)) in probes {
        let mut detail = format!("{healthy} of {total} probes healthy");
        if !failures.is_empty() {
            detail.push_str(&format!(" ({})", failures.join("; ")));
        }
        out.push(Criterion {
            criterion: format!("probes in {env} are healthy"),
            met: healthy == total,
            detail,
        });
    }
    let open_critical: Vec<&str> = issues
        .iter()
        .filter(|i| i.is_open() && i.severity == Severity::Critical)
        .map(|i| i.id.as_str())
        .collect();
    out.push(Criterion {
        criterion: "no critical issue is open".to_owned(),
        met: open_critical.is_empty(),
        detail: if open_critical.is_empty() {
            "none open".to_owned()
        } else {
            format!("open: {}", open_critical.join(", "))
        },
    });
    out
}

fn incidents(records: &[Record]) -> Vec<Incident> {
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let Event::RollbackStarted {
            environment,
            reason,
        } = &r.event
        else {
            continue;
        };
        // The stage attempt the rollback belongs to starts at its last `StageStarted`.
        let attempt_start = records[..i]
            .iter()
            .rposition(|x| matches!(&x.event, Event::StageStarted { environment: e, .. } if e == environment))
            .unwrap_or(0);
        let window = &records[attempt_start..i];
        let detection = window.iter().rev().find_map(|x| match &x.event {
            Event::TriggerFired {
                environment: e,
                component,
                ..
            } if e == environment => Some((x.at, component.clone())),
            Event::StepFailed { key, .. } if &key.environment == environment => {
                Some((x.at, Some(key.component.clone())))
            }
            _ => None,
        });
        let (detected_at, component) = detection.unwrap_or((r.at, None));
        let first_signal = window
            .iter()
            .find_map(|x| bad_signal(x, environment))
            .or_else(|| {
                window.iter().find_map(|x| match &x.event {
                    Event::StepStarted { key, step } if &key.environment == environment => {
                        Some(Signal {
                            at: x.at,
                            what: format!("deploy began: {} {}", key.component, step.label()),
                        })
                    }
                    _ => None,
                })
            })
            .unwrap_or_else(|| Signal {
                at: detected_at,
                what: "detected".to_owned(),
            });
        let after = &records[i..];
        let recovered_at = after.iter().find_map(|x| match &x.event {
            Event::RollbackCompleted { environment: e } if e == environment => Some(x.at),
            _ => None,
        });
        let rca = after.iter().find_map(|x| match &x.event {
            Event::RcaOpened(o) if &o.environment == environment => Some(o.id.clone()),
            _ => None,
        });
        out.push(Incident {
            environment: environment.clone(),
            component,
            cause: reason.clone(),
            time_to_detect_secs: secs(first_signal.at, detected_at),
            time_to_recover_secs: recovered_at.map(|at| secs(detected_at, at)),
            first_signal,
            detected_at,
            recovered_at,
            rca,
        });
    }
    out
}

fn bad_signal(r: &Record, env: &EnvironmentName) -> Option<Signal> {
    let what = match &r.event {
        Event::IssueReported(i) if &i.environment == env && i.severity >= Severity::High => {
            format!("{} issue {} reported: {}", i.severity, i.id, i.title)
        }
        Event::ProbeChecked {
            environment,
            component,
            probe,
            outcome,
            ..
        } if environment == env && !outcome.healthy => {
            format!(
                "probe {probe} on {component} unhealthy: {}",
                outcome.message
            )
        }
        Event::AnalysisCompleted {
            environment,
            component,
            analysis,
            outcome,
            ..
        } if environment == env && *outcome != AnalysisOutcome::Successful => {
            format!("analysis {analysis} of {component}: {}", name_of(outcome))
        }
        Event::StepFailed { key, error } if &key.environment == env => {
            format!("step {key} failed: {error}")
        }
        Event::TriggerFired {
            environment,
            trigger,
            observed,
            ..
        } if environment == env => format!("{trigger}: {observed}"),
        _ => return None,
    };
    Some(Signal { at: r.at, what })
}

/// The pain points of one release: waits (longest first), retries, manual interventions and
/// flaky gates (M7.4).
pub fn pain_points(records: &[Record]) -> PainPoints {
    let end = records.last().map(|r| r.at);
    let mut waits = Vec::new();
    let mut gate_waits: BTreeMap<(EnvironmentName, GatePosition, String), DateTime<Utc>> =
        BTreeMap::new();
    let mut pause_steps: BTreeMap<StepKey, (DateTime<Utc>, String)> = BTreeMap::new();
    let mut paused: Option<(Option<EnvironmentName>, String, DateTime<Utc>)> = None;
    let mut retries = Vec::new();
    let mut interventions = Vec::new();
    let mut verdicts: BTreeMap<(EnvironmentName, String), Vec<&'static str>> = BTreeMap::new();
    let mut started_steps: BTreeSet<StepKey> = BTreeSet::new();
    let mut last_retry_by: Option<String> = None;

    for r in records {
        // The engine going on ends a pause of the release.
        if r.actor == ENGINE
            && !matches!(r.event, Event::Paused { .. })
            && let Some((environment, reason, from)) = paused.take()
        {
            waits.push(Wait {
                kind: WaitKind::Paused,
                environment,
                subject: reason,
                from,
                until: Some(r.at),
                secs: secs(from, r.at),
            });
        }
        match &r.event {
            Event::GateEvaluated {
                environment,
                position,
                gate,
                verdict,
                ..
            } => {
                let key = (environment.clone(), *position, gate.clone());
                let kind = match verdict {
                    GateVerdict::Pass { .. } => "pass",
                    GateVerdict::Fail { .. } => "fail",
                    GateVerdict::Wait { .. } => "wait",
                };
                verdicts
                    .entry((environment.clone(), gate.clone()))
                    .or_default()
                    .push(kind);
                if kind == "wait" {
                    gate_waits.entry(key).or_insert(r.at);
                } else if let Some(from) = gate_waits.remove(&key) {
                    waits.push(Wait {
                        kind: WaitKind::Gate,
                        environment: Some(environment.clone()),
                        subject: gate.clone(),
                        from,
                        until: Some(r.at),
                        secs: secs(from, r.at),
                    });
                }
            }
            Event::StepStarted { key, step } => {
                if !started_steps.insert(key.clone()) {
                    retries.push(Retry {
                        environment: key.environment.clone(),
                        kind: "step".to_owned(),
                        subject: format!("{key} {}", step.label()),
                        at: r.at,
                        by: r.actor.clone(),
                    });
                }
                if let RolloutStep::Pause(pause) = step {
                    let label = match pause {
                        Pause::For(d) => format!("{} pause {d}", key.component),
                        Pause::UntilApproved => format!("{} pause until promoted", key.component),
                    };
                    pause_steps.entry(key.clone()).or_insert((r.at, label));
                }
            }
            Event::StepSucceeded { key } | Event::StepFailed { key, .. } => {
                if let Some((from, label)) = pause_steps.remove(key) {
                    waits.push(Wait {
                        kind: WaitKind::PauseStep,
                        environment: Some(key.environment.clone()),
                        subject: label,
                        from,
                        until: Some(r.at),
                        secs: secs(from, r.at),
                    });
                }
            }
            Event::Paused {
                environment,
                reason,
            } => {
                // A gate or pause step that is waiting already counts this time.
                let covered = gate_waits
                    .keys()
                    .any(|(e, _, _)| Some(e) == environment.as_ref())
                    || pause_steps
                        .keys()
                        .any(|k| Some(&k.environment) == environment.as_ref());
                if !covered && paused.is_none() {
                    paused = Some((environment.clone(), reason.clone(), r.at));
                }
            }
            Event::StageStarted {
                environment,
                attempt,
            } if *attempt > 1 => {
                retries.push(Retry {
                    environment: environment.clone(),
                    kind: "stage".to_owned(),
                    subject: format!("attempt {attempt}"),
                    at: r.at,
                    by: last_retry_by.take().unwrap_or_else(|| r.actor.clone()),
                });
            }
            Event::OperatorActed { action, comment } => {
                if *action == crate::ledger::OperatorAction::Retry {
                    last_retry_by = Some(r.actor.clone());
                }
                interventions.push(Intervention {
                    at: r.at,
                    by: r.actor.clone(),
                    action: action.to_string(),
                    environment: None,
                    comment: comment.clone(),
                });
            }
            Event::ApprovalRecorded {
                environment,
                decision,
                comment,
            } => interventions.push(Intervention {
                at: r.at,
                by: r.actor.clone(),
                action: match decision {
                    Decision::Approve => "approve",
                    Decision::Reject => "reject",
                }
                .to_owned(),
                environment: Some(environment.clone()),
                comment: comment.clone(),
            }),
            _ => {}
        }
    }
    // What still waits at the end of the journal.
    if let Some(end) = end {
        for ((environment, _, gate), from) in gate_waits {
            waits.push(Wait {
                kind: WaitKind::Gate,
                environment: Some(environment),
                subject: gate,
                from,
                until: None,
                secs: secs(from, end),
            });
        }
        for (key, (from, label)) in pause_steps {
            waits.push(Wait {
                kind: WaitKind::PauseStep,
                environment: Some(key.environment),
                subject: label,
                from,
                until: None,
                secs: secs(from, end),
            });
        }
        if let Some((environment, reason, from)) = paused {
            waits.push(Wait {
                kind: WaitKind::Paused,
                environment,
                subject: reason,
                from,
                until: None,
                secs: secs(from, end),
            });
        }
    }
    waits.sort_by(|a, b| {
        b.secs
            .cmp(&a.secs)
            .then(a.from.cmp(&b.from))
            .then(a.kind.cmp(&b.kind))
            .then(a.subject.cmp(&b.subject))
    });
    let flaky_gates = verdicts
        .into_iter()
        .filter_map(|((environment, gate), seq)| {
            let flips = seq
                .windows(2)
                .filter(|w| matches!((w[0], w[1]), ("pass", "fail" | "wait") | ("fail", "pass")))
                .count();
            (flips > 0).then(|| FlakyGate {
                environment,
                gate,
                verdicts: seq.iter().map(|s| (*s).to_owned()).collect(),
                flips: u32::try_from(flips).unwrap_or(u32::MAX),
            })
        })
        .collect();
    PainPoints {
        longest_waits: waits,
        retries,
        manual_interventions: interventions,
        flaky_gates,
    }
}

/// Waits of one kind and subject across releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WaitsAcrossReleases {
    /// What kind of wait.
    pub kind: WaitKind,
    /// The environment.
    pub environment: Option<EnvironmentName>,
    /// The gate, the step or the reason.
    pub subject: String,
    /// How many waits.
    pub count: u32,
    /// In how many releases.
    pub releases: u32,
    /// Their total length.
    pub total_secs: i64,
    /// The longest.
    pub max_secs: i64,
}

/// Retries of one environment across releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RetriesAcrossReleases {
    /// The environment.
    pub environment: EnvironmentName,
    /// `stage` or `step`.
    pub kind: String,
    /// How many.
    pub count: u32,
    /// In how many releases.
    pub releases: u32,
}

/// Manual interventions of one action across releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InterventionsAcrossReleases {
    /// The action.
    pub action: String,
    /// How many.
    pub count: u32,
    /// In how many releases.
    pub releases: u32,
    /// Who, sorted.
    pub people: Vec<String>,
}

/// One gate's flips across releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FlakyGateAcrossReleases {
    /// The environment.
    pub environment: EnvironmentName,
    /// The gate.
    pub gate: String,
    /// Flips in total.
    pub flips: u32,
    /// In how many releases it flipped.
    pub releases: u32,
}

/// Pain points aggregated over several releases (M7.4), worst first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PainPointsAcrossReleases {
    /// The releases, sorted.
    pub releases: Vec<ReleaseId>,
    /// Waits by kind and subject, longest total first.
    pub waits: Vec<WaitsAcrossReleases>,
    /// Retries by environment, most first.
    pub retries: Vec<RetriesAcrossReleases>,
    /// Interventions by action, most first.
    pub interventions: Vec<InterventionsAcrossReleases>,
    /// Flaky gates, most flips first.
    pub flaky_gates: Vec<FlakyGateAcrossReleases>,
}

/// Aggregates the pain points of several releases' journals (order does not matter).
pub fn aggregate_pain_points(journals: &[Vec<Record>]) -> PainPointsAcrossReleases {
    type WaitKey = (WaitKind, Option<EnvironmentName>, String);
    let mut releases = BTreeSet::new();
    let mut waits: BTreeMap<WaitKey, (u32, BTreeSet<ReleaseId>, i64, i64)> = BTreeMap::new();
    let mut retries: BTreeMap<(EnvironmentName, String), (u32, BTreeSet<ReleaseId>)> =
        BTreeMap::new();
    let mut interventions: BTreeMap<String, (u32, BTreeSet<ReleaseId>, BTreeSet<String>)> =
        BTreeMap::new();
    let mut flaky: BTreeMap<(EnvironmentName, String), (u32, BTreeSet<ReleaseId>)> =
        BTreeMap::new();
    for journal in journals {
        let Some(release) = journal.first().map(|r| r.release.clone()) else {
            continue;
        };
        releases.insert(release.clone());
        let points = pain_points(journal);
        for w in points.longest_waits {
            let e = waits.entry((w.kind, w.environment, w.subject)).or_default();
            e.0 += 1;
            e.1.insert(release.clone());
            e.2 += w.secs;
            e.3 = e.3.max(w.secs);
        }
        for r in points.retries {
            let e = retries.entry((r.environment, r.kind)).or_default();
            e.0 += 1;
            e.1.insert(release.clone());
        }
        for i in points.manual_interventions {
            let e = interventions.entry(i.action).or_default();
            e.0 += 1;
            e.1.insert(release.clone());
            e.2.insert(i.by);
        }
        for f in points.flaky_gates {
            let e = flaky.entry((f.environment, f.gate)).or_default();
            e.0 += f.flips;
            e.1.insert(release.clone());
        }
    }
    let count = |set: &BTreeSet<ReleaseId>| u32::try_from(set.len()).unwrap_or(u32::MAX);
    let mut waits: Vec<WaitsAcrossReleases> = waits
        .into_iter()
        .map(
            |((kind, environment, subject), (n, rels, total, max))| WaitsAcrossReleases {
                kind,
                environment,
                subject,
                count: n,
                releases: count(&rels),
                total_secs: total,
                max_secs: max,
            },
        )
        .collect();
    // Stable sorts keep the map's key order among equals.
    waits.sort_by_key(|x| std::cmp::Reverse(x.total_secs));
    let mut retries: Vec<RetriesAcrossReleases> = retries
        .into_iter()
        .map(|((environment, kind), (n, rels))| RetriesAcrossReleases {
            environment,
            kind,
            count: n,
            releases: count(&rels),
        })
        .collect();
    retries.sort_by_key(|x| std::cmp::Reverse(x.count));
    let mut interventions: Vec<InterventionsAcrossReleases> = interventions
        .into_iter()
        .map(|(action, (n, rels, people))| InterventionsAcrossReleases {
            action,
            count: n,
            releases: count(&rels),
            people: people.into_iter().collect(),
        })
        .collect();
    interventions.sort_by_key(|x| std::cmp::Reverse(x.count));
    let mut flaky_gates: Vec<FlakyGateAcrossReleases> = flaky
        .into_iter()
        .map(
            |((environment, gate), (flips, rels))| FlakyGateAcrossReleases {
                environment,
                gate,
                flips,
                releases: count(&rels),
            },
        )
        .collect();
    flaky_gates.sort_by_key(|x| std::cmp::Reverse(x.flips));
    PainPointsAcrossReleases {
        releases: releases.into_iter().collect(),
        waits,
        retries,
        interventions,
        flaky_gates,
    }
}

fn opt_env(env: &Option<EnvironmentName>) -> String {
    env.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn opt_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "—".to_owned(), |t| t.to_rfc3339())
}

impl PainPoints {
    fn markdown(&self, md: &mut String, top: usize) {
        md.push_str("\n### Longest waits\n\n");
        if self.longest_waits.is_empty() {
            md.push_str("None.\n");
        } else {
            let mut t = Table::new(&["Wait", "Environment", "What", "From", "Length"]);
            for w in self.longest_waits.iter().take(top) {
                t.row(vec![
                    w.kind.text().to_owned(),
                    opt_env(&w.environment),
                    w.subject.clone(),
                    w.from.to_rfc3339(),
                    format!(
                        "{}{}",
                        format_secs(w.secs),
                        if w.until.is_none() {
                            " (still waiting)"
                        } else {
                            ""
                        }
                    ),
                ]);
            }
            md.push_str(&t.render());
        }
        md.push_str("\n### Retries\n\n");
        if self.retries.is_empty() {
            md.push_str("None.\n");
        }
        for r in &self.retries {
            md.push_str(&format!(
                "- {} {} in {} at {} by {}\n",
                r.kind,
                cell(&r.subject),
                r.environment,
                r.at.to_rfc3339(),
                r.by
            ));
        }
        md.push_str("\n### Manual interventions\n\n");
        if self.manual_interventions.is_empty() {
            md.push_str("None.\n");
        }
        for i in &self.manual_interventions {
            md.push_str(&format!(
                "- {} **{}**{} by {}{}\n",
                i.at.to_rfc3339(),
                i.action,
                i.environment
                    .as_ref()
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default(),
                i.by,
                i.comment
                    .as_ref()
                    .map(|c| format!(": {}", cell(c)))
                    .unwrap_or_default()
            ));
        }
        md.push_str("\n### Flaky gates\n\n");
        if self.flaky_gates.is_empty() {
            md.push_str("None.\n");
        }
        for f in &self.flaky_gates {
            md.push_str(&format!(
                "- {} in {}: {} ({} flips)\n",
                f.gate,
                f.environment,
                f.verdicts.join(" → "),
                f.flips
            ));
        }
    }
}

impl PostImplementationReview {
    /// The review as pretty JSON (ends with a newline).
    pub fn to_json(&self) -> Result<String> {
        to_json(self, "the post-implementation review")
    }

    /// The review as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "# Post-implementation review: {} (v{})\n\n- **Outcome:** {}\n- **Success criteria met:** {}\n- **Planned:** {} — **actual:** {}\n",
            self.release,
            self.version,
            self.outcome.text,
            if self.success { "yes" } else { "no" },
            format_secs(self.planned_secs),
            format_secs(self.actual_secs)
        );
        md.push_str("\n## Success criteria\n\n");
        let mut t = Table::new(&["Criterion", "Met", "Observed"]);
        for c in &self.success_criteria {
            t.row(vec![
                c.criterion.clone(),
                if c.met { "yes" } else { "no" }.to_owned(),
                c.detail.clone(),
            ]);
        }
        md.push_str(&t.render());

        md.push_str("\n## Timeline: planned and actual\n\n");
        let mut t = Table::new(&[
            "Stage",
            "Status",
            "Attempts",
            "Planned start",
            "Planned",
            "Actual start",
            "Actual",
            "Variance",
        ]);
        for s in &self.timeline {
            t.row(vec![
                s.environment.to_string(),
                format!("{:?}", s.status).to_lowercase(),
                s.attempts.to_string(),
                s.planned_start.to_rfc3339(),
                format_secs(s.planned_secs),
                opt_time(s.actual_start),
                s.actual_secs.map_or_else(|| "—".to_owned(), format_secs),
                s.variance_secs.map_or_else(
                    || "—".to_owned(),
                    |v| {
                        if v > 0 {
                            format!("+{}", format_secs(v))
                        } else {
                            format_secs(v)
                        }
                    },
                ),
            ]);
        }
        md.push_str(&t.render());

        md.push_str("\n## Incidents\n\n");
        if self.incidents.is_empty() {
            md.push_str("None: nothing was rolled back.\n");
        }
        for i in &self.incidents {
            md.push_str(&format!(
                "- **{}**{}: {}\n  - first signal {}: {}\n  - detected {} (time to detect {})\n  - recovered {} (time to recover {})\n",
                i.environment,
                i.component
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                cell(&i.cause),
                i.first_signal.at.to_rfc3339(),
                cell(&i.first_signal.what),
                i.detected_at.to_rfc3339(),
                format_secs(i.time_to_detect_secs),
                opt_time(i.recovered_at),
                i.time_to_recover_secs
                    .map_or_else(|| "—".to_owned(), format_secs),
            ));
            if let Some(rca) = &i.rca {
                md.push_str(&format!("  - root-cause analysis: {rca}\n"));
            }
        }

        md.push_str("\n## Post-deployment issues\n\n");
        if self.issues.is_empty() {
            md.push_str("None reported.\n");
        } else {
            md.push_str(&issue_table(&self.issues));
        }

        md.push_str("\n## Pain points\n");
        self.pain_points.markdown(&mut md, 10);
        md
    }
}

impl PainPointsAcrossReleases {
    /// The aggregate as pretty JSON (ends with a newline).
    pub fn to_json(&self) -> Result<String> {
        to_json(self, "the pain points across releases")
    }

    /// The aggregate as Markdown.
    pub fn to_markdown(&self) -> String {
        let names: Vec<String> = self.releases.iter().map(ToString::to_string).collect();
        let mut md = format!(
            "# Pain points across {} releases\n\nReleases: {}\n\n## Waits\n\n",
            self.releases.len(),
            names.join(", ")
        );
        let mut t = Table::new(&[
            "Wait",
            "Environment",
            "What",
            "Count",
            "Releases",
            "Total",
            "Longest",
        ]);
        for w in &self.waits {
            t.row(vec![
                w.kind.text().to_owned(),
                opt_env(&w.environment),
                w.subject.clone(),
                w.count.to_string(),
                w.releases.to_string(),
                format_secs(w.total_secs),
                format_secs(w.max_secs),
            ]);
        }
        md.push_str(&t.render());
        md.push_str("\n## Retries\n\n");
        let mut t = Table::new(&["Environment", "Kind", "Count", "Releases"]);
        for r in &self.retries {
            t.row(vec![
                r.environment.to_string(),
                r.kind.clone(),
                r.count.to_string(),
                r.releases.to_string(),
            ]);
        }
        md.push_str(&t.render());
        md.push_str("\n## Manual interventions\n\n");
        let mut t = Table::new(&["Action", "Count", "Releases", "People"]);
        for i in &self.interventions {
            t.row(vec![
                i.action.clone(),
                i.count.to_string(),
                i.releases.to_string(),
                i.people.join(", "),
            ]);
        }
        md.push_str(&t.render());
        md.push_str("\n## Flaky gates\n\n");
        let mut t = Table::new(&["Environment", "Gate", "Flips", "Releases"]);
        for f in &self.flaky_gates {
            t.row(vec![
                f.environment.to_string(),
                f.gate.clone(),
                f.flips.to_string(),
                f.releases.to_string(),
            ]);
        }
        md.push_str(&t.render());
        md
    }
}
