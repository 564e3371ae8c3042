//! The events of a release's journal: everything that happens is one of these, appended
//! before the engine moves on.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::id::{
    AnalysisName, ChangeId, ComponentId, EnvironmentName, PersonId, PhaseName, ReleaseId,
};
use crate::model::{Platform, Release, Severity};
use crate::plugin::{
    BackupRecord, GatePosition, GateVerdict, ProbeOutcome, RolloutStep, SlotStatus, SlotWeight,
};

/// Which program a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Program {
    /// The rollout.
    Deploy,
    /// The way back.
    Rollback,
}

/// The stable identity of one step: what the journal says was started or done.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StepKey {
    /// The environment.
    pub environment: EnvironmentName,
    /// Which attempt at the stage (a retry starts a new one).
    pub attempt: u32,
    /// The component.
    pub component: ComponentId,
    /// Deploy or rollback.
    pub program: Program,
    /// Position in the program.
    pub index: u32,
}

impl fmt::Display for StepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = match self.program {
            Program::Deploy => "deploy",
            Program::Rollback => "rollback",
        };
        write!(
            f,
            "{}#{}/{}/{}/{}",
            self.environment, self.attempt, self.component, program, self.index
        )
    }
}

/// What one component ran before a stage touched it: the rollback plan's input (M8.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackEntry {
    /// The component.
    pub component: ComponentId,
    /// Its slots before the stage.
    pub previous: Vec<SlotStatus>,
    /// Its route's weights before the stage.
    pub previous_weights: Vec<SlotWeight>,
    /// The versions it ran here before, most recent first (journaled when its strategy has a
    /// rollback window, so a resumed stage decides the fast track the same way).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<semver::Version>,
}

/// How a metric analysis ended (Argo Rollouts' phases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisOutcome {
    /// Every measurement met the success condition (within the limits).
    Successful,
    /// Too many measurements failed.
    Failed,
    /// Too many were inconclusive: a person must decide.
    Inconclusive,
    /// The source could not be queried.
    Error,
}

/// An operator's action on a release (M5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorAction {
    /// Stop at the next step boundary.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Roll the current stage back and end the release.
    Abort,
    /// Skip the remaining pauses and analyses of the current rollouts.
    PromoteFull,
    /// Start the stage that failed again.
    Retry,
}

impl fmt::Display for OperatorAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Abort => "abort",
            Self::PromoteFull => "promote-full",
            Self::Retry => "retry",
        })
    }
}

/// An approval decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Approve.
    Approve,
    /// Reject.
    Reject,
}

/// How a release ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// Every stage completed.
    Succeeded,
    /// A stage was rolled back after a failure or trigger.
    RolledBack {
        /// The stage.
        environment: EnvironmentName,
        /// Why.
        reason: String,
    },
    /// An operator aborted it (and the current stage was rolled back).
    Aborted {
        /// The stage that was running.
        environment: Option<EnvironmentName>,
    },
    /// A gate failed (or an approval was rejected).
    GateFailed {
        /// The stage.
        environment: EnvironmentName,
        /// The gate.
        gate: String,
        /// Why.
        reasons: Vec<String>,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Succeeded => f.write_str("succeeded"),
            Self::RolledBack {
                environment,
                reason,
            } => write!(f, "rolled back in {environment}: {reason}"),
            Self::Aborted {
                environment: Some(environment),
            } => write!(f, "aborted in {environment}"),
            Self::Aborted { environment: None } => f.write_str("aborted"),
            Self::GateFailed {
                environment,
                gate,
                reasons,
            } => write!(
                f,
                "gate {gate} failed in {environment}: {}",
                reasons.join("; ")
            ),
        }
    }
}

