//! Metric analysis (a threshold analysis with Argo Rollouts' semantics) and rollback
//! triggers, as the engine runs them during steps and the watch window.
//!
//! release-gates brings richer judges (Mann-Whitney, SLO scoring, sequential tests); this
//! is the reference every release has without it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Inner;
use crate::id::{ComponentId, EnvironmentName};
use crate::ledger::{AnalysisOutcome, Event, Record};
use crate::model::{AnalysisTemplate, NoDataPolicy, Platform, RollbackTrigger, Severity};
use crate::plugin::{MetricQuery, MetricScope, MetricsSource, ProbeRequest};

/// One measurement of an analysis.
#[derive(Clone, Debug, PartialEq)]
pub enum Measurement {
    /// A value.
    Value(f64),
    /// The source answered with no data.
    NoData,
    /// The source could not be queried.
    Error(String),
}

impl Measurement {
    /// The value, if any.
    pub fn value(&self) -> Option<f64> {
        match self {
            Self::Value(v) => Some(*v),
            _ => None,
        }
    }
}

/// Judges measurements with Argo Rollouts' rules: each is successful, failed, inconclusive
/// or an error; more failures than `failure_limit` fail the run, more inconclusive ones than
/// `inconclusive_limit` make it inconclusive, more consecutive errors than
/// `consecutive_error_limit` make it an error. No data counts as the template's policy says.
pub fn evaluate_measurements(
    template: &AnalysisTemplate,
    measurements: &[Measurement],
) -> AnalysisOutcome {
    let mut failed = 0u32;
    let mut inconclusive = 0u32;
    let mut consecutive_errors = 0u32;
    for m in measurements {
        let verdict = match m {
            Measurement::Error(_) => {
                consecutive_errors += 1;
                if consecutive_errors > template.consecutive_error_limit {
                    return AnalysisOutcome::Error;
                }
                continue;
            }
            Measurement::NoData => match template.no_data {
                NoDataPolicy::Inconclusive => AnalysisOutcome::Inconclusive,
                NoDataPolicy::Fail => AnalysisOutcome::Failed,
                NoDataPolicy::Pass => AnalysisOutcome::Successful,
            },
            Measurement::Value(v) => judge(template, *v),
        };
        consecutive_errors = 0;
        match verdict {
            AnalysisOutcome::Failed => failed += 1,
            AnalysisOutcome::Inconclusive => inconclusive += 1,
            _ => {}
        }
        if failed > template.failure_limit {
            return AnalysisOutcome::Failed;
        }
        if inconclusive > template.inconclusive_limit {
            return AnalysisOutcome::Inconclusive;
        }
    }
    AnalysisOutcome::Successful
}

fn judge(template: &AnalysisTemplate, value: f64) -> AnalysisOutcome {
    if !value.is_finite() {
        return AnalysisOutcome::Inconclusive;
    }
    if let Some(failure) = &template.failure
        && failure.holds(value)
    {
        return AnalysisOutcome::Failed;
    }
    match &template.success {
        Some(success) if success.holds(value) => AnalysisOutcome::Successful,
        Some(_) => AnalysisOutcome::Failed,
        None if template.failure.is_some() => AnalysisOutcome::Successful,
        // Neither condition: nothing to judge by; a person must look.
        None => AnalysisOutcome::Inconclusive,
    }
}

/// Takes one measurement from a source.
pub(crate) async fn measure(
    source: Option<&Arc<dyn MetricsSource>>,
    query: &str,
    scope: MetricScope,
    now: DateTime<Utc>,
) -> Measurement {
    let Some(source) = source else {
        return Measurement::NoData;
    };
    match source.query(&MetricQuery::instant(query, scope, now)).await {
        Ok(series) => series
            .last()
            .map_or(Measurement::NoData, Measurement::Value),
        Err(e) => Measurement::Error(e.to_string()),
    }
}

impl Inner {
    /// The source rollback triggers read: `default`, else the only one.
    fn trigger_source(&self) -> Option<&Arc<dyn MetricsSource>> {
        self.metrics.get("default").or_else(|| {
            (self.metrics.len() == 1)
                .then(|| self.metrics.values().next())
                .flatten()
        })
    }
}

/// A trigger that fired: (component, trigger as written, what was observed).
pub(crate) type Fired = (Option<ComponentId>, String, String);

