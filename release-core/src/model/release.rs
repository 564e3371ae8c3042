//! The per-release `Release` document: version, kind, change requests, changes, component
//! versions, release manager and the rollback policy.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiVersion, HumanDuration, ReleaseMigrations};
use crate::id::{AnalysisName, ChangeId, ChangeRequestId, ComponentId, PersonId, ReleaseId};

/// Marker for the `kind: Release` document header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReleaseDocumentKind {
    /// The only value: `Release`.
    #[default]
    Release,
}

/// Id and labels of a release document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseMetadata {
    /// The release's unique id.
    pub id: ReleaseId,
    /// Free-form labels, kept for hosts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A release: a versioned set of component versions shipped under approved change requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// Manifest format version (`release/v1`).
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion,
    /// Document kind (`Release`).
    #[serde(rename = "kind", default)]
    pub document: ReleaseDocumentKind,
    /// Id and labels.
    pub metadata: ReleaseMetadata,
    /// The release's semantic version.
    #[schemars(with = "String")]
    pub version: semver::Version,
    /// The platform document this release is planned against.
    pub platform: String,
    /// Full, delta or emergency (M1.3).
    #[serde(rename = "type")]
    pub kind: ReleaseKind,
    /// The release manager and a backup (M1.5).
    pub release_manager: ReleaseManager,
    /// When the release is scheduled to run (M1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// The change requests the changes cite (inline; a provider plugin can supply them).
    #[serde(default)]
    pub change_requests: Vec<ChangeRequest>,
    /// The changes the release carries.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// The version (and artifact) of each component the release ships.
    #[serde(default)]
    pub components: BTreeMap<ComponentId, ComponentVersion>,
    /// Rollback criteria and what to do when they fire (M1.6, M8.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackPolicy>,
    /// Cap on components deployed in parallel within one wave; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
}

impl Release {
    /// The release's id.
    pub fn id(&self) -> &ReleaseId {
        &self.metadata.id
    }

    /// The change request with this id.
    pub fn change_request(&self, id: &str) -> Option<&ChangeRequest> {
        self.change_requests.iter().find(|r| r.id.as_str() == id)
    }

    /// The change with this id.
    pub fn change(&self, id: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.id.as_str() == id)
    }
}

/// The type of a release (M1.3).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseKind {
    /// Every component of the platform, at its release version.
    Full,
    /// Only the components the changes touch.
    Delta,
    /// An expedited fix under an emergency change request.
    Emergency,
}

impl std::fmt::Display for ReleaseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Full => "full",
            Self::Delta => "delta",
            Self::Emergency => "emergency",
        })
    }
}

/// Release manager and backup: distinct people (M1.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseManager {
    /// Who runs the release.
    pub primary: PersonId,
    /// Who takes over; must differ from the primary.
    pub backup: PersonId,
}

/// When a release runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Planned start.
    pub start: DateTime<FixedOffset>,
    /// Planned end; when absent, start plus the plan's estimated duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<FixedOffset>>,
}

/// The version and artifact of one component in a release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentVersion {
    /// The component's semantic version.
    #[schemars(with = "String")]
    pub version: semver::Version,
    /// Artifact reference (usually `sha256:<digest>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// The version of the API this build serves; a major bump over the platform's
    /// `api_version` is a breaking change that cannot be rolled out in phases (M8.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub api_version: Option<semver::Version>,
    /// The migrations this release ships for the component (M8.2) and their pinned digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<ReleaseMigrations>,
}

/// A change request as approved by change management (M1.1, M1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// Id in the change-management system.
    pub id: ChangeRequestId,
    /// Standard, normal or emergency.
    pub kind: ChangeRequestKind,
    /// Where it is in its approval workflow.
    pub state: ChangeRequestState,
    /// Assessed risk.
    #[serde(default)]
    pub risk: Risk,
    /// The window the CAB approved the changes to run in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<TimeWindow>,
    /// The configuration items (components) the request covers.
    #[serde(default)]
    pub configuration_items: Vec<ComponentId>,
}

/// The kind of a change request (ITIL).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeRequestKind {
    /// Pre-approved, low-risk, repeatable.
    Standard,
    /// Assessed and approved by the CAB.
    Normal,
    /// Must be implemented at once; may be approved expedited.
    Emergency,
}

/// The approval state of a change request.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeRequestState {
    /// Being written.
    Draft,
    /// Waiting for assessment or CAB approval.
    Submitted,
    /// Approved by the CAB (or pre-approved, for standard changes).
    Approved,
    /// Approved through the expedited path; valid for emergency requests only.
    ApprovedExpedited,
    /// Refused.
    Rejected,
    /// Withdrawn.
    Cancelled,
    /// Implemented and closed.
    Closed,
}