impl Outcome {
    /// True for [`Outcome::Succeeded`].
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Succeeded)
    }
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Event {
    /// The release started; the manifest documents are kept so resume needs nothing else.
    ReleaseStarted {
        /// The platform as it was (shared with the run that started it: journaling the
        /// start and folding it copy nothing).
        platform: Arc<Platform>,
        /// The release as it was (shared likewise).
        release: Arc<Release>,
        /// Digest of the plan computed from them (the planner is deterministic).
        plan_digest: Sha256Digest,
    },
    /// A stage (environment) started.
    StageStarted {
        /// The environment.
        environment: EnvironmentName,
        /// The attempt.
        attempt: u32,
    },
    /// A gate was evaluated.
    GateEvaluated {
        /// The environment.
        environment: EnvironmentName,
        /// Its phase.
        phase: PhaseName,
        /// Entry or exit.
        position: GatePosition,
        /// The gate's name.
        gate: String,
        /// The verdict and reasons.
        verdict: GateVerdict,
    },
    /// A lock was taken (M2.5).
    LockAcquired {
        /// The lock.
        lock: String,
        /// Its fencing token.
        token: u64,
    },
    /// A lock was given back.
    LockReleased {
        /// The lock.
        lock: String,
    },
    /// What runs before the stage, journaled before anything is deployed (M8.3).
    RollbackPlanned {
        /// The environment.
        environment: EnvironmentName,
        /// The attempt.
        attempt: u32,
        /// One entry per component of the stage, in rollback order.
        components: Vec<RollbackEntry>,
    },
    /// A step is about to run (the intent, journaled first).
    StepStarted {
        /// Which step.
        key: StepKey,
        /// What it does.
        step: RolloutStep,
    },
    /// A step finished.
    StepSucceeded {
        /// Which step.
        key: StepKey,
    },
    /// A step failed.
    StepFailed {
        /// Which step.
        key: StepKey,
        /// Why.
        error: String,
    },
    /// A probe ran (M5.4).
    ProbeChecked {
        /// The environment.
        environment: EnvironmentName,
        /// The component.
        component: ComponentId,
        /// The slot.
        slot: String,
        /// The probe's name.
        probe: String,
        /// What it found.
        outcome: ProbeOutcome,
    },
    /// An analysis finished.
    AnalysisCompleted {
        /// The environment.
        environment: EnvironmentName,
        /// The component.
        component: ComponentId,
        /// The analysis.
        analysis: AnalysisName,
        /// Its outcome.
        outcome: AnalysisOutcome,
        /// The measurements (`None` = no data).
        measurements: Vec<Option<f64>>,
    },
    /// A rollback trigger fired (M5.5, M8.1).
    TriggerFired {
        /// The environment.
        environment: EnvironmentName,
        /// The component, when the trigger is per component.
        component: Option<ComponentId>,
        /// The trigger, as written.
        trigger: String,
        /// What was observed.
        observed: String,
    },
    /// The watch window after a stage started.
    WatchStarted {
        /// The environment.
        environment: EnvironmentName,
        /// When it ends.
        until: DateTime<Utc>,
    },
    /// The watch window passed without a trigger.
    WatchCompleted {
        /// The environment.
        environment: EnvironmentName,
    },
    /// The release is waiting (for an approval, a promotion or an operator).
    Paused {
        /// The environment.
        environment: Option<EnvironmentName>,
        /// Why.
        reason: String,
    },
    /// An operator acted.
    OperatorActed {
        /// The action.
        action: OperatorAction,
        /// Their comment.
        comment: Option<String>,
    },
    /// An approval or rejection (M5.2).
    ApprovalRecorded {
        /// The environment it is for.
        environment: EnvironmentName,
        /// Approve or reject.
        decision: Decision,
        /// Their comment.
        comment: Option<String>,
    },
    /// Evidence for gates (test results, sign-offs, scans…).
    EvidenceRecorded {
        /// What kind (`junit`, `sign_off`, `sarif`…).
        kind: String,
        /// The environment it is for.
        environment: Option<EnvironmentName>,
        /// The evidence itself.
        payload: serde_json::Value,
    },
    /// A rollback of a stage began.
    RollbackStarted {
        /// The environment.
        environment: EnvironmentName,
        /// Why.
        reason: String,
    },
    /// The rollback program of one component, journaled before its first step so a resumed
    /// rollback runs the same program.
    RollbackProgrammed {
        /// The environment.
        environment: EnvironmentName,
        /// The attempt.
        attempt: u32,
        /// The component.
        component: ComponentId,
        /// The program.
        steps: Vec<RolloutStep>,
    },
    /// The stage is back on what ran before.
    RollbackCompleted {
        /// The environment.
        environment: EnvironmentName,
    },
    /// A stage completed.
    StageCompleted {
        /// The environment.
        environment: EnvironmentName,
    },
    /// The release ended.
    ReleaseFinished {
        /// How.
        outcome: Outcome,
    },
    /// A post-deployment issue was reported (M6.6). A critical one inside the watch window
    /// fires the policy's `critical_defect` trigger.
    IssueReported(IssueReport),
    /// A post-deployment issue was resolved.
    IssueResolved {
        /// The issue's id.
        issue: String,
        /// What resolved it.
        resolution: String,
    },
    /// Feedback from early users or internal teams (M6.5).
    FeedbackRecorded(Feedback),
    /// A root-cause analysis was opened after a rollback (M8.6); the engine journals it when
    /// a stage's rollback completes.
    RcaOpened(RcaOpening),
    /// A root-cause analysis was closed by a person (M8.6).
    RcaClosed(RcaClosure),
    /// Metric samples kept with the release (canary against baseline, for reports).
    MetricsSampled(MetricSamples),
    /// A backup of a database was taken before a stage that migrates it (M2.6, M8.5).
    BackupTaken {
        /// The environment.
        environment: EnvironmentName,
        /// The stage attempt.
        attempt: u32,
        /// The component whose migrations change the database.
        component: ComponentId,
        /// The backup: its id, what it covers and its digest; a resumed rollback restores
        /// from this record.
        record: BackupRecord,
    },
    /// A database was brought up to a component's migration set before the stage's rollouts.
    MigrationApplied {
        /// The environment.
        environment: EnvironmentName,
        /// The stage attempt.
        attempt: u32,
        /// The component.
        component: ComponentId,
        /// The concrete database.
        resource: String,
        /// The digest of the migration set.
        set_digest: Sha256Digest,
        /// The versions applied now (empty when the database already had them).
        applied: Vec<u64>,
        /// The highest applied version afterwards.
        current: u64,
    },
    /// Data was restored from the pre-deployment backup in a full rollback (M8.5).
    DataRestored {
        /// The environment.
        environment: EnvironmentName,
        /// The stage attempt.
        attempt: u32,
        /// The component.
        component: ComponentId,
        /// The concrete database.
        resource: String,
        /// The backup restored.
        backup: String,
        /// The digest the backup recorded.
        expected: Sha256Digest,
        /// The digest read back from the restored database (`None` when the plugin cannot
        /// compute it and verified the backup itself instead).
        restored: Option<Sha256Digest>,
        /// True when the restored data matches the recorded digest.
        verified: bool,
    },
}

