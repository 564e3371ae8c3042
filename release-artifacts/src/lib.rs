#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod artifact;
#[cfg(feature = "bundle")]
pub mod bundle;
mod error;
pub mod fs_store;
pub mod policy;
pub mod promotion;
pub mod provenance;
pub mod rbac;
pub mod reconcile;
#[cfg(feature = "html-report")]
pub mod report;
pub mod retention;
pub mod snapshot;

pub use artifact::{Artifact, BuildMetadata, publish};
pub use error::{ArtifactError, PLUGIN, Result};
pub use fs_store::FsArtifactStore;
pub use promotion::{Promoter, PromotionEvidence, PromotionRequest};
pub use provenance::{Envelope, Statement, VerificationPolicy, VerifiedProvenance, attest};
pub use rbac::{AccessPolicy, Authorize, Guarded, Permission};
/// The in-memory store: `release-core`'s reference implementation, re-exported.
pub use release_core::memory::InMemoryArtifactStore;
pub use retention::{RetentionPlan, RetentionPolicy};
pub use snapshot::{Snapshot, SnapshotVerifier};
