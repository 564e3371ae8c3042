//! The scripted metrics source and probe.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::id::{ComponentId, EnvironmentName};
use crate::plugin::{
    MetricQuery, MetricScope, MetricsSource, Probe, ProbeOutcome, ProbeRequest, Sample, Series,
    SlotName,
};

use super::history::History;
use super::lock;

/// Which scopes a scripted value applies to; an unset field matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScopeMatcher {
    /// Only this component.
    pub component: Option<ComponentId>,
    /// Only this environment.
    pub environment: Option<EnvironmentName>,
    /// Only this slot (a query for all slots has no slot and is not matched by this).
    pub slot: Option<SlotName>,
}

impl ScopeMatcher {
    /// Matches every scope.
    pub fn any() -> Self {
        Self::default()
    }

    /// Matches `component` in `environment`, any slot.
    pub fn of(component: impl Into<ComponentId>, environment: impl Into<EnvironmentName>) -> Self {
        Self {
            component: Some(component.into()),
            environment: Some(environment.into()),
            slot: None,
        }
    }

    /// Narrows to one slot.
    pub fn slot(mut self, slot: impl Into<SlotName>) -> Self {
        self.slot = Some(slot.into());
        self
    }

    /// True when `scope` is matched.
    pub fn matches(&self, scope: &MetricScope) -> bool {
        self.component
            .as_ref()
            .is_none_or(|c| *c == scope.component)
            && self
                .environment
                .as_ref()
                .is_none_or(|e| *e == scope.environment)
            && self
                .slot
                .as_ref()
                .is_none_or(|s| scope.slot.as_ref() == Some(s))
    }

    fn matches_probe(&self, r: &ProbeRequest) -> bool {
        self.component.as_ref().is_none_or(|c| *c == r.component)
            && self
                .environment
                .as_ref()
                .is_none_or(|e| *e == r.environment)
            && self.slot.as_ref().is_none_or(|s| *s == r.slot)
    }
}

impl From<MetricScope> for ScopeMatcher {
    fn from(scope: MetricScope) -> Self {
        Self {
            component: Some(scope.component),
            environment: Some(scope.environment),
            slot: scope.slot,
        }
    }
}

#[derive(Clone)]
enum Script {
    Constant(f64),
    /// Values at `origin + offset`, sorted by offset.
    Timed {
        origin: DateTime<Utc>,
        points: Vec<(Duration, f64)>,
    },
}

type MetricFn = dyn Fn(&MetricQuery) -> Option<f64> + Send + Sync;

#[derive(Default)]
struct State {
    rules: Vec<(String, ScopeMatcher, Script)>,
    queries: History<MetricQuery>,
}

/// A [`MetricsSource`] whose answers are scripted.
///
/// Rules are looked up latest first: a query name plus a [`ScopeMatcher`] gives a constant
/// ([`InMemoryMetrics::set`]) or a series over time ([`InMemoryMetrics::set_series`]). When
/// no rule matches, the closure given to [`InMemoryMetrics::with_fn`] is asked. Without an
/// answer the series is empty (no data).
///
/// A constant answers an instant query with one sample at `end`, and a range query with one
/// sample per `step` from `start` to `end`. A timed series answers with its points inside
/// `[start, end]`, or for an instant query the latest point at or before `end`.
///
/// The queries received are kept for [`InMemoryMetrics::queries`], the last
/// [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT) of them unless
/// [`InMemoryMetrics::with_history_limit`] says otherwise.
#[derive(Default)]
pub struct InMemoryMetrics {
    state: Mutex<State>,
    fallback: Option<Arc<MetricFn>>,
}

impl std::fmt::Debug for InMemoryMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryMetrics").finish_non_exhaustive()
    }
}

impl InMemoryMetrics {
    /// A source with no data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers queries no rule matches with `f` (a constant per query, like [`Self::set`]).
    pub fn with_fn(
        mut self,
        f: impl Fn(&MetricQuery) -> Option<f64> + Send + Sync + 'static,
    ) -> Self {
        self.fallback = Some(Arc::new(f));
        self
    }

    /// Keeps the last `limit` queries for [`queries`](Self::queries) (0 keeps none; the
    /// default is [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT)).
    pub fn with_history_limit(self, limit: usize) -> Self {
        lock(&self.state).queries.set_limit(limit);
        self
    }

    /// From now on, `query` in scopes matching `scope` has the value `value`.
    pub fn set(&self, query: impl Into<String>, scope: ScopeMatcher, value: f64) {
        lock(&self.state)
            .rules
            .push((query.into(), scope, Script::Constant(value)));
    }

