//! Load-test summaries (M4.2): `load_test` evidence compared with absolute thresholds and
//! with production's baseline; the custom gate `load_test`.
//!
//! The gate is written `custom: { name: load_test, params: { … } }` with [`LoadTestParams`].
//!
//! Decisions:
//! - **Candidate and baseline are both `load_test` evidence for the same workload.** The
//!   baseline is the newest summary recorded *for the baseline environment* (`production`
//!   unless `baseline_environment` says otherwise); the candidate is the newest summary of the
//!   workload recorded release-wide or for any other environment.
//! - **Relative limits are `baseline × (1 + percent / 100)`** for latencies and the error
//!   rate (so a baseline error rate of 0 allows none), and `baseline × (1 − percent / 100)`
//!   as the least throughput.
//! - Missing candidate, or missing baseline while relative limits are set → **wait**
//!   (someone can run the test and resume). Every breached limit is a reason; any breach
//!   **fails**. Parameters that cannot be read are a typed error.

use release_core::id::EnvironmentName;
use release_core::model::GateSpec;
use release_core::plugin::{GateVerdict, Reason};
use serde::{Deserialize, Serialize};

use super::GatesError;
use super::evidence::{EvidencePayload, find_evidence};
use super::policy::GateInput;

/// A load test's result: the `load_test` evidence payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadTestSummary {
    /// The workload (scenario) that ran, e.g. `checkout-peak`.
    pub workload: String,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency, milliseconds.
    pub p95_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Failed requests / all requests, 0–1.
    pub error_rate: f64,
    /// Requests per second sustained.
    pub throughput_rps: f64,
}

impl EvidencePayload for LoadTestSummary {
    const KIND: &'static str = "load_test";
}

/// Absolute limits; each absent limit is not checked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbsoluteLimits {
    /// Highest p50, ms.
    pub max_p50_ms: Option<f64>,
    /// Highest p95, ms.
    pub max_p95_ms: Option<f64>,
    /// Highest p99, ms.
    pub max_p99_ms: Option<f64>,
    /// Highest error rate, 0–1.
    pub max_error_rate: Option<f64>,
    /// Least throughput, requests per second.
    pub min_throughput_rps: Option<f64>,
}

/// Limits relative to the baseline, in percent; each absent limit is not checked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelativeLimits {
    /// How much p50 may exceed the baseline's, %.
    pub p50_percent: Option<f64>,
    /// How much p95 may exceed the baseline's, %.
    pub p95_percent: Option<f64>,
    /// How much p99 may exceed the baseline's, %.
    pub p99_percent: Option<f64>,
    /// How much the error rate may exceed the baseline's, %.
    pub error_rate_percent: Option<f64>,
    /// How much throughput may fall below the baseline's, %.
    pub throughput_drop_percent: Option<f64>,
}

