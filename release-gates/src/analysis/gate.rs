//! [`AnalysisGate`]: a promotion gate (`GateSpec::Analysis { name }`) that runs the
//! platform's named analysis template against a registered metrics source for every
//! component of the release, with [`super::threshold`]'s Argo semantics (M5.5).
//!
//! Each component's window is one range query: `count` (or 1) intervals back from the
//! evaluation time, one sample per interval; every sample is a measurement, an empty series
//! is one no-data measurement, a query error is one error measurement. Verdicts: Successful
//! → Pass; Running → Wait until one interval later; Inconclusive → Wait for a person;
//! Failed or Error → Fail. Each component's sentence is a reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::engine::Measurement;
use release_core::model::{AnalysisName, ComponentId, EnvironmentName, GateSpec, Platform};
use release_core::plugin::{
    Gate, GateContext, GateVerdict, MetricQuery, MetricScope, MetricsSource, Reason,
};
use release_core::{Error, Result};

use super::threshold::{AnalysisRun, RunPhase, evaluate_run};

/// A gate that runs a named analysis against metrics sources registered by name.
#[derive(Clone, Default)]
pub struct AnalysisGate {
    sources: BTreeMap<String, Arc<dyn MetricsSource>>,
}

impl std::fmt::Debug for AnalysisGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalysisGate")
            .field("sources", &self.sources.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl AnalysisGate {
    /// A gate without sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a metrics source under the name templates refer to (`metric.source`).
    pub fn with_source(mut self, name: impl Into<String>, source: Arc<dyn MetricsSource>) -> Self {
        self.sources.insert(name.into(), source);
        self
    }

    /// Runs analysis `name` of `platform` for `components` in `environment` at `now`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the analysis or its metrics source is unknown.
    pub async fn run(
        &self,
        platform: &Platform,
        name: &AnalysisName,
        components: &[ComponentId],
        environment: &EnvironmentName,
        now: DateTime<Utc>,
    ) -> Result<AnalysisRun> {
        let template = platform.analyses.get(name).ok_or_else(|| {
            Error::not_found(
                format!("analysis `{name}`"),
                "define it under `analyses` in the platform document",
            )
        })?;
        let source = self.sources.get(&template.metric.source).ok_or_else(|| {
            Error::not_found(
                format!("metrics source `{}`", template.metric.source),
                "register it with AnalysisGate::with_source",
            )
        })?;
        let interval = template.interval.as_duration();
        let window = interval * template.count.unwrap_or(1).max(1);
        let start = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero());
        let mut runs = Vec::new();
        for component in components {
            let scope = MetricScope {
                component: component.clone(),
                environment: environment.clone(),
                slot: None,
            };
            let mut query = MetricQuery::instant(template.metric.query.clone(), scope, now);
            query.start = start;
            query.step = Some(interval);
            let measurements = match source.query(&query).await {
                Ok(series) if series.samples.is_empty() => vec![Measurement::NoData],
                Ok(series) => series
                    .samples
                    .iter()
                    .map(|s| Measurement::Value(s.value))
                    .collect(),
                Err(e) => vec![Measurement::Error(e.to_string())],
            };
            runs.push((component.to_string(), measurements));
        }
        Ok(evaluate_run(
            runs.iter()
                .map(|(n, m)| (n.as_str(), template, m.as_slice())),
        ))
    }

    /// Turns a run into a gate verdict.
    pub fn verdict(
        run: &AnalysisRun,
        interval: std::time::Duration,
        now: DateTime<Utc>,
    ) -> GateVerdict {
        let reasons: Vec<Reason> = run
            .metrics
            .iter()
            .map(|m| {
                Reason::new(
                    format!("analysis.{}", m.phase.to_string().to_lowercase()),
                    m.reason.clone(),
                )
            })
            .collect();
        match run.phase {
            RunPhase::Successful => GateVerdict::Pass { reasons },
            RunPhase::Running => GateVerdict::Wait {
                until: chrono::Duration::from_std(interval).ok().map(|d| now + d),
                reasons,
            },
            RunPhase::Inconclusive => GateVerdict::Wait {
                until: None,
                reasons,
            },
            RunPhase::Failed | RunPhase::Error => GateVerdict::Fail { reasons },
        }
    }
}

#[async_trait]
impl Gate for AnalysisGate {
    async fn evaluate(&self, context: &GateContext) -> Result<GateVerdict> {
        let GateSpec::Analysis { name } = &context.spec else {
            return Err(Error::Invalid(
                "the analysis gate was asked about a gate that is not `analysis`; register it under `analysis` only".to_owned(),
            ));
        };
        let components: Vec<ComponentId> = context.release.components.keys().cloned().collect();
        let run = self
            .run(
                &context.platform,
                name,
                &components,
                &context.environment,
                context.now,
            )
            .await?;
        let interval = context
            .platform
            .analyses
            .get(name)
            .map(|t| t.interval.as_duration())
            .unwrap_or_default();
        Ok(Self::verdict(&run, interval, context.now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use release_core::model::{AnalysisTemplate, NoDataPolicy};

    fn template(no_data: NoDataPolicy) -> AnalysisTemplate {
        let mut t: AnalysisTemplate = serde_json::from_value(serde_json::json!({
            "metric": {"source": "prom", "query": "error_ratio"},
            "success": "< 0.01",
            "count": 2,
        }))
        .unwrap();
        t.no_data = no_data;
        t
    }

    #[test]
    fn phases_map_to_verdicts_with_reasons() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let interval = std::time::Duration::from_secs(30);
        let t = template(NoDataPolicy::Inconclusive);
        let good = [Measurement::Value(0.0), Measurement::Value(0.001)];
        let run = evaluate_run([("web", &t, &good[..])]);
        assert!(AnalysisGate::verdict(&run, interval, now).passed());
        let run = evaluate_run([("web", &t, &good[..1])]);
        match AnalysisGate::verdict(&run, interval, now) {
            GateVerdict::Wait { until, reasons } => {
                assert_eq!(until, Some(now + chrono::Duration::seconds(30)));
                assert_eq!(reasons[0].code, "analysis.running");
            }
            v => panic!("expected wait, got {v:?}"),
        }
        let run = evaluate_run([("web", &t, &[Measurement::NoData][..])]);
        assert!(matches!(
            AnalysisGate::verdict(&run, interval, now),
            GateVerdict::Wait { until: None, .. }
        ));
        let bad = [Measurement::Value(0.5)];
        let run = evaluate_run([("web", &t, &bad[..])]);
        let v = AnalysisGate::verdict(&run, interval, now);
        assert!(matches!(v, GateVerdict::Fail { .. }));
        assert!(
            v.reasons()[0]
                .message
                .starts_with("web (error_ratio; success when < 0.01) is Failed")
        );
    }
}