/// A post-deployment issue as reported (M6.6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IssueReport {
    /// The issue's id (`INC-42`), unique within the release.
    pub id: String,
    /// How bad it is (`critical`, `major` = high, `minor` = low).
    pub severity: Severity,
    /// Who owns the fix.
    pub owner: PersonId,
    /// Where it was seen.
    pub environment: EnvironmentName,
    /// The component it is attributed to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentId>,
    /// One line for people.
    pub title: String,
    /// A workaround or mitigation in place, for the release summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<String>,
}

impl IssueReport {
    /// An issue with its id, severity, owner, environment and title.
    pub fn new(
        id: impl Into<String>,
        severity: Severity,
        owner: impl Into<PersonId>,
        environment: impl Into<EnvironmentName>,
        title: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            severity,
            owner: owner.into(),
            environment: environment.into(),
            component: None,
            title: title.into(),
            mitigation: None,
        }
    }

    /// Attributes the issue to a component.
    pub fn with_component(mut self, component: impl Into<ComponentId>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Records the workaround in place.
    pub fn with_mitigation(mut self, mitigation: impl Into<String>) -> Self {
        self.mitigation = Some(mitigation.into());
        self
    }
}

/// How a person felt about the release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    /// It works better.
    Positive,
    /// A remark.
    Neutral,
    /// It works worse.
    Negative,
}

