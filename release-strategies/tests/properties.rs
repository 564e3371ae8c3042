//! Property tests over every program the strategies write, interpreted by a small simulator
//! that tracks replicas (total and ready) per slot and traffic weights step by step.
//!
//! Invariants (issue #4): rolling (and canary without a router) never drop below
//! `replicas − max_unavailable` ready nor exceed `replicas + max_surge`; weights always sum to
//! 100; traffic never goes to a slot without a ready replica; after an abort at any point,
//! `stable` holds 100 % of traffic within one step (canary with a router); the final state
//! after success is the new version only, after rollback the old version only.

use std::collections::BTreeMap;

use proptest::prelude::*;
use release_core::model::{
    BlueGreenSpec, CanaryScale, CanarySpec, CanaryStep, CountOrPercent, HumanDuration, Pause,
    RollingSpec, StrategySpec,
};
use release_core::plugin::{
    RolloutSpec, RolloutStep, SlotSpec, SlotStatus, SlotWeight, Strategy as RolloutStrategy,
    check_weights,
};
use release_strategies::{BlueGreen, Canary, Rolling};

fn v(s: &str) -> semver::Version {
    s.parse().unwrap()
}

/// What runs: slot → (version, replicas); all converged between steps.
#[derive(Clone, Debug, Default)]
struct World {
    slots: BTreeMap<String, (semver::Version, u32)>,
    /// Router weights (None without a router).
    weights: Option<Vec<SlotWeight>>,
}

/// The extremes seen while a step ran.
#[derive(Clone, Copy, Debug)]
struct Extremes {
    max_total: u32,
    min_ready: u32,
}

impl World {
    fn total(&self) -> u32 {
        self.slots.values().map(|(_, n)| n).sum()
    }

    /// Applies one step, returning the extremes during it.
    fn step(&mut self, step: &RolloutStep) -> Extremes {
        let before = self.total();
        match step {
            RolloutStep::Apply(spec) => {
                let (cur_v, cur) = self
                    .slots
                    .get(spec.slot.as_str())
                    .cloned()
                    .unwrap_or((spec.version.clone(), 0));
                let others = before - cur;
                // While converging: the new replicas are not ready; an in-place version
                // change makes the whole slot unready.
                let ready_during = if cur_v == spec.version {
                    others + cur.min(spec.replicas)
                } else {
                    others
                };
                let total_during = others + cur.max(spec.replicas);
                self.slots
                    .insert(spec.slot.to_string(), (spec.version.clone(), spec.replicas));
                Extremes {
                    max_total: total_during,
                    min_ready: ready_during,
                }
            }
            RolloutStep::RemoveSlot { slot } => {
                self.slots.remove(slot.as_str());
                Extremes {
                    max_total: before,
                    min_ready: self.total(),
                }
            }
            RolloutStep::SetWeights(w) => {
                check_weights(w).unwrap_or_else(|e| panic!("{e}: {w:?}"));
                if self.weights.is_some() {
                    self.weights = Some(w.clone());
                }
                Extremes {
                    max_total: before,
                    min_ready: before,
                }
            }
            _ => Extremes {
                max_total: before,
                min_ready: before,
            },
        }
    }

    /// Traffic per slot: router weights, or replica shares without a router.
    fn traffic(&self) -> BTreeMap<String, f64> {
        match &self.weights {
            Some(w) => w
                .iter()
                .filter(|w| w.weight > 0)
                .map(|w| (w.slot.to_string(), f64::from(w.weight)))
                .collect(),
            None => {
                let total = f64::from(self.total());
                self.slots
                    .iter()
                    .filter(|(_, (_, n))| *n > 0)
                    .map(|(s, (_, n))| (s.clone(), 100.0 * f64::from(*n) / total))
                    .collect()
            }
        }
    }

    /// Every slot that gets traffic has replicas (or nothing runs at all: a budget with
    /// `max_unavailable` equal to the replica count allows that, as Kubernetes' does).
    fn traffic_is_served(&self) -> bool {
        self.total() == 0
            || self
                .traffic()
                .keys()
                .all(|s| self.slots.get(s).is_some_and(|(_, n)| *n > 0))
    }

