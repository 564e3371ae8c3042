//! Promotion gates: may a release enter (or leave) a lifecycle phase now?
//!
//! Each gate implements release-core's [`Gate`](release_core::plugin::Gate) and is
//! registered under core's gate name (`sign_off`, `approval`, `window`, …; the lifecycle
//! order as the custom gate `lifecycle`) by [`register`], wrapped so a break-glass override
//! applies. Gates read approvals and evidence from the release's journal
//! (`GateContext::events`); hosts record evidence with [`evidence`]'s helpers and the
//! parsers of [`junit`] and [`sarif`]. [`may_enter`] is the same policy as a pure function.
//!
//! Decisions where the issue is silent are stated in each module's docs; in short:
//! missing evidence waits (someone can record it and resume), contradicting evidence fails,
//! every reason is listed, and time is `GateContext::now` (when the deploy executes).

pub mod break_glass;
pub mod checks;
pub mod error;
pub mod evidence;
pub mod junit;
pub mod lifecycle;
pub mod load_test;
pub mod people;
pub mod policy;
pub mod rca;
pub mod rehearsal;
pub mod sarif;
pub mod window;

#[cfg(test)]
mod tests;

pub use error::GatesError;
pub use policy::{GateInput, GatesConfig, PolicyDecision, evaluate, gates, may_enter, register};
