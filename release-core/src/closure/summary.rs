//! The release summary for stakeholders (M7.5): changes, final versions per environment,
//! known issues, mitigations and the outcome, in Markdown and JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::markdown::{Table, cell};
use super::records::{FeedbackEntry, Issue, Rca, feedback, issues, rcas};
use super::{ReleaseOutcome, Started, started, to_json};
use crate::error::{Error, Result};
use crate::id::{ChangeId, ChangeRequestId, ComponentId, EnvironmentName, PersonId, ReleaseId};
use crate::ledger::{Event, Record};
use crate::plan::{Plan, PlanOptions, plan_release};

/// One change the release carries, with its change request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChangeLine {
    /// The change.
    pub id: ChangeId,
    /// Its one-line summary, if written.
    pub summary: Option<String>,
    /// The change request it is done under.
    pub request: ChangeRequestId,
    /// The request's kind (`standard`, `normal`, `emergency`), when the release lists it.
    pub request_kind: Option<String>,
    /// The request's assessed risk.
    pub risk: Option<String>,
    /// Components it touches.
    pub components: Vec<ComponentId>,
    /// Who wrote it.
    pub author: Option<PersonId>,
}

/// Where an environment ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentStatus {
    /// Its last stage attempt completed: it runs the release.
    Deployed,
    /// It rolled back: it runs what ran before.
    RolledBack,
    /// The release is deploying it (or waits in it).
    InProgress,
    /// The release never reached it.
    NotReached,
}

impl EnvironmentStatus {
    fn text(self) -> &'static str {
        match self {
            Self::Deployed => "deployed",
            Self::RolledBack => "rolled back",
            Self::InProgress => "in progress",
            Self::NotReached => "not reached",
        }
    }
}

/// The versions one environment runs after the release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EnvironmentVersions {
    /// The environment.
    pub environment: EnvironmentName,
    /// Where it ended up.
    pub status: EnvironmentStatus,
    /// Component → version (several joined with `, ` while a canary runs beside stable;
    /// `none` when the component did not run before a rollback).
    pub versions: BTreeMap<ComponentId, String>,
}

/// Something that limits the damage of a problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Mitigation {
    /// `rollback`, `workaround` (of an open issue) or `fix` (of a resolved one).
    pub kind: String,
    /// The environment.
    pub environment: EnvironmentName,
    /// What was done.
    pub text: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The release summary for stakeholders (M7.5).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReleaseSummary {
    /// The release.
    pub release: ReleaseId,
    /// Its version.
    pub version: String,
    /// Full, delta or emergency.
    pub kind: String,
    /// The release manager.
    pub release_manager: PersonId,
    /// Their backup.
    pub backup_manager: PersonId,
    /// Who started it.
    pub started_by: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: ReleaseOutcome,
    /// The changes it carries.
    pub changes: Vec<ChangeLine>,
    /// Versions per environment, in lifecycle order.
    pub environments: Vec<EnvironmentVersions>,
    /// Issues still open.
    pub known_issues: Vec<Issue>,
    /// Issues resolved.
    pub resolved_issues: Vec<Issue>,
    /// Rollbacks, workarounds and fixes.
    pub mitigations: Vec<Mitigation>,
    /// Root-cause analyses opened by rollbacks.
    pub rcas: Vec<Rca>,
    /// Feedback from early users and internal teams.
    pub feedback: Vec<FeedbackEntry>,
}

