//! The fold: a release's state rebuilt from its journal. Nothing else is persisted, so this
//! is what `resume`, `status` and every report start from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::maps::{SortedMap, StepMap};
use crate::digest::Sha256Digest;
use crate::id::{EnvironmentName, ReleaseId};
use crate::ledger::{Decision, Event, OperatorAction, Outcome, Program, Record, RollbackEntry};
use crate::model::{Platform, Release};
use crate::plugin::GatePosition;

/// Where one step is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Journaled as started, not finished (a crash, a pause, or still running).
    Started {
        /// When it started.
        at: DateTime<Utc>,
        /// The record that started it.
        seq: u64,
    },
    /// Finished.
    Succeeded,
    /// Failed.
    Failed {
        /// Why.
        error: String,
        /// The record that failed it.
        seq: u64,
    },
}

/// What the journal says about one stage (environment).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StageState {
    /// The current attempt (1 for the first).
    pub attempt: u32,
    /// A `StageStarted` for this attempt was journaled.
    pub started: bool,
    /// Gates that passed in this attempt.
    pub gates_passed: BTreeSet<(GatePosition, String)>,
    /// The rollback plan captured before deploying (M8.3).
    pub rollback_plan: Option<Vec<RollbackEntry>>,
    /// When the watch window ends, once started.
    pub watch_until: Option<DateTime<Utc>>,
    /// The watch window passed without a trigger.
    pub watch_completed: bool,
    /// A rollback started.
    pub rollback_started: Option<String>,
    /// The rollback finished.
    pub rolled_back: bool,
    /// The stage completed.
    pub completed: bool,
    /// Triggers that fired, newest last.
    pub triggers: Vec<String>,
    /// Sequence number of the last trigger, to tell whether an operator resumed after it.
    pub last_trigger_seq: u64,
}

/// A release's state, folded from its records.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReleaseState {
    /// The release.
    pub release: Option<ReleaseId>,
    /// The platform as started.
    #[serde(skip)]
    pub platform: Option<Arc<Platform>>,
    /// The release document as started.
    #[serde(skip)]
    pub spec: Option<Arc<Release>>,
    /// Digest of the plan at start.
    pub plan_digest: Option<Sha256Digest>,
    /// Who started it.
    pub started_by: Option<String>,
    /// The last record folded.
    pub last_seq: u64,
    /// Per environment.
    pub stages: SortedMap<EnvironmentName, StageState>,
    /// Per step.
    pub steps: StepMap,
    /// An operator paused the release (and has not resumed it).
    pub paused_by_operator: bool,
    /// An operator asked to abort.
    pub abort_requested: bool,
    /// An operator asked to skip remaining pauses and analyses (per stage attempt).
    pub promote_full: BTreeSet<(EnvironmentName, u32)>,
    /// Sequence numbers of `promote` / `resume` actions (a pause-until-approved step that
    /// started before one of them is done).
    pub promotions: Vec<u64>,
    /// Approvals and rejections: (environment, decision, actor, seq).
    pub approvals: Vec<(EnvironmentName, Decision, String, u64)>,
    /// The stage the release is in.
    pub current_stage: Option<EnvironmentName>,
    /// How it ended, if it did.
    pub finished: Option<Outcome>,
    /// The most recent reason it paused, if it is waiting.
    pub waiting: Option<String>,
    /// Journaled rollback programs by (environment, attempt, component).
    pub rollback_programs:
        BTreeMap<(EnvironmentName, u32, crate::id::ComponentId), Vec<crate::plugin::RolloutStep>>,
}

impl ReleaseState {
    /// Folds a whole journal.
    pub fn fold(records: &[Record]) -> Self {
        let mut s = Self::default();
        for r in records {
            s.apply(r);
        }
        s
    }

    /// Stage state (default when never touched).
    pub fn stage(&self, environment: &EnvironmentName) -> StageState {
        self.stages.get(environment).cloned().unwrap_or_default()
    }

    /// The attempt the stage is on (at least 1).
    pub fn attempt(&self, environment: &EnvironmentName) -> u32 {
        self.stages.get(environment).map_or(1, |s| s.attempt.max(1))
    }

    /// Components with any deploy step journaled in this stage attempt.
    pub fn touched(&self, environment: &EnvironmentName, attempt: u32) -> BTreeSet<String> {
        self.steps
            .components(environment, attempt, Program::Deploy)
            .map(|c| c.to_string())
            .collect()
    }

