//! The source: placeholder expansion, the HTTP call, and the answer as a series.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::config::SecretProvider;
use release_core::plugin::{MetricQuery, MetricScope, MetricsSource, Sample, Series};
use reqwest::Url;
use serde::Deserialize;

use super::config::{MultipleSeries, NonFinite, PrometheusAuth, PrometheusConfig, ScopeLabels};
use super::error::PrometheusError;

/// Prometheus refuses range queries with more points per series than this.
const MAX_POINTS: i64 = 11_000;

/// At most this many series are named in a [`PrometheusError::MultipleSeries`].
const SHOWN_SERIES: usize = 3;

/// A [`MetricsSource`] that runs PromQL against Prometheus' HTTP API.
///
/// ```no_run
/// # async fn demo() -> release_core::Result<()> {
/// use std::sync::Arc;
/// use release_adapters::prometheus::{PrometheusConfig, PrometheusSource};
/// use release_core::plugin::{MetricQuery, MetricScope, MetricsSource};
///
/// let source = PrometheusSource::new(PrometheusConfig::new("http://127.0.0.1:9090"))?;
/// let scope = MetricScope {
///     component: "web".into(),
///     environment: "production".into(),
///     slot: Some("canary".into()),
/// };
/// let query = MetricQuery::instant(
///     r#"sum(rate(http_errors_total{ {{scope}} }[1m])) / sum(rate(http_requests_total{ {{scope}} }[1m]))"#,
///     scope,
///     chrono::Utc::now(),
/// );
/// let ratio = source.query(&query).await?.last();
/// # let _ = ratio;
/// # Ok(()) }
/// ```
pub struct PrometheusSource {
    config: PrometheusConfig,
    query_url: Url,
    range_url: Url,
    client: reqwest::Client,
    secrets: Option<Arc<dyn SecretProvider>>,
}

impl fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configuration holds secret references only, never values.
        f.debug_struct("PrometheusSource")
            .field("config", &self.config)
            .field("secrets", &self.secrets.as_ref().map(|_| "SecretProvider"))
            .finish()
    }
}

/// Builds a [`PrometheusSource`]; [`secrets`](Self::secrets) is needed when the
/// configuration has `auth`.
#[must_use]
pub struct PrometheusSourceBuilder {
    config: PrometheusConfig,
    secrets: Option<Arc<dyn SecretProvider>>,
}

impl fmt::Debug for PrometheusSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusSourceBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PrometheusSourceBuilder {
    /// Where the credentials' references are resolved, at each query.
    pub fn secrets(mut self, provider: Arc<dyn SecretProvider>) -> Self {
        self.secrets = Some(provider);
        self
    }

