//! Threshold analysis with Argo Rollouts' semantics (M5.5), extended beyond the core: a run
//! of several metrics, each judged by release-core's [`evaluate_measurements`] (reused, not
//! duplicated), plus what the core leaves out: a metric with fewer than `count`
//! measurements is still `Running`, per-kind tallies for the explanation, and the run takes
//! its **worst** metric (Failed > Error > Inconclusive > Running > Successful, as Argo's
//! `IsWorse`). Inconclusive means *pause for a person*; no data counts as the template's
//! explicit `no_data` policy says.

use std::collections::BTreeMap;
use std::fmt;

use release_core::engine::{Measurement, evaluate_measurements};
use release_core::ledger::AnalysisOutcome;
use release_core::model::AnalysisTemplate;
use serde::{Deserialize, Serialize};

/// The phase of a metric or of a whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// Every metric finished within its limits.
    Successful,
    /// Measurements are still due.
    Running,
    /// Too many inconclusive measurements: a person must decide.
    Inconclusive,
    /// Too many consecutive query errors.
    Error,
    /// Too many failed measurements.
    Failed,
}

impl fmt::Display for RunPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Successful => "Successful",
            Self::Running => "Running",
            Self::Inconclusive => "Inconclusive",
            Self::Error => "Error",
            Self::Failed => "Failed",
        })
    }
}

/// Tallies and phase of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricRun {
    /// The metric's name in the run.
    pub name: String,
    /// Its phase.
    pub phase: RunPhase,
    /// Measurements taken.
    pub taken: u32,
    /// Successful measurements.
    pub successful: u32,
    /// Failed measurements.
    pub failed: u32,
    /// Inconclusive measurements (no data under the `inconclusive` policy included).
    pub inconclusive: u32,
    /// Query errors.
    pub errors: u32,
    /// Why, in a sentence.
    pub reason: String,
}

/// A run of several metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AnalysisRun {
    /// The worst metric's phase.
    pub phase: RunPhase,
    /// Each metric, by name.
    pub metrics: Vec<MetricRun>,
}

impl fmt::Display for AnalysisRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "analysis {}", self.phase)?;
        for m in &self.metrics {
            writeln!(f, "  - {}", m.reason)?;
        }
        Ok(())
    }
}

fn phase_of(outcome: AnalysisOutcome) -> RunPhase {
    match outcome {
        AnalysisOutcome::Successful => RunPhase::Successful,
        AnalysisOutcome::Failed => RunPhase::Failed,
        AnalysisOutcome::Inconclusive => RunPhase::Inconclusive,
        AnalysisOutcome::Error => RunPhase::Error,
    }
}

/// Judges one metric's measurements so far.
pub fn evaluate_metric(
    name: &str,
    template: &AnalysisTemplate,
    measurements: &[Measurement],
) -> MetricRun {
    // Classify each measurement alone with the core's rules (limits at zero).
    let strict = AnalysisTemplate {
        failure_limit: 0,
        inconclusive_limit: 0,
        consecutive_error_limit: 0,
        ..template.clone()
    };
    let (mut successful, mut failed, mut inconclusive, mut errors) = (0, 0, 0, 0);
    for m in measurements {
        match evaluate_measurements(&strict, std::slice::from_ref(m)) {
            AnalysisOutcome::Successful => successful += 1,
            AnalysisOutcome::Failed => failed += 1,
            AnalysisOutcome::Inconclusive => inconclusive += 1,
            AnalysisOutcome::Error => errors += 1,
        }
    }
    let taken = u32::try_from(measurements.len()).unwrap_or(u32::MAX);
    let core = phase_of(evaluate_measurements(template, measurements));
    let due = template.count.is_some_and(|c| taken < c) || template.count.is_none();
    let phase = match core {
        RunPhase::Successful if due => RunPhase::Running,
        p => p,
    };
    let conditions = match (&template.success, &template.failure) {
        (Some(s), Some(f)) => format!("success when {s}, failure when {f}"),
        (Some(s), None) => format!("success when {s}"),
        (None, Some(f)) => format!("failure when {f}"),
        (None, None) => "no condition".to_owned(),
    };
    let count = template
        .count
        .map_or_else(|| "unbounded".to_owned(), |c| c.to_string());
    let why = match phase {
        RunPhase::Successful => "all measurements within the limits".to_owned(),
        RunPhase::Running => format!("{taken} of {count} measurements taken, within the limits"),
        RunPhase::Failed => format!(
            "{failed} failed measurements exceed the failure limit of {}",
            template.failure_limit
        ),
        RunPhase::Inconclusive => format!(
            "{inconclusive} inconclusive measurements exceed the limit of {}; a person must decide (no data counts as {:?})",
            template.inconclusive_limit, template.no_data
        ),
        RunPhase::Error => format!(
            "more than {} consecutive query errors",
            template.consecutive_error_limit
        ),
    };
    MetricRun {
        name: name.to_owned(),
        phase,
        taken,
        successful,
        failed,
        inconclusive,
        errors,
        reason: format!(
            "{name} ({}; {conditions}) is {phase}: {why} ({successful} successful, {failed} failed, {inconclusive} inconclusive, {errors} errors).",
            template.metric.query
        ),
    }
}

