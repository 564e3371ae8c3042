//! The slow-moving `Platform` document: components, shared resources, environments, the
//! lifecycle and named analyses. Releases are planned against it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AnalysisTemplate, ApiVersion, ComponentMigrations, GateSpec, HumanDuration, ParamValue,
    StrategySpec,
};
use crate::id::{
    AnalysisName, ComponentId, EnvironmentName, PersonId, PhaseName, SharedResourceId, TeamName,
};

/// Marker for the `kind: Platform` document header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PlatformKind {
    /// The only value: `Platform`.
    #[default]
    Platform,
}

/// Name and labels of a platform document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformMetadata {
    /// The platform's name; releases name it in their `platform` field.
    pub name: String,
    /// Free-form labels, kept for hosts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Everything that is deployed and where: the topology releases are planned against.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Manifest format version (`release/v1`).
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion,
    /// Document kind (`Platform`).
    #[serde(default)]
    pub kind: PlatformKind,
    /// Name and labels.
    pub metadata: PlatformMetadata,
    /// The deployable components.
    #[serde(default)]
    pub components: Vec<Component>,
    /// Databases, queues and external APIs that components share.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_resources: Vec<SharedResource>,
    /// The environments releases are deployed to.
    #[serde(default)]
    pub environments: Vec<Environment>,
    /// The ordered phases a release goes through.
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// Named analyses that strategies, gates and rollback triggers refer to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub analyses: BTreeMap<AnalysisName, AnalysisTemplate>,
    /// Configuration keys that may differ between tiers without being reported (M2.1).
    #[serde(default, skip_serializing_if = "Parity::is_empty")]
    pub parity: Parity,
}

impl Platform {
    /// The component with this id.
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id.as_str() == id)
    }

    /// The environment with this name.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name.as_str() == name)
    }

    /// The shared resource with this id.
    pub fn shared_resource(&self, id: &str) -> Option<&SharedResource> {
        self.shared_resources.iter().find(|r| r.id.as_str() == id)
    }
}

/// Primary and backup owner of a component (M1.5): two distinct people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ownership {
    /// Who is paged first.
    pub primary: PersonId,
    /// Who stands in; must differ from the primary.
    pub backup: PersonId,
}

/// How much the business depends on a component.
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
pub enum Criticality {
    /// Internal tools; an outage is an inconvenience.
    Low,
    /// Customer-visible but degradable.
    #[default]
    Medium,
    /// Customer-facing and revenue-bearing.
    High,
    /// An outage is an incident for the whole business.
    Critical,
}

/// A deployable unit and configuration item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Unique id, also the configuration item's name in change requests.
    pub id: ComponentId,
    /// Primary and backup owner.
    pub owner: Ownership,
    /// The owning team, used to flag cross-team dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamName>,
    /// Business criticality.
    #[serde(default)]
    pub criticality: Criticality,
    /// Components that must be deployed before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ComponentId>,
    /// Shared resources this component touches (its deployments hold their locks, M2.5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_resources: Vec<SharedResourceId>,
    /// How long one deployment of this component usually takes; feeds the critical path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_duration: Option<HumanDuration>,
    /// The rollout strategy; all-at-once when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategySpec>,
    /// Version-controlled configuration templates, rendered per environment (M2.4).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
    /// True when the component keeps state (databases): rollbacks need data restores.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stateful: bool,
    /// The database migrations the component's releases carry (M4.5, M8.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrations: Option<ComponentMigrations>,
    /// The version of the API the running component serves (semver); a release declaring a
    /// new major version is a breaking change (M8.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub api_version: Option<semver::Version>,
}

/// The kind of a shared resource.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SharedResourceKind {
    /// A database or schema.
    #[default]
    Database,
    /// An API of another team or vendor.
    Api,
    /// A message queue or topic.
    Queue,
    /// A cache.
    Cache,
    /// Anything else.
    Other,
}

/// A resource several components or environments share (M2.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedResource {
    /// Unique id.
    pub id: SharedResourceId,
    /// What it is.
    #[serde(default)]
    pub kind: SharedResourceKind,
    /// The tier of data it holds; a non-production environment may not bind a production one.
    pub tier: Tier,
    /// What it is, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The tier of an environment (M2.1).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Developer integration.
    #[serde(alias = "dev")]
    Development,
    /// Automated and manual testing.
    Test,
    /// Production-like pre-release.
    Staging,
    /// Serves customers.
    #[serde(alias = "prod")]
    Production,
}

impl Tier {
    /// True for staging and production: tiers that require rollback criteria (M1.6).
    pub fn requires_rollback_criteria(self) -> bool {
        matches!(self, Self::Staging | Self::Production)
    }

    /// The tier's name as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place releases are deployed to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Unique name.
    pub name: EnvironmentName,
    /// Its tier.
    pub tier: Tier,
    /// Protected environments need approvals and may not be deployed to ad hoc.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
    /// Which named deployment target serves which component; `default` serves the rest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, String>,
    /// Parameters the configuration templates are rendered with (M2.4).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, ParamValue>,
    /// Which concrete shared resource stands for the one a component names, in this
    /// environment (`orders-postgres: orders-postgres-staging`). Unbound names bind to
    /// themselves.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<SharedResourceId, SharedResourceId>,
    /// Deployment windows and freezes (M5.6).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowRule>,
}

impl Environment {
    /// The concrete shared resource this environment uses for `resource`.
    pub fn bound_resource<'a>(&'a self, resource: &'a SharedResourceId) -> &'a SharedResourceId {
        self.bindings.get(resource).unwrap_or(resource)
    }
}

/// A deployment window (allow) or freeze (deny).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowRule {
    /// Deployments may happen inside this window.
    Allow(WindowSpec),
    /// Deployments may not happen inside this window.
    Deny(WindowSpec),
}

/// A recurring (cron + duration) or one-off (from/to) stretch of time in a time zone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Cron expression of the window's starts (recurring windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// How long each recurring window lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// IANA time zone the cron expression is read in (`Europe/Berlin`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Start of a one-off window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// End of a one-off window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Why the window exists (shown when it blocks a deploy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The ordered phases a release goes through (M2.3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// Phases in order.
    #[serde(default)]
    pub phases: Vec<Phase>,
}

impl Lifecycle {
    /// Environments in lifecycle order (phase order, then the order listed in the phase).
    pub fn environments(&self) -> impl Iterator<Item = (&Phase, &EnvironmentName)> {
        self.phases
            .iter()
            .flat_map(|p| p.environments.iter().map(move |e| (p, e)))
    }
}

/// One phase of the lifecycle: a set of environments and what it takes to move on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Unique name.
    pub name: PhaseName,
    /// Environments deployed in this phase.
    pub environments: Vec<EnvironmentName>,
    /// How many of them must succeed before the next phase (Octopus' "required to progress").
    #[serde(default)]
    pub required: PhaseRequirement,
    /// Gates evaluated before a release enters the phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_gates: Vec<GateSpec>,
    /// Gates evaluated before the release may leave the phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exit_gates: Vec<GateSpec>,
}

/// How many environments of a phase must succeed before the next phase may start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PhaseRequirement {
    /// Every environment of the phase.
    #[default]
    All,
    /// At least this many.
    AtLeast(u32),
    /// None: the phase may be skipped.
    Optional,
}

/// Configuration keys that may differ between tiers (M2.1 parity report).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parity {
    /// Keys whose values are expected to differ (`replicas`, `log_level`).
    #[serde(default)]
    pub allow: Vec<String>,
}

impl Parity {
    /// True when nothing is allowed to differ.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
    }
}