    /// Checks the configuration and builds the source.
    pub fn build(self) -> Result<PrometheusSource, PrometheusError> {
        let config = self.config;
        for (field, name) in [
            ("labels.component", &config.labels.component),
            ("labels.environment", &config.labels.environment),
            ("labels.slot", &config.labels.slot),
        ] {
            if !is_label_name(name) {
                return Err(PrometheusError::Config {
                    field,
                    problem: format!("is `{name}`, not a Prometheus label name"),
                    fix: "use letters, digits and underscores, not starting with a digit",
                });
            }
        }
        if config.auth.is_some() && self.secrets.is_none() {
            return Err(PrometheusError::Config {
                field: "auth",
                problem: "names secret references but no secret provider was given".to_owned(),
                fix: "pass one with PrometheusSource::builder(config).secrets(provider)",
            });
        }
        if config.timeout_ms == 0 {
            return Err(PrometheusError::Config {
                field: "timeout_ms",
                problem: "is 0".to_owned(),
                fix: "give a timeout in milliseconds, such as 10000",
            });
        }
        let mut base = Url::parse(&config.url).map_err(|e| PrometheusError::Config {
            field: "url",
            problem: format!("`{}` is not a URL ({e})", config.url),
            fix: "write the base URL, such as http://127.0.0.1:9090",
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(PrometheusError::Config {
                field: "url",
                problem: format!("`{}` is not an http or https URL", config.url),
                fix: "write the base URL, such as http://127.0.0.1:9090",
            });
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        let join = |path: &str| {
            base.join(path).map_err(|e| PrometheusError::Config {
                field: "url",
                problem: format!("`{}` cannot take the API path ({e})", config.url),
                fix: "write the base URL, such as http://127.0.0.1:9090",
            })
        };
        let query_url = join("api/v1/query")?;
        let range_url = join("api/v1/query_range")?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(PrometheusError::Client)?;
        Ok(PrometheusSource {
            config,
            query_url,
            range_url,
            client,
            secrets: self.secrets,
        })
    }
}

impl PrometheusSource {
    /// A source without authentication.
    pub fn new(config: PrometheusConfig) -> Result<Self, PrometheusError> {
        Self::builder(config).build()
    }

    /// A builder, for a source that needs a secret provider.
    pub fn builder(config: PrometheusConfig) -> PrometheusSourceBuilder {
        PrometheusSourceBuilder {
            config,
            secrets: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PrometheusConfig {
        &self.config
    }

    /// Runs a query, with this module's own error type.
    pub async fn run(&self, query: &MetricQuery) -> Result<Series, PrometheusError> {
        let promql = expand_query(&query.query, &query.scope, &self.config.labels)?;
        let timeout = format!("{}ms", self.config.timeout_ms);
        let (url, params) = match query.step {
            None => (
                &self.query_url,
                vec![
                    ("query", promql.clone()),
                    ("time", unix_seconds(query.end)),
                    ("timeout", timeout),
                ],
            ),
            Some(step) => {
                check_range(&promql, query.start, query.end, step)?;
                (
                    &self.range_url,
                    vec![
                        ("query", promql.clone()),
                        ("start", unix_seconds(query.start)),
                        ("end", unix_seconds(query.end)),
                        ("step", format!("{:.3}", step.as_secs_f64())),
                        ("timeout", timeout),
                    ],
                )
            }
        };
        let mut request = self
            .client
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form_encode(&params));
        request = self.authenticate(request).await?;
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                PrometheusError::Timeout {
                    url: url.to_string(),
                    query: promql.clone(),
                    timeout_ms: self.config.timeout_ms,
                }
            } else {
                PrometheusError::Unreachable {
                    url: url.to_string(),
                    source,
                }
            }
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        let reply = Reply {
            url: url.as_str(),
            query: &promql,
        };
        if !status.is_success() {
            return Err(reply.http_error(status.as_u16(), &body));
        }
        let series = reply.parse(&body)?;
        combine(
            &promql,
            series,
            self.config.multiple_series,
            self.config.non_finite,
        )
    }

    async fn authenticate(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, PrometheusError> {
        let Some(auth) = &self.config.auth else {
            return Ok(request);
        };
        // build() refuses auth without a provider; this only guards against misuse.
        let provider = self.secrets.as_ref().ok_or(PrometheusError::Config {
            field: "auth",
            problem: "names secret references but no secret provider was given".to_owned(),
            fix: "pass one with PrometheusSource::builder(config).secrets(provider)",
        })?;
        Ok(match auth {
            PrometheusAuth::Bearer { token } => {
                let value = provider
                    .resolve(token)
                    .await
                    .map_err(PrometheusError::Secret)?;
                request.bearer_auth(value.expose())
            }
            PrometheusAuth::Basic { username, password } => {
                let value = provider
                    .resolve(password)
                    .await
                    .map_err(PrometheusError::Secret)?;
                request.basic_auth(username, Some(value.expose()))
            }
        })
    }
}

#[async_trait]
impl MetricsSource for PrometheusSource {
    async fn query(&self, query: &MetricQuery) -> release_core::Result<Series> {
        Ok(self.run(query).await?)
    }
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Escapes a value for a PromQL double-quoted string.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// Fills `{{component}}`, `{{environment}}`, `{{slot}}` and `{{scope}}` into a query (see the
/// module docs); a query without placeholders comes back unchanged.
///
/// ```
/// use release_adapters::prometheus::{ScopeLabels, expand_query};
/// use release_core::plugin::MetricScope;
/// let scope = MetricScope {
///     component: "web".into(),
///     environment: "prod".into(),
///     slot: Some("canary".into()),
/// };
/// let labels = ScopeLabels::new("app", "namespace", "track");
/// assert_eq!(
///     expand_query("up{{{scope}}}", &scope, &labels).unwrap(),
///     r#"up{app="web",namespace="prod",track="canary"}"#
/// );
/// assert_eq!(
///     expand_query(r#"sum(up{job="{{component}}"})"#, &scope, &labels).unwrap(),
///     r#"sum(up{job="web"})"#
/// );
/// ```
pub fn expand_query(
    query: &str,
    scope: &MetricScope,
    labels: &ScopeLabels,
) -> Result<String, PrometheusError> {
    let mut out = String::with_capacity(query.len() + 64);
    let mut rest = query;
    let mut consumed = 0;
    while let Some(open) = rest.find("{{") {
        // In `{{{scope}}}` the first brace is PromQL's: the placeholder starts at the last `{{`.
        let extra = rest[open + 2..].chars().take_while(|c| *c == '{').count();
        let start = open + extra;
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| PrometheusError::UnclosedPlaceholder {
                query: query.to_owned(),
                position: consumed + start,
            })?;
        let name = after[..close].trim();
        match name {
            "component" => out.push_str(&escape(scope.component.as_str())),
            "environment" => out.push_str(&escape(scope.environment.as_str())),
            "slot" => match &scope.slot {
                Some(slot) => out.push_str(&escape(slot)),
                None => {
                    return Err(PrometheusError::MissingSlot {
                        query: query.to_owned(),
                        component: scope.component.to_string(),
                        environment: scope.environment.to_string(),
                    });
                }
            },
            "scope" => {
                out.push_str(&format!(
                    "{}=\"{}\",{}=\"{}\"",
                    labels.component,
                    escape(scope.component.as_str()),
                    labels.environment,
                    escape(scope.environment.as_str())
                ));
                if let Some(slot) = &scope.slot {
                    out.push_str(&format!(",{}=\"{}\"", labels.slot, escape(slot)));
                }
            }
            other => {
                return Err(PrometheusError::UnknownPlaceholder {
                    query: query.to_owned(),
                    placeholder: format!("{{{{{other}}}}}"),
                });
            }
        }
        let next = start + 2 + close + 2;
        consumed += next;
        rest = &rest[next..];
    }
    out.push_str(rest);
    Ok(out)
}

fn check_range(
    query: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
) -> Result<(), PrometheusError> {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
    if step_ms <= 0 {
        return Err(PrometheusError::Step {
            query: query.to_owned(),
            problem: format!("the step is {step:?}, Prometheus needs at least 1 ms"),
            fix: "give a positive step or run an instant query (no step)",
        });
    }
    if start > end {
        return Err(PrometheusError::Step {
            query: query.to_owned(),
            problem: format!("it starts at {start}, after its end {end}"),
            fix: "swap start and end",
        });
    }
    let points = (end - start).num_milliseconds() / step_ms + 1;
    if points > MAX_POINTS {
        return Err(PrometheusError::Step {
            query: query.to_owned(),
            problem: format!(
                "it asks for {points} points per series, Prometheus allows {MAX_POINTS}"
            ),
            fix: "raise the step or shorten the range",
        });
    }
    Ok(())
}

/// Unix seconds with millisecond precision, as Prometheus reads times.
fn unix_seconds(t: DateTime<Utc>) -> String {
    let ms = t.timestamp_millis();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// `application/x-www-form-urlencoded`.
fn form_encode(pairs: &[(&str, String)]) -> String {
    fn encode(out: &mut String, text: &str) {
        for b in text.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(&mut out, key);
        out.push('=');
        encode(&mut out, value);
    }
    out
}

#[derive(Deserialize)]
struct ApiReply {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ErrorReply {
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorSeries>),
    Matrix(Vec<MatrixSeries>),
    Scalar(RawSample),
    String(serde_json::Value),
}

#[derive(Deserialize)]
struct VectorSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<RawSample>,
    #[serde(default)]
    histogram: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<RawSample>,
    #[serde(default)]
    histograms: Vec<serde_json::Value>,
}

/// `[unix seconds, "value"]`.
#[derive(Deserialize)]
struct RawSample(f64, String);

/// One series of an answer: its labels as Prometheus prints them, and its samples.
type Labelled = (String, Vec<Sample>);

struct Reply<'a> {
    url: &'a str,
    query: &'a str,
}

impl Reply<'_> {
    fn malformed(&self, problem: impl Into<String>) -> PrometheusError {
        PrometheusError::Malformed {
            url: self.url.to_owned(),
            query: self.query.to_owned(),
            problem: problem.into(),
        }
    }

    fn http_error(&self, status: u16, body: &[u8]) -> PrometheusError {
        let (error_type, message) = match serde_json::from_slice::<ErrorReply>(body) {
            Ok(ErrorReply { error_type, error }) => (error_type, error.unwrap_or_default()),
            Err(_) => (None, excerpt(body)),
        };
        PrometheusError::Http {
            url: self.url.to_owned(),
            query: self.query.to_owned(),
            status,
            error_type,
            message,
        }
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<Labelled>, PrometheusError> {
        let reply: ApiReply = serde_json::from_slice(body)
            .map_err(|e| self.malformed(format!("{e}; the body starts `{}`", excerpt(body))))?;
        if reply.status != "success" {
            return Err(PrometheusError::Query {
                query: self.query.to_owned(),
                error_type: reply.error_type.unwrap_or_else(|| reply.status.clone()),
                message: reply.error.unwrap_or_default(),
            });
        }
        let data = reply
            .data
            .ok_or_else(|| self.malformed("`status` is success but there is no `data`"))?;
        match data {
            Data::Scalar(raw) => Ok(vec![(String::new(), vec![self.sample(&raw)?])]),
            Data::String(value) => Err(PrometheusError::Unsupported {
                query: self.query.to_owned(),
                what: format!("a string ({value})"),
            }),
            Data::Vector(series) => series
                .into_iter()
                .map(|s| {
                    let labels = labels_text(&s.metric);
                    match (s.value, s.histogram) {
                        (Some(raw), _) => Ok((labels, vec![self.sample(&raw)?])),
                        (None, Some(_)) => Err(self.unsupported_histogram(&labels)),
                        (None, None) => {
                            Err(self.malformed(format!("series {labels} has no `value`")))
                        }
                    }
                })
                .collect(),
            Data::Matrix(series) => series
                .into_iter()
                .map(|s| {
                    let labels = labels_text(&s.metric);
                    if s.values.is_empty() && !s.histograms.is_empty() {
                        return Err(self.unsupported_histogram(&labels));
                    }
                    let samples = s
                        .values
                        .iter()
                        .map(|raw| self.sample(raw))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((labels, samples))
                })
                .collect(),
        }
    }

    fn unsupported_histogram(&self, labels: &str) -> PrometheusError {
        PrometheusError::Unsupported {
            query: self.query.to_owned(),
            what: format!("native histogram samples for {labels}"),
        }
    }

    fn sample(&self, raw: &RawSample) -> Result<Sample, PrometheusError> {
        let RawSample(seconds, text) = raw;
        let value: f64 = text
            .parse()
            .map_err(|_| self.malformed(format!("sample value `{text}` is not a number")))?;
        let at = if seconds.is_finite() {
            DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
        } else {
            None
        }
        .ok_or_else(|| self.malformed(format!("sample time `{seconds}` is not a time")))?;
        Ok(Sample { at, value })
    }
}

/// `{a="1",b="2"}`, labels in name order.
fn labels_text(metric: &BTreeMap<String, String>) -> String {
    let inner = metric
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",");
    format!("{{{inner}}}")
}

/// The start of a body, for messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn keep(value: f64, policy: NonFinite) -> bool {
    match policy {
        NonFinite::Keep => true,
        NonFinite::DropNan => !value.is_nan(),
        NonFinite::Drop => value.is_finite(),
    }
}

