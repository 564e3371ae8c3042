//! Evidence and record checks at deploy time: change requests (M1.1, M1.2), configuration
//! baseline (M2.4), verified backups (M2.6) and runbook acknowledgement (M6.4).
//!
//! Decisions: missing evidence makes a gate **wait** (someone can still record it and resume
//! the release); evidence that contradicts the requirement makes it **fail**. Every problem
//! is listed, not only the first. A change request without a window limits nothing in time
//! (standard changes are pre-approved). A runbook acknowledgement counts when the person
//! belongs to the team according to the configured team directory; a team the directory does
//! not know accepts anyone's acknowledgement in its name.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use release_core::config::{ConfigDrift, diff_rendered, render_component};
use release_core::id::{PersonId, TeamName};
use release_core::model::{ChangeRequestKind, ChangeRequestState, GateSpec, Release};
use release_core::plugin::{GateVerdict, Reason};

use super::GatesError;
use super::evidence::{BackupVerified, ConfigBaseline, RunbookAck, find_evidence};
use super::policy::GateInput;

fn verdict(failed: bool, waiting: bool, reasons: Vec<Reason>) -> GateVerdict {
    if failed {
        GateVerdict::Fail { reasons }
    } else if waiting {
        GateVerdict::Wait {
            until: None,
            reasons,
        }
    } else {
        GateVerdict::Pass { reasons }
    }
}

/// Every change's request approved, covering its components, and its window open at `now`.
pub fn evaluate_change_requests(release: &Release, now: DateTime<Utc>) -> GateVerdict {
    let mut reasons = Vec::new();
    let mut failed = false;
    for change in &release.changes {
        let Some(request) = release.change_request(change.request.as_str()) else {
            failed = true;
            reasons.push(Reason::new(
                "change_request.unknown",
                format!(
                    "change {} cites {}, which the release does not list",
                    change.id, change.request
                ),
            ));
            continue;
        };
        let approved = match request.state {
            ChangeRequestState::Approved => true,
            ChangeRequestState::ApprovedExpedited => request.kind == ChangeRequestKind::Emergency,
            _ => false,
        };
        if !approved {
            failed = true;
            reasons.push(Reason::new(
                "change_request.not_approved",
                format!(
                    "change {}: request {} is {} ({} request)",
                    change.id,
                    request.id,
                    request.state,
                    format!("{:?}", request.kind).to_lowercase()
                ),
            ));
        }
        for component in &change.components {
            if !request.configuration_items.contains(component) {
                failed = true;
                reasons.push(Reason::new(
                    "change_request.uncovered",
                    format!(
                        "change {} touches {component}, which request {} does not cover",
                        change.id, request.id
                    ),
                ));
            }
        }
        if let Some(window) = &request.window {
            let now_fixed = now.fixed_offset();
            if !(window.from <= now_fixed && now_fixed < window.to) {
                failed = true;
                reasons.push(Reason::new(
                    "change_request.outside_window",
                    format!(
                        "change {}: request {} is approved for {} – {}, not now ({})",
                        change.id,
                        request.id,
                        window.from,
                        window.to,
                        now.to_rfc3339()
                    ),
                ));
            }
        }
    }
    if !failed {
        reasons.push(Reason::new(
            "change_request.ok",
            format!(
                "{} change(s) under approved requests, inside their windows",
                release.changes.len()
            ),
        ));
    }
    verdict(failed, false, reasons)
}

/// The change-request gate (`change_request`).
#[derive(Clone, Debug, Default)]
pub struct ChangeRequestGate;

impl ChangeRequestGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        Ok(evaluate_change_requests(context.release, context.now))
    }
}

/// The configuration-baseline gate (`config_baseline`): each shipped component's rendered
/// configuration for the environment has the approved baseline's digest.
#[derive(Clone, Debug, Default)]
pub struct ConfigBaselineGate;

impl ConfigBaselineGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let env = context.environment;
        let Some(environment) = context.platform.environment(env.as_str()) else {
            return Ok(GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "config_baseline.unknown_environment",
                    format!("the platform has no environment {env}"),
                )],
            });
        };
        let baselines = find_evidence::<ConfigBaseline>(context.events, Some(env));
        let mut reasons = Vec::new();
        let (mut failed, mut waiting) = (false, false);
        for (id, version) in &context.release.components {
            let Some(component) = context.platform.component(id.as_str()) else {
                continue;
            };
            if component.config.is_empty() {
                continue;
            }
            let rendered = match render_component(
                context.platform,
                component,
                environment,
                Some(&version.version),
            ) {
                Ok(r) => r,
                Err(errors) => {
                    failed = true;
                    reasons.push(Reason::new(
                        "config_baseline.render_failed",
                        format!("{id} cannot be rendered for {env}: {errors}"),
                    ));
                    continue;
                }
            };
            let baseline = baselines
                .iter()
                .filter_map(|f| f.payload.as_ref().ok())
                .rfind(|b| &b.component == id && &b.environment == env);
            let Some(baseline) = baseline else {
                waiting = true;
                reasons.push(Reason::new(
                    "config_baseline.missing",
                    format!("no approved configuration baseline for {id} in {env}; record `config_baseline` evidence"),
                ));
                continue;
            };
            let digest = rendered.digest();
            if digest == baseline.digest {
                reasons.push(Reason::new(
                    "config_baseline.match",
                    format!("{id} in {env} matches its baseline {digest}"),
                ));
                continue;
            }
            failed = true;
            let detail = match &baseline.rendered {
                Some(approved) => diff_rendered(approved, &rendered)
                    .iter()
                    .map(ConfigDrift::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                None => {
                    "record the baseline with its rendered configuration to see which keys".into()
                }
            };
            reasons.push(Reason::new(
                "config_baseline.drift",
                format!(
                    "{id} in {env} drifted from its baseline ({} ≠ {}): {detail}",
                    digest, baseline.digest
                ),
            ));
        }
        if reasons.is_empty() {
            reasons.push(Reason::new(
                "config_baseline.none",
                "no shipped component has configuration templates",
            ));
        }
        Ok(verdict(failed, waiting, reasons))
    }
}

