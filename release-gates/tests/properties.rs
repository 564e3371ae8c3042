//! Property tests of the metric analysis (M6.1): the Hodges-Lehmann selection equals the
//! brute-force median of all pairwise differences; judge scores stay in 0–100 and adding a
//! failing metric never raises the score nor turns a failing verdict into a passing one;
//! SLO scores stay in 0–100.

use std::collections::BTreeMap;

use proptest::prelude::*;
use release_gates::analysis::judge::{
    Classification, Direction, JudgeConfig, MetricConfig, MetricSamples, Verdict, combine, judge,
};
use release_gates::analysis::mannwhitney::SortedSamples;
use release_gates::analysis::slo::{Objective, Slo, evaluate_slo};

fn brute_force_hl(x: &[f64], y: &[f64]) -> f64 {
    let mut d: Vec<f64> = x
        .iter()
        .flat_map(|a| y.iter().map(move |b| a - b))
        .collect();
    d.sort_by(f64::total_cmp);
    let n = d.len();
    if n % 2 == 1 {
        d[n / 2]
    } else {
        d[n / 2 - 1] / 2.0 + d[n / 2] / 2.0
    }
}

fn values() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(-1e3f64..1e3, 1..60),
        // Heavy ties.
        prop::collection::vec((0i32..5).prop_map(f64::from), 1..60),
        // Wide dynamic range.
        prop::collection::vec(prop_oneof![-1e12f64..1e12, -1e-9f64..1e-9], 1..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn hodges_lehmann_equals_brute_force(x in values(), y in values()) {
        let s = SortedSamples::new(&x, &y).unwrap();
        prop_assert_eq!(s.hodges_lehmann(), brute_force_hl(&x, &y));
        let (lo, hi) = s.hodges_lehmann_interval(0.9).unwrap();
        prop_assert!(lo <= hi);
    }
}

/// A metric whose canary is shifted by `shift` (0: passes; large: High).
fn metric_samples(shift: f64, present: bool) -> MetricSamples {
    if !present {
        return MetricSamples::default();
    }
    let base: Vec<f64> = (0..40).map(|i| f64::from(i % 9)).collect();
    MetricSamples::new(base.iter().map(|v| v + shift).collect(), base)
}

#[derive(Clone, Debug)]
struct Spec {
    group: u8,
    bad: bool,
    present: bool,
    critical: bool,
    must_have_data: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..3,
        any::<bool>(),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.1),
        any::<bool>(),
    )
        .prop_map(|(group, bad, present, critical, must_have_data)| Spec {
            group,
            bad,
            present,
            critical,
            must_have_data,
        })
}

