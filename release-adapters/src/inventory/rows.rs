//! What the inventory answers: serde rows in a stable order.

use chrono::{DateTime, Utc};
use semver::Version;
use serde::{Deserialize, Serialize};

use release_core::model::{ComponentId, EnvironmentName, ReleaseId};

/// How a version came to run somewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentAction {
    /// A release's stage completed with it.
    Deployed,
    /// A release was rolled back to it.
    RolledBack,
}

impl DeploymentAction {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Deployed => "deployed",
            Self::RolledBack => "rolled_back",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "deployed" => Some(Self::Deployed),
            "rolled_back" => Some(Self::RolledBack),
            _ => None,
        }
    }
}

/// What runs now: one component in one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeploymentRow {
    /// The platform.
    pub platform: String,
    /// The environment.
    pub environment: EnvironmentName,
    /// The component.
    pub component: ComponentId,
    /// The version running.
    pub version: Version,
    /// The release that deployed it (or was rolled back to it).
    pub release: ReleaseId,
    /// Since when.
    pub since: DateTime<Utc>,
    /// How it got there.
    pub via: DeploymentAction,
}

/// One change of what runs: the deployment history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistoryRow {
    /// When.
    pub at: DateTime<Utc>,
    /// The platform.
    pub platform: String,
    /// The environment.
    pub environment: EnvironmentName,
    /// The component.
    pub component: ComponentId,
    /// Deployed or rolled back.
    pub action: DeploymentAction,
    /// What runs after it (`None`: nothing, the component was removed).
    pub version: Option<Version>,
    /// What it replaced: the version that ran before a deployment, or the version a
    /// rollback withdrew.
    pub replaced: Option<Version>,
    /// The release.
    pub release: ReleaseId,
    /// The journal record that caused it.
    pub seq: u64,
}

/// One dependency edge, as the newest release of the platform declared it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DependencyRow {
    /// The platform.
    pub platform: String,
    /// The component.
    pub component: ComponentId,
    /// What it depends on.
    pub depends_on: ComponentId,
}

/// Everything the inventory knows, each part in its stable order (for `--json` output and
/// for comparing two inventories).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InventorySnapshot {
    /// What runs where.
    pub deployments: Vec<DeploymentRow>,
    /// Every change, oldest first.
    pub history: Vec<HistoryRow>,
    /// Every dependency edge.
    pub dependencies: Vec<DependencyRow>,
}