/// The backup gate (`backup_verified`): the newest backup evidence for the environment was
/// restored and verified within `max_age`.
#[derive(Clone, Debug, Default)]
pub struct BackupVerifiedGate;

impl BackupVerifiedGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let max_age = match &context.spec {
            GateSpec::BackupVerified { max_age } => *max_age,
            _ => release_core::model::HumanDuration::from_mins(24 * 60),
        };
        let env = context.environment;
        let found: Vec<BackupVerified> = find_evidence::<BackupVerified>(context.events, Some(env))
            .into_iter()
            .filter(|f| f.environment == Some(env))
            .filter_map(|f| f.payload.ok())
            .collect();
        let max =
            chrono::Duration::from_std(max_age.as_duration()).unwrap_or(chrono::Duration::MAX);
        let good = found
            .iter()
            .filter(|b| b.restored && b.verified && b.verified_at <= context.now)
            .max_by_key(|b| b.verified_at);
        match good {
            Some(b) if context.now - b.verified_at <= max => Ok(GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "backup.verified",
                    format!(
                        "backup {} of {env} restored and verified at {}",
                        b.backup, b.verified_at
                    ),
                )],
            }),
            Some(b) => Ok(GateVerdict::Wait {
                until: None,
                reasons: vec![Reason::new(
                    "backup.too_old",
                    format!(
                        "the newest verified backup of {env} ({}) is from {}, older than {max_age}; take, restore and verify a new one",
                        b.backup, b.verified_at
                    ),
                )],
            }),
            None => {
                let unverified = found.iter().any(|b| !b.restored || !b.verified);
                Ok(GateVerdict::Wait {
                    until: None,
                    reasons: vec![Reason::new(
                        "backup.missing",
                        if unverified {
                            format!(
                                "backups of {env} were recorded but none was both restored and verified"
                            )
                        } else {
                            format!(
                                "no verified backup of {env} recorded; record `backup_verified` evidence for {env}"
                            )
                        },
                    )],
                })
            }
        }
    }
}

/// The runbook gate (`runbook_ack`).
#[derive(Clone, Debug, Default)]
pub struct RunbookAckGate {
    teams: BTreeMap<TeamName, BTreeSet<PersonId>>,
}

impl RunbookAckGate {
    /// A gate checking membership against `teams` (team → members).
    pub fn new(teams: BTreeMap<TeamName, BTreeSet<PersonId>>) -> Self {
        Self { teams }
    }
}

impl RunbookAckGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let Some(team) = (match &context.spec {
            GateSpec::RunbookAck { team } => Some(team),
            _ => None,
        }) else {
            return Ok(GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "runbook.no_team",
                    "runbook_ack gate without a team",
                )],
            });
        };
        let mut reasons = Vec::new();
        for found in find_evidence::<RunbookAck>(context.events, Some(context.environment)) {
            let Ok(ack) = found.payload else { continue };
            if &ack.team != team {
                continue;
            }
            match self.teams.get(team) {
                Some(members) if !members.contains(&ack.person) => reasons.push(Reason::new(
                    "runbook.not_member",
                    format!("{} acknowledged for {team} but is not a member", ack.person),
                )),
                _ => {
                    return Ok(GateVerdict::Pass {
                        reasons: vec![Reason::new(
                            "runbook.acknowledged",
                            format!("runbook acknowledged by {} for {team}", ack.person),
                        )],
                    });
                }
            }
        }
        reasons.push(Reason::new(
            "runbook.missing",
            format!(
                "{team} has not acknowledged the runbook of release {}",
                context.release.id()
            ),
        ));
        Ok(GateVerdict::Wait {
            until: None,
            reasons,
        })
    }
}

crate::promotion::policy::gate_via_input!(ChangeRequestGate, "ChangeRequestGate");

crate::promotion::policy::gate_via_input!(ConfigBaselineGate, "ConfigBaselineGate");

crate::promotion::policy::gate_via_input!(BackupVerifiedGate, "BackupVerifiedGate");

crate::promotion::policy::gate_via_input!(RunbookAckGate, "RunbookAckGate");