fn build(specs: &[Spec], weights: &[f64; 3]) -> (JudgeConfig, BTreeMap<String, MetricSamples>) {
    let mut metrics = Vec::new();
    let mut samples = BTreeMap::new();
    for (i, s) in specs.iter().enumerate() {
        let name = format!("m{i}");
        metrics.push(
            MetricConfig::new(&name)
                .group(format!("g{}", s.group))
                .direction(Direction::Increase)
                .critical(s.critical)
                .must_have_data(s.must_have_data),
        );
        samples.insert(
            name,
            metric_samples(if s.bad { 20.0 } else { 0.0 }, s.present),
        );
    }
    let mut config = JudgeConfig::new(metrics);
    for (g, w) in weights.iter().enumerate() {
        config = config.weight(format!("g{g}"), *w);
    }
    (config, samples)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn judge_scores_stay_in_range(specs in prop::collection::vec(spec(), 0..8),
                                  w in prop::array::uniform3(0.1f64..10.0)) {
        let (config, samples) = build(&specs, &w);
        let r = judge(&config, &samples).unwrap();
        prop_assert!((0.0..=100.0).contains(&r.score), "score {}", r.score);
        for (s, m) in specs.iter().zip(&r.metrics) {
            if s.present {
                let expected = if s.bad { Classification::High } else { Classification::Pass };
                prop_assert_eq!(m.classification, expected);
            }
        }
    }

    #[test]
    fn adding_a_failing_metric_never_helps(specs in prop::collection::vec(spec(), 1..8),
                                           group in 0u8..3,
                                           critical in any::<bool>(),
                                           w in prop::array::uniform3(0.1f64..10.0)) {
        let (config, samples) = build(&specs, &w);
        let before = judge(&config, &samples).unwrap();
        // The no-data override (half or more without data → 0) is the one documented
        // exception: a metric with data lowers the no-data share. Compare like with like.
        let no_data = before.metrics.iter().filter(|m| m.classification == Classification::NoData).count();
        prop_assume!(2 * no_data < before.metrics.len());
        let mut more = specs.clone();
        more.push(Spec { group, bad: true, present: true, critical, must_have_data: false });
        let (config2, samples2) = build(&more, &w);
        let after = judge(&config2, &samples2).unwrap();
        prop_assert!(after.score <= before.score + 1e-9, "{} -> {}", before.score, after.score);
        prop_assert!(after.verdict <= before.verdict);
        if before.verdict == Verdict::Fail {
            prop_assert_eq!(after.verdict, Verdict::Fail);
        }
        // Combining the same judgements again gives the same result (determinism).
        prop_assert_eq!(combine(&config2, after.metrics.clone()), after);
    }

    #[test]
    fn slo_scores_stay_in_range(values in prop::collection::vec(prop::option::of(0.0f64..1000.0), 1..6),
                                weights in prop::collection::vec(0u32..5, 6),
                                keys in prop::collection::vec(any::<bool>(), 6)) {
        let mut objectives = Vec::new();
        let mut v = BTreeMap::new();
        let mut base = BTreeMap::new();
        for (i, value) in values.iter().enumerate() {
            let name = format!("sli{i}");
            objectives.push(
                Objective::new(&name, &["< 500", "<= +10%"]).unwrap()
                    .warning(&["< 800"]).unwrap()
                    .weight(weights[i])
                    .key(keys[i]),
            );
            if let Some(x) = value {
                v.insert(name.clone(), *x);
            }
            base.insert(name, 400.0);
        }
        let e = evaluate_slo(&Slo::new(objectives), &v, &base).unwrap();
        prop_assert!((0.0..=100.0).contains(&e.score));
    }
}

#[test]
fn the_no_data_override_is_not_monotone_by_design() {
    // One metric with data passing, one without: 50 % without data → 0.
    let specs = vec![
        Spec {
            group: 0,
            bad: false,
            present: true,
            critical: false,
            must_have_data: false,
        },
        Spec {
            group: 0,
            bad: false,
            present: false,
            critical: false,
            must_have_data: false,
        },
    ];
    let (config, samples) = build(&specs, &[1.0, 1.0, 1.0]);
    assert_eq!(judge(&config, &samples).unwrap().score, 0.0);
    let mut more = specs;
    more.push(Spec {
        group: 0,
        bad: true,
        present: true,
        critical: false,
        must_have_data: false,
    });
    let (config, samples) = build(&more, &[1.0, 1.0, 1.0]);
    let r = judge(&config, &samples).unwrap();
    assert_eq!(r.score, 50.0);
    assert_eq!(r.verdict, Verdict::Fail);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Large samples take the radix-sort path and the interpolating selection.
    #[test]
    fn large_samples_sort_and_select_like_brute_force(
        x in prop::collection::vec(prop_oneof![-1e6f64..1e6, (0i32..50).prop_map(f64::from), -1e-300f64..1e-300], 256..400),
        y in prop::collection::vec(prop_oneof![-1e6f64..1e6, (0i32..50).prop_map(f64::from)], 256..400),
    ) {
        let s = SortedSamples::new(&x, &y).unwrap();
        let mut expected: Vec<f64> = x.iter().map(|v| v + 0.0).collect();
        expected.sort_by(f64::total_cmp);
        prop_assert_eq!(s.x(), &expected[..]);
        prop_assert_eq!(s.hodges_lehmann(), brute_force_hl(&x, &y));
    }
}
