//! Per-slot measurements: a time-stamped window for queries, Prometheus families for scrapes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use release_core::plugin::Sample;

/// At most this many observations are kept per slot; older ones are dropped first.
const MAX_OBSERVATIONS: usize = 200_000;

#[derive(Clone, Copy, Debug)]
struct Observation {
    at: DateTime<Utc>,
    latency: f64,
    error: bool,
}

/// The labels of every router series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SlotLabels {
    pub(crate) component: String,
    pub(crate) environment: String,
    pub(crate) slot: String,
}

fn new_histogram() -> Histogram {
    // 0.5 ms … ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// What the router measured, per (component, environment, slot).
pub(crate) struct Measurements {
    window: Mutex<BTreeMap<(String, String, String), VecDeque<Observation>>>,
    retention: chrono::Duration,
    requests: Family<SlotLabels, Counter>,
    errors: Family<SlotLabels, Counter>,
    latency: Family<SlotLabels, Histogram, fn() -> Histogram>,
    registry: Registry,
}

/// One metric over a set of observations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Metric {
    RequestCount,
    ErrorCount,
    ErrorRate,
    RequestRate,
    Latency(f64),
}

impl Metric {
    pub(crate) fn parse(query: &str) -> Option<Self> {
        Some(match query.trim() {
            "request_count" | "requests" => Self::RequestCount,
            "error_count" | "errors" => Self::ErrorCount,
            "error_rate" | "error_ratio" => Self::ErrorRate,
            "request_rate" => Self::RequestRate,
            "latency_p50" => Self::Latency(0.50),
            "latency_p90" => Self::Latency(0.90),
            "latency_p95" => Self::Latency(0.95),
            "latency_p99" => Self::Latency(0.99),
            _ => return None,
        })
    }
}

impl Measurements {
    pub(crate) fn new(retention: Duration) -> Self {
        let requests = Family::<SlotLabels, Counter>::default();
        let errors = Family::<SlotLabels, Counter>::default();
        let latency: Family<SlotLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(new_histogram);
        let mut registry = Registry::with_prefix("release_router");
        registry.register("requests", "Requests proxied to a slot", requests.clone());
        registry.register(
            "errors",
            "Requests to a slot answered 5xx or not at all",
            errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time until the slot's response head",
            latency.clone(),
        );
        Self {
            window: Mutex::new(BTreeMap::new()),
            retention: chrono::Duration::from_std(retention)
                .unwrap_or_else(|_| chrono::Duration::minutes(10)),
            requests,
            errors,
            latency,
            registry,
        }
    }

    pub(crate) fn record(&self, labels: &SlotLabels, latency: Duration, error: bool) {
        let seconds = latency.as_secs_f64();
        self.requests.get_or_create(labels).inc();
        if error {
            self.errors.get_or_create(labels).inc();
        }
        self.latency.get_or_create(labels).observe(seconds);
        let now = Utc::now();
        let key = (
            labels.component.clone(),
            labels.environment.clone(),
            labels.slot.clone(),
        );
        let mut window = match self.window.lock() {
            Ok(w) => w,
            // A panic elsewhere cannot leave the deque half-updated; keep measuring.
            Err(poisoned) => poisoned.into_inner(),
        };
        let series = window.entry(key).or_default();
        series.push_back(Observation {
            at: now,
            latency: seconds,
            error,
        });
        let oldest = now - self.retention;
        while series
            .front()
            .is_some_and(|o| o.at < oldest || series.len() > MAX_OBSERVATIONS)
        {
            series.pop_front();
        }
    }

