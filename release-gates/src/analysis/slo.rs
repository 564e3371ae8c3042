//! Keptn-style SLO scoring (M6.1): objectives with pass and warning criteria, weights and
//! key objectives, a total score 0–100 and pass / warning / fail.
//!
//! Rules (Keptn's lighthouse, written down):
//! - A criterion is absolute (`< 600`, `>= 0.99`) or relative to the baseline, as a
//!   percentage (`<= +10%`: at most 10 % above the baseline) or an amount (`<= +50`).
//! - An objective's criteria are a list of *sets*: a set is met when all its criteria hold;
//!   the objective meets its pass (warning) criteria when any set is met.
//! - An objective scores its full weight on pass, half on warning, nothing on fail; an
//!   objective without pass criteria is informational and scores nothing either way.
//! - No value for an objective fails it. A relative criterion without a baseline value
//!   holds, as in Keptn (nothing to compare with on a first run); the explanation says so.
//! - Total = achieved / Σ weights of scored objectives × 100. A failed key objective fails
//!   the evaluation whatever the score; otherwise ≥ `pass` → pass, ≥ `warning` → warning.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use release_core::model::{Comparison, Condition};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::AnalysisError;

/// How a criterion's bound is measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// An absolute value: `< 600`.
    Absolute(f64),
    /// Relative to the baseline, in percent: `<= +10%`.
    Percent(f64),
    /// Relative to the baseline, as an amount: `<= +50`.
    Amount(f64),
}

/// One criterion: `< 600`, `<= +10%`, `>= -5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Criterion {
    /// The comparison.
    pub op: Comparison,
    /// The bound.
    pub bound: Bound,
}

impl Criterion {
    /// Whether `value` meets the criterion; `None` when it is relative and there is no
    /// baseline.
    pub fn holds(&self, value: f64, baseline: Option<f64>) -> Option<bool> {
        let target = match self.bound {
            Bound::Absolute(v) => v,
            Bound::Percent(p) => baseline? * (1.0 + p / 100.0),
            Bound::Amount(a) => baseline? + a,
        };
        Some(
            Condition {
                op: self.op,
                value: target,
            }
            .holds(value),
        )
    }
}

fn op_str(op: Comparison) -> &'static str {
    match op {
        Comparison::Less => "<",
        Comparison::LessOrEqual => "<=",
        Comparison::Greater => ">",
        Comparison::GreaterOrEqual => ">=",
        Comparison::Equal => "==",
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = op_str(self.op);
        match self.bound {
            Bound::Absolute(v) => write!(f, "{op} {v}"),
            Bound::Percent(p) => write!(f, "{op} {p:+}%"),
            Bound::Amount(a) => write!(f, "{op} {a:+}"),
        }
    }
}

impl FromStr for Criterion {
    type Err = AnalysisError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            AnalysisError::Invalid(format!(
                "criterion `{s}` {why}; write e.g. `< 600`, `<= +10%` or `>= -5`"
            ))
        };
        let t = s.trim();
        let (op, rest) = [
            ("<=", Comparison::LessOrEqual),
            (">=", Comparison::GreaterOrEqual),
            ("==", Comparison::Equal),
            ("=", Comparison::Equal),
            ("<", Comparison::Less),
            (">", Comparison::Greater),
        ]
        .into_iter()
        .find_map(|(p, op)| t.strip_prefix(p).map(|r| (op, r.trim())))
        .ok_or_else(|| bad("has no comparison operator"))?;
        let relative = rest.starts_with('+') || rest.starts_with('-');
        let (number, percent) = match rest.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (rest, false),
        };
        let v: f64 = number
            .parse()
            .map_err(|_| bad("does not end in a number"))?;
        if !v.is_finite() {
            return Err(bad("has a bound that is not finite"));
        }
        let bound = match (relative, percent) {
            (_, true) => Bound::Percent(v),
            (true, false) => Bound::Amount(v),
            (false, false) => Bound::Absolute(v),
        };
        Ok(Self { op, bound })
    }
}

impl Serialize for Criterion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Criterion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A set of criteria that must all hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriteriaSet {
    /// The criteria.
    pub criteria: Vec<Criterion>,
}

/// One service-level objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Objective {
    /// The service-level indicator's name.
    pub sli: String,
    /// Criteria sets to pass (any set).
    #[serde(default)]
    pub pass: Vec<CriteriaSet>,
    /// Criteria sets to warn (any set).
    #[serde(default)]
    pub warning: Vec<CriteriaSet>,
    /// The weight (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    /// A failing key objective fails the whole evaluation.
    #[serde(default)]
    pub key_sli: bool,
}

fn one() -> u32 {
    1
}