/// Applies the non-finite policy and reduces the answer to one series.
fn combine(
    query: &str,
    mut series: Vec<Labelled>,
    policy: MultipleSeries,
    non_finite: NonFinite,
) -> Result<Series, PrometheusError> {
    for (_, samples) in &mut series {
        samples.retain(|s| keep(s.value, non_finite));
        samples.sort_by_key(|s| s.at);
    }
    let samples = match (series.len(), policy) {
        (0, _) => Vec::new(),
        (1, _) => series.pop().map(|(_, s)| s).unwrap_or_default(),
        (count, MultipleSeries::Error) => {
            let mut names: Vec<&str> = series.iter().map(|(l, _)| l.as_str()).collect();
            names.sort_unstable();
            let mut shown = names
                .iter()
                .take(SHOWN_SERIES)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if count > SHOWN_SERIES {
                shown.push_str(", …");
            }
            return Err(PrometheusError::MultipleSeries {
                query: query.to_owned(),
                count,
                shown,
            });
        }
        (_, aggregate) => {
            let mut at: BTreeMap<DateTime<Utc>, Vec<f64>> = BTreeMap::new();
            for (_, samples) in series {
                for s in samples {
                    at.entry(s.at).or_default().push(s.value);
                }
            }
            at.into_iter()
                .map(|(at, values)| Sample {
                    at,
                    value: reduce(aggregate, &values),
                })
                .collect()
        }
    };
    Ok(Series { samples })
}