impl RelativeLimits {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The `params` of the `load_test` custom gate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadTestParams {
    /// The workload whose results count.
    pub workload: String,
    /// Absolute limits.
    #[serde(default)]
    pub absolute: AbsoluteLimits,
    /// Limits relative to the baseline.
    #[serde(default)]
    pub relative: RelativeLimits,
    /// The environment whose summary is the baseline (`production`).
    #[serde(default = "default_baseline")]
    pub baseline_environment: EnvironmentName,
}

fn default_baseline() -> EnvironmentName {
    EnvironmentName::new("production")
}

impl LoadTestParams {
    /// Reads the gate's `params`.
    pub fn from_value(params: &serde_json::Value) -> Result<Self, GatesError> {
        serde_json::from_value(params.clone()).map_err(|e| GatesError::InvalidInput {
            what: "params of gate load_test".into(),
            problem: e.to_string(),
            fix: "give `workload` and optional `absolute` (max_p50_ms, max_p95_ms, max_p99_ms, max_error_rate, min_throughput_rps) and `relative` (p50_percent, p95_percent, p99_percent, error_rate_percent, throughput_drop_percent) limits".into(),
        })
    }
}

/// `a ≤ b`, false when either is NaN (a NaN measurement breaches its limit).
fn at_most(a: f64, b: f64) -> bool {
    a <= b
}

/// Compares a candidate summary with the limits (and the baseline, when given); returns
/// one reason per breach, empty when everything holds.
pub fn breaches(
    candidate: &LoadTestSummary,
    params: &LoadTestParams,
    baseline: Option<&LoadTestSummary>,
) -> Vec<Reason> {
    let mut out = Vec::new();
    let a = &params.absolute;
    let above = [
        ("p50", candidate.p50_ms, a.max_p50_ms, "ms"),
        ("p95", candidate.p95_ms, a.max_p95_ms, "ms"),
        ("p99", candidate.p99_ms, a.max_p99_ms, "ms"),
        ("error rate", candidate.error_rate, a.max_error_rate, ""),
    ];
    for (what, value, limit, unit) in above {
        if let Some(limit) = limit
            && !at_most(value, limit)
        {
            out.push(Reason::new(
                "load_test.above_limit",
                format!(
                    "{}: {what} {value}{unit} > {limit}{unit}",
                    candidate.workload
                ),
            ));
        }
    }
    if let Some(min) = a.min_throughput_rps
        && !at_most(min, candidate.throughput_rps)
    {
        out.push(Reason::new(
            "load_test.below_limit",
            format!(
                "{}: throughput {} rps < {min} rps",
                candidate.workload, candidate.throughput_rps
            ),
        ));
    }
    let Some(base) = baseline else { return out };
    let r = &params.relative;
    let relative = [
        ("p50", candidate.p50_ms, base.p50_ms, r.p50_percent),
        ("p95", candidate.p95_ms, base.p95_ms, r.p95_percent),
        ("p99", candidate.p99_ms, base.p99_ms, r.p99_percent),
        (
            "error rate",
            candidate.error_rate,
            base.error_rate,
            r.error_rate_percent,
        ),
    ];
    for (what, value, base_value, percent) in relative {
        if let Some(percent) = percent {
            let limit = base_value * (1.0 + percent / 100.0);
            if !at_most(value, limit) {
                out.push(Reason::new(
                    "load_test.regression",
                    format!(
                        "{}: {what} {value} exceeds {} baseline {base_value} by more than {percent}% (limit {limit})",
                        candidate.workload, params.baseline_environment
                    ),
                ));
            }
        }
    }
    if let Some(percent) = r.throughput_drop_percent {
        let least = base.throughput_rps * (1.0 - percent / 100.0);
        if !at_most(least, candidate.throughput_rps) {
            out.push(Reason::new(
                "load_test.regression",
                format!(
                    "{}: throughput {} rps is more than {percent}% below {} baseline {} rps (least {least})",
                    candidate.workload,
                    candidate.throughput_rps,
                    params.baseline_environment,
                    base.throughput_rps
                ),
            ));
        }
    }
    out
}

/// The load-test gate, registered as the custom gate `load_test`.
#[derive(Clone, Debug, Default)]
pub struct LoadTestGate;

impl LoadTestGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let params = match &context.spec {
            GateSpec::Custom { params, .. } => LoadTestParams::from_value(params)?,
            _ => {
                return Err(GatesError::InvalidInput {
                    what: "gate load_test".into(),
                    problem: "it is not written as a custom gate".into(),
                    fix: "write `custom: { name: load_test, params: { workload: … } }`".into(),
                });
            }
        };
        let mut candidate = None;
        let mut baseline = None;
        for found in find_evidence::<LoadTestSummary>(context.events, None) {
            let Ok(summary) = found.payload else { continue };
            if summary.workload != params.workload {
                continue;
            }
            if found.environment == Some(&params.baseline_environment) {
                baseline = Some(summary);
            } else {
                candidate = Some(summary);
            }
        }
        let Some(candidate) = candidate else {
            return Ok(GateVerdict::Wait {
                until: None,
                reasons: vec![Reason::new(
                    "load_test.missing",
                    format!(
                        "no load-test results for workload {}; record `load_test` evidence",
                        params.workload
                    ),
                )],
            });
        };
        if baseline.is_none() && !params.relative.is_empty() {
            return Ok(GateVerdict::Wait {
                until: None,
                reasons: vec![Reason::new(
                    "load_test.baseline_missing",
                    format!(
                        "no {} baseline for workload {}; record `load_test` evidence for {}",
                        params.baseline_environment, params.workload, params.baseline_environment
                    ),
                )],
            });
        }
        let reasons = breaches(&candidate, &params, baseline.as_ref());
        Ok(if reasons.is_empty() {
            GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "load_test.ok",
                    format!(
                        "{}: p50 {} ms, p95 {} ms, p99 {} ms, error rate {}, {} rps within limits",
                        candidate.workload,
                        candidate.p50_ms,
                        candidate.p95_ms,
                        candidate.p99_ms,
                        candidate.error_rate,
                        candidate.throughput_rps
                    ),
                )],
            }
        } else {
            GateVerdict::Fail { reasons }
        })
    }
}

