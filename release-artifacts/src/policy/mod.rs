//! Build policy (M3.4, M3.6): dependencies declared and pinned (lockfile checks), and licence
//! compliance of SBOMs against allow and deny lists.
//!
//! Each check is a pure function over file text that returns a report of findings; a file
//! that cannot be read is an [`crate::ArtifactError::Parse`] naming the file, never a panic.

pub mod licence;
pub mod lockfile;
pub mod sbom;

pub use licence::{LicenceFinding, LicencePolicy, LicenceReport, LicenceVerdict};
pub use lockfile::{LockfileFinding, LockfileKind, LockfileReport, PinProblem, check_lockfile};
pub use sbom::{Sbom, SbomComponent, SbomFormat};