fn reduce(policy: MultipleSeries, values: &[f64]) -> f64 {
    let sum: f64 = values.iter().sum();
    match policy {
        MultipleSeries::Avg => sum / values.len() as f64,
        MultipleSeries::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        MultipleSeries::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        MultipleSeries::Sum | MultipleSeries::Error => sum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(slot: Option<&str>) -> MetricScope {
        MetricScope {
            component: "web".into(),
            environment: "prod".into(),
            slot: slot.map(Into::into),
        }
    }

    #[test]
    fn placeholders_are_filled_and_escaped() {
        let labels = ScopeLabels::default();
        let q = expand_query(
            r#"rate(x{ {{scope}} }[1m]) + on() y{s="{{ slot }}",e="{{environment}}"}"#,
            &scope(Some("can\"a\\ry")),
            &labels,
        )
        .unwrap();
        assert_eq!(
            q,
            r#"rate(x{ component="web",environment="prod",slot="can\"a\\ry" }[1m]) + on() y{s="can\"a\\ry",e="prod"}"#
        );
        // Without a slot, {{scope}} leaves it out; a query without placeholders is unchanged.
        assert_eq!(
            expand_query("up{{{scope}}}", &scope(None), &labels).unwrap(),
            r#"up{component="web",environment="prod"}"#
        );
        assert_eq!(
            expand_query("sum(up)", &scope(None), &labels).unwrap(),
            "sum(up)"
        );
    }

    #[test]
    fn bad_placeholders_are_named() {
        let labels = ScopeLabels::default();
        let e = expand_query(r#"up{slot="{{slot}}"}"#, &scope(None), &labels).unwrap_err();
        assert!(matches!(e, PrometheusError::MissingSlot { .. }), "{e}");
        assert!(e.to_string().contains("web in prod"), "{e}");
        let e = expand_query(r#"up{x="{{team}}"}"#, &scope(None), &labels).unwrap_err();
        assert_eq!(
            e.to_string(),
            "query `up{x=\"{{team}}\"}` has the placeholder `{{team}}`, which is not known; use {{component}}, {{environment}}, {{slot}} or {{scope}}"
        );
        let e = expand_query("up{{{scope}", &scope(None), &labels).unwrap_err();
        assert!(
            matches!(e, PrometheusError::UnclosedPlaceholder { position: 3, .. }),
            "{e}"
        );
    }

    #[test]
    fn form_bodies_and_times_are_encoded() {
        assert_eq!(
            form_encode(&[
                ("query", r#"sum(x{a="b c"})"#.to_owned()),
                ("t", "1.5".to_owned())
            ]),
            "query=sum%28x%7Ba%3D%22b+c%22%7D%29&t=1.5"
        );
        let t = DateTime::from_timestamp_millis(1_700_000_000_042).unwrap();
        assert_eq!(unix_seconds(t), "1700000000.042");
    }

    #[test]
    fn range_limits_are_checked_before_sending() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let end = start + chrono::Duration::hours(4);
        assert!(check_range("q", start, end, Duration::from_secs(1)).is_err());
        assert!(check_range("q", start, end, Duration::from_secs(2)).is_ok());
        assert!(check_range("q", end, start, Duration::from_secs(2)).is_err());
        assert!(check_range("q", start, end, Duration::ZERO).is_err());
    }

    #[test]
    fn several_series_are_aggregated_by_timestamp_when_asked() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        let series = || {
            vec![
                (
                    "{slot=\"a\"}".to_owned(),
                    vec![
                        Sample {
                            at: t(1),
                            value: 1.0,
                        },
                        Sample {
                            at: t(2),
                            value: f64::NAN,
                        },
                    ],
                ),
                (
                    "{slot=\"b\"}".to_owned(),
                    vec![
                        Sample {
                            at: t(1),
                            value: 3.0,
                        },
                        Sample {
                            at: t(2),
                            value: 5.0,
                        },
                    ],
                ),
            ]
        };
        let values = |policy| {
            combine("q", series(), policy, NonFinite::DropNan)
                .unwrap()
                .samples
                .iter()
                .map(|s| s.value)
                .collect::<Vec<_>>()
        };
        assert_eq!(values(MultipleSeries::Sum), vec![4.0, 5.0]);
        assert_eq!(values(MultipleSeries::Avg), vec![2.0, 5.0]);
        assert_eq!(values(MultipleSeries::Min), vec![1.0, 5.0]);
        assert_eq!(values(MultipleSeries::Max), vec![3.0, 5.0]);
        let e = combine("q", series(), MultipleSeries::Error, NonFinite::Keep).unwrap_err();
        assert_eq!(
            e.to_string(),
            "query `q` returned 2 series ({slot=\"a\"}, {slot=\"b\"}); aggregate it, e.g. `sum(…)` or `max by () (…)`, narrow the selector, or set `multiple_series` to sum, avg, min or max"
        );
        assert!(!e.is_retryable());
    }

    #[test]
    fn bad_configuration_is_refused_with_the_field() {
        let e = PrometheusSource::new(PrometheusConfig::new("localhost:9090")).unwrap_err();
        assert!(e.to_string().contains("`url`"), "{e}");
        let e = PrometheusSource::new(
            PrometheusConfig::default().with_labels(ScopeLabels::new("app", "1env", "slot")),
        )
        .unwrap_err();
        assert!(e.to_string().contains("labels.environment"), "{e}");
        let e = PrometheusSource::new(PrometheusConfig::default().with_auth(
            PrometheusAuth::Bearer {
                token: release_core::model::SecretRef::parse("vault://p").unwrap(),
            },
        ))
        .unwrap_err();
        assert!(e.to_string().contains("secret provider"), "{e}");
    }

    #[test]
    fn a_path_prefix_is_kept() {
        let s = PrometheusSource::new(PrometheusConfig::new("http://h:9090/prom")).unwrap();
        assert_eq!(s.query_url.as_str(), "http://h:9090/prom/api/v1/query");
        assert_eq!(
            s.range_url.as_str(),
            "http://h:9090/prom/api/v1/query_range"
        );
    }
}