impl fmt::Display for Sentiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Positive => "positive",
            Self::Neutral => "neutral",
            Self::Negative => "negative",
        })
    }
}

/// Feedback from an early user or an internal team (M6.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Feedback {
    /// Who gave it (a person or a team).
    pub from: String,
    /// Positive, neutral or negative.
    pub sentiment: Sentiment,
    /// What they said.
    pub text: String,
    /// The environment they used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentName>,
    /// The component it is about, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentId>,
}

impl Feedback {
    /// Feedback from `from`.
    pub fn new(from: impl Into<String>, sentiment: Sentiment, text: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            sentiment,
            text: text.into(),
            environment: None,
            component: None,
        }
    }

    /// The environment they used.
    pub fn in_environment(mut self, environment: impl Into<EnvironmentName>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// The component it is about.
    pub fn about(mut self, component: impl Into<ComponentId>) -> Self {
        self.component = Some(component.into());
        self
    }
}

/// A root-cause analysis opened after a rollback (M8.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RcaOpening {
    /// The RCA's id: `RCA-<release>-<environment>-<attempt>`.
    pub id: String,
    /// The environment that rolled back.
    pub environment: EnvironmentName,
    /// The stage attempt.
    pub attempt: u32,
    /// The components rolled back: none of them ships again until the RCA is closed.
    pub components: Vec<ComponentId>,
    /// Why the stage rolled back.
    pub reason: String,
}

impl RcaOpening {
    /// The id of the RCA of a stage attempt's rollback.
    pub fn id_for(release: &ReleaseId, environment: &EnvironmentName, attempt: u32) -> String {
        format!("RCA-{release}-{environment}-{attempt}")
    }
}

/// The close of a root-cause analysis, by a person (M8.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RcaClosure {
    /// The RCA's id.
    pub id: String,
    /// What happened, for people.
    pub summary: String,
    /// The root cause.
    pub cause: String,
    /// Actions taken or planned so it does not happen again.
    pub actions: Vec<String>,
}

impl RcaClosure {
    /// Closes RCA `id` with a summary, a cause and actions.
    pub fn new(
        id: impl Into<String>,
        summary: impl Into<String>,
        cause: impl Into<String>,
        actions: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            id: id.into(),
            summary: summary.into(),
            cause: cause.into(),
            actions: actions.into_iter().map(Into::into).collect(),
        }
    }
}

/// One sample of a metric of one slot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricSample {
    /// The slot (`canary`, `stable`, `baseline`).
    pub slot: String,
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// The value.
    pub value: f64,
}

impl MetricSample {
    /// A sample of `slot` at `at`.
    pub fn new(slot: impl Into<String>, at: DateTime<Utc>, value: f64) -> Self {
        Self {
            slot: slot.into(),
            at,
            value,
        }
    }
}

/// Samples of one metric of one component, kept with the release for reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricSamples {
    /// The environment.
    pub environment: EnvironmentName,
    /// The component.
    pub component: ComponentId,
    /// The metric (`error_ratio`, `latency_p99`).
    pub metric: String,
    /// The samples, of every slot.
    pub samples: Vec<MetricSample>,
}

impl MetricSamples {
    /// Samples of `metric` of `component` in `environment`.
    pub fn new(
        environment: impl Into<EnvironmentName>,
        component: impl Into<ComponentId>,
        metric: impl Into<String>,
        samples: Vec<MetricSample>,
    ) -> Self {
        Self {
            environment: environment.into(),
            component: component.into(),
            metric: metric.into(),
            samples,
        }
    }
}

