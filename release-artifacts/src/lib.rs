#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod artifact;
mod error;
pub mod fs_store;

pub use artifact::{Artifact, BuildMetadata, publish};
pub use error::{ArtifactError, PLUGIN, Result};
pub use fs_store::FsArtifactStore;
/// The in-memory store: `release-core`'s reference implementation, re-exported.
pub use release_core::memory::InMemoryArtifactStore;
