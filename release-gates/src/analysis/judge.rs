//! A Kayenta-style canary judge (M6.1, M5.5): each metric's canary sample is compared with
//! its baseline sample, the metrics are scored in weighted groups, and the score gives
//! Pass / Marginal / Fail with a sentence per metric saying why.
//!
//! Rules (Kayenta's NetflixACAJudge, written down):
//! - **Classification** per metric: no values on either side → `NoData`. Otherwise a
//!   two-sided Mann-Whitney test; the change is the Hodges-Lehmann shift canary − baseline
//!   with its confidence interval at `confidence`. `High` / `Low` when p < 1 − confidence
//!   *and* the shift is beyond the tolerance (`tolerance` × |baseline median| +
//!   `absolute_tolerance`); `Pass` otherwise.
//! - **Direction** decides whether High or Low fails: `increase` (latency, errors) fails on
//!   High only, `decrease` (throughput, success rate) on Low only, `either` on both.
//! - **No data** does not count for or against a metric unless it is `must_have_data`, in
//!   which case it fails.
//! - **Score** = Σ w_g · (100 × passing / counted metrics of group g) / Σ w_g over groups
//!   with a counted metric; without weights every group weighs 1.
//! - **Overrides**: a failing `critical` metric forces the score to 0; so does no data on
//!   half or more of the metrics (a canary that cannot be seen is not a good canary). The
//!   no-data override is the one rule that is not monotone: adding a failing metric *with*
//!   data can lift the share below one half and so lift the score from 0.
//! - **Verdict**: score ≥ `pass_threshold` → Pass, ≥ `marginal_threshold` → Marginal, else
//!   Fail.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{AnalysisError, check_sample};
use super::mannwhitney::{MannWhitneyOptions, SortedSamples};

/// Which change of a metric is bad.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// An increase is bad (latency, error rate).
    Increase,
    /// A decrease is bad (throughput, success rate).
    Decrease,
    /// Any significant change is bad.
    #[default]
    Either,
}

/// How one metric is judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricConfig {
    /// The metric's name (the key of its samples).
    pub name: String,
    /// The group it is scored in (default `default`).
    #[serde(default = "default_group")]
    pub group: String,
    /// Which change is bad.
    #[serde(default)]
    pub direction: Direction,
    /// Shift tolerated as a share of the baseline's median (0.1 = 10 %).
    #[serde(default)]
    pub tolerance: f64,
    /// Shift tolerated in the metric's unit, on top of `tolerance`.
    #[serde(default)]
    pub absolute_tolerance: f64,
    /// A failure of this metric fails the whole judgement.
    #[serde(default)]
    pub critical: bool,
    /// No data for this metric counts as a failure.
    #[serde(default)]
    pub must_have_data: bool,
}

fn default_group() -> String {
    "default".to_owned()
}

impl MetricConfig {
    /// A metric in the `default` group, any significant change bad, no tolerance.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            group: default_group(),
            direction: Direction::Either,
            tolerance: 0.0,
            absolute_tolerance: 0.0,
            critical: false,
            must_have_data: false,
        }
    }

    /// Sets the group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Sets the bad direction.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = direction;
        self
    }

    /// Sets the relative tolerance.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Marks the metric critical.
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// Marks the metric as needing data.
    pub fn must_have_data(mut self, must_have_data: bool) -> Self {
        self.must_have_data = must_have_data;
        self
    }
}

/// The judge's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JudgeConfig {
    /// The metrics.
    pub metrics: Vec<MetricConfig>,
    /// Group weights; empty means every group weighs 1.
    #[serde(default)]
    pub group_weights: BTreeMap<String, f64>,
    /// Lowest score that passes (default 95).
    #[serde(default = "default_pass")]
    pub pass_threshold: f64,
    /// Lowest score that is marginal (default 75).
    #[serde(default = "default_marginal")]
    pub marginal_threshold: f64,
    /// Confidence of the test and interval (default 0.95, i.e. α = 0.05).
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_pass() -> f64 {
    95.0
}
fn default_marginal() -> f64 {
    75.0
}
fn default_confidence() -> f64 {
    0.95
}