crate::promotion::policy::gate_via_input!(LoadTestGate, "LoadTestGate");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promotion::tests::{Journal, env, now, platform, release, spec};
    use release_core::id::PhaseName;
    use release_core::plugin::GatePosition;
    use serde_json::json;

    fn summary(p99: f64, error_rate: f64, rps: f64) -> LoadTestSummary {
        LoadTestSummary {
            workload: "checkout".into(),
            p50_ms: 20.0,
            p95_ms: 80.0,
            p99_ms: p99,
            error_rate,
            throughput_rps: rps,
        }
    }

    fn gate(params: serde_json::Value) -> GateSpec {
        spec(json!({"custom": {"name": "load_test", "params": params}}))
    }

    fn decide(gate: &GateSpec, journal: &Journal) -> Result<GateVerdict, GatesError> {
        let (p, r, e, ph) = (
            platform(),
            release(),
            env("production"),
            PhaseName::new("release"),
        );
        LoadTestGate.decide(&GateInput {
            platform: &p,
            release: &r,
            environment: &e,
            phase: &ph,
            position: GatePosition::Entry,
            spec: gate,
            now: now(),
            started_by: None,
            events: &journal.0,
        })
    }

    fn codes(v: &GateVerdict) -> Vec<&str> {
        v.reasons().iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn summary_round_trips_as_load_test_evidence() {
        // M4.2: a serde type with its evidence kind.
        assert_eq!(LoadTestSummary::KIND, "load_test");
        let s = summary(120.0, 0.001, 500.0);
        let value = serde_json::to_value(&s).expect("serializes");
        assert_eq!(value["workload"], "checkout");
        assert_eq!(value["p99_ms"], 120.0);
        let back: LoadTestSummary = serde_json::from_value(value).expect("deserializes");
        assert_eq!(back, s);
    }

    #[test]
    fn absolute_thresholds_pass_and_fail_with_every_breach() {
        // M4.2: absolute limits, every breach listed.
        let g = gate(json!({"workload": "checkout", "absolute": {
            "max_p99_ms": 200.0, "max_error_rate": 0.01, "min_throughput_rps": 400.0 }}));
        let ok = Journal::default().evidence("ci", Some("staging"), &summary(150.0, 0.001, 500.0));
        let v = decide(&g, &ok).expect("decides");
        assert!(v.passed(), "{v:?}");
        assert_eq!(codes(&v), ["load_test.ok"]);

        let bad = Journal::default().evidence("ci", None, &summary(250.0, 0.02, 300.0));
        let v = decide(&g, &bad).expect("decides");
        assert!(matches!(v, GateVerdict::Fail { .. }), "{v:?}");
        assert_eq!(
            codes(&v),
            [
                "load_test.above_limit",
                "load_test.above_limit",
                "load_test.below_limit"
            ]
        );
    }

    #[test]
    fn p99_may_not_exceed_production_baseline_by_more_than_ten_percent() {
        // M4.2: relative to production's baseline.
        let g = gate(json!({"workload": "checkout", "relative": {
            "p99_percent": 10.0, "throughput_drop_percent": 20.0 }}));
        let base =
            Journal::default().evidence("ops", Some("production"), &summary(100.0, 0.0, 1000.0));
        let within = base.evidence("ci", Some("staging"), &summary(110.0, 0.0, 800.0));
        let v = decide(&g, &within).expect("decides");
        assert!(v.passed(), "{v:?}");

        let base =
            Journal::default().evidence("ops", Some("production"), &summary(100.0, 0.0, 1000.0));
        let worse = base.evidence("ci", Some("staging"), &summary(111.0, 0.0, 799.0));
        let v = decide(&g, &worse).expect("decides");
        assert!(matches!(v, GateVerdict::Fail { .. }), "{v:?}");
        assert_eq!(codes(&v), ["load_test.regression", "load_test.regression"]);
        assert!(v.reasons()[0].message.contains("p99"), "{v:?}");
    }

    #[test]
    fn missing_results_or_baseline_wait_and_other_workloads_do_not_count() {
        // M4.2
        let g = gate(json!({"workload": "checkout", "relative": {"p99_percent": 10.0}}));
        let v = decide(&g, &Journal::default()).expect("decides");
        assert_eq!(codes(&v), ["load_test.missing"]);
        let only_candidate = Journal::default().evidence("ci", None, &summary(100.0, 0.0, 1.0));
        let v = decide(&g, &only_candidate).expect("decides");
        assert!(matches!(v, GateVerdict::Wait { until: None, .. }), "{v:?}");
        assert_eq!(codes(&v), ["load_test.baseline_missing"]);
        let other = LoadTestSummary {
            workload: "search".into(),
            ..summary(100.0, 0.0, 1.0)
        };
        let v = decide(&g, &Journal::default().evidence("ci", None, &other)).expect("decides");
        assert_eq!(codes(&v), ["load_test.missing"]);
    }

    #[test]
    fn unreadable_params_are_a_typed_error() {
        // M4.2
        let err =
            decide(&gate(json!({"max_p99": 3})), &Journal::default()).expect_err("bad params");
        assert!(
            matches!(&err, GatesError::InvalidInput { what, .. } if what == "params of gate load_test"),
            "{err}"
        );
    }
}
