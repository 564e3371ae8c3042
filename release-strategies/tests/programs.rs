//! The programs each strategy writes, read as timelines (`RolloutStep::label`), for the cases
//! a person reviews: a normal update, the fast tracks, first deploys, and parameters read from
//! manifests and from `custom` blocks.

use release_core::model::{CanaryScale, StrategySpec};
use release_core::plugin::{RolloutSpec, RolloutStep, SlotSpec, SlotStatus, SlotWeight, Strategy};
use release_strategies::{BlueGreen, Canary, Rolling, all};

fn v(s: &str) -> semver::Version {
    s.parse().unwrap()
}

fn running(slot: &str, version: &str, n: u32) -> SlotStatus {
    SlotStatus::new(SlotSpec::new("web", "prod", slot, v(version), n), n)
}

fn spec(
    strategy: StrategySpec,
    replicas: u32,
    previous: Vec<SlotStatus>,
    router: bool,
) -> RolloutSpec {
    let weights = match (router, previous.first()) {
        (true, Some(p)) => vec![SlotWeight::new(p.spec.slot.clone(), 100)],
        _ => Vec::new(),
    };
    RolloutSpec::new("web", "prod", v("2.0.0"), replicas, strategy)
        .with_previous(previous, weights)
        .with_router(router)
}

fn labels(steps: &[RolloutStep]) -> Vec<String> {
    steps.iter().map(RolloutStep::label).collect()
}

