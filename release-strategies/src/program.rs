//! Building blocks shared by the step programs: moving replica counts between slots within
//! a surge/unavailability budget, traffic weights that follow replica counts, and reading a
//! strategy block from the manifest.

use release_core::model::{CountOrPercent, StrategySpec};
use release_core::plugin::{RolloutSpec, RolloutStep, SlotName, SlotSpec, SlotStatus, SlotWeight};
use serde::de::DeserializeOwned;

use crate::error::StrategyError;

/// How far the replica count may move away from the desired count during an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Desired replicas.
    pub replicas: u32,
    /// Extra replicas allowed above `replicas` (rounded up, as Kubernetes does).
    pub surge: u32,
    /// Replicas allowed below `replicas` (rounded down, as Kubernetes does).
    pub unavailable: u32,
}

impl Budget {
    /// Resolves `max_surge` / `max_unavailable` against `spec.replicas`; both 0 is an error.
    pub fn resolve(
        strategy: &str,
        spec: &RolloutSpec,
        max_surge: CountOrPercent,
        max_unavailable: CountOrPercent,
    ) -> Result<Self, StrategyError> {
        let replicas = spec.replicas;
        let surge = max_surge.resolve(replicas, true);
        let unavailable = max_unavailable.resolve(replicas, false).min(replicas);
        if surge == 0 && unavailable == 0 && replicas > 0 {
            return Err(StrategyError::NoRoomToMove {
                strategy: strategy.to_owned(),
                component: spec.component.clone(),
                environment: spec.environment.clone(),
                max_surge: max_surge.to_string(),
                max_unavailable: max_unavailable.to_string(),
                replicas,
            });
        }
        Ok(Self {
            replicas,
            surge,
            unavailable,
        })
    }

    /// The most replicas that may exist at once.
    pub fn ceiling(self) -> u32 {
        self.replicas.saturating_add(self.surge)
    }

    /// The fewest replicas that must be ready at any time.
    pub fn floor(self) -> u32 {
        self.replicas.saturating_sub(self.unavailable)
    }
}

/// One slot taking part in a [`transition`]: the spec it is applied with, its replica count
/// now and the count it must reach.
#[derive(Clone, Debug)]
pub(crate) struct Move {
    pub spec: SlotSpec,
    pub current: u32,
    pub target: u32,
}

impl Move {
    pub fn new(spec: SlotSpec, current: u32, target: u32) -> Self {
        Self {
            spec,
            current,
            target,
        }
    }
}

/// Called after each round's scale-ups with the counts after the round and whether it is
/// the last; may add steps before the round's scale-downs.
pub(crate) type RoundHook<'a> = dyn FnMut(&[Move], bool, &mut Vec<RolloutStep>) + 'a;

/// Emits `Apply` steps that take every slot from its current to its target count, in rounds:
/// first scale up what grows (bounded by the budget's ceiling; the engine waits until those
/// replicas are ready), then scale down what shrinks (bounded by the floor). Before each
/// round's scale-downs, `on_round` may add steps (weights that follow the new counts); it
/// receives the counts after the round and whether the round is the last. `between_rounds`
/// (a pause) follows every round but the last.
///
/// With `surge + unavailable ≥ 1` every round makes progress. Should the targets themselves
/// break the budget, the remaining moves are applied directly rather than looping.
pub(crate) fn transition(
    moves: &mut [Move],
    budget: Budget,
    steps: &mut Vec<RolloutStep>,
    on_round: &mut RoundHook<'_>,
    between_rounds: Option<&RolloutStep>,
) {
    while moves.iter().any(|m| m.current != m.target) {
        let mut progressed = false;
        let total: u32 = moves.iter().map(|m| m.current).sum();
        let mut room = budget.ceiling().saturating_sub(total);
        for m in moves.iter_mut().filter(|m| m.current < m.target) {
            let up = (m.target - m.current).min(room);
            if up > 0 {
                m.current += up;
                room -= up;
                steps.push(RolloutStep::Apply(m.spec.scaled(m.current)));
                progressed = true;
            }
        }
        let total: u32 = moves.iter().map(|m| m.current).sum();
        let mut spare = total.saturating_sub(budget.floor());
        let mut downs = Vec::new();
        for (i, m) in moves.iter().enumerate() {
            if m.current > m.target {
                let down = (m.current - m.target).min(spare);
                if down > 0 {
                    spare -= down;
                    downs.push((i, m.current - down));
                }
            }
        }
        if !progressed && downs.is_empty() {
            // The targets break the budget: apply them as they are (ups first).
            for m in moves.iter_mut().filter(|m| m.current < m.target) {
                m.current = m.target;
                steps.push(RolloutStep::Apply(m.spec.scaled(m.current)));
            }
            for (i, m) in moves.iter().enumerate() {
                if m.current > m.target {
                    downs.push((i, m.target));
                }
            }
        }
        let mut after: Vec<Move> = moves.to_vec();
        for (i, n) in &downs {
            after[*i].current = *n;
        }
        let last = after.iter().all(|m| m.current == m.target);
        on_round(&after, last, steps);
        for (i, n) in downs {
            moves[i].current = n;
            steps.push(RolloutStep::Apply(moves[i].spec.scaled(n)));
        }
        if !last && let Some(step) = between_rounds {
            steps.push(step.clone());
        }
    }
}

