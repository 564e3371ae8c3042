//! The release domain model: what the manifests say and what every other module works on.
//!
//! Two documents: the slow-moving [`Platform`] (components, environments, lifecycle) and the
//! per-release [`Release`] (version, change requests, changes, component versions, rollback
//! policy). Both serialize both ways with serde and reject unknown fields.

mod analysis;
mod data;
mod duration;
mod gate;
mod params;
mod platform;
mod release;
mod strategy;

pub use analysis::{AnalysisTemplate, Comparison, Condition, MetricRef, NoDataPolicy};
pub use data::{ComponentMigrations, DataCheck, ReleaseMigrations, SqlDialect};
pub use duration::{CountOrPercent, DurationParseError, HumanDuration, Percentage};
pub use gate::{ApprovalRule, GateSpec};
pub use params::{ParamValue, REDACTED, SecretRef, SecretValue};
pub use platform::{
    Component, Criticality, Environment, Lifecycle, Ownership, Parity, Phase, PhaseRequirement,
    Platform, PlatformKind, PlatformMetadata, SharedResource, SharedResourceKind, Tier, WindowRule,
    WindowSpec,
};
pub use release::{
    Change, ChangeRef, ChangeRequest, ChangeRequestKind, ChangeRequestState, ComponentVersion,
    Release, ReleaseDocumentKind, ReleaseKind, ReleaseManager, ReleaseMetadata, Risk,
    RollbackPolicy, RollbackTrigger, Schedule, Severity, TimeWindow,
};
pub use strategy::{
    BlueGreenSpec, CanaryScale, CanarySpec, CanaryStep, Pause, RollbackWindow, RollingSpec,
    StrategySpec,
};

pub use crate::id::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The manifest format version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ApiVersion {
    /// `release/v1`, the only version so far.
    #[default]
    #[serde(rename = "release/v1")]
    V1,
}
