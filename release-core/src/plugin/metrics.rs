//! Metrics sources and health probes: what analysis and rollback triggers read.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::id::{ComponentId, EnvironmentName};

use super::{Endpoint, SlotName};

/// Whose metrics: a component in an environment, optionally one slot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricScope {
    /// The component.
    pub component: ComponentId,
    /// The environment.
    pub environment: EnvironmentName,
    /// One slot, or all of them.
    pub slot: Option<SlotName>,
}

/// A query over a time range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricQuery {
    /// The query in the source's language (`error_ratio`, PromQL…).
    pub query: String,
    /// Whose metrics.
    pub scope: MetricScope,
    /// Range start.
    pub start: DateTime<Utc>,
    /// Range end.
    pub end: DateTime<Utc>,
    /// Resolution of a range query; `None` for an instant query at `end`.
    pub step: Option<Duration>,
}

impl MetricQuery {
    /// An instant query at `at`.
    pub fn instant(query: impl Into<String>, scope: MetricScope, at: DateTime<Utc>) -> Self {
        Self {
            query: query.into(),
            scope,
            start: at,
            end: at,
            step: None,
        }
    }
}

/// One measurement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When.
    pub at: DateTime<Utc>,
    /// The value.
    pub value: f64,
}

/// A series of measurements in time order; empty means no data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Series {
    /// The latest value, if any.
    pub fn last(&self) -> Option<f64> {
        self.samples.last().map(|s| s.value)
    }
}

/// Where metrics come from (the router, Prometheus, a log watcher).
#[async_trait]
pub trait MetricsSource: Send + Sync {
    /// Runs a query.
    async fn query(&self, query: &MetricQuery) -> Result<Series>;
}

fn _assert_metrics_object_safe(_: &dyn MetricsSource) {}

/// What a probe checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProbeRequest {
    /// The component.
    pub component: ComponentId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The slot.
    pub slot: SlotName,
    /// Where the slot serves.
    pub endpoints: Vec<Endpoint>,
}

impl ProbeRequest {
    /// A request for one slot.
    pub fn new(
        component: ComponentId,
        environment: EnvironmentName,
        slot: SlotName,
        endpoints: Vec<Endpoint>,
    ) -> Self {
        Self {
            component,
            environment,
            slot,
            endpoints,
        }
    }
}

/// A probe's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOutcome {
    /// Healthy or not.
    pub healthy: bool,
    /// What was seen.
    pub message: String,
}

impl ProbeOutcome {
    /// A healthy outcome.
    pub fn healthy(message: impl Into<String>) -> Self {
        Self {
            healthy: true,
            message: message.into(),
        }
    }

    /// An unhealthy outcome.
    pub fn unhealthy(message: impl Into<String>) -> Self {
        Self {
            healthy: false,
            message: message.into(),
        }
    }
}

/// A health, smoke or security check against a slot (M5.4).
#[async_trait]
pub trait Probe: Send + Sync {
    /// Runs the check.
    async fn check(&self, request: &ProbeRequest) -> Result<ProbeOutcome>;
}

fn _assert_probe_object_safe(_: &dyn Probe) {}
