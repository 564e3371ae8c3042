//! Local-process deployment target: each slot is a group of real OS processes on loopback.
//!
//! The target converges a [`SlotSpec`](release_core::plugin::SlotSpec) into processes started
//! from an unpacked artifact directory `<root>/releases/<component>/<version>/`, or
//! `<root>/releases/<version>/` when the component has no directory of its own. Each replica is one
//! process on its own `127.0.0.1` port from the configured range, passed as the environment
//! variable `PORT` and through the `{port}` placeholder in the arguments. The slot's rendered
//! configuration is written (mode 0600, never logged) under the slot directory
//! `<root>/slots/<environment>/<component>/<slot>/config/<config digest>/`, and each
//! replica's stdout and stderr go to `<slot dir>/logs/replica-<n>.log` for the log watcher.
//!
//! Decisions:
//! - **Convergence.** `apply` starts missing replicas, stops extra ones, and replaces every
//!   replica when the slot's identity (version, artifact or configuration digest) changes:
//!   the new replicas are started and made ready first, then the old ones stopped, so a
//!   slot never drops to zero while it is being replaced. Re-applying the same spec only
//!   restarts replicas that died.
//! - **Stopping.** Every replica runs in its own process group; stopping sends `SIGTERM` to
//!   the group with `kill -TERM -- -<pgid>` (this crate forbids `unsafe`, so no `libc`), waits
//!   the grace period, then sends `SIGKILL` the same way.
//! - **Readiness** is a TCP connect to the replica's port, or an HTTP `GET` of the configured
//!   path answering 2xx ([`Readiness`]). `apply` waits for readiness up to
//!   `ready_timeout`; a replica that exits before it is ready fails the apply.
//! - **Restarts of the engine.** A state file per slot (`state.json`: spec, pids, ports) is
//!   written after every change and read back when the target is created; pids are re-verified
//!   (alive in `/proc` and not a zombie, or `kill -0` elsewhere). `observe` reports only the
//!   replicas actually alive and ready; dead ones are restarted by the next `apply`.
//! - **Locking.** Calls are serialised by one async mutex: a local target manages a handful of
//!   processes, and serial convergence keeps port allocation race-free within the target.
//! - **Routers** learn endpoint changes through [`ProcessTarget::with_endpoint_hook`]: it is
//!   called after new replicas are ready and before old ones are stopped.
//! - Processes outlive the target value on purpose (an engine restart must not stop the
//!   service); call [`ProcessTarget::stop_all`] to stop everything it manages.

mod config;
mod error;
mod target;

pub use config::{PortRange, ProcessTargetConfig, Readiness};
pub use error::ProcessError;
pub use target::{EndpointHook, ProcessTarget};