/// Checks every rollback trigger of the policy for the given components (M5.5, M8.1).
/// Missing data never fires a trigger (no-data is the first cause of false rollbacks).
pub(crate) async fn check_triggers(
    inner: &Inner,
    platform: &Platform,
    triggers: &[RollbackTrigger],
    environment: &EnvironmentName,
    components: &[ComponentId],
    events: &[Record],
    probe_failures: &mut BTreeMap<(ComponentId, String), u32>,
) -> Option<Fired> {
    let now = inner.clock.now();
    for trigger in triggers {
        let text = describe(trigger);
        if let RollbackTrigger::CriticalDefect { min_severity } = trigger {
            if let Some((component, observed)) = critical_issue(events, environment, *min_severity)
            {
                return Some((component, text, observed));
            }
            continue;
        }
        for component in components {
            let scope = MetricScope {
                component: component.clone(),
                environment: environment.clone(),
                slot: None,
            };
            let fired = match trigger {
                RollbackTrigger::ErrorRate { above } => {
                    above_bound(inner.trigger_source(), "error_rate", scope, now, *above).await
                }
                RollbackTrigger::LatencyP99 { above } => {
                    let bound = above.as_duration().as_secs_f64();
                    above_bound(inner.trigger_source(), "latency_p99", scope, now, bound).await
                }
                RollbackTrigger::LatencyP95 { above } => {
                    let bound = above.as_duration().as_secs_f64();
                    above_bound(inner.trigger_source(), "latency_p95", scope, now, bound).await
                }
                RollbackTrigger::SlaBreach { slo, below } => {
                    match measure(inner.trigger_source(), &format!("slo:{slo}"), scope, now)
                        .await
                        .value()
                    {
                        Some(v) if v < *below => Some(format!("attainment {v} < {below}")),
                        _ => None,
                    }
                }
                RollbackTrigger::Analysis { name } => match platform.analyses.get(name) {
                    Some(template) => {
                        let source = inner.metrics.get(&template.metric.source);
                        let m = measure(source, &template.metric.query, scope, now).await;
                        match (
                            &m,
                            evaluate_measurements(template, std::slice::from_ref(&m)),
                        ) {
                            (Measurement::Value(v), AnalysisOutcome::Failed) => {
                                Some(format!("{} = {v}", template.metric.query))
                            }
                            _ => None,
                        }
                    }
                    None => None,
                },
                RollbackTrigger::DataIntegrity { check } => {
                    probe_fails(inner, platform, check, component, environment).await
                }
                RollbackTrigger::ProbeFailure { probe, consecutive } => {
                    let key = (component.clone(), probe.clone());
                    match probe_fails(inner, platform, probe, component, environment).await {
                        Some(msg) => {
                            let n = probe_failures.entry(key).or_insert(0);
                            *n += 1;
                            (*n >= *consecutive).then(|| format!("{n} consecutive failures: {msg}"))
                        }
                        None => {
                            probe_failures.remove(&key);
                            None
                        }
                    }
                }
                RollbackTrigger::CriticalDefect { .. } => None,
            };
            if let Some(observed) = fired {
                return Some((Some(component.clone()), text, observed));
            }
        }
    }
    None
}

async fn above_bound(
    source: Option<&Arc<dyn MetricsSource>>,
    query: &str,
    scope: MetricScope,
    now: DateTime<Utc>,
    bound: f64,
) -> Option<String> {
    match measure(source, query, scope, now).await.value() {
        Some(v) if v > bound => Some(format!("{query} = {v} > {bound}")),
        _ => None,
    }
}

/// Runs a named probe against every slot of the component that has ready replicas, on the
/// endpoints the target reports for it (an HTTP probe needs them); the first unhealthy slot
/// fires. A component the target shows nothing for is probed once as `stable` without
/// endpoints, for probes that judge by scope alone.
async fn probe_fails(
    inner: &Inner,
    platform: &Platform,
    probe: &str,
    component: &ComponentId,
    environment: &EnvironmentName,
) -> Option<String> {
    let probe_impl = inner.probes.get(probe)?;
    let slots = match super::run::target_name(inner, platform, environment, component) {
        Ok(target) => match target.observe(component, environment).await {
            Ok(slots) => slots,
            Err(e) => return Some(format!("cannot observe {component} to probe it: {e}")),
        },
        Err(e) => return Some(e.to_string()),
    };
    let mut requests: Vec<ProbeRequest> = slots
        .into_iter()
        .filter(|s| s.ready_replicas > 0)
        .map(|s| {
            ProbeRequest::new(
                component.clone(),
                environment.clone(),
                s.spec.slot,
                s.endpoints,
            )
        })
        .collect();
    if requests.is_empty() {
        requests.push(ProbeRequest::new(
            component.clone(),
            environment.clone(),
            crate::plugin::SlotName::from(crate::plugin::STABLE),
            Vec::new(),
        ));
    }
    for request in &requests {
        match probe_impl.check(request).await {
            Ok(outcome) if outcome.healthy => {}
            Ok(outcome) => return Some(format!("{}: {}", request.slot, outcome.message)),
            Err(e) => return Some(format!("{}: {e}", request.slot)),
        }
    }
    None
}

