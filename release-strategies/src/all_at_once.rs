//! All at once (Kubernetes' `Recreate`): `stable` gets the new version at full size in one
//! step. The reference implementation lives in release-core (the engine's built-in default);
//! it is re-exported here so that [`crate::all`] lists every built-in strategy in one place.
//! Its rollback is core's generic one: traffic back first, re-apply what ran, remove the rest.

pub use release_core::plugin::AllAtOnce;