    /// From now on, `query` in scopes matching `scope` has the value `v` at `origin + offset`
    /// for each `(offset, v)` of `points`.
    pub fn set_series(
        &self,
        query: impl Into<String>,
        scope: ScopeMatcher,
        origin: DateTime<Utc>,
        points: impl IntoIterator<Item = (Duration, f64)>,
    ) {
        let mut points: Vec<(Duration, f64)> = points.into_iter().collect();
        points.sort_by_key(|(offset, _)| *offset);
        lock(&self.state)
            .rules
            .push((query.into(), scope, Script::Timed { origin, points }));
    }

    /// Forgets every rule (the closure stays).
    pub fn clear(&self) {
        lock(&self.state).rules.clear();
    }

    /// The kept queries received, in order (the last ones, up to the history limit).
    pub fn queries(&self) -> Vec<MetricQuery> {
        lock(&self.state).queries.to_vec()
    }

    /// Queries no longer in [`queries`](Self::queries) (older than the kept ones).
    pub fn queries_dropped(&self) -> u64 {
        lock(&self.state).queries.dropped()
    }
}

fn constant(q: &MetricQuery, value: f64) -> Series {
    let mut samples = Vec::new();
    match q.step.and_then(|s| chrono::Duration::from_std(s).ok()) {
        Some(step) if step > chrono::Duration::zero() && q.start < q.end => {
            let mut at = q.start;
            while at <= q.end {
                samples.push(Sample { at, value });
                match at.checked_add_signed(step) {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
        _ => samples.push(Sample { at: q.end, value }),
    }
    Series { samples }
}

fn timed(q: &MetricQuery, origin: DateTime<Utc>, points: &[(Duration, f64)]) -> Series {
    let at = |offset: &Duration| {
        chrono::Duration::from_std(*offset)
            .ok()
            .and_then(|d| origin.checked_add_signed(d))
    };
    let samples = if q.step.is_none() {
        points
            .iter()
            .filter_map(|(o, v)| at(o).map(|at| Sample { at, value: *v }))
            .rfind(|s| s.at <= q.end)
            .into_iter()
            .collect()
    } else {
        points
            .iter()
            .filter_map(|(o, v)| at(o).map(|at| Sample { at, value: *v }))
            .filter(|s| s.at >= q.start && s.at <= q.end)
            .collect()
    };
    Series { samples }
}

#[async_trait]
impl MetricsSource for InMemoryMetrics {
    async fn query(&self, query: &MetricQuery) -> Result<Series> {
        let script = {
            let mut state = lock(&self.state);
            state.queries.record(|| query.clone());
            state
                .rules
                .iter()
                .rev()
                .find(|(name, scope, _)| *name == query.query && scope.matches(&query.scope))
                .map(|(_, _, script)| script.clone())
        };
        Ok(match script {
            Some(Script::Constant(v)) => constant(query, v),
            Some(Script::Timed { origin, points }) => timed(query, origin, &points),
            None => match self.fallback.as_ref().and_then(|f| f(query)) {
                Some(v) => constant(query, v),
                None => Series::default(),
            },
        })
    }
}

#[derive(Default)]
struct ProbeState {
    rules: Vec<(ScopeMatcher, ProbeOutcome)>,
    checks: History<ProbeRequest>,
}

/// A [`Probe`] that reports healthy unless told otherwise for a scope; the latest matching
/// rule wins. The checks received are kept for [`InMemoryProbe::checks`], the last
/// [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT) of them unless
/// [`InMemoryProbe::with_history_limit`] says otherwise.
#[derive(Default)]
pub struct InMemoryProbe {
    state: Mutex<ProbeState>,
}

impl std::fmt::Debug for InMemoryProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryProbe").finish_non_exhaustive()
    }
}

impl InMemoryProbe {
    /// A probe that finds everything healthy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the last `limit` checks for [`checks`](Self::checks) (0 keeps none; the
    /// default is [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT)).
    pub fn with_history_limit(self, limit: usize) -> Self {
        lock(&self.state).checks.set_limit(limit);
        self
    }

    /// Slots matching `scope` are unhealthy with `message`.
    pub fn set_unhealthy(&self, scope: ScopeMatcher, message: impl Into<String>) {
        lock(&self.state)
            .rules
            .push((scope, ProbeOutcome::unhealthy(message)));
    }

    /// Slots matching `scope` are healthy again.
    pub fn set_healthy(&self, scope: ScopeMatcher) {
        lock(&self.state)
            .rules
            .push((scope, ProbeOutcome::healthy("healthy")));
    }

    /// The kept checks received, in order (the last ones, up to the history limit).
    pub fn checks(&self) -> Vec<ProbeRequest> {
        lock(&self.state).checks.to_vec()
    }

    /// Checks no longer in [`checks`](Self::checks) (older than the kept ones).
    pub fn checks_dropped(&self) -> u64 {
        lock(&self.state).checks.dropped()
    }
}

#[async_trait]
impl Probe for InMemoryProbe {
    async fn check(&self, request: &ProbeRequest) -> Result<ProbeOutcome> {
        let mut state = lock(&self.state);
        state.checks.record(|| request.clone());
        Ok(state
            .rules
            .iter()
            .rev()
            .find(|(scope, _)| scope.matches_probe(request))
            .map(|(_, outcome)| outcome.clone())
            .unwrap_or_else(|| ProbeOutcome::healthy("healthy")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn scope(slot: Option<&str>) -> MetricScope {
        MetricScope {
            component: "web".into(),
            environment: "prod".into(),
            slot: slot.map(Into::into),
        }
    }

    #[tokio::test]
    async fn latest_matching_rule_wins_and_no_data_is_empty() {
        let m = InMemoryMetrics::new();
        m.set("error_ratio", ScopeMatcher::any(), 0.01);
        m.set(
            "error_ratio",
            ScopeMatcher::of("web", "prod").slot("canary"),
            0.2,
        );
        let q = |slot| MetricQuery::instant("error_ratio", scope(slot), t0());
        assert_eq!(m.query(&q(Some("canary"))).await.unwrap().last(), Some(0.2));
        assert_eq!(
            m.query(&q(Some("stable"))).await.unwrap().last(),
            Some(0.01)
        );
        assert_eq!(m.query(&q(None)).await.unwrap().last(), Some(0.01));
        let none = MetricQuery::instant("latency", scope(None), t0());
        assert!(m.query(&none).await.unwrap().samples.is_empty());
        assert_eq!(m.queries().len(), 4);
    }

    #[tokio::test]
    async fn closure_and_range_queries() {
        let m = InMemoryMetrics::new().with_fn(|q| (q.query == "rps").then_some(42.0));
        let mut q = MetricQuery::instant("rps", scope(None), t0());
        q.start = t0() - chrono::Duration::minutes(2);
        q.step = Some(Duration::from_secs(60));
        let s = m.query(&q).await.unwrap();
        assert_eq!(s.samples.len(), 3);
        assert!(s.samples.iter().all(|s| s.value == 42.0));
    }

    #[tokio::test]
    async fn timed_series_follows_the_clock() {
        let m = InMemoryMetrics::new();
        m.set_series(
            "error_ratio",
            ScopeMatcher::any(),
            t0(),
            [
                (Duration::from_secs(0), 0.01),
                (Duration::from_secs(60), 0.5),
            ],
        );
        let at = |secs| {
            MetricQuery::instant(
                "error_ratio",
                scope(None),
                t0() + chrono::Duration::seconds(secs),
            )
        };
        assert_eq!(m.query(&at(30)).await.unwrap().last(), Some(0.01));
        assert_eq!(m.query(&at(90)).await.unwrap().last(), Some(0.5));
        assert!(m.query(&at(-5)).await.unwrap().samples.is_empty());
    }

    #[tokio::test]
    async fn probe_is_healthy_unless_told() {
        let p = InMemoryProbe::new();
        let req = |slot: &str| ProbeRequest::new("web".into(), "prod".into(), slot.into(), vec![]);
        assert!(p.check(&req("canary")).await.unwrap().healthy);
        p.set_unhealthy(ScopeMatcher::of("web", "prod").slot("canary"), "500s");
        assert_eq!(
            p.check(&req("canary")).await.unwrap(),
            ProbeOutcome::unhealthy("500s")
        );
        assert!(p.check(&req("stable")).await.unwrap().healthy);
        p.set_healthy(ScopeMatcher::any());
        assert!(p.check(&req("canary")).await.unwrap().healthy);
        assert_eq!(p.checks().len(), 4);
    }

    #[tokio::test]
    async fn query_and_check_logs_keep_the_last_ones_up_to_the_limit() {
        let m = InMemoryMetrics::new().with_history_limit(2);
        m.set("error_ratio", ScopeMatcher::any(), 0.01);
        for secs in 0..3 {
            let q = MetricQuery::instant(
                "error_ratio",
                scope(None),
                t0() + chrono::Duration::seconds(secs),
            );
            assert_eq!(m.query(&q).await.unwrap().last(), Some(0.01));
        }
        let ends: Vec<_> = m.queries().into_iter().map(|q| q.end).collect();
        assert_eq!(
            ends,
            [
                t0() + chrono::Duration::seconds(1),
                t0() + chrono::Duration::seconds(2)
            ]
        );
        assert_eq!(m.queries_dropped(), 1);

        let p = InMemoryProbe::new().with_history_limit(0);
        let req = ProbeRequest::new("web".into(), "prod".into(), "canary".into(), vec![]);
        assert!(p.check(&req).await.unwrap().healthy);
        assert!(p.checks().is_empty());
        assert_eq!(p.checks_dropped(), 1);
    }
}
