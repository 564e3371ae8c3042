//! The plugin traits: one small, object-safe trait per extension point (STYLE practice 1).
//!
//! Every trait is `#[async_trait]`, `Send + Sync`, stored as `Arc<dyn Trait>`, and returns the
//! crate's [`Error`](crate::Error). Requests and replies are `#[non_exhaustive]` structs.
//! The ledger's trait lives in [`crate::ledger`] and the secret provider's in
//! [`crate::config`]; both are re-exported here.

mod artifact;
mod clock;
mod gate;
mod metrics;
mod migrate;
mod misc;
mod router;
mod strategy;
mod target;

pub use artifact::{ArtifactId, ArtifactMeta, ArtifactStore};
pub use clock::{Clock, ManualClock, SystemClock, TokioClock};
pub use gate::{Gate, GateContext, GatePosition, GateVerdict, Reason, gate_name};
pub use metrics::{
    MetricQuery, MetricScope, MetricsSource, Probe, ProbeOutcome, ProbeRequest, Sample, Series,
};
pub use migrate::{MigrateReply, MigrateRequest, MigrationDirection, Migrator, RehearsalRequest};
pub use misc::{Backup, BackupRecord, BackupRequest, BackupVerification, Notifier};
pub use router::{Route, SlotWeight, TrafficRouter, check_weights};
pub use strategy::{AllAtOnce, RolloutSpec, RolloutStep, STABLE, Strategy, restore_previous};
pub use target::{
    ApplyRequest, DeploymentTarget, Endpoint, SlotName, SlotSpec, SlotStatus, TargetCapabilities,
};

pub use crate::config::SecretProvider;
pub use crate::ledger::Ledger;