impl Objective {
    /// An objective passing when all `pass` criteria hold (none: informational).
    ///
    /// # Errors
    /// A criterion that does not parse.
    pub fn new(sli: impl Into<String>, pass: &[&str]) -> Result<Self, AnalysisError> {
        Ok(Self {
            sli: sli.into(),
            pass: if pass.is_empty() {
                Vec::new()
            } else {
                vec![parse_set(pass)?]
            },
            warning: Vec::new(),
            weight: 1,
            key_sli: false,
        })
    }

    /// Adds a warning criteria set.
    ///
    /// # Errors
    /// A criterion that does not parse.
    pub fn warning(mut self, criteria: &[&str]) -> Result<Self, AnalysisError> {
        self.warning.push(parse_set(criteria)?);
        Ok(self)
    }

    /// Sets the weight.
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Marks the objective key.
    pub fn key(mut self, key: bool) -> Self {
        self.key_sli = key;
        self
    }
}

fn parse_set(criteria: &[&str]) -> Result<CriteriaSet, AnalysisError> {
    Ok(CriteriaSet {
        criteria: criteria
            .iter()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()?,
    })
}

/// Total-score thresholds in percent.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreThresholds {
    /// Lowest total that passes (Keptn's default 90).
    pub pass: f64,
    /// Lowest total that warns (Keptn's default 75).
    pub warning: f64,
}

impl Default for ScoreThresholds {
    fn default() -> Self {
        Self {
            pass: 90.0,
            warning: 75.0,
        }
    }
}

/// An SLO document: objectives and total-score thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Slo {
    /// The objectives.
    pub objectives: Vec<Objective>,
    /// The total-score thresholds.
    #[serde(default)]
    pub total_score: ScoreThresholds,
}

impl Slo {
    /// An SLO with Keptn's default thresholds.
    pub fn new(objectives: Vec<Objective>) -> Self {
        Self {
            objectives,
            total_score: ScoreThresholds::default(),
        }
    }
}

/// The result of an objective or of a whole evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloStatus {
    /// Failed.
    Fail,
    /// Warning.
    Warning,
    /// Passed.
    Pass,
    /// Informational (no pass criteria): not scored.
    Info,
}

impl fmt::Display for SloStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fail => "fail",
            Self::Warning => "warning",
            Self::Pass => "pass",
            Self::Info => "info",
        })
    }
}

/// One objective's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObjectiveResult {
    /// The indicator.
    pub sli: String,
    /// Its value.
    pub value: Option<f64>,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// The outcome.
    pub status: SloStatus,
    /// Score achieved (weight, half of it, or 0).
    pub score: f64,
    /// Why, in a sentence.
    pub reason: String,
}

/// The outcome of an SLO evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SloEvaluation {
    /// Total score 0–100.
    pub score: f64,
    /// Pass, warning or fail.
    pub result: SloStatus,
    /// Each objective.
    pub objectives: Vec<ObjectiveResult>,
}

impl fmt::Display for SloEvaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "SLO score {:.1}/100: {}", self.score, self.result)?;
        for o in &self.objectives {
            writeln!(f, "  - {}", o.reason)?;
        }
        Ok(())
    }
}

fn set_holds(set: &CriteriaSet, value: f64, baseline: Option<f64>, skipped: &mut bool) -> bool {
    set.criteria.iter().all(|c| {
        c.holds(value, baseline).unwrap_or_else(|| {
            *skipped = true;
            true
        })
    })
}

