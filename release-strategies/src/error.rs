//! What a strategy refuses to write a program for.
//!
//! Strategies are pure, so every error here is about the input (the manifest's strategy block
//! or the replica count), never about a plugin. The engine's `Strategy` trait returns
//! `release_core::Error`; [`StrategyError`] converts into [`release_core::Error::Invalid`]
//! with the same message, which names the component, the field and the fix.

use release_core::id::{ComponentId, EnvironmentName};

/// Why a strategy could not write a program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// `max_surge` and `max_unavailable` both resolve to 0: no batch could ever move.
    #[error(
        "{strategy} strategy of {component} in {environment}: max_surge ({max_surge}) and max_unavailable ({max_unavailable}) both resolve to 0 for {replicas} replicas, so no replica could ever be replaced; set max_surge to at least 1 (or 25%) or max_unavailable to at least 1"
    )]
    NoRoomToMove {
        /// The strategy (`rolling`, `canary`).
        strategy: String,
        /// The component.
        component: ComponentId,
        /// The environment.
        environment: EnvironmentName,
        /// `max_surge` as written.
        max_surge: String,
        /// `max_unavailable` as written.
        max_unavailable: String,
        /// The desired replica count.
        replicas: u32,
    },
    /// A canary weight above 100 %.
    #[error(
        "canary strategy of {component} in {environment}: step {step} sets weight {weight}, above 100; write a percentage from 0 to 100"
    )]
    WeightOutOfRange {
        /// The component.
        component: ComponentId,
        /// The environment.
        environment: EnvironmentName,
        /// The step's position (1-based, as a person counts).
        step: usize,
        /// The weight written.
        weight: u32,
    },
    /// The strategy block's parameters could not be read.
    #[error(
        "{strategy} strategy of {component} in {environment}: its parameters cannot be read: {message}; write them as the `{strategy}` block of the manifest expects"
    )]
    BadParameters {
        /// The strategy.
        strategy: String,
        /// The component.
        component: ComponentId,
        /// The environment.
        environment: EnvironmentName,
        /// What serde said.
        message: String,
    },
}

impl From<StrategyError> for release_core::Error {
    fn from(e: StrategyError) -> Self {
        release_core::Error::Invalid(e.to_string())
    }
}