/// An open post-deployment issue of at least `min` severity reported for this environment
/// since its current stage attempt started (M6.6): (component, what a person reads).
///
/// Issues come as [`Event::IssueReported`]; an issue resolved before the check does not fire.
/// Evidence of kind `issue` with `{"severity": …, "title": …}` is still read, for journals
/// written before issues had their own event.
pub(crate) fn critical_issue(
    events: &[Record],
    environment: &EnvironmentName,
    min: Severity,
) -> Option<(Option<ComponentId>, String)> {
    // Only what was reported after this stage attempt began can be blamed on it.
    let since = events
        .iter()
        .rev()
        .find(
            |r| matches!(&r.event, Event::StageStarted { environment: e, .. } if e == environment),
        )
        .map_or(0, |r| r.seq);
    let resolved: Vec<&str> = events
        .iter()
        .filter_map(|r| match &r.event {
            Event::IssueResolved { issue, .. } => Some(issue.as_str()),
            _ => None,
        })
        .collect();
    events
        .iter()
        .filter(|r| r.seq > since)
        .find_map(|r| match &r.event {
            Event::IssueReported(issue)
                if &issue.environment == environment
                    && issue.severity >= min
                    && !resolved.contains(&issue.id.as_str()) =>
            {
                Some((
                    issue.component.clone(),
                    format!(
                        "{} issue {} reported by {}: {} (owner {})",
                        issue.severity, issue.id, r.actor, issue.title, issue.owner
                    ),
                ))
            }
            Event::EvidenceRecorded {
                kind,
                environment: env,
                payload,
            } if kind == "issue" && env.as_ref().is_none_or(|e| e == environment) => {
                let severity: Severity =
                    serde_json::from_value(payload.get("severity")?.clone()).ok()?;
                (severity >= min).then(|| {
                    let title = payload
                        .get("title")
                        .and_then(|t| t.as_str())
                        .unwrap_or("issue");
                    (None, format!("{severity} issue recorded: {title}"))
                })
            }
            _ => None,
        })
}

/// A trigger as a person reads it.
pub(crate) fn describe(trigger: &RollbackTrigger) -> String {
    match trigger {
        RollbackTrigger::ErrorRate { above } => format!("error rate above {above}"),
        RollbackTrigger::LatencyP99 { above } => format!("p99 latency above {above}"),
        RollbackTrigger::LatencyP95 { above } => format!("p95 latency above {above}"),
        RollbackTrigger::SlaBreach { slo, below } => format!("SLO {slo} below {below}"),
        RollbackTrigger::DataIntegrity { check } => format!("data-integrity check {check} fails"),
        RollbackTrigger::CriticalDefect { min_severity } => {
            format!("post-deployment issue of severity {min_severity} or worse")
        }
        RollbackTrigger::ProbeFailure { probe, consecutive } => {
            format!("probe {probe} fails {consecutive} times in a row")
        }
        RollbackTrigger::Analysis { name } => format!("analysis {name} fails"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Condition, MetricRef};

    fn template(failure_limit: u32, no_data: NoDataPolicy) -> AnalysisTemplate {
        AnalysisTemplate {
            metric: MetricRef {
                source: "router".into(),
                query: "error_ratio".into(),
            },
            success: Some("< 0.01".parse::<Condition>().unwrap()),
            failure: None,
            interval: crate::model::HumanDuration::from_secs(30),
            count: Some(5),
            failure_limit,
            inconclusive_limit: 0,
            consecutive_error_limit: 2,
            no_data,
        }
    }

    #[test]
    fn failures_beyond_the_limit_fail_the_run() {
        let t = template(1, NoDataPolicy::Inconclusive);
        let ok = Measurement::Value(0.001);
        let bad = Measurement::Value(0.5);
        assert_eq!(
            evaluate_measurements(&t, &[ok.clone(), bad.clone(), ok.clone()]),
            AnalysisOutcome::Successful
        );
        assert_eq!(
            evaluate_measurements(&t, &[bad.clone(), ok, bad]),
            AnalysisOutcome::Failed
        );
    }

    #[test]
    fn no_data_follows_the_policy() {
        let m = [Measurement::NoData];
        assert_eq!(
            evaluate_measurements(&template(0, NoDataPolicy::Inconclusive), &m),
            AnalysisOutcome::Inconclusive
        );
        assert_eq!(
            evaluate_measurements(&template(0, NoDataPolicy::Fail), &m),
            AnalysisOutcome::Failed
        );
        assert_eq!(
            evaluate_measurements(&template(0, NoDataPolicy::Pass), &m),
            AnalysisOutcome::Successful
        );
    }

    #[test]
    fn consecutive_errors_beyond_the_limit_are_an_error() {
        let t = template(0, NoDataPolicy::Pass);
        let e = Measurement::Error("down".into());
        assert_eq!(
            evaluate_measurements(&t, &[e.clone(), e.clone()]),
            AnalysisOutcome::Successful
        );
        assert_eq!(
            evaluate_measurements(&t, &[e.clone(), e.clone(), e]),
            AnalysisOutcome::Error
        );
    }
}