/// Appends `SetWeights(weights)` unless the last weights in `steps` are already these.
pub(crate) fn push_weights(steps: &mut Vec<RolloutStep>, weights: Vec<SlotWeight>) {
    let last = steps.iter().rev().find_map(|s| match s {
        RolloutStep::SetWeights(w) => Some(w),
        _ => None,
    });
    if last != Some(&weights) {
        steps.push(RolloutStep::SetWeights(weights));
    }
}

/// Weights that follow replica counts (largest remainder, ties to the earlier slot), over
/// the slots with replicas; `None` when no slot has any.
pub(crate) fn proportional(counts: &[(&str, u32)]) -> Option<Vec<SlotWeight>> {
    let total: u64 = counts.iter().map(|(_, n)| u64::from(*n)).sum();
    if total == 0 {
        return None;
    }
    let mut shares: Vec<(usize, u64, u64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(i, (_, n))| {
            let exact = u64::from(*n) * 100;
            (i, exact / total, exact % total)
        })
        .collect();
    let given: u64 = shares.iter().map(|(_, w, _)| *w).sum();
    let mut left = 100 - given;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(a.cmp(b)));
    for k in order {
        if left == 0 {
            break;
        }
        shares[k].1 += 1;
        left -= 1;
    }
    Some(
        shares
            .into_iter()
            .map(|(i, w, _)| SlotWeight::new(counts[i].0, u32::try_from(w).unwrap_or(100)))
            .collect(),
    )
}

/// The weights a list of moves implies.
pub(crate) fn weights_of(moves: &[Move]) -> Option<Vec<SlotWeight>> {
    let counts: Vec<(&str, u32)> = moves
        .iter()
        .map(|m| (m.spec.slot.as_str(), m.current))
        .collect();
    proportional(&counts)
}

/// The running slot named `slot` (at least one replica), if any.
pub(crate) fn running<'a>(spec: &'a RolloutSpec, slot: &str) -> Option<&'a SlotStatus> {
    spec.previous
        .iter()
        .find(|p| p.spec.slot == slot && p.spec.replicas > 0)
}

/// True when `status` already runs exactly what `spec` rolls out (version, artifact,
/// configuration): nothing but the replica count can differ.
pub(crate) fn runs_new(spec: &RolloutSpec, status: &SlotStatus) -> bool {
    let new = spec.slot(&status.spec.slot, status.spec.replicas);
    status.spec.version == new.version
        && status.spec.artifact == new.artifact
        && status.spec.config_digest == new.config_digest
}

/// `SetWeights` with a single slot at 100 %.
pub(crate) fn all_to(slot: &str) -> RolloutStep {
    RolloutStep::SetWeights(vec![SlotWeight::new(slot, 100)])
}

/// Reads a strategy's parameters: the manifest's own block when `pick` finds it, the
/// parameters of a `custom` block registered under `name`, or `default`.
pub(crate) fn parameters<T: DeserializeOwned + Clone>(
    strategy: &str,
    spec: &RolloutSpec,
    pick: impl FnOnce(&StrategySpec) -> Option<&T>,
    default: &T,
) -> Result<T, StrategyError> {
    if let Some(found) = pick(&spec.strategy) {
        return Ok(found.clone());
    }
    match &spec.strategy {
        StrategySpec::Custom { name, params } if name == strategy && !params.is_null() => {
            serde_json::from_value(params.clone()).map_err(|e| StrategyError::BadParameters {
                strategy: strategy.to_owned(),
                component: spec.component.clone(),
                environment: spec.environment.clone(),
                message: e.to_string(),
            })
        }
        _ => Ok(default.clone()),
    }
}

/// Removes every slot the built-in strategies may have created that did not run before.
pub(crate) fn removals(spec: &RolloutSpec) -> Vec<RolloutStep> {
    [
        release_core::plugin::STABLE,
        crate::CANARY,
        crate::NEXT,
        crate::BLUE,
        crate::GREEN,
        "preview",
    ]
    .into_iter()
    .filter(|slot| !spec.previous.iter().any(|p| p.spec.slot == *slot))
    .map(|slot| RolloutStep::RemoveSlot {
        slot: SlotName::from(slot),
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_counts_and_sum_to_100() {
        let w = proportional(&[("stable", 6), ("canary", 4)]).unwrap();
        assert_eq!(
            w,
            vec![SlotWeight::new("stable", 60), SlotWeight::new("canary", 40)]
        );
        let w = proportional(&[("stable", 2), ("canary", 1)]).unwrap();
        assert_eq!(
            w,
            vec![SlotWeight::new("stable", 67), SlotWeight::new("canary", 33)]
        );
        let w = proportional(&[("stable", 0), ("canary", 3)]).unwrap();
        assert_eq!(w, vec![SlotWeight::new("canary", 100)]);
        assert!(proportional(&[("stable", 0)]).is_none());
    }
}