    /// The value of `metric` over `(from, to]` for a component/environment and optionally a
    /// slot; `None` without requests.
    pub(crate) fn value(
        &self,
        metric: Metric,
        component: &str,
        environment: &str,
        slot: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<f64> {
        let window = match self.window.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut latencies = Vec::new();
        let mut errors = 0u64;
        for ((c, e, s), series) in window.iter() {
            if c != component || e != environment || slot.is_some_and(|want| want != s) {
                continue;
            }
            for o in series.iter().filter(|o| o.at > from && o.at <= to) {
                latencies.push(o.latency);
                errors += u64::from(o.error);
            }
        }
        drop(window);
        if latencies.is_empty() {
            return None;
        }
        let count = latencies.len() as f64;
        Some(match metric {
            Metric::RequestCount => count,
            Metric::ErrorCount => errors as f64,
            Metric::ErrorRate => errors as f64 / count,
            Metric::RequestRate => {
                let seconds = (to - from).num_milliseconds() as f64 / 1000.0;
                if seconds > 0.0 {
                    count / seconds
                } else {
                    count
                }
            }
            Metric::Latency(q) => {
                latencies.sort_by(f64::total_cmp);
                // Nearest rank.
                let rank = ((q * count).ceil() as usize).clamp(1, latencies.len());
                latencies[rank - 1]
            }
        })
    }

    /// Samples for a query over `[start, end]`, one per `step` when given.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn series(
        &self,
        metric: Metric,
        component: &str,
        environment: &str,
        slot: Option<&str>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Option<Duration>,
    ) -> Vec<Sample> {
        let mut out = Vec::new();
        let step = step.and_then(|s| chrono::Duration::from_std(s).ok());
        match step {
            Some(step) if step > chrono::Duration::zero() && end > start => {
                let mut t = start + step;
                while t <= end {
                    if let Some(value) =
                        self.value(metric, component, environment, slot, t - step, t)
                    {
                        out.push(Sample { at: t, value });
                    }
                    t += step;
                }
            }
            _ => {
                if let Some(value) = self.value(metric, component, environment, slot, start, end) {
                    out.push(Sample { at: end, value });
                }
            }
        }
        out
    }

    /// The Prometheus text exposition of every series.
    pub(crate) fn prometheus_text(&self) -> String {
        let mut text = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(slot: &str) -> SlotLabels {
        SlotLabels {
            component: "web".into(),
            environment: "dev".into(),
            slot: slot.into(),
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_and_scoped_by_slot() {
        let m = Measurements::new(Duration::from_secs(60));
        for ms in 1..=100 {
            m.record(&labels("stable"), Duration::from_millis(ms), ms > 98);
        }
        m.record(&labels("canary"), Duration::from_secs(5), true);
        let (from, to) = (
            Utc::now() - chrono::Duration::seconds(10),
            Utc::now() + chrono::Duration::seconds(1),
        );
        let v = |metric, slot| m.value(metric, "web", "dev", slot, from, to);
        assert_eq!(v(Metric::Latency(0.99), Some("stable")), Some(0.099));
        assert_eq!(v(Metric::Latency(0.50), Some("stable")), Some(0.050));
        assert_eq!(v(Metric::ErrorRate, Some("stable")), Some(0.02));
        assert_eq!(v(Metric::RequestCount, None), Some(101.0));
        assert_eq!(v(Metric::Latency(0.99), Some("canary")), Some(5.0));
        assert_eq!(v(Metric::ErrorRate, Some("nobody")), None);
        assert_eq!(
            m.value(Metric::ErrorRate, "web", "prod", None, from, to),
            None
        );
    }

    #[test]
    fn range_queries_give_one_sample_per_step_with_data() {
        let m = Measurements::new(Duration::from_secs(60));
        m.record(&labels("stable"), Duration::from_millis(3), false);
        let end = Utc::now() + chrono::Duration::seconds(1);
        let start = end - chrono::Duration::seconds(10);
        let samples = m.series(
            Metric::RequestCount,
            "web",
            "dev",
            None,
            start,
            end,
            Some(Duration::from_secs(5)),
        );
        // Only the step holding the request has data.
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].value, 1.0);
        assert_eq!(samples[0].at, end);
    }

    #[test]
    fn prometheus_text_names_the_slot() {
        let m = Measurements::new(Duration::from_secs(60));
        m.record(&labels("canary"), Duration::from_millis(3), true);
        let text = m.prometheus_text();
        assert!(
            text.contains(
                r#"release_router_errors_total{component="web",environment="dev",slot="canary"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn query_names() {
        assert_eq!(Metric::parse("error_ratio"), Some(Metric::ErrorRate));
        assert_eq!(Metric::parse("latency_p95"), Some(Metric::Latency(0.95)));
        assert_eq!(Metric::parse("p95"), None);
    }
}