fn describe(sets: &[CriteriaSet]) -> String {
    sets.iter()
        .map(|s| {
            s.criteria
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Evaluates an SLO against indicator values and (optionally) baseline values.
///
/// # Errors
/// Thresholds out of range.
pub fn evaluate_slo(
    slo: &Slo,
    values: &BTreeMap<String, f64>,
    baseline: &BTreeMap<String, f64>,
) -> Result<SloEvaluation, AnalysisError> {
    let t = slo.total_score;
    if !(0.0..=100.0).contains(&t.warning) || !(t.warning..=100.0).contains(&t.pass) {
        return Err(AnalysisError::out_of_range(
            "total_score",
            format!("pass {} / warning {}", t.pass, t.warning),
            "use 0 <= warning <= pass <= 100",
        ));
    }
    let mut objectives = Vec::new();
    let (mut achieved, mut maximum) = (0.0, 0.0);
    let mut key_failed = Vec::new();
    for o in &slo.objectives {
        let value = values.get(&o.sli).copied().filter(|v| v.is_finite());
        let base = baseline.get(&o.sli).copied().filter(|v| v.is_finite());
        let weight = f64::from(o.weight);
        let scored = !o.pass.is_empty();
        let mut skipped = false;
        let (status, why) = match value {
            None if scored => (SloStatus::Fail, "no value".to_owned()),
            None => (SloStatus::Info, "no value (informational)".to_owned()),
            Some(_) if !scored => (SloStatus::Info, "informational, not scored".to_owned()),
            Some(v) => {
                if o.pass.iter().any(|s| set_holds(s, v, base, &mut skipped)) {
                    (SloStatus::Pass, format!("meets {}", describe(&o.pass)))
                } else if o
                    .warning
                    .iter()
                    .any(|s| set_holds(s, v, base, &mut skipped))
                {
                    (
                        SloStatus::Warning,
                        format!(
                            "misses {} but meets the warning criteria {}",
                            describe(&o.pass),
                            describe(&o.warning)
                        ),
                    )
                } else {
                    (SloStatus::Fail, format!("misses {}", describe(&o.pass)))
                }
            }
        };
        let score = match status {
            SloStatus::Pass => weight,
            SloStatus::Warning => weight / 2.0,
            _ => 0.0,
        };
        if scored {
            achieved += score;
            maximum += weight;
        }
        if o.key_sli && status == SloStatus::Fail {
            key_failed.push(o.sli.clone());
        }
        let shown = value.map_or_else(|| "no value".to_owned(), |v| v.to_string());
        let base_text = base.map_or_else(String::new, |b| format!(", baseline {b}"));
        let skip = if skipped {
            " (no baseline: relative criteria count as met, as in Keptn)"
        } else {
            ""
        };
        let key = if o.key_sli { " key" } else { "" };
        objectives.push(ObjectiveResult {
            sli: o.sli.clone(),
            value,
            baseline: base,
            status,
            score,
            reason: format!(
                "{}{key} = {shown}{base_text}: {status}, {why}{skip}; scores {score} of {weight}.",
                o.sli
            ),
        });
    }
    let score = if maximum > 0.0 {
        (100.0 * achieved / maximum).clamp(0.0, 100.0)
    } else {
        0.0
    };
    let result = if !key_failed.is_empty() {
        SloStatus::Fail
    } else if score >= t.pass {
        SloStatus::Pass
    } else if score >= t.warning {
        SloStatus::Warning
    } else {
        SloStatus::Fail
    };
    Ok(SloEvaluation {
        score,
        result,
        objectives,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo() -> Slo {
        Slo::new(vec![
            Objective::new("response_time_p95", &["< 600", "<= +10%"])
                .unwrap()
                .warning(&["< 800"])
                .unwrap(),
            Objective::new("error_rate", &["< 0.02"]).unwrap().key(true),
            Objective::new("throughput", &[]).unwrap(),
        ])
    }

    #[test]
    fn criteria_parse_and_print() {
        let c: Criterion = "<= +10%".parse().unwrap();
        assert_eq!(c.bound, Bound::Percent(10.0));
        assert_eq!(c.to_string(), "<= +10%");
        assert_eq!(
            "< 600".parse::<Criterion>().unwrap().bound,
            Bound::Absolute(600.0)
        );
        assert_eq!(
            ">= -5".parse::<Criterion>().unwrap().bound,
            Bound::Amount(-5.0)
        );
        assert!("about 5".parse::<Criterion>().is_err());
    }

    #[test]
    fn pass_warning_and_relative_criteria() {
        let base = BTreeMap::from([("response_time_p95".to_owned(), 500.0)]);
        let v = BTreeMap::from([
            ("response_time_p95".to_owned(), 540.0),
            ("error_rate".to_owned(), 0.01),
        ]);
        let e = evaluate_slo(&slo(), &v, &base).unwrap();
        assert_eq!(e.score, 100.0);
        assert_eq!(e.result, SloStatus::Pass);
        // 560 > 500 + 10 %: warning (half weight) -> 75.
        let v = BTreeMap::from([
            ("response_time_p95".to_owned(), 560.0),
            ("error_rate".to_owned(), 0.01),
        ]);
        let e = evaluate_slo(&slo(), &v, &base).unwrap();
        assert_eq!(e.score, 75.0);
        assert_eq!(e.result, SloStatus::Warning);
        assert!(
            e.objectives[0]
                .reason
                .contains("meets the warning criteria < 800")
        );
    }

    #[test]
    fn a_failing_key_objective_fails_everything() {
        let mut s = slo();
        s.objectives[0].weight = 10;
        let v = BTreeMap::from([
            ("response_time_p95".to_owned(), 100.0),
            ("error_rate".to_owned(), 0.5),
        ]);
        let e = evaluate_slo(&s, &v, &BTreeMap::new()).unwrap();
        assert!(e.score > 90.0);
        assert_eq!(e.result, SloStatus::Fail);
        assert!(e.objectives[0].reason.contains("no baseline"));
    }
}