    /// Folds one record.
    pub fn apply(&mut self, record: &Record) {
        self.last_seq = record.seq;
        match &record.event {
            Event::ReleaseStarted {
                platform,
                release,
                plan_digest,
            } => {
                self.release = Some(record.release.clone());
                // Shared with the record, not copied (issue #10).
                self.platform = Some(Arc::clone(platform));
                self.spec = Some(Arc::clone(release));
                self.plan_digest = Some(*plan_digest);
                self.started_by = Some(record.actor.clone());
            }
            Event::StageStarted {
                environment,
                attempt,
            } => {
                let st = self.stages.get_or_default(environment.clone());
                st.attempt = *attempt;
                st.started = true;
                self.current_stage = Some(environment.clone());
                self.waiting = None;
            }
            Event::GateEvaluated {
                environment,
                position,
                gate,
                verdict,
                ..
            } => {
                let st = self.stages.get_or_default(environment.clone());
                if verdict.passed() {
                    st.gates_passed.insert((*position, gate.clone()));
                }
            }
            Event::RollbackPlanned {
                environment,
                components,
                ..
            } => {
                self.stages
                    .get_or_default(environment.clone())
                    .rollback_plan = Some(components.clone());
            }
            Event::StepStarted { key, .. } => {
                self.steps.insert(
                    key.clone(),
                    StepState::Started {
                        at: record.at,
                        seq: record.seq,
                    },
                );
                self.waiting = None;
            }
            Event::StepSucceeded { key } => {
                self.steps.insert(key.clone(), StepState::Succeeded);
            }
            Event::StepFailed { key, error } => {
                self.steps.insert(
                    key.clone(),
                    StepState::Failed {
                        error: error.clone(),
                        seq: record.seq,
                    },
                );
            }
            Event::TriggerFired {
                environment,
                trigger,
                observed,
                ..
            } => {
                let st = self.stages.get_or_default(environment.clone());
                st.triggers.push(format!("{trigger} ({observed})"));
                st.last_trigger_seq = record.seq;
            }
            Event::WatchStarted { environment, until } => {
                self.stages.get_or_default(environment.clone()).watch_until = Some(*until);
            }
            Event::WatchCompleted { environment } => {
                self.stages
                    .get_or_default(environment.clone())
                    .watch_completed = true;
            }
            Event::Paused { reason, .. } => {
                self.waiting = Some(reason.clone());
            }
            Event::OperatorActed { action, .. } => self.operator(*action, record.seq),
            Event::ApprovalRecorded {
                environment,
                decision,
                ..
            } => {
                self.approvals.push((
                    environment.clone(),
                    *decision,
                    record.actor.clone(),
                    record.seq,
                ));
            }
            Event::RollbackStarted {
                environment,
                reason,
            } => {
                self.stages
                    .get_or_default(environment.clone())
                    .rollback_started = Some(reason.clone());
            }
            Event::RollbackProgrammed {
                environment,
                attempt,
                component,
                steps,
            } => {
                self.rollback_programs.insert(
                    (environment.clone(), *attempt, component.clone()),
                    steps.clone(),
                );
            }
            Event::RollbackCompleted { environment } => {
                self.stages.get_or_default(environment.clone()).rolled_back = true;
            }
            Event::StageCompleted { environment } => {
                self.stages.get_or_default(environment.clone()).completed = true;
            }
            Event::ReleaseFinished { outcome } => {
                self.finished = Some(outcome.clone());
                self.waiting = None;
            }
            Event::LockAcquired { .. }
            | Event::LockReleased { .. }
            | Event::ProbeChecked { .. }
            | Event::AnalysisCompleted { .. }
            | Event::EvidenceRecorded { .. }
            | Event::IssueReported(_)
            | Event::IssueResolved { .. }
            | Event::FeedbackRecorded(_)
            | Event::RcaOpened(_)
            | Event::RcaClosed(_)
            | Event::MetricsSampled(_)
            | Event::BackupTaken { .. }
            | Event::MigrationApplied { .. }
            | Event::DataRestored { .. } => {}
        }
    }