    /// (slot, version, replicas) of slots with replicas.
    fn running(&self) -> Vec<(String, semver::Version, u32)> {
        self.slots
            .iter()
            .filter(|(_, (_, n))| *n > 0)
            .map(|(s, (v, n))| (s.clone(), v.clone(), *n))
            .collect()
    }
}

fn count_or_percent() -> impl Strategy<Value = CountOrPercent> {
    prop_oneof![
        (0u32..5).prop_map(CountOrPercent::Count),
        (0u32..=100).prop_map(CountOrPercent::Percent),
    ]
}

fn pause() -> impl Strategy<Value = Pause> {
    prop_oneof![
        (1u64..600).prop_map(|s| Pause::For(HumanDuration::from_secs(s))),
        Just(Pause::UntilApproved),
    ]
}

fn canary_step() -> impl Strategy<Value = CanaryStep> {
    prop_oneof![
        3 => (0u32..=100).prop_map(CanaryStep::SetWeight),
        1 => pause().prop_map(CanaryStep::Pause),
        1 => Just(CanaryStep::Analysis("error-rate".into())),
        1 => prop_oneof![
            (0u32..12).prop_map(CanaryScale::Replicas),
            (0u32..=100).prop_map(CanaryScale::Weight),
            Just(CanaryScale::MatchTrafficWeight),
        ]
        .prop_map(CanaryStep::SetCanaryScale),
    ]
}

fn canary_spec() -> impl Strategy<Value = CanarySpec> {
    (
        prop::collection::vec(canary_step(), 0..8),
        count_or_percent(),
        count_or_percent(),
        any::<bool>(),
    )
        .prop_map(|(steps, max_surge, max_unavailable, bg)| {
            let mut b = Canary::builder()
                .max_surge(max_surge)
                .max_unavailable(max_unavailable);
            if bg {
                b = b.background_analysis("error-rate");
            }
            let mut spec = b.spec();
            spec.steps = steps;
            spec
        })
}

fn blue_green_spec() -> impl Strategy<Value = BlueGreenSpec> {
    (any::<bool>(), any::<bool>(), any::<bool>(), 0u64..120).prop_map(|(pre, post, auto, delay)| {
        let mut b = BlueGreen::builder()
            .auto_promotion(auto)
            .scale_down_delay(std::time::Duration::from_secs(delay));
        if pre {
            b = b.pre_promotion_analysis("smoke");
        }
        if post {
            b = b.post_promotion_analysis("error-rate");
        }
        b.spec()
    })
}

/// The previous state: `old` replicas of 1.0.0 in `slot`, all traffic on it with a router.
fn rollout(
    strategy: StrategySpec,
    slot: &str,
    replicas: u32,
    old: u32,
    router: bool,
) -> (RolloutSpec, World) {
    let previous = SlotStatus::new(SlotSpec::new("web", "prod", slot, v("1.0.0"), old), old);
    let weights = if router {
        vec![SlotWeight::new(slot, 100)]
    } else {
        Vec::new()
    };
    let spec = RolloutSpec::new("web", "prod", v("2.0.0"), replicas, strategy)
        .with_previous(vec![previous], weights.clone())
        .with_router(router);
    let mut world = World::default();
    world.slots.insert(slot.to_owned(), (v("1.0.0"), old));
    world.weights = router.then_some(weights);
    (spec, world)
}

/// Runs a program; checks weights and that traffic is always served; returns extremes.
fn run(world: &mut World, program: &[RolloutStep]) -> Vec<Extremes> {
    program
        .iter()
        .map(|s| {
            // No step may leave traffic unserved that was served before it (a step that ends
            // an outage the budget allowed is followed by the weights that use it).
            let unserved = world.total() == 0 || !world.traffic_is_served();
            let e = world.step(s);
            assert!(
                unserved || world.traffic_is_served(),
                "traffic to a slot without replicas after {}: {world:?}",
                s.label()
            );
            e
        })
        .collect()
}

fn new_only(world: &World, replicas: u32) -> bool {
    world.running().len() == 1
        && world.running()[0].1 == v("2.0.0")
        && world.running()[0].2 == replicas
}