/// The stakeholders' summary of the release whose journal `records` is.
pub fn release_summary(records: &[Record]) -> Result<ReleaseSummary> {
    let start = started(records)?;
    let release = start.release;
    let plan = plan_of(&start)?;
    let changes = release
        .changes
        .iter()
        .map(|c| {
            let request = release.change_request(c.request.as_str());
            ChangeLine {
                id: c.id.clone(),
                summary: c.summary.clone(),
                request: c.request.clone(),
                request_kind: request.map(|r| name_of(&r.kind)),
                risk: request.map(|r| name_of(&r.risk)),
                components: c.components.clone(),
                author: c.author.clone(),
            }
        })
        .collect();
    let all_issues = issues(records);
    let (known_issues, resolved_issues): (Vec<Issue>, Vec<Issue>) =
        all_issues.iter().cloned().partition(Issue::is_open);
    let environments = final_versions(records, &plan);
    let mut mitigations = rollback_mitigations(records, &environments);
    for issue in &all_issues {
        let (kind, text, at) = match (&issue.resolution, &issue.mitigation) {
            (Some(res), _) => ("fix", res.resolution.clone(), res.at),
            (None, Some(m)) => ("workaround", m.clone(), issue.reported_at),
            (None, None) => continue,
        };
        mitigations.push(Mitigation {
            kind: kind.to_owned(),
            environment: issue.environment.clone(),
            text: format!("{}: {text}", issue.id),
            at,
        });
    }
    mitigations.sort_by_key(|m| m.at);
    Ok(ReleaseSummary {
        release: release.id().clone(),
        version: release.version.to_string(),
        kind: release.kind.to_string(),
        release_manager: release.release_manager.primary.clone(),
        backup_manager: release.release_manager.backup.clone(),
        started_by: start.record.actor.clone(),
        started_at: start.record.at,
        outcome: ReleaseOutcome::of(records),
        changes,
        environments,
        known_issues,
        resolved_issues,
        mitigations,
        rcas: rcas(records),
        feedback: feedback(records),
    })
}

/// The plan the release started with (the planner is deterministic).
pub(super) fn plan_of(start: &Started<'_>) -> Result<Plan> {
    plan_release(start.platform, start.release, &PlanOptions::default()).map_err(|e| {
        Error::Invalid(format!(
            "the release {} in the journal cannot be planned again: {e}",
            start.release.id()
        ))
    })
}

/// A serde enum's name as written in manifests.
pub(super) fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn final_versions(records: &[Record], plan: &Plan) -> Vec<EnvironmentVersions> {
    plan.stages
        .iter()
        .map(|stage| {
            let env = &stage.environment;
            let mut status = EnvironmentStatus::NotReached;
            let mut previous = None;
            for r in records {
                match &r.event {
                    Event::StageStarted { environment, .. } if environment == env => {
                        status = EnvironmentStatus::InProgress;
                    }
                    Event::StageCompleted { environment } if environment == env => {
                        status = EnvironmentStatus::Deployed;
                    }
                    Event::RollbackCompleted { environment } if environment == env => {
                        status = EnvironmentStatus::RolledBack;
                    }
                    Event::RollbackPlanned {
                        environment,
                        components,
                        ..
                    } if environment == env => previous = Some(components),
                    _ => {}
                }
            }
            let versions = match status {
                EnvironmentStatus::Deployed => stage
                    .steps()
                    .map(|s| (s.component.clone(), s.version.to_string()))
                    .collect(),
                EnvironmentStatus::RolledBack => previous
                    .into_iter()
                    .flatten()
                    .map(|entry| {
                        let mut versions: Vec<String> = entry
                            .previous
                            .iter()
                            .map(|s| s.spec.version.to_string())
                            .collect();
                        versions.sort();
                        versions.dedup();
                        let text = if versions.is_empty() {
                            "none".to_owned()
                        } else {
                            versions.join(", ")
                        };
                        (entry.component.clone(), text)
                    })
                    .collect(),
                EnvironmentStatus::InProgress | EnvironmentStatus::NotReached => BTreeMap::new(),
            };
            EnvironmentVersions {
                environment: env.clone(),
                status,
                versions,
            }
        })
        .collect()
}

