//! Traffic routers: how requests split between a component's slots.
//!
//! Without a router, traffic follows replica counts (the engine computes the effective
//! weights itself).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::id::{ComponentId, EnvironmentName};

use super::SlotName;

/// A route: one component in one environment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Route {
    /// The component.
    pub component: ComponentId,
    /// The environment.
    pub environment: EnvironmentName,
}

impl Route {
    /// The route of `component` in `environment`.
    pub fn new(component: impl Into<ComponentId>, environment: impl Into<EnvironmentName>) -> Self {
        Self {
            component: component.into(),
            environment: environment.into(),
        }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.environment, self.component)
    }
}

/// The share of traffic (0–100) one slot receives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SlotWeight {
    /// The slot.
    pub slot: SlotName,
    /// Percent of requests.
    pub weight: u32,
}

impl SlotWeight {
    /// `weight` percent to `slot`.
    pub fn new(slot: impl Into<SlotName>, weight: u32) -> Self {
        Self {
            slot: slot.into(),
            weight,
        }
    }
}

/// Checks that weights name each slot once and sum to 100.
pub fn check_weights(weights: &[SlotWeight]) -> std::result::Result<(), String> {
    let sum: u64 = weights.iter().map(|w| u64::from(w.weight)).sum();
    if sum != 100 {
        return Err(format!("weights sum to {sum}, not 100"));
    }
    let mut slots: Vec<&str> = weights.iter().map(|w| w.slot.as_str()).collect();
    slots.sort_unstable();
    if slots.windows(2).any(|p| p[0] == p[1]) {
        return Err("a slot is named twice".to_owned());
    }
    Ok(())
}

/// Splits traffic between slots by weight.
#[async_trait]
pub trait TrafficRouter: Send + Sync {
    /// Sets the weights of a route atomically; they sum to 100.
    async fn set_weights(&self, route: &Route, weights: &[SlotWeight]) -> Result<()>;

    /// The route's current weights, sorted by slot; empty when never set.
    async fn weights(&self, route: &Route) -> Result<Vec<SlotWeight>>;
}

fn _assert_object_safe(_: &dyn TrafficRouter) {}