impl JudgeConfig {
    /// A configuration with Kayenta's usual thresholds (95 / 75) and 95 % confidence.
    pub fn new(metrics: Vec<MetricConfig>) -> Self {
        Self {
            metrics,
            group_weights: BTreeMap::new(),
            pass_threshold: default_pass(),
            marginal_threshold: default_marginal(),
            confidence: default_confidence(),
        }
    }

    /// Sets a group's weight.
    pub fn weight(mut self, group: impl Into<String>, weight: f64) -> Self {
        self.group_weights.insert(group.into(), weight);
        self
    }

    /// Sets the pass and marginal thresholds.
    pub fn thresholds(mut self, pass: f64, marginal: f64) -> Self {
        self.pass_threshold = pass;
        self.marginal_threshold = marginal;
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    /// Thresholds, weights, tolerances or confidence out of range; a group without a
    /// weight when weights are given; a metric named twice.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if !(0.0..=100.0).contains(&self.marginal_threshold)
            || !(self.marginal_threshold..=100.0).contains(&self.pass_threshold)
        {
            return Err(AnalysisError::out_of_range(
                "pass_threshold / marginal_threshold",
                format!("{} / {}", self.pass_threshold, self.marginal_threshold),
                "use 0 <= marginal_threshold <= pass_threshold <= 100",
            ));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(AnalysisError::out_of_range(
                "confidence",
                self.confidence,
                "use a level strictly between 0 and 1, such as 0.95",
            ));
        }
        for (group, w) in &self.group_weights {
            if !(w.is_finite() && *w > 0.0) {
                return Err(AnalysisError::out_of_range(
                    format!("group_weights.{group}"),
                    w,
                    "use a finite weight above 0 (drop the group to ignore it)",
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.metrics {
            if !seen.insert(&m.name) {
                return Err(AnalysisError::Invalid(format!(
                    "metric `{}` is listed twice; give each metric one entry",
                    m.name
                )));
            }
            if !self.group_weights.is_empty() && !self.group_weights.contains_key(&m.group) {
                return Err(AnalysisError::Invalid(format!(
                    "metric `{}` is in group `{}`, which has no weight; add it to group_weights",
                    m.name, m.group
                )));
            }
            for (field, v) in [
                ("tolerance", m.tolerance),
                ("absolute_tolerance", m.absolute_tolerance),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(AnalysisError::out_of_range(
                        format!("metrics.{}.{field}", m.name),
                        v,
                        "use a finite tolerance of 0 or more",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The canary and baseline samples of one metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSamples {
    /// Values from the canary.
    pub canary: Vec<f64>,
    /// Values from the baseline.
    pub baseline: Vec<f64>,
}

impl MetricSamples {
    /// Samples from two vectors.
    pub fn new(canary: Vec<f64>, baseline: Vec<f64>) -> Self {
        Self { canary, baseline }
    }
}

/// What the comparison of one metric found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// No significant change beyond the tolerance.
    Pass,
    /// The canary is significantly higher.
    High,
    /// The canary is significantly lower.
    Low,
    /// No values on one side or both.
    NoData,
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "Pass",
            Self::High => "High",
            Self::Low => "Low",
            Self::NoData => "NoData",
        })
    }
}

/// One metric's judgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricJudgement {
    /// The metric.
    pub name: String,
    /// Its group.
    pub group: String,
    /// What the comparison found.
    pub classification: Classification,
    /// True when the metric counts as passing (for the score).
    pub passed: bool,
    /// True when the metric counts in its group's score (no data without
    /// `must_have_data` does not).
    pub counted: bool,
    /// Whether the metric is critical.
    pub critical: bool,
    /// The two-sided Mann-Whitney p-value.
    pub p_value: Option<f64>,
    /// The Hodges-Lehmann shift canary − baseline.
    pub shift: Option<f64>,
    /// Its confidence interval.
    pub interval: Option<(f64, f64)>,
    /// The baseline's median.
    pub baseline_median: Option<f64>,
    /// Why, in a sentence.
    pub reason: String,
}

/// The judge's overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Below the marginal threshold.
    Fail,
    /// Between the marginal and pass thresholds: a person should look.
    Marginal,
    /// At or above the pass threshold.
    Pass,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fail => "Fail",
            Self::Marginal => "Marginal",
            Self::Pass => "Pass",
        })
    }
}

/// The result of judging a canary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JudgeResult {
    /// Score 0–100.
    pub score: f64,
    /// Pass, Marginal or Fail.
    pub verdict: Verdict,
    /// Each group's score (groups with a counted metric).
    pub group_scores: BTreeMap<String, f64>,
    /// Each metric's judgement, in configuration order.
    pub metrics: Vec<MetricJudgement>,
    /// Why the score is what it is, when an override applied.
    pub overrides: Vec<String>,
}