fn strategy_block(yaml: &str) -> StrategySpec {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn rolling_four_replicas_with_the_default_25_percent() {
    let s = spec(
        strategy_block("rolling: {}"),
        4,
        vec![running("stable", "1.0.0", 4)],
        true,
    );
    let r = Rolling::default();
    assert_eq!(
        labels(&r.steps(&s).unwrap()),
        [
            // S = ceil(25 % of 4) = 1, U = floor(25 % of 4) = 1: total ≤ 5, ready ≥ 3.
            "apply next ×1 v2.0.0",
            "weights next 33 / stable 67",
            "apply stable ×2 v1.0.0",
            "apply next ×3 v2.0.0",
            "weights next 100",
            "apply stable ×0 v1.0.0",
            "apply next ×4 v2.0.0",
            // Hand-back: new replicas move from `next` to `stable` under the same bounds.
            "apply stable ×1 v2.0.0",
            "weights stable 33 / next 67",
            "apply next ×2 v2.0.0",
            "apply stable ×3 v2.0.0",
            "weights stable 100",
            "apply next ×0 v2.0.0",
            "apply stable ×4 v2.0.0",
            "remove next",
            "verify",
        ]
    );
    assert_eq!(
        labels(&r.rollback_steps(&s)),
        [
            "apply stable ×4 v1.0.0",
            "weights stable 100",
            "remove next"
        ]
    );
}

#[test]
fn rolling_pauses_between_batches_and_first_deploys_apply_directly() {
    let s = spec(
        strategy_block("rolling: { max_surge: 2, max_unavailable: 0, pause_between: 30s }"),
        4,
        vec![running("stable", "1.0.0", 4)],
        false,
    );
    let steps = labels(&Rolling::default().steps(&s).unwrap());
    assert_eq!(
        &steps[..5],
        [
            "apply next ×2 v2.0.0",
            "apply stable ×2 v1.0.0",
            "pause 30s",
            "apply next ×4 v2.0.0",
            "apply stable ×0 v1.0.0"
        ]
    );
    let first = spec(strategy_block("rolling: {}"), 4, vec![], false);
    assert_eq!(
        labels(&Rolling::default().steps(&first).unwrap()),
        ["apply stable ×4 v2.0.0", "verify"]
    );
    // The same build at another size only scales.
    let same = RolloutSpec::new("web", "prod", v("1.0.0"), 6, strategy_block("rolling: {}"))
        .with_previous(vec![running("stable", "1.0.0", 4)], vec![]);
    assert_eq!(
        labels(&Rolling::default().steps(&same).unwrap()),
        ["apply stable ×6 v1.0.0", "verify"]
    );
}

#[test]
fn canary_with_a_router() {
    let s = spec(
        strategy_block(
            "canary: { steps: [ { set_weight: 10 }, { pause: 1m }, { analysis: error-rate }, { set_canary_scale: { replicas: 3 } }, { set_weight: 50 }, { pause: approval } ], background_analysis: bg }",
        ),
        10,
        vec![running("stable", "1.0.0", 10)],
        true,
    );
    let c = Canary::default();
    assert_eq!(
        labels(&c.steps(&s).unwrap()),
        [
            "background analysis bg",
            "apply canary ×1 v2.0.0",
            "weights stable 90 / canary 10",
            "pause 1m",
            "analysis error-rate",
            "apply canary ×3 v2.0.0",
            "weights stable 50 / canary 50",
            "pause until promoted",
            "apply canary ×10 v2.0.0",
            "weights canary 100",
            "apply stable ×10 v2.0.0",
            "weights stable 100",
            "remove canary",
            "verify",
        ]
    );
    // Traffic back first, then the old stable, then the canary kept for the scale-down delay
    // (the engine ends background analyses before the rollback, so the pause is safe).
    assert_eq!(
        labels(&c.rollback_steps(&s)),
        [
            "weights stable 100",
            "apply stable ×10 v1.0.0",
            "pause 30s",
            "remove canary"
        ]
    );
}

#[test]
fn canary_without_a_router_follows_replicas_41_percent_of_10_is_4() {
    let s = spec(
        strategy_block(
            "canary: { steps: [ { set_weight: 41 }, { pause: 2m } ], abort_scale_down_delay: 1m }",
        ),
        10,
        vec![running("stable", "1.0.0", 10)],
        false,
    );
    let c = Canary::default();
    let steps = labels(&c.steps(&s).unwrap());
    // S = 3, U = 2: the canary grows by what the surge allows while stable shrinks.
    assert_eq!(
        &steps[..4],
        [
            "apply canary ×3 v2.0.0",
            "apply stable ×6 v1.0.0",
            "apply canary ×4 v2.0.0",
            "pause 2m"
        ]
    );
    assert_eq!(steps.last().unwrap(), "verify");
    assert_eq!(
        labels(&c.rollback_steps(&s)),
        ["apply stable ×10 v1.0.0", "remove canary"]
    );
    assert_eq!(
        release_strategies::canary::canary_replicas_without_router(10, 41),
        4
    );
    assert_eq!(
        release_strategies::canary::canary_replicas_without_router(10, 45),
        5
    );
    assert_eq!(
        release_strategies::canary::canary_replicas_with_router(10, 41, None),
        5
    );
    assert_eq!(
        release_strategies::canary::canary_replicas_with_router(
            10,
            41,
            Some(&CanaryScale::Weight(20))
        ),
        2
    );
}

#[test]
fn canary_fast_tracks_when_stable_already_runs_the_build() {
    let s = RolloutSpec::new(
        "web",
        "prod",
        v("1.0.0"),
        10,
        strategy_block("canary: { steps: [ { set_weight: 10 }, { analysis: a } ] }"),
    )
    .with_previous(
        vec![running("stable", "1.0.0", 10)],
        vec![SlotWeight::new("stable", 100)],
    )
    .with_router(true);
    assert_eq!(
        labels(&Canary::default().steps(&s).unwrap()),
        ["apply stable ×10 v1.0.0", "weights stable 100", "verify"]
    );
}

#[test]
fn weights_above_100_are_refused() {
    let s = spec(
        strategy_block("canary: { steps: [ { set_weight: 120 } ] }"),
        10,
        vec![running("stable", "1.0.0", 10)],
        true,
    );
    let err = Canary::default().steps(&s).unwrap_err().to_string();
    assert!(err.contains("step 1 sets weight 120, above 100"), "{err}");
}

#[test]
fn blue_green_with_a_router() {
    let s = spec(
        strategy_block(
            "blue_green: { pre_promotion_analysis: smoke, post_promotion_analysis: error-rate, auto_promotion: false, scale_down_delay: 5m }",
        ),
        10,
        vec![running("blue", "1.0.0", 10)],
        true,
    );
    let b = BlueGreen::default();
    assert_eq!(
        labels(&b.steps(&s).unwrap()),
        [
            "apply green ×10 v2.0.0",
            "analysis smoke",
            "pause until promoted",
            "weights green 100",
            "analysis error-rate",
            "pause 5m",
            "remove blue",
            "verify",
        ]
    );
    assert_eq!(
        labels(&b.rollback_steps(&s)),
        ["apply blue ×10 v1.0.0", "weights blue 100", "remove green"]
    );
}

#[test]
fn blue_green_fast_tracks_to_an_idle_color_that_still_runs_the_build() {
    // Green still runs 2.0.0 at full size (inside the scale-down delay): no analysis, no pause.
    let s = RolloutSpec::new(
        "web",
        "prod",
        v("2.0.0"),
        10,
        strategy_block("blue_green: { pre_promotion_analysis: smoke, auto_promotion: false }"),
    )
    .with_previous(
        vec![running("blue", "1.0.0", 10), running("green", "2.0.0", 10)],
        vec![SlotWeight::new("blue", 100)],
    )
    .with_router(true);
    assert_eq!(
        labels(&BlueGreen::default().steps(&s).unwrap()),
        [
            "apply green ×10 v2.0.0",
            "weights green 100",
            "pause 30s",
            "remove blue",
            "verify"
        ]
    );
}

#[test]
fn blue_green_without_a_router_switches_by_scaling() {
    let s = spec(
        strategy_block("blue_green: { auto_promotion_after: 1m }"),
        3,
        vec![running("green", "1.0.0", 3)],
        false,
    );
    let b = BlueGreen::default();
    assert_eq!(
        labels(&b.steps(&s).unwrap()),
        [
            "apply blue ×3 v2.0.0",
            "pause 1m",
            "apply green ×0 v1.0.0",
            "remove green",
            "verify"
        ]
    );
    assert_eq!(
        labels(&b.rollback_steps(&s)),
        ["apply green ×3 v1.0.0", "remove blue"]
    );
}

#[test]
fn custom_blocks_carry_parameters_to_a_renamed_strategy() {
    let r = Rolling::default().named("web-rolling");
    let s = spec(
        strategy_block(
            "custom: { name: web-rolling, params: { max_surge: 4, max_unavailable: 0 } }",
        ),
        4,
        vec![running("stable", "1.0.0", 4)],
        false,
    );
    assert_eq!(r.name(), "web-rolling");
    assert_eq!(
        &labels(&r.steps(&s).unwrap())[..2],
        ["apply next ×4 v2.0.0", "apply stable ×0 v1.0.0"]
    );
    let bad = spec(
        strategy_block("custom: { name: web-rolling, params: { surge: 4 } }"),
        4,
        vec![running("stable", "1.0.0", 4)],
        false,
    );
    let err = r.steps(&bad).unwrap_err().to_string();
    assert!(
        err.contains("web-rolling strategy of web in prod: its parameters cannot be read"),
        "{err}"
    );
}

#[test]
fn all_registers_every_built_in_strategy_by_its_manifest_name() {
    let names: Vec<String> = all().iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(names, ["all_at_once", "rolling", "blue_green", "canary"]);
}

#[test]
fn rolling_rolls_back_in_batches_from_where_the_first_pass_stopped() {
    // The rollout stopped with two old replicas in `stable` and three new ones in `next`.
    let s = spec(
        strategy_block("rolling: {}"),
        4,
        vec![running("stable", "1.0.0", 4)],
        true,
    )
    .with_current(vec![
        running("next", "2.0.0", 3),
        running("stable", "1.0.0", 2),
    ]);
    let steps = Rolling::default().rollback_steps(&s);
    assert_eq!(
        labels(&steps),
        [
            // At the ceiling of 5 already: `next` shrinks first, down to the floor of 3 ready
            // (weights follow the counts before anything shrinks), then the old version grows.
            "weights stable 67 / next 33",
            "apply next ×1 v2.0.0",
            "apply stable ×4 v1.0.0",
            "weights stable 100",
            "apply next ×0 v2.0.0",
            "remove next",
        ]
    );
    // Never above replicas + surge, never below replicas − unavailable.
    let mut counts = std::collections::BTreeMap::from([("stable", 2u32), ("next", 3u32)]);
    for step in &steps {
        if let RolloutStep::Apply(a) = step {
            let before = counts[a.slot.as_str()];
            counts.insert(
                if a.slot == "stable" { "stable" } else { "next" },
                a.replicas,
            );
            let total: u32 = counts.values().sum();
            assert!(total <= 5, "{counts:?}");
            if a.replicas < before {
                assert!(total >= 3, "{counts:?}");
            }
        }
    }
    // Mid hand-back (`stable` already new), the way back is the one-shot re-apply.
    let late = spec(
        strategy_block("rolling: {}"),
        4,
        vec![running("stable", "1.0.0", 4)],
        true,
    )
    .with_current(vec![
        running("next", "2.0.0", 2),
        running("stable", "2.0.0", 3),
    ]);
    assert_eq!(
        labels(&Rolling::default().rollback_steps(&late))[0],
        "apply stable ×4 v1.0.0"
    );
}
