//! The in-memory traffic router.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::plugin::{Route, SlotWeight, TrafficRouter, check_weights};

use super::lock;

/// One change of a route's weights.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WeightChange {
    /// The route.
    pub route: Route,
    /// Its weights before, sorted by slot (empty when never set).
    pub previous: Vec<SlotWeight>,
    /// Its weights after, sorted by slot.
    pub weights: Vec<SlotWeight>,
}

#[derive(Default)]
struct State {
    /// Hashed: only looked up by route (a B-tree of 10,000 routes costs a cache miss per
    /// compared key).
    routes: HashMap<Route, Vec<SlotWeight>>,
    history: Vec<WeightChange>,
}

/// A [`TrafficRouter`] in memory. Weights are replaced atomically and kept sorted by slot;
/// weights that do not name each slot once or do not sum to 100 are refused with
/// [`Error::Invalid`]. Setting the weights a route already has changes nothing and is not
/// recorded in the history.
#[derive(Default)]
pub struct InMemoryRouter {
    state: Mutex<State>,
}

impl std::fmt::Debug for InMemoryRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryRouter").finish_non_exhaustive()
    }
}

impl InMemoryRouter {
    /// A router with no routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every change of weights, in call order.
    pub fn history(&self) -> Vec<WeightChange> {
        lock(&self.state).history.clone()
    }

    /// The changes of one route, in call order.
    pub fn history_of(&self, route: &Route) -> Vec<WeightChange> {
        lock(&self.state)
            .history
            .iter()
            .filter(|c| c.route == *route)
            .cloned()
            .collect()
    }

    /// The weight of one slot of a route now (0 when the slot or route has none).
    pub fn weight_of(&self, route: &Route, slot: &str) -> u32 {
        lock(&self.state)
            .routes
            .get(route)
            .and_then(|w| w.iter().find(|w| w.slot == slot))
            .map_or(0, |w| w.weight)
    }
}

#[async_trait]
impl TrafficRouter for InMemoryRouter {
    async fn set_weights(&self, route: &Route, weights: &[SlotWeight]) -> Result<()> {
        check_weights(weights).map_err(|problem| {
            Error::Invalid(format!(
                "weights for route {route} are refused: {problem}; name each slot once with weights summing to 100"
            ))
        })?;
        let mut sorted = weights.to_vec();
        sorted.sort();
        let mut state = lock(&self.state);
        let previous = state.routes.get(route).cloned().unwrap_or_default();
        if previous == sorted {
            return Ok(());
        }
        state.routes.insert(route.clone(), sorted.clone());
        state.history.push(WeightChange {
            route: route.clone(),
            previous,
            weights: sorted,
        });
        Ok(())
    }

    async fn weights(&self, route: &Route) -> Result<Vec<SlotWeight>> {
        Ok(lock(&self.state)
            .routes
            .get(route)
            .cloned()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[tokio::test]
    async fn sets_sorted_and_records_changes() {
        let r = InMemoryRouter::new();
        let route = Route::new("web", "prod");
        r.set_weights(
            &route,
            &[SlotWeight::new("stable", 90), SlotWeight::new("canary", 10)],
        )
        .await
        .unwrap();
        assert_eq!(
            r.weights(&route).await.unwrap(),
            vec![SlotWeight::new("canary", 10), SlotWeight::new("stable", 90)]
        );
        // Same weights again: no change recorded.
        r.set_weights(
            &route,
            &[SlotWeight::new("canary", 10), SlotWeight::new("stable", 90)],
        )
        .await
        .unwrap();
        r.set_weights(&route, &[SlotWeight::new("stable", 100)])
            .await
            .unwrap();
        let h = r.history_of(&route);
        assert_eq!(h.len(), 2);
        assert_eq!(h[1].previous.len(), 2);
        assert_eq!(r.weight_of(&route, "stable"), 100);
        assert_eq!(r.weight_of(&route, "canary"), 0);
    }

    #[tokio::test]
    async fn refuses_bad_weights_naming_the_route() {
        let r = InMemoryRouter::new();
        let route = Route::new("web", "prod");
        let err = r
            .set_weights(
                &route,
                &[SlotWeight::new("stable", 90), SlotWeight::new("canary", 20)],
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(
            err.to_string(),
            "invalid input: weights for route prod/web are refused: weights sum to 110, not 100; \
             name each slot once with weights summing to 100"
        );
        assert!(r.weights(&route).await.unwrap().is_empty());
        assert!(r.history().is_empty());
    }
}