impl fmt::Display for JudgeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "canary score {:.1}/100: {}", self.score, self.verdict)?;
        for o in &self.overrides {
            writeln!(f, "  ! {o}")?;
        }
        for m in &self.metrics {
            writeln!(f, "  - {}", m.reason)?;
        }
        Ok(())
    }
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        sorted[n / 2 - 1] / 2.0 + sorted[n / 2] / 2.0
    }
}

/// Judges one metric.
///
/// # Errors
/// A non-finite value in a sample.
pub fn judge_metric(
    config: &MetricConfig,
    samples: &MetricSamples,
    confidence: f64,
) -> Result<MetricJudgement, AnalysisError> {
    let name = &config.name;
    if samples.canary.is_empty() || samples.baseline.is_empty() {
        let side = match (samples.canary.is_empty(), samples.baseline.is_empty()) {
            (true, true) => "canary and baseline",
            (true, false) => "canary",
            _ => "baseline",
        };
        let passed = !config.must_have_data;
        let consequence = if passed {
            "not counted"
        } else {
            "fails: it must have data"
        };
        return Ok(MetricJudgement {
            name: name.clone(),
            group: config.group.clone(),
            classification: Classification::NoData,
            passed,
            counted: config.must_have_data,
            critical: config.critical,
            p_value: None,
            shift: None,
            interval: None,
            baseline_median: None,
            reason: format!("{name}: no data from the {side}; {consequence}."),
        });
    }
    check_sample(&format!("canary of {name}"), &samples.canary)?;
    check_sample(&format!("baseline of {name}"), &samples.baseline)?;
    let s = SortedSamples::new(&samples.canary, &samples.baseline)?;
    let test = s.mann_whitney(&MannWhitneyOptions::default())?;
    let shift = s.hodges_lehmann();
    let interval = s.hodges_lehmann_interval(confidence)?;
    let base = median(s.y());
    let alpha = 1.0 - confidence;
    let allowed = config.tolerance * base.abs() + config.absolute_tolerance;
    let significant = test.p_value < alpha;
    let classification = if significant && shift > allowed {
        Classification::High
    } else if significant && -shift > allowed {
        Classification::Low
    } else {
        Classification::Pass
    };
    let passed = !matches!(
        (classification, config.direction),
        (
            Classification::High,
            Direction::Increase | Direction::Either
        ) | (Classification::Low, Direction::Decrease | Direction::Either)
    );
    let relative = if base != 0.0 {
        format!(
            " ({:+.1}% of the baseline median {base})",
            100.0 * shift / base.abs()
        )
    } else {
        String::new()
    };
    let evidence = format!(
        "shift {shift:+.6}{relative}, {:.0}% CI [{:.6}, {:.6}], p = {:.3e}",
        confidence * 100.0,
        interval.0,
        interval.1,
        test.p_value
    );
    let why = match classification {
        Classification::Pass if significant => {
            format!("the change is significant but within the tolerance of {allowed:.6}; passes")
        }
        Classification::Pass => format!("no significant change (p >= {alpha}); passes"),
        Classification::High if passed => {
            "the canary is higher, which is not the bad direction here; passes".to_owned()
        }
        Classification::High => format!(
            "the canary is higher beyond the tolerance of {allowed:.6} and an increase is bad; fails"
        ),
        Classification::Low if passed => {
            "the canary is lower, which is not the bad direction here; passes".to_owned()
        }
        Classification::Low => format!(
            "the canary is lower beyond the tolerance of {allowed:.6} and a decrease is bad; fails"
        ),
        Classification::NoData => String::new(),
    };
    let critical = if config.critical && !passed {
        " It is critical: the canary fails."
    } else {
        ""
    };
    Ok(MetricJudgement {
        name: name.clone(),
        group: config.group.clone(),
        classification,
        passed,
        counted: true,
        critical: config.critical,
        p_value: Some(test.p_value),
        shift: Some(shift),
        interval: Some(interval),
        baseline_median: Some(base),
        reason: format!("{name} is {classification}: {evidence}; {why}.{critical}"),
    })
}

