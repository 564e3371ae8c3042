//! JUnit XML results (M4.1, M4.4), parsed with quick-xml into a summary stored as `junit`
//! evidence; the `junit` gate checks the newest report's pass rate.
//!
//! Decisions: counts come from `<testcase>` elements (a case with `<failure>`, `<error>` or
//! `<skipped>` counts as such); a `<testsuite>` without cases contributes its attributes.
//! The pass rate is passed / (tests − skipped); a report where nothing ran fails. Test
//! evidence is release-wide: results recorded for staging gate production.

use quick_xml::events::{BytesStart, Event as Xml};
use release_core::model::GateSpec;
use release_core::plugin::{GateVerdict, Reason};
use serde::{Deserialize, Serialize};

use super::GatesError;
use super::evidence::{EvidencePayload, find_evidence};
use super::policy::GateInput;

/// Counts of one test suite.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteSummary {
    /// The suite's name.
    pub name: String,
    /// Tests.
    pub tests: u64,
    /// Failed assertions.
    pub failures: u64,
    /// Errors (crashes).
    pub errors: u64,
    /// Skipped.
    pub skipped: u64,
}

/// A JUnit report: its suites and totals (the `junit` evidence payload).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JunitReport {
    /// Where it came from (file or CI job).
    pub source: String,
    /// Suites in document order.
    pub suites: Vec<SuiteSummary>,
}

impl EvidencePayload for JunitReport {
    const KIND: &'static str = "junit";
}

impl JunitReport {
    /// Totals over every suite.
    pub fn totals(&self) -> SuiteSummary {
        let mut t = SuiteSummary {
            name: "total".into(),
            ..SuiteSummary::default()
        };
        for s in &self.suites {
            t.tests += s.tests;
            t.failures += s.failures;
            t.errors += s.errors;
            t.skipped += s.skipped;
        }
        t
    }

    /// Passed / (tests − skipped); `None` when nothing ran.
    pub fn pass_rate(&self) -> Option<f64> {
        let t = self.totals();
        let ran = t.tests.saturating_sub(t.skipped);
        let passed = ran.saturating_sub(t.failures + t.errors);
        (ran > 0).then(|| passed as f64 / ran as f64)
    }

    /// Parses a JUnit XML document; `source` names it in errors.
    pub fn parse(source: &str, xml: &str) -> Result<Self, GatesError> {
        let line_of = |pos: u64| {
            let pos = usize::try_from(pos).unwrap_or(usize::MAX).min(xml.len());
            xml.as_bytes()[..pos]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64
                + 1
        };
        let err = |pos: u64, problem: String| {
            GatesError::InvalidJunit {
            source_name: source.to_owned(),
            line: line_of(pos),
            problem,
            fix: "export the results as JUnit XML (`<testsuites>`/`<testsuite>` with `<testcase>` elements)".into(),
        }
        };
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut report = JunitReport {
            source: source.to_owned(),
            suites: Vec::new(),
        };
        // Open suites: (summary, saw a testcase).
        let mut stack: Vec<(SuiteSummary, bool)> = Vec::new();
        let mut in_case: Option<u8> = None; // 0 passed, 1 failure, 2 error, 3 skipped
        let mut saw_root = false;
        loop {
            let event = reader
                .read_event()
                .map_err(|e| err(reader.error_position(), e.to_string()))?;
            let pos = reader.buffer_position();
            match event {
                Xml::Start(ref e) | Xml::Empty(ref e) => {
                    let empty = matches!(event, Xml::Empty(_));
                    let name = e.local_name();
                    match name.as_ref() {
                        "testsuites" => saw_root = true,
                        "testsuite" => {
                            saw_root = true;
                            let suite = SuiteSummary {
                                name: attr(e, "name").unwrap_or_default(),
                                tests: num(e, "tests").map_err(|p| err(pos, p))?,
                                failures: num(e, "failures").map_err(|p| err(pos, p))?,
                                errors: num(e, "errors").map_err(|p| err(pos, p))?,
                                skipped: num(e, "skipped").map_err(|p| err(pos, p))?
                                    + num(e, "disabled").map_err(|p| err(pos, p))?,
                            };
                            if empty {
                                report.suites.push(suite);
                            } else {
                                stack.push((suite, false));
                            }
                        }
                        "testcase" => {
                            if stack.is_empty() {
                                stack.push((SuiteSummary::default(), false));
                            }
                            if empty {
                                count_case(&mut stack, 0);
                            } else {
                                in_case = Some(0);
                            }
                        }
                        "failure" | "error" | "skipped" => {
                            if let Some(state) = in_case.as_mut() {
                                let kind = match name.as_ref() {
                                    "failure" => 1,
                                    "error" => 2,
                                    _ => 3,
                                };
                                *state = (*state).max(kind);
                            }
                        }
                        _ => {}
                    }
                }
                Xml::End(ref e) => match e.local_name().as_ref() {
                    "testcase" => {
                        let state = in_case.take().unwrap_or(0);
                        count_case(&mut stack, state);
                    }
                    "testsuite" => {
                        if let Some((suite, _)) = stack.pop() {
                            report.suites.push(suite);
                        }
                    }
                    _ => {}
                },
                Xml::Eof => break,
                _ => {}
            }
        }
        for (suite, _) in stack.drain(..) {
            report.suites.push(suite);
        }
        if !saw_root {
            return Err(err(0, "no <testsuites> or <testsuite> element".into()));
        }
        Ok(report)
    }
}

