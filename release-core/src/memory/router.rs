//! The in-memory traffic router.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::plugin::{Route, SlotName, SlotWeight, TrafficRouter, check_weights};

use super::few::Few;
use super::history::History;
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
    /// Each route's weights by slot, inline (see `few.rs`).
    routes: HashMap<Route, Few<SlotName, u32>>,
    history: History<WeightChange>,
}

/// A [`TrafficRouter`] in memory. Weights are replaced atomically and kept sorted by slot;
/// weights that do not name each slot once or do not sum to 100 are refused with
/// [`Error::Invalid`]. Setting the weights a route already has changes nothing and is not
/// recorded in the history, which keeps the last
/// [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT) changes unless
/// [`InMemoryRouter::with_history_limit`] says otherwise.
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

    /// Keeps the last `limit` changes of weights in [`history`](Self::history) (0 keeps
    /// none; the default is [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT)).
    pub fn with_history_limit(self, limit: usize) -> Self {
        lock(&self.state).history.set_limit(limit);
        self
    }

    /// The kept changes of weights, in call order (the last ones, up to the history limit).
    pub fn history(&self) -> Vec<WeightChange> {
        lock(&self.state).history.to_vec()
    }

    /// Changes of weights no longer in [`history`](Self::history) (older than the kept ones).
    pub fn history_dropped(&self) -> u64 {
        lock(&self.state).history.dropped()
    }

    /// The kept changes of one route, in call order.
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
            .and_then(|w| w.get(slot))
            .map_or(0, |w| *w)
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
        let State { routes, history } = &mut *state;
        let current = match routes.get_mut(route) {
            Some(current) => current,
            None => routes.entry(route.clone()).or_default(),
        };
        // Valid weights are never empty, so a new route always changes.
        let unchanged = current
            .iter()
            .map(|(slot, weight)| (slot, *weight))
            .eq(sorted.iter().map(|w| (&w.slot, w.weight)));
        if unchanged {
            return Ok(());
        }
        let previous = history.keeps().then(|| listed(current));
        let mut next = Few::default();
        for w in &sorted {
            next.insert(w.slot.clone(), w.weight);
        }
        *current = next;
        history.record(|| WeightChange {
            route: route.clone(),
            previous: previous.unwrap_or_default(),
            weights: sorted,
        });
        Ok(())
    }

    async fn weights(&self, route: &Route) -> Result<Vec<SlotWeight>> {
        Ok(lock(&self.state)
            .routes
            .get(route)
            .map(listed)
            .unwrap_or_default())
    }
}

/// A route's weights as the trait reports them: sorted by slot.
fn listed(weights: &Few<SlotName, u32>) -> Vec<SlotWeight> {
    weights
        .iter()
        .map(|(slot, weight)| SlotWeight::new(slot.clone(), *weight))
        .collect()
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

    fn canary(weight: u32) -> [SlotWeight; 2] {
        [
            SlotWeight::new("stable", 100 - weight),
            SlotWeight::new("canary", weight),
        ]
    }

    // The log keeps the last changes up to its limit and counts the others; the routes
    // themselves are not affected by the limit.
    #[tokio::test]
    async fn keeps_the_last_changes_up_to_its_limit() {
        let r = InMemoryRouter::new().with_history_limit(2);
        let route = Route::new("web", "prod");
        for weight in [10, 20, 30, 40] {
            r.set_weights(&route, &canary(weight)).await.unwrap();
        }
        let h = r.history();
        assert_eq!(h.len(), 2);
        assert_eq!(
            h[0].previous,
            vec![SlotWeight::new("canary", 20), SlotWeight::new("stable", 80)]
        );
        assert_eq!(
            h[1].weights,
            vec![SlotWeight::new("canary", 40), SlotWeight::new("stable", 60)]
        );
        assert_eq!(r.history_dropped(), 2);
        assert_eq!(r.weight_of(&route, "canary"), 40);

        let none = InMemoryRouter::new().with_history_limit(0);
        none.set_weights(&route, &canary(10)).await.unwrap();
        assert!(none.history().is_empty());
        assert_eq!(none.history_dropped(), 1);
        assert_eq!(none.weights(&route).await.unwrap().len(), 2);

        let default = InMemoryRouter::new();
        for i in 0..=crate::memory::DEFAULT_HISTORY_LIMIT {
            let weight = u32::try_from(i % 2).unwrap() + 1;
            default.set_weights(&route, &canary(weight)).await.unwrap();
        }
        assert_eq!(
            default.history().len(),
            crate::memory::DEFAULT_HISTORY_LIMIT
        );
        assert_eq!(default.history_dropped(), 1);
    }

    // An experiment routes to three slots and back to one: weights stay sorted by slot.
    #[tokio::test]
    async fn routes_to_more_slots_than_two_and_back() {
        let r = InMemoryRouter::new();
        let route = Route::new("web", "prod");
        let three = [
            SlotWeight::new("stable", 50),
            SlotWeight::new("canary", 25),
            SlotWeight::new("baseline", 25),
        ];
        r.set_weights(&route, &three).await.unwrap();
        assert_eq!(
            r.weights(&route).await.unwrap(),
            vec![
                SlotWeight::new("baseline", 25),
                SlotWeight::new("canary", 25),
                SlotWeight::new("stable", 50)
            ]
        );
        assert_eq!(r.weight_of(&route, "baseline"), 25);
        // The same three in another order change nothing.
        let mut again = three.clone();
        again.reverse();
        r.set_weights(&route, &again).await.unwrap();
        assert_eq!(r.history().len(), 1);
        r.set_weights(&route, &[SlotWeight::new("stable", 100)])
            .await
            .unwrap();
        assert_eq!(
            r.weights(&route).await.unwrap(),
            vec![SlotWeight::new("stable", 100)]
        );
        assert_eq!(r.weight_of(&route, "canary"), 0);
        assert_eq!(r.history()[1].previous.len(), 3);
    }
}