/// Defines [`Event::type_name`] and [`Event::TYPE_NAMES`] from one list, so the two cannot
/// drift apart (the match is exhaustive: a new variant must be named here).
macro_rules! event_type_names {
    ($($variant:pat => $name:literal,)*) => {
        impl Event {
            /// Every event type name, in declaration order: what filters (a webhook
            /// endpoint's `events`) may name.
            pub const TYPE_NAMES: &'static [&'static str] = &[$($name),*];

            /// The event's type name as serialized (`step_started`).
            pub fn type_name(&self) -> &'static str {
                match self {
                    $($variant => $name,)*
                }
            }
        }
    };
}

event_type_names! {
    Self::ReleaseStarted { .. } => "release_started",
    Self::StageStarted { .. } => "stage_started",
    Self::GateEvaluated { .. } => "gate_evaluated",
    Self::LockAcquired { .. } => "lock_acquired",
    Self::LockReleased { .. } => "lock_released",
    Self::RollbackPlanned { .. } => "rollback_planned",
    Self::StepStarted { .. } => "step_started",
    Self::StepSucceeded { .. } => "step_succeeded",
    Self::StepFailed { .. } => "step_failed",
    Self::ProbeChecked { .. } => "probe_checked",
    Self::AnalysisCompleted { .. } => "analysis_completed",
    Self::TriggerFired { .. } => "trigger_fired",
    Self::WatchStarted { .. } => "watch_started",
    Self::WatchCompleted { .. } => "watch_completed",
    Self::Paused { .. } => "paused",
    Self::OperatorActed { .. } => "operator_acted",
    Self::ApprovalRecorded { .. } => "approval_recorded",
    Self::EvidenceRecorded { .. } => "evidence_recorded",
    Self::RollbackStarted { .. } => "rollback_started",
    Self::RollbackProgrammed { .. } => "rollback_programmed",
    Self::RollbackCompleted { .. } => "rollback_completed",
    Self::StageCompleted { .. } => "stage_completed",
    Self::ReleaseFinished { .. } => "release_finished",
    Self::IssueReported(_) => "issue_reported",
    Self::IssueResolved { .. } => "issue_resolved",
    Self::FeedbackRecorded(_) => "feedback_recorded",
    Self::RcaOpened(_) => "rca_opened",
    Self::RcaClosed(_) => "rca_closed",
    Self::MetricsSampled(_) => "metrics_sampled",
    Self::BackupTaken { .. } => "backup_taken",
    Self::MigrationApplied { .. } => "migration_applied",
    Self::DataRestored { .. } => "data_restored",
}

/// An event about to be appended: the ledger adds sequence number and hashes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventDraft {
    /// The release.
    pub release: ReleaseId,
    /// When (UTC, from the engine's clock).
    pub at: DateTime<Utc>,
    /// Who: an operator id, or `engine` for what the engine decided itself.
    pub actor: String,
    /// The changes the event concerns.
    pub changes: Vec<ChangeId>,
    /// What happened.
    pub event: Event,
}

impl EventDraft {
    /// A draft.
    pub fn new(
        release: ReleaseId,
        at: DateTime<Utc>,
        actor: impl Into<String>,
        changes: Vec<ChangeId>,
        event: Event,
    ) -> Self {
        Self {
            release,
            at,
            actor: actor.into(),
            changes,
            event,
        }
    }
}

/// One journal record: a draft with its place in the hash chain (M5.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The release.
    pub release: ReleaseId,
    /// Position in the release's journal, from 1.
    pub seq: u64,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// The changes the event concerns.
    pub changes: Vec<ChangeId>,
    /// What happened.
    pub event: Event,
    /// Hash of the previous record (zeros for the first).
    pub prev: Sha256Digest,
    /// Hash of this record.
    pub hash: Sha256Digest,
}