/// Judges a run of several metrics: the run takes its worst metric's phase.
pub fn evaluate_run<'a>(
    metrics: impl IntoIterator<Item = (&'a str, &'a AnalysisTemplate, &'a [Measurement])>,
) -> AnalysisRun {
    let metrics: Vec<MetricRun> = metrics
        .into_iter()
        .map(|(name, t, m)| evaluate_metric(name, t, m))
        .collect();
    let phase = metrics
        .iter()
        .map(|m| m.phase)
        .max()
        .unwrap_or(RunPhase::Successful);
    AnalysisRun { phase, metrics }
}

/// Runs metrics given by name (sorted output, for determinism).
pub fn evaluate_named(
    metrics: &BTreeMap<String, (AnalysisTemplate, Vec<Measurement>)>,
) -> AnalysisRun {
    evaluate_run(
        metrics
            .iter()
            .map(|(n, (t, m))| (n.as_str(), t, m.as_slice())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use release_core::model::{MetricRef, NoDataPolicy};

    fn template(count: Option<u32>, no_data: NoDataPolicy) -> AnalysisTemplate {
        serde_json::from_value::<AnalysisTemplate>(serde_json::json!({
            "metric": {"source": "prom", "query": "error_ratio"},
            "success": "< 0.01",
            "failure_limit": 1,
            "inconclusive_limit": 0,
            "consecutive_error_limit": 1,
        }))
        .map(|mut t| {
            t.count = count;
            t.no_data = no_data;
            t
        })
        .unwrap()
    }

    #[test]
    fn running_until_count_then_successful() {
        let t = template(Some(3), NoDataPolicy::Inconclusive);
        let m = vec![Measurement::Value(0.001), Measurement::Value(0.002)];
        assert_eq!(evaluate_metric("e", &t, &m).phase, RunPhase::Running);
        let mut m3 = m.clone();
        m3.push(Measurement::Value(0.0));
        let r = evaluate_metric("e", &t, &m3);
        assert_eq!(r.phase, RunPhase::Successful);
        assert_eq!(r.successful, 3);
    }

    #[test]
    fn no_data_policy_is_explicit_and_inconclusive_pauses() {
        let t = template(Some(3), NoDataPolicy::Inconclusive);
        let r = evaluate_metric("e", &t, &[Measurement::NoData]);
        assert_eq!(r.phase, RunPhase::Inconclusive);
        assert!(r.reason.contains("a person must decide"));
        let t = template(Some(3), NoDataPolicy::Fail);
        let r = evaluate_metric("e", &t, &[Measurement::NoData, Measurement::NoData]);
        assert_eq!(r.phase, RunPhase::Failed);
    }

    #[test]
    fn the_run_takes_its_worst_metric() {
        let ok = template(Some(1), NoDataPolicy::Pass);
        let bad = template(Some(1), NoDataPolicy::Pass);
        let good = [Measurement::Value(0.0)];
        let errors = [
            Measurement::Error("down".into()),
            Measurement::Error("down".into()),
        ];
        let failing = [Measurement::Value(0.5), Measurement::Value(0.5)];
        let run = evaluate_run([
            ("a", &ok, &good[..]),
            ("b", &bad, &errors[..]),
            ("c", &bad, &failing[..]),
        ]);
        assert_eq!(run.phase, RunPhase::Failed);
        let run = evaluate_run([("a", &ok, &good[..]), ("b", &bad, &errors[..])]);
        assert_eq!(run.phase, RunPhase::Error);
        let _ = MetricRef {
            source: "x".into(),
            query: "y".into(),
        };
    }
}