fn old_only(world: &World, slot: &str, old: u32) -> bool {
    world.running() == vec![(slot.to_owned(), v("1.0.0"), old)]
        && world
            .weights
            .as_ref()
            .is_none_or(|w| w == &vec![SlotWeight::new(slot, 100)])
}

/// Every rollback, after a failure at every point of the forward program, ends on the old
/// version only with all traffic on it, and serves traffic at every step.
fn check_rollbacks(
    strategy: &dyn RolloutStrategy,
    spec: &RolloutSpec,
    start: &World,
    slot: &str,
    old: u32,
    program: &[RolloutStep],
) -> Vec<(usize, usize)> {
    let rollback = strategy.rollback_steps(spec);
    let mut steps_to_full_traffic = Vec::new();
    for failed_at in 0..=program.len() {
        let mut world = start.clone();
        run(&mut world, &program[..failed_at]);
        let (mut slot_full, mut reached) = (None, None);
        for (i, s) in rollback.iter().enumerate() {
            // No step may leave traffic unserved that was served before it.
            let unserved = world.total() == 0 || !world.traffic_is_served();
            world.step(s);
            assert!(
                unserved || world.traffic_is_served(),
                "rollback step {i} sends traffic nowhere: {world:?}"
            );
            if slot_full.is_none() && world.traffic().get(slot).copied() == Some(100.0) {
                slot_full = Some(i + 1);
            }
            if reached.is_none()
                && world.traffic().get(slot).copied() == Some(100.0)
                && world
                    .slots
                    .get(slot)
                    .is_some_and(|(v, _)| *v == semver::Version::new(1, 0, 0))
            {
                reached = Some(i + 1);
            }
        }
        assert!(
            old_only(&world, slot, old),
            "rollback after step {failed_at} left {world:?}"
        );
        steps_to_full_traffic.push((slot_full.unwrap_or(0), reached.unwrap_or(0)));
    }
    steps_to_full_traffic
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn rolling_stays_within_surge_and_unavailability(
        replicas in 1u32..25,
        max_surge in count_or_percent(),
        max_unavailable in count_or_percent(),
        router in any::<bool>(),
        pause in prop::option::of(1u64..100),
    ) {
        let rs = RollingSpec {
            max_surge,
            max_unavailable,
            pause_between: pause.map(HumanDuration::from_secs),
            rollback_window: None,
        };
        let (spec, start) = rollout(StrategySpec::Rolling(rs), "stable", replicas, replicas, router);
        let strategy = Rolling::default();
        let surge = max_surge.resolve(replicas, true);
        let unavailable = max_unavailable.resolve(replicas, false).min(replicas);
        let program = match strategy.steps(&spec) {
            Ok(p) => p,
            Err(e) => {
                prop_assert!(surge == 0 && unavailable == 0, "{e}");
                prop_assert!(e.to_string().contains("max_surge"));
                return Ok(());
            }
        };
        let mut world = start.clone();
        for e in run(&mut world, &program) {
            prop_assert!(e.max_total <= replicas + surge, "{} > {} + {}", e.max_total, replicas, surge);
            prop_assert!(e.min_ready >= replicas - unavailable, "{} < {} - {}", e.min_ready, replicas, unavailable);
        }
        prop_assert!(new_only(&world, replicas), "{world:?}");
        prop_assert_eq!(world.running()[0].0.clone(), "stable".to_owned());
        check_rollbacks(&strategy, &spec, &start, "stable", replicas, &program);
    }

    #[test]
    fn canary_weights_sum_to_100_and_abort_returns_traffic_in_one_step(
        replicas in 1u32..25,
        canary in canary_spec(),
        router in any::<bool>(),
    ) {
        let (spec, start) = rollout(StrategySpec::Canary(canary.clone()), "stable", replicas, replicas, router);
        let strategy = Canary::default();
        let surge = canary.max_surge.resolve(replicas, true);
        let unavailable = canary.max_unavailable.resolve(replicas, false).min(replicas);
        let program = match strategy.steps(&spec) {
            Ok(p) => p,
            Err(e) => {
                prop_assert!(!router && surge == 0 && unavailable == 0, "{e}");
                return Ok(());
            }
        };
        if router {
            // The room the program reserves up front suffices (issue #10: no regrowth).
            prop_assert!(program.len() <= 2 * canary.steps.len() + 8 + spec.previous.len());
        }
        let mut world = start.clone();
        let extremes = run(&mut world, &program);
        if !router {
            // Without a router the replica split is the traffic split, within the budget.
            for e in extremes {
                prop_assert!(e.max_total <= replicas + surge);
                prop_assert!(e.min_ready >= replicas - unavailable);
            }
        }
        prop_assert!(new_only(&world, replicas), "{world:?}");
        prop_assert_eq!(world.running()[0].0.clone(), "stable".to_owned());
        let reached = check_rollbacks(&strategy, &spec, &start, "stable", replicas, &program);
        if router {
            // After an abort at any point, stable holds 100 % of traffic after the first step
            // (on the old version unless promotion had already replaced it; then after two).
            prop_assert!(reached.iter().all(|(slot, old)| *slot == 1 && (1..=2).contains(old)), "{reached:?}");
        } else {
            // Without a router: stable is re-applied at full size first, the canary goes next.
            prop_assert!(reached.iter().all(|(_, old)| (1..=2).contains(old)), "{reached:?}");
        }
    }

    #[test]
    fn blue_green_switches_whole_and_rolls_back_by_a_switch(
        replicas in 1u32..25,
        bg in blue_green_spec(),
        router in any::<bool>(),
        color in prop_oneof![Just("blue"), Just("green"), Just("stable")],
    ) {
        let (spec, start) = rollout(StrategySpec::BlueGreen(bg), color, replicas, replicas, router);
        let strategy = BlueGreen::default();
        let program = strategy.steps(&spec).unwrap();
        let mut world = start.clone();
        run(&mut world, &program);
        prop_assert!(new_only(&world, replicas), "{world:?}");
        let new_color = if color == "blue" { "green" } else { "blue" };
        prop_assert_eq!(world.running()[0].0.clone(), new_color.to_owned());
        if router {
            // Exactly one switch to the new color, and the preview never had traffic before it.
            let switches = program.iter().filter(|s| **s == RolloutStep::SetWeights(vec![SlotWeight::new(new_color, 100)])).count();
            prop_assert_eq!(switches, 1);
        }
        let reached = check_rollbacks(&strategy, &spec, &start, color, replicas, &program);
        // Re-apply (a no-op while the old color runs), then the switch: at most two steps.
        prop_assert!(reached.iter().all(|(_, old)| (1..=2).contains(old)), "{reached:?}");
    }

    #[test]
    fn first_deploys_end_on_the_new_version_only(
        replicas in 1u32..25,
        router in any::<bool>(),
        which in 0usize..3,
    ) {
        let strategy: Box<dyn RolloutStrategy> = match which {
            0 => Box::new(Rolling::default()),
            1 => Box::new(BlueGreen::default()),
            _ => Box::new(Canary::builder().set_weight(20).pause_until_approved().build()),
        };
        let spec = RolloutSpec::new("web", "prod", v("2.0.0"), replicas, StrategySpec::AllAtOnce {}).with_router(router);
        let mut world = World { weights: router.then(Vec::new), ..World::default() };
        run(&mut world, &strategy.steps(&spec).unwrap());
        prop_assert!(new_only(&world, replicas), "{world:?}");
        let mut world = World { weights: router.then(Vec::new), ..World::default() };
        run(&mut world, &strategy.rollback_steps(&spec));
        prop_assert!(world.running().is_empty());
    }
}

#[test]
fn both_zero_is_refused_with_the_component_and_the_fix() {
    let rs = Rolling::builder()
        .max_surge(CountOrPercent::Count(0))
        .max_unavailable(CountOrPercent::Percent(10))
        .spec();
    let (spec, _) = rollout(StrategySpec::Rolling(rs), "stable", 5, 5, false);
    let err = Rolling::default().steps(&spec).unwrap_err();
    assert_eq!(err.kind(), release_core::ErrorKind::Invalid);
    let text = err.to_string();
    assert!(text.contains("web in prod"), "{text}");
    assert!(
        text.contains("max_surge (0) and max_unavailable (10%) both resolve to 0 for 5 replicas"),
        "{text}"
    );
    assert!(text.contains("set max_surge to at least 1"), "{text}");
}