    fn operator(&mut self, action: OperatorAction, seq: u64) {
        match action {
            OperatorAction::Pause => self.paused_by_operator = true,
            OperatorAction::Resume => {
                self.paused_by_operator = false;
                self.promotions.push(seq);
            }
            OperatorAction::Abort => self.abort_requested = true,
            OperatorAction::PromoteFull => {
                if let Some(env) = &self.current_stage {
                    let attempt = self.attempt(env);
                    self.promote_full.insert((env.clone(), attempt));
                }
                self.promotions.push(seq);
            }
            OperatorAction::Retry => {
                // A retry reopens a release that ended in a rollback or a failed gate: the
                // stage that failed starts over as a new attempt.
                if let Some(env) = self.failed_stage() {
                    let st = self.stages.get_or_default(env);
                    let attempt = st.attempt.max(1) + 1;
                    *st = StageState {
                        attempt,
                        ..StageState::default()
                    };
                }
                self.finished = None;
                self.abort_requested = false;
                self.paused_by_operator = false;
                self.waiting = None;
            }
        }
    }

    fn failed_stage(&self) -> Option<EnvironmentName> {
        match &self.finished {
            Some(Outcome::RolledBack { environment, .. })
            | Some(Outcome::GateFailed { environment, .. }) => Some(environment.clone()),
            Some(Outcome::Aborted { environment }) => environment.clone(),
            _ => None,
        }
    }

    /// True when an approval for `environment` was recorded after sequence number `after`
    /// and no rejection: (approvers, rejected).
    pub fn approvals_for(&self, environment: &EnvironmentName) -> (Vec<String>, bool) {
        let mut approvers: Vec<String> = Vec::new();
        let mut rejected = false;
        for (env, decision, actor, _) in &self.approvals {
            if env == environment {
                match decision {
                    Decision::Approve => {
                        if !approvers.contains(actor) {
                            approvers.push(actor.clone());
                        }
                    }
                    Decision::Reject => rejected = true,
                }
            }
        }
        approvers.sort();
        (approvers, rejected)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::id::ReleaseId;
    use crate::ledger::{EventDraft, InMemoryLedger, Ledger};
    use crate::manifest::{Document, Format, parse_str};

    /// A platform and a release of one component (for tests in this crate).
    pub(crate) fn documents() -> (Platform, Release) {
        let text = r#"
apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: api, owner: { primary: a@x, backup: b@x } }
environments:
  - { name: prod, tier: production }
lifecycle:
  phases:
    - { name: release, environments: [prod] }
---
apiVersion: release/v1
kind: Release
metadata: { id: api-1.0.0 }
version: 1.0.0
platform: shop
type: full
release_manager: { primary: a@x, backup: c@x }
change_requests:
  - { id: CR-1, kind: normal, state: approved, configuration_items: [api] }
changes:
  - { id: CHG-1, request: CR-1, components: [api] }
components:
  api: { version: 1.0.0 }
"#;
        let mut docs = parse_str(text, "docs.yaml", Format::Yaml)
            .unwrap()
            .into_iter();
        let (Some(Document::Platform(p)), Some(Document::Release(r))) = (docs.next(), docs.next())
        else {
            panic!("a platform and a release")
        };
        (p.value, r.value)
    }

    #[tokio::test]
    async fn folding_the_start_shares_the_platform_and_release() {
        let (platform, release) = documents();
        let (platform, release) = (Arc::new(platform), Arc::new(release));
        let draft = EventDraft::new(
            ReleaseId::from("api-1.0.0"),
            chrono::DateTime::UNIX_EPOCH,
            "ops",
            vec!["CHG-1".into()],
            Event::ReleaseStarted {
                platform: Arc::clone(&platform),
                release: Arc::clone(&release),
                plan_digest: Sha256Digest::of(b"plan"),
            },
        );
        let ledger = InMemoryLedger::new();
        let record = ledger.append(draft, None).await.unwrap();
        let folded = ReleaseState::fold(std::slice::from_ref(&record));
        assert!(Arc::ptr_eq(folded.platform.as_ref().unwrap(), &platform));
        assert!(Arc::ptr_eq(folded.spec.as_ref().unwrap(), &release));
        assert_eq!(folded.last_seq, 1);
        assert_eq!(folded.started_by.as_deref(), Some("ops"));
        // Read back from the ledger, the documents are equal (and new).
        let read = ledger.events(&"api-1.0.0".into(), 0).await.unwrap();
        let refolded = ReleaseState::fold(&read);
        assert_eq!(refolded.platform.as_deref(), Some(&*platform));
        assert_eq!(refolded.spec.as_deref(), Some(&*release));
    }
}
