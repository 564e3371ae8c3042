//! SARIF 2.1.0 findings (M3.4, M4.3), read with serde_json into `sarif` evidence; the
//! `sarif` gate blocks on unsuppressed findings at or above `fail_on`.
//!
//! Decisions: a result's level is its `level`, else its rule's default level, else
//! `warning` (the SARIF default). A suppression counts when its status is `accepted` or
//! absent (SARIF 2.1.0 §3.35). New-only mode compares with a baseline by fingerprint
//! (`partialFingerprints`/`fingerprints`), else by ruleId + location.

use std::collections::BTreeSet;

use release_core::model::GateSpec;
use release_core::plugin::{GateVerdict, Reason};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::GatesError;
use super::evidence::{EvidencePayload, find_evidence};
use super::policy::GateInput;

/// A SARIF level, ordered by severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// `none`.
    None,
    /// `note`.
    Note,
    /// `warning`.
    Warning,
    /// `error`.
    Error,
}

impl Level {
    /// Reads `none`, `note`, `warning` or `error`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "note" => Some(Self::Note),
            "warning" => Some(Self::Warning),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// One result of a scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule.
    pub rule_id: String,
    /// Its level.
    pub level: Level,
    /// The message.
    pub message: String,
    /// `uri:line` of the first location, when given.
    pub location: Option<String>,
    /// The identity used against a baseline.
    pub identity: String,
    /// Suppressed with an accepted suppression.
    pub suppressed: bool,
}

/// The `sarif` evidence payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SarifReport {
    /// Where it came from.
    pub source: String,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Identities of the baseline's findings, in new-only mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BTreeSet<String>>,
}

impl EvidencePayload for SarifReport {
    const KIND: &'static str = "sarif";
}

impl SarifReport {
    /// Parses a SARIF 2.1.0 log.
    pub fn parse(source: &str, json: &str) -> Result<Self, GatesError> {
        let err = |problem: String| GatesError::InvalidSarif {
            source_name: source.to_owned(),
            problem,
            fix: "give a SARIF 2.1.0 log (`version: \"2.1.0\"`, `runs[].results[]`)".into(),
        };
        let log: Value = serde_json::from_str(json).map_err(|e| {
            err(format!(
                "not JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        match log.get("version").and_then(Value::as_str) {
            Some("2.1.0") => {}
            other => return Err(err(format!("version is {other:?}, not \"2.1.0\""))),
        }
        let runs = log
            .get("runs")
            .and_then(Value::as_array)
            .ok_or_else(|| err("`runs` is missing or not an array".into()))?;
        let mut findings = Vec::new();
        for (r, run) in runs.iter().enumerate() {
            let rules = run.pointer("/tool/driver/rules").and_then(Value::as_array);
            let results = run.get("results").and_then(Value::as_array);
            for (i, result) in results.into_iter().flatten().enumerate() {
                let rule_id = result
                    .get("ruleId")
                    .and_then(Value::as_str)
                    .or_else(|| result.pointer("/rule/id").and_then(Value::as_str))
                    .unwrap_or("unknown")
                    .to_owned();
                let default_level = rules
                    .and_then(|rs| {
                        rs.iter()
                            .find(|x| x.get("id").and_then(Value::as_str) == Some(&rule_id))
                    })
                    .and_then(|x| x.pointer("/defaultConfiguration/level"))
                    .and_then(Value::as_str);
                let level_text = result
                    .get("level")
                    .and_then(Value::as_str)
                    .or(default_level)
                    .unwrap_or("warning");
                let level = Level::parse(level_text).ok_or_else(|| {
                    err(format!("runs[{r}].results[{i}].level is `{level_text}`; use none, note, warning or error"))
                })?;
                let message = result
                    .pointer("/message/text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let location = result.pointer("/locations/0/physicalLocation").map(|p| {
                    let uri = p
                        .pointer("/artifactLocation/uri")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    match p.pointer("/region/startLine").and_then(Value::as_u64) {
                        Some(line) => format!("{uri}:{line}"),
                        None => uri.to_owned(),
                    }
                });
                let fingerprint = ["partialFingerprints", "fingerprints"]
                    .iter()
                    .find_map(|k| {
                        result.get(*k).and_then(Value::as_object).and_then(|m| {
                            m.iter()
                                .next()
                                .and_then(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                        })
                    });
                let identity = fingerprint
                    .unwrap_or_else(|| format!("{rule_id}@{}", location.as_deref().unwrap_or("?")));
                let suppressed = result
                    .get("suppressions")
                    .and_then(Value::as_array)
                    .is_some_and(|s| {
                        s.iter().any(|s| {
                            matches!(
                                s.get("status").and_then(Value::as_str),
                                None | Some("accepted")
                            )
                        })
                    });
                findings.push(Finding {
                    rule_id,
                    level,
                    message,
                    location,
                    identity,
                    suppressed,
                });
            }
        }
        Ok(Self {
            source: source.to_owned(),
            findings,
            baseline: None,
        })
    }

    /// New-only mode: only findings absent from `baseline` will block.
    pub fn against_baseline(mut self, baseline: &SarifReport) -> Self {
        self.baseline = Some(
            baseline
                .findings
                .iter()
                .map(|f| f.identity.clone())
                .collect(),
        );
        self
    }

    /// The findings that block at `threshold`: unsuppressed, at or above it, and new when a
    /// baseline is set.
    pub fn blocking(&self, threshold: Level) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| !f.suppressed && f.level >= threshold && f.level > Level::None)
            .filter(|f| {
                self.baseline
                    .as_ref()
                    .is_none_or(|b| !b.contains(&f.identity))
            })
            .collect()
    }
}

/// The SARIF gate (`sarif`): every recorded SARIF log must have no blocking finding.
#[derive(Clone, Debug, Default)]
pub struct SarifGate;

impl SarifGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let fail_on = match &context.spec {
            GateSpec::Sarif { fail_on } => fail_on.as_str(),
            _ => "error",
        };
        let Some(threshold) = Level::parse(fail_on) else {
            return Ok(GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "sarif.bad_threshold",
                    format!("fail_on `{fail_on}` is not none, note, warning or error"),
                )],
            });
        };
        let reports: Vec<SarifReport> = find_evidence::<SarifReport>(context.events, None)
            .into_iter()
            .filter_map(|f| f.payload.ok())
            .collect();
        if reports.is_empty() {
            return Ok(GateVerdict::Wait {
                until: None,
                reasons: vec![Reason::new(
                    "sarif.missing",
                    "no SARIF log recorded; record `sarif` evidence",
                )],
            });
        }
        let mut reasons = Vec::new();
        for report in &reports {
            for f in report.blocking(threshold) {
                reasons.push(Reason::new(
                    "sarif.finding",
                    format!(
                        "{}: {:?} {} at {}: {}",
                        report.source,
                        f.level,
                        f.rule_id,
                        f.location.as_deref().unwrap_or("?"),
                        f.message
                    ),
                ));
            }
        }
        Ok(if reasons.is_empty() {
            GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "sarif.clean",
                    format!(
                        "{} SARIF log(s) without findings at {fail_on} or above",
                        reports.len()
                    ),
                )],
            }
        } else {
            GateVerdict::Fail { reasons }
        })
    }
}

crate::promotion::policy::gate_via_input!(SarifGate, "SarifGate");
