//! Promotion gates: may a release enter (or leave) a lifecycle phase now?
//!
//! Each gate implements release-core's [`Gate`](release_core::plugin::Gate) and is
//! registered under core's gate name (`sign_off`, `approval`, `window`…) by `register`.
//! Gates read approvals and evidence from the release's journal (`GateContext::events`);
//! hosts record evidence with the helpers of [`evidence`] and the parsers of [`junit`],
//! [`sarif`] and [`load_test`].

pub mod error;
pub mod evidence;
pub mod window;

pub use error::GatesError;
