//! The migration rehearsal gate (`migration_rehearsal`, M4.5): a release that migrates data
//! enters the environment only after its exact migration set passed a rehearsal on a clone.
//!
//! For every component the release ships that declares migrations in the platform, the gate
//! looks for a [`RehearsalReport`] recorded as evidence (kind `migration_rehearsal`, see
//! [`RehearsalReport::evidence`]) for that component and for exactly the set digest the release
//! pins in `components.<id>.migrations.digest`. Decisions:
//! - **Which environment's clone counts:** a report recorded for the gated environment (a
//!   clone of the database the migration will hit), or one recorded for the whole release.
//!   A rehearsal on staging's data does not prove production's.
//! - **Unpinned digest fails:** without a pin, "this exact set" means nothing; the fix names
//!   the field. A pinned set never rehearsed, or only other digests rehearsed, waits (the
//!   rehearsal can still be run and recorded); the newest matching report failing fails, with
//!   its failed checks; one older than `max_age` waits.
//! - A release that ships no migrations passes.

use release_core::migration::{REHEARSAL_EVIDENCE_KIND, RehearsalReport};
use release_core::model::GateSpec;
use release_core::plugin::{GateVerdict, Reason};

use super::GatesError;
use super::evidence::{EvidencePayload, find_evidence};
use super::policy::GateInput;

impl EvidencePayload for RehearsalReport {
    const KIND: &'static str = REHEARSAL_EVIDENCE_KIND;
}

/// The gate requiring a passing rehearsal of each shipped migration set.
#[derive(Clone, Debug, Default)]
pub struct MigrationRehearsalGate;

impl MigrationRehearsalGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let max_age = match context.spec {
            GateSpec::MigrationRehearsal { max_age } => *max_age,
            _ => None,
        };
        let env = context.environment;
        let reports: Vec<RehearsalReport> =
            find_evidence::<RehearsalReport>(context.events, Some(env))
                .into_iter()
                .filter_map(|f| f.payload.ok())
                .collect();
        let mut passes = Vec::new();
        let mut waits = Vec::new();
        let mut fails = Vec::new();
        for (id, version) in &context.release.components {
            let declares = context
                .platform
                .component(id.as_str())
                .is_some_and(|c| c.migrations.is_some());
            if !declares {
                continue;
            }
            let Some(pinned) = version.migrations.as_ref().and_then(|m| m.digest) else {
                fails.push(Reason::new(
                    "migration_rehearsal.unpinned",
                    format!(
                        "{id} ships migrations but the release does not pin their digest; set `components.{id}.migrations.digest` to the digest of the set that was rehearsed"
                    ),
                ));
                continue;
            };
            let mine: Vec<&RehearsalReport> =
                reports.iter().filter(|r| &r.component == id).collect();
            let newest = mine
                .iter()
                .filter(|r| r.set_digest == pinned && r.rehearsed_at <= context.now)
                .max_by_key(|r| r.rehearsed_at);
            match newest {
                None => {
                    let others: Vec<String> =
                        mine.iter().map(|r| r.set_digest.to_string()).collect();
                    waits.push(Reason::new(
                        "migration_rehearsal.missing",
                        if others.is_empty() {
                            format!(
                                "no rehearsal of the migration set {pinned} of {id} on a clone of {env}; rehearse it and record the report"
                            )
                        } else {
                            format!(
                                "the migration set {pinned} of {id} was not rehearsed on a clone of {env}; only {} were — rehearse the pinned set",
                                others.join(", ")
                            )
                        },
                    ));
                }
                Some(r) if !r.passed() => {
                    let failed: Vec<String> = r
                        .failures()
                        .map(|c| format!("{}: {}", c.name, c.message))
                        .collect();
                    fails.push(Reason::new(
                        "migration_rehearsal.failed",
                        format!(
                            "the rehearsal of the migration set {pinned} of {id} on a clone of {} at {} failed: {}",
                            r.environment,
                            r.rehearsed_at,
                            if failed.is_empty() {
                                "the down migrations did not restore the original".to_owned()
                            } else {
                                failed.join("; ")
                            }
                        ),
                    ));
                }
                Some(r) => {
                    let max = max_age.map(|a| {
                        chrono::Duration::from_std(a.as_duration()).unwrap_or(chrono::Duration::MAX)
                    });
                    if let (Some(max), Some(age)) = (max, max_age)
                        && context.now - r.rehearsed_at > max
                    {
                        waits.push(Reason::new(
                            "migration_rehearsal.too_old",
                            format!(
                                "the rehearsal of the migration set {pinned} of {id} is from {}, older than {age}; rehearse it again",
                                r.rehearsed_at
                            ),
                        ));
                    } else {
                        passes.push(Reason::new(
                            "migration_rehearsal.passed",
                            format!(
                                "the migration set {pinned} of {id} passed its rehearsal on a clone of {} at {} ({} checks)",
                                r.environment,
                                r.rehearsed_at,
                                r.checks.len()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(if !fails.is_empty() {
            fails.extend(waits);
            GateVerdict::Fail { reasons: fails }
        } else if !waits.is_empty() {
            GateVerdict::Wait {
                until: None,
                reasons: waits,
            }
        } else if passes.is_empty() {
            GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "migration_rehearsal.none",
                    "the release ships no migrations",
                )],
            }
        } else {
            GateVerdict::Pass { reasons: passes }
        })
    }
}

crate::promotion::policy::gate_via_input!(MigrationRehearsalGate, "MigrationRehearsalGate");
