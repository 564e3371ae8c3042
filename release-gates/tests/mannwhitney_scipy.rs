//! Every case of `fixtures/mannwhitney/cases.json` (scipy.stats.mannwhitneyu's answers,
//! made by `generate.py`) gives the same U and a p-value within 1e-9 (M6.1).

use release_gates::analysis::mannwhitney::{
    Alternative, MannWhitneyOptions, Method, mann_whitney_u,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    scipy: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    x: Vec<i64>,
    y: Vec<i64>,
    scale: f64,
    alternative: String,
    method: String,
    use_continuity: bool,
    statistic: f64,
    pvalue: f64,
}

#[test]
fn p_values_equal_scipy_within_1e_9() {
    let text = include_str!("fixtures/mannwhitney/cases.json");
    let fixture: Fixture = serde_json::from_str(text).expect("fixture parses");
    assert!(fixture.cases.len() >= 30, "at least 30 cases");
    let mut worst = 0.0f64;
    for case in &fixture.cases {
        let x: Vec<f64> = case.x.iter().map(|&v| v as f64 / case.scale).collect();
        let y: Vec<f64> = case.y.iter().map(|&v| v as f64 / case.scale).collect();
        let alternative = match case.alternative.as_str() {
            "two-sided" => Alternative::TwoSided,
            "less" => Alternative::Less,
            "greater" => Alternative::Greater,
            other => panic!("unknown alternative {other}"),
        };
        let method = match case.method.as_str() {
            "auto" => Method::Auto,
            "exact" => Method::Exact,
            "asymptotic" => Method::Asymptotic,
            other => panic!("unknown method {other}"),
        };
        let options = MannWhitneyOptions::default()
            .alternative(alternative)
            .method(method)
            .use_continuity(case.use_continuity);
        let r = mann_whitney_u(&x, &y, &options).expect("valid samples");
        assert_eq!(r.u1, case.statistic, "{}: U1", case.name);
        let diff = (r.p_value - case.pvalue).abs();
        worst = worst.max(diff);
        assert!(
            diff <= 1e-9,
            "{}: p = {} but scipy {} says {}",
            case.name,
            r.p_value,
            fixture.scipy,
            case.pvalue
        );
    }
    eprintln!(
        "{} cases, largest |p - scipy| = {worst:e}",
        fixture.cases.len()
    );
}