fn rollback_mitigations(records: &[Record], envs: &[EnvironmentVersions]) -> Vec<Mitigation> {
    let mut reason = BTreeMap::new();
    let mut out = Vec::new();
    for r in records {
        match &r.event {
            Event::RollbackStarted {
                environment,
                reason: why,
            } => {
                reason.insert(environment.clone(), why.clone());
            }
            Event::RollbackCompleted { environment } => {
                let back_to = envs
                    .iter()
                    .find(|e| &e.environment == environment)
                    .map(|e| {
                        e.versions
                            .iter()
                            .map(|(c, v)| format!("{c} {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                let why = reason.get(environment).cloned().unwrap_or_default();
                out.push(Mitigation {
                    kind: "rollback".to_owned(),
                    environment: environment.clone(),
                    text: format!("{environment} rolled back to {back_to} after: {why}"),
                    at: r.at,
                });
            }
            _ => {}
        }
    }
    out
}

impl ReleaseSummary {
    /// The summary as pretty JSON (ends with a newline).
    pub fn to_json(&self) -> Result<String> {
        to_json(self, "the release summary")
    }

    /// The summary as Markdown, for release notes and e-mail.
    pub fn to_markdown(&self) -> String {
        let mut md = format!("# Release {} (v{})\n\n", self.release, self.version);
        md.push_str(&format!(
            "- **Outcome:** {}\n- **Type:** {}\n- **Release manager:** {} (backup {})\n- **Started:** {} by {}\n",
            self.outcome.text,
            self.kind,
            self.release_manager,
            self.backup_manager,
            self.started_at.to_rfc3339(),
            self.started_by
        ));
        if let Some(at) = self.outcome.finished_at {
            md.push_str(&format!("- **Finished:** {}\n", at.to_rfc3339()));
        }

        md.push_str("\n## Changes\n\n");
        if self.changes.is_empty() {
            md.push_str("No changes are listed.\n");
        } else {
            let mut t = Table::new(&["Change", "Summary", "Request", "Kind", "Risk", "Components"]);
            for c in &self.changes {
                t.row(vec![
                    c.id.to_string(),
                    c.summary.clone().unwrap_or_default(),
                    c.request.to_string(),
                    c.request_kind.clone().unwrap_or_default(),
                    c.risk.clone().unwrap_or_default(),
                    join(&c.components),
                ]);
            }
            md.push_str(&t.render());
        }

        md.push_str("\n## Versions per environment\n\n");
        let mut t = Table::new(&["Environment", "Status", "Versions"]);
        for e in &self.environments {
            let versions = e
                .versions
                .iter()
                .map(|(c, v)| format!("{c} {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            t.row(vec![
                e.environment.to_string(),
                e.status.text().to_owned(),
                if versions.is_empty() {
                    "—".to_owned()
                } else {
                    versions
                },
            ]);
        }
        md.push_str(&t.render());

        md.push_str("\n## Known issues\n\n");
        if self.known_issues.is_empty() {
            md.push_str("None open.\n");
        } else {
            md.push_str(&issue_table(&self.known_issues));
        }
        if !self.resolved_issues.is_empty() {
            md.push_str("\n### Resolved\n\n");
            md.push_str(&issue_table(&self.resolved_issues));
        }

        md.push_str("\n## Mitigations\n\n");
        if self.mitigations.is_empty() {
            md.push_str("None were needed.\n");
        }
        for m in &self.mitigations {
            md.push_str(&format!(
                "- **{}** ({}, {}): {}\n",
                m.kind,
                m.environment,
                m.at.to_rfc3339(),
                cell(&m.text)
            ));
        }

        if !self.rcas.is_empty() {
            md.push_str("\n## Root-cause analyses\n\n");
            for rca in &self.rcas {
                let state = match &rca.closure {
                    Some(c) => format!("closed by {}: {} — cause: {}", c.by, c.summary, c.cause),
                    None => "open".to_owned(),
                };
                md.push_str(&format!(
                    "- **{}** ({}; {}): {}\n",
                    rca.id,
                    join(&rca.components),
                    cell(&rca.reason),
                    cell(&state)
                ));
            }
        }

        if !self.feedback.is_empty() {
            md.push_str("\n## Feedback\n\n");
            for f in &self.feedback {
                md.push_str(&format!(
                    "- *{}* from {}: {}\n",
                    f.sentiment,
                    f.from,
                    cell(&f.text)
                ));
            }
        }
        md
    }
}

pub(super) fn issue_table(issues: &[Issue]) -> String {
    let mut t = Table::new(&[
        "Issue",
        "Severity",
        "Environment",
        "Component",
        "Owner",
        "Title",
        "State",
    ]);
    for i in issues {
        t.row(vec![
            i.id.clone(),
            i.severity.to_string(),
            i.environment.to_string(),
            i.component
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            i.owner.to_string(),
            i.title.clone(),
            match &i.resolution {
                Some(r) => format!("resolved: {}", r.resolution),
                None => "open".to_owned(),
            },
        ]);
    }
    t.render()
}

pub(super) fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
