//! Named analysis templates: a metric query, success and failure conditions, and the
//! measurement schedule, with Argo Rollouts' semantics (release-gates evaluates them).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::HumanDuration;

/// A metric analysis, run as `count` measurements `interval` apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisTemplate {
    /// What to measure.
    pub metric: MetricRef,
    /// A measurement that meets this is successful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<Condition>,
    /// A measurement that meets this failed (otherwise: not meeting `success`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Condition>,
    /// Time between measurements (default 30 s).
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Measurements to take; unbounded (background) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Failed measurements tolerated before the analysis fails.
    #[serde(default)]
    pub failure_limit: u32,
    /// Inconclusive measurements tolerated before the analysis is inconclusive.
    #[serde(default)]
    pub inconclusive_limit: u32,
    /// Consecutive query errors tolerated (default 4, as Argo Rollouts).
    #[serde(default = "default_error_limit")]
    pub consecutive_error_limit: u32,
    /// What a measurement without data counts as.
    #[serde(default)]
    pub no_data: NoDataPolicy,
}

fn default_interval() -> HumanDuration {
    HumanDuration::from_secs(30)
}

fn default_error_limit() -> u32 {
    4
}

/// A metric query against a named metrics source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricRef {
    /// The metrics source's name (`router`, `prometheus`).
    pub source: String,
    /// The query in the source's language.
    pub query: String,
}

/// What a measurement without data counts as. Flagger's most common false rollback is
/// missing data read as failure, so the default asks a person.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoDataPolicy {
    /// Inconclusive: pause for a person.
    #[default]
    Inconclusive,
    /// Failed.
    Fail,
    /// Successful.
    Pass,
}

/// A comparison operator of a [`Condition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `==`
    Equal,
}

/// A condition on a measurement: `< 0.01`, `>= 0.99`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    /// The comparison.
    pub op: Comparison,
    /// The bound.
    pub value: f64,
}

impl Condition {
    /// True when `x` meets the condition.
    pub fn holds(&self, x: f64) -> bool {
        match self.op {
            Comparison::Less => x < self.value,
            Comparison::LessOrEqual => x <= self.value,
            Comparison::Greater => x > self.value,
            Comparison::GreaterOrEqual => x >= self.value,
            Comparison::Equal => x == self.value,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Equal => "==",
        };
        write!(f, "{op} {}", self.value)
    }
}

impl FromStr for Condition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let (op, rest) = [
            ("<=", Comparison::LessOrEqual),
            (">=", Comparison::GreaterOrEqual),
            ("==", Comparison::Equal),
            ("<", Comparison::Less),
            (">", Comparison::Greater),
        ]
        .into_iter()
        .find_map(|(p, op)| t.strip_prefix(p).map(|r| (op, r)))
        .ok_or_else(|| {
            format!("`{s}` is not a condition; write an operator and a number, such as `< 0.01`")
        })?;
        let value: f64 = rest.trim().parse().map_err(|_| {
            format!("`{s}` does not end in a number; write e.g. `< 0.01` or `>= 0.99`")
        })?;
        if !value.is_finite() {
            return Err(format!("`{s}` compares against a value that is not finite"));
        }
        Ok(Self { op, value })
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Condition {
    fn schema_name() -> Cow<'static, str> {
        "Condition".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*(<=|>=|==|<|>)\\s*-?[0-9.eE+-]+\\s*$",
            "description": "A comparison such as `< 0.01` or `>= 0.99`."
        })
    }
}