impl ChangeRequestState {
    /// The state's name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::ApprovedExpedited => "approved_expedited",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Closed => "closed",
        }
    }
}

impl std::fmt::Display for ChangeRequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Assessed risk of a change request.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Low.
    Low,
    /// Medium.
    #[default]
    Medium,
    /// High.
    High,
    /// Very high.
    VeryHigh,
}

/// A closed stretch of time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Start (inclusive).
    pub from: DateTime<FixedOffset>,
    /// End (exclusive).
    pub to: DateTime<FixedOffset>,
}

impl TimeWindow {
    /// True when `[a_from, a_to)` overlaps this window.
    pub fn overlaps(&self, other: &TimeWindow) -> bool {
        self.from < other.to && other.from < self.to
    }

    /// True when `[from, to)` lies inside this window.
    pub fn contains(&self, from: DateTime<FixedOffset>, to: DateTime<FixedOffset>) -> bool {
        self.from <= from && to <= self.to
    }
}

/// A change: a unit of work under one change request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Unique id.
    pub id: ChangeId,
    /// The change request it is done under.
    pub request: ChangeRequestId,
    /// Components (configuration items) it touches.
    pub components: Vec<ComponentId>,
    /// Changes that must ship first: `CHG-1` in this release, `RELEASE/CHG-1` in another.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ChangeRef>,
    /// Changes that must be rolled back together with this one (M1.4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollback_with: Vec<ChangeId>,
    /// Database schemas the change alters; changes sharing one are bundled (M1.4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// Test constraints (`load-test`, `manual-qa`); independent changes that differ are split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_constraints: Vec<String>,
    /// Who wrote the change (sign-offs by the author are refused, M4.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<PersonId>,
    /// One line for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// A reference to a change: `CHG-1` (this release) or `RELEASE-ID/CHG-1` (another release).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct ChangeRef(pub String);

impl ChangeRef {
    /// Splits into (release, change); the release is `None` for a change of the same release.
    pub fn parts(&self) -> (Option<&str>, &str) {
        match self.0.rsplit_once('/') {
            Some((release, change)) => (Some(release), change),
            None => (None, &self.0),
        }
    }
}

impl std::fmt::Display for ChangeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When and how a release is rolled back (M1.6, M8.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackPolicy {
    /// How long after deployment the triggers are watched.
    pub watch_window: HumanDuration,
    /// Roll back without asking when a trigger fires; otherwise pause for an operator.
    #[serde(default = "default_true")]
    pub automatic: bool,
    /// What fires a rollback.
    #[serde(default)]
    pub triggers: Vec<RollbackTrigger>,
}

fn default_true() -> bool {
    true
}

impl RollbackPolicy {
    /// True when the policy declares criteria: at least one trigger and a watch window.
    pub fn has_criteria(&self) -> bool {
        !self.triggers.is_empty() && !self.watch_window.is_zero()
    }
}

/// A typed rollback trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RollbackTrigger {
    /// The error ratio (0–1) exceeds a bound.
    ErrorRate {
        /// Upper bound of the error ratio.
        above: f64,
    },
    /// The 99th-percentile latency exceeds a bound.
    LatencyP99 {
        /// Upper bound.
        above: HumanDuration,
    },
    /// The 95th-percentile latency exceeds a bound.
    LatencyP95 {
        /// Upper bound.
        above: HumanDuration,
    },
    /// An SLO's attainment falls below a ratio (SLA breach).
    SlaBreach {
        /// The SLO's name.
        slo: String,
        /// Lower bound of its attainment (0–1).
        below: f64,
    },
    /// A data-integrity check fails.
    DataIntegrity {
        /// The check's name.
        check: String,
    },
    /// A post-deployment issue of this severity or worse is recorded (M6.6).
    CriticalDefect {
        /// The least severity that triggers.
        #[serde(default)]
        min_severity: Severity,
    },
    /// A health probe fails this many times in a row.
    ProbeFailure {
        /// The probe's name.
        probe: String,
        /// Consecutive failures that trigger.
        #[serde(default = "default_consecutive")]
        consecutive: u32,
    },
    /// A named analysis of the platform fails.
    Analysis {
        /// The analysis template's name.
        name: AnalysisName,
    },
}

fn default_consecutive() -> u32 {
    3
}

/// Severity of a post-deployment issue.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Cosmetic (`minor` is read as low).
    #[serde(alias = "minor")]
    Low,
    /// Degraded, with a workaround.
    Medium,
    /// Degraded, without a workaround (`major` is read as high).
    #[serde(alias = "major")]
    High,
    /// Outage or data loss.
    #[default]
    Critical,
}

impl Severity {
    /// The severity as written in manifests (`critical`, `high`, `medium`, `low`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