fn count_case(stack: &mut [(SuiteSummary, bool)], state: u8) {
    if let Some((suite, saw_case)) = stack.last_mut() {
        if !*saw_case {
            // Cases are the truth: forget the suite's attribute counts.
            *saw_case = true;
            suite.tests = 0;
            suite.failures = 0;
            suite.errors = 0;
            suite.skipped = 0;
        }
        suite.tests += 1;
        match state {
            1 => suite.failures += 1,
            2 => suite.errors += 1,
            3 => suite.skipped += 1,
            _ => {}
        }
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .map(|a| a.value.to_string())
}

fn num(e: &BytesStart<'_>, name: &str) -> Result<u64, String> {
    match attr(e, name) {
        None => Ok(0),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("attribute `{name}` is `{v}`, not a whole number")),
    }
}

/// The JUnit gate (`junit`).
#[derive(Clone, Debug, Default)]
pub struct JunitGate;

impl JunitGate {
    /// The verdict for one evaluation (the gate's pure core).
    pub fn decide(&self, context: &GateInput<'_>) -> Result<GateVerdict, GatesError> {
        let min = match &context.spec {
            GateSpec::Junit { min_pass_rate } => min_pass_rate.ratio(),
            _ => 1.0,
        };
        let newest = find_evidence::<JunitReport>(context.events, None)
            .into_iter()
            .filter_map(|f| f.payload.ok())
            .next_back();
        let Some(report) = newest else {
            return Ok(GateVerdict::Wait {
                until: None,
                reasons: vec![Reason::new(
                    "junit.missing",
                    "no JUnit results recorded; record `junit` evidence",
                )],
            });
        };
        let t = report.totals();
        let summary = format!(
            "{}: {} tests, {} failures, {} errors, {} skipped",
            report.source, t.tests, t.failures, t.errors, t.skipped
        );
        Ok(match report.pass_rate() {
            None => GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "junit.nothing_ran",
                    format!("{summary}: no test ran"),
                )],
            },
            Some(rate) if rate + 1e-12 >= min => GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "junit.passed",
                    format!(
                        "{summary}: pass rate {:.2}% ≥ {:.2}%",
                        rate * 100.0,
                        min * 100.0
                    ),
                )],
            },
            Some(rate) => GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "junit.pass_rate",
                    format!(
                        "{summary}: pass rate {:.2}% < {:.2}%",
                        rate * 100.0,
                        min * 100.0
                    ),
                )],
            },
        })
    }
}

crate::promotion::policy::gate_via_input!(JunitGate, "JunitGate");