/// Judges a canary: every configured metric against its samples (a metric without an
/// entry in `samples` has no data).
///
/// # Errors
/// An invalid configuration or a non-finite value in a sample.
pub fn judge(
    config: &JudgeConfig,
    samples: &BTreeMap<String, MetricSamples>,
) -> Result<JudgeResult, AnalysisError> {
    config.validate()?;
    let empty = MetricSamples::default();
    let metrics = config
        .metrics
        .iter()
        .map(|m| judge_metric(m, samples.get(&m.name).unwrap_or(&empty), config.confidence))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(combine(config, metrics))
}

/// Scores metric judgements (already made) under a configuration's weights and thresholds.
pub fn combine(config: &JudgeConfig, metrics: Vec<MetricJudgement>) -> JudgeResult {
    let mut groups: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for m in metrics.iter().filter(|m| m.counted) {
        let e = groups.entry(m.group.as_str()).or_default();
        e.1 += 1;
        if m.passed {
            e.0 += 1;
        }
    }
    let mut group_scores = BTreeMap::new();
    let (mut weighted, mut total_weight) = (0.0, 0.0);
    for (group, (passed, counted)) in &groups {
        let score = 100.0 * *passed as f64 / *counted as f64;
        let w = config.group_weights.get(*group).copied().unwrap_or(1.0);
        weighted += w * score;
        total_weight += w;
        group_scores.insert((*group).to_owned(), score);
    }
    let mut score = if total_weight > 0.0 {
        (weighted / total_weight).clamp(0.0, 100.0)
    } else {
        0.0
    };
    let mut overrides = Vec::new();
    let failed_critical: Vec<&str> = metrics
        .iter()
        .filter(|m| m.critical && !m.passed)
        .map(|m| m.name.as_str())
        .collect();
    if !failed_critical.is_empty() {
        overrides.push(format!(
            "critical metric(s) {} failed: score forced to 0",
            failed_critical.join(", ")
        ));
        score = 0.0;
    }
    let no_data = metrics
        .iter()
        .filter(|m| m.classification == Classification::NoData)
        .count();
    if !metrics.is_empty() && 2 * no_data >= metrics.len() {
        overrides.push(format!(
            "{no_data} of {} metrics have no data (half or more): score forced to 0",
            metrics.len()
        ));
        score = 0.0;
    }
    if metrics.is_empty() {
        overrides.push("no metrics configured: score 0".to_owned());
    }
    let verdict = if score >= config.pass_threshold {
        Verdict::Pass
    } else if score >= config.marginal_threshold {
        Verdict::Marginal
    } else {
        Verdict::Fail
    };
    JudgeResult {
        score,
        verdict,
        group_scores,
        metrics,
        overrides,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, offset: f64) -> Vec<f64> {
        (0..n).map(|i| (i % 17) as f64 + offset).collect()
    }

    #[test]
    fn a_latency_regression_fails_with_a_reason() {
        let config = JudgeConfig::new(vec![
            MetricConfig::new("latency")
                .direction(Direction::Increase)
                .group("latency"),
            MetricConfig::new("errors")
                .direction(Direction::Increase)
                .group("errors"),
        ]);
        let mut samples = BTreeMap::new();
        samples.insert(
            "latency".to_owned(),
            MetricSamples::new(ramp(200, 5.0), ramp(200, 0.0)),
        );
        samples.insert(
            "errors".to_owned(),
            MetricSamples::new(ramp(200, 0.0), ramp(200, 0.0)),
        );
        let r = judge(&config, &samples).unwrap();
        assert_eq!(r.score, 50.0);
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.metrics[0].classification, Classification::High);
        assert!(r.metrics[0].reason.contains("an increase is bad; fails"));
        assert_eq!(r.metrics[1].classification, Classification::Pass);
        assert!(r.to_string().starts_with("canary score 50.0/100: Fail"));
    }

    #[test]
    fn lower_latency_passes_when_only_increase_is_bad() {
        let config = JudgeConfig::new(vec![
            MetricConfig::new("latency").direction(Direction::Increase),
        ]);
        let samples = BTreeMap::from([(
            "latency".to_owned(),
            MetricSamples::new(ramp(100, -3.0), ramp(100, 0.0)),
        )]);
        let r = judge(&config, &samples).unwrap();
        assert_eq!(r.metrics[0].classification, Classification::Low);
        assert_eq!(r.verdict, Verdict::Pass);
    }

    #[test]
    fn critical_failure_forces_zero() {
        let config = JudgeConfig::new(vec![
            MetricConfig::new("a").critical(true),
            MetricConfig::new("b"),
            MetricConfig::new("c"),
        ]);
        let samples = BTreeMap::from([
            (
                "a".to_owned(),
                MetricSamples::new(ramp(100, 9.0), ramp(100, 0.0)),
            ),
            (
                "b".to_owned(),
                MetricSamples::new(ramp(100, 0.0), ramp(100, 0.0)),
            ),
            (
                "c".to_owned(),
                MetricSamples::new(ramp(100, 0.0), ramp(100, 0.0)),
            ),
        ]);
        let r = judge(&config, &samples).unwrap();
        assert_eq!(r.score, 0.0);
        assert!(r.overrides[0].contains("critical metric(s) a failed"));
    }

    #[test]
    fn half_without_data_forces_zero_and_must_have_data_fails() {
        let config = JudgeConfig::new(vec![
            MetricConfig::new("a"),
            MetricConfig::new("b").must_have_data(true),
        ]);
        let samples = BTreeMap::from([(
            "a".to_owned(),
            MetricSamples::new(ramp(50, 0.0), ramp(50, 0.0)),
        )]);
        let r = judge(&config, &samples).unwrap();
        assert_eq!(r.score, 0.0);
        assert!(!r.metrics[1].passed);
        assert!(
            r.metrics[1]
                .reason
                .contains("no data from the canary and baseline")
        );
    }

    #[test]
    fn nan_is_a_typed_error_naming_the_metric() {
        let config = JudgeConfig::new(vec![MetricConfig::new("lat")]);
        let samples = BTreeMap::from([(
            "lat".to_owned(),
            MetricSamples::new(vec![1.0, f64::NAN], vec![1.0]),
        )]);
        let e = judge(&config, &samples).unwrap_err();
        assert!(e.to_string().contains("canary of lat"), "{e}");
    }

    #[test]
    fn a_group_without_weight_is_rejected() {
        let config = JudgeConfig::new(vec![MetricConfig::new("a").group("g")]).weight("h", 1.0);
        assert!(matches!(config.validate(), Err(AnalysisError::Invalid(_))));
    }
}
