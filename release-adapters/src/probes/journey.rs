//! Journeys (request sequences with captures) and security probes.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use release_core::plugin::{Endpoint, Probe, ProbeOutcome, ProbeRequest};

use super::config::{Journey, JourneyStep, SecurityCheck, SecurityProbeConfig};
use super::error::ProbeError;
use super::http_probe::{client, combine, expected, method, status_ok};

/// Replaces every `{{name}}` with its value; unknown names stay as they are.
fn fill(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// A JSON value as it is substituted into text: strings without quotes.
fn as_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn step_name(step: &JourneyStep, index: usize) -> String {
    if step.name.is_empty() {
        format!("step {}", index + 1)
    } else {
        step.name.clone()
    }
}

/// A [`Journey`] as a [`Probe`]: every step must answer as expected, in order.
#[derive(Debug, Clone)]
pub struct JourneyProbe {
    journey: Journey,
    client: reqwest::Client,
}

impl JourneyProbe {
    /// Builds the probe, checking every step's method.
    pub fn new(journey: Journey) -> Result<Self, ProbeError> {
        for s in &journey.steps {
            method(&s.method)?;
        }
        Ok(Self {
            client: client(Duration::from_millis(journey.timeout_ms))?,
            journey,
        })
    }

    /// Parses a journey from YAML and builds the probe.
    pub fn from_yaml(text: &str) -> Result<Self, ProbeError> {
        Self::new(Journey::from_yaml(text)?)
    }

    /// Runs the journey against one endpoint; returns the captured variables.
    pub async fn run(
        &self,
        request: &ProbeRequest,
        endpoint: &Endpoint,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut vars = BTreeMap::from([
            ("endpoint".to_owned(), endpoint.url.clone()),
            ("slot".to_owned(), request.slot.to_string()),
            ("component".to_owned(), request.component.to_string()),
            ("environment".to_owned(), request.environment.to_string()),
        ]);
        for (i, step) in self.journey.steps.iter().enumerate() {
            let name = step_name(step, i);
            let m = method(&step.method).map_err(|e| format!("{name}: {e}"))?;
            let url = format!(
                "{}{}",
                endpoint.url.trim_end_matches('/'),
                fill(&step.path, &vars)
            );
            let mut call = self.client.request(m, &url);
            for (k, v) in &step.headers {
                call = call.header(k.as_str(), fill(v, &vars));
            }
            if let Some(body) = &step.body {
                call = call.body(fill(body, &vars));
            }
            let response = call
                .send()
                .await
                .map_err(|e| format!("{name}: no answer from {url}: {e}"))?;
            let status = response.status().as_u16();
            let body = response
                .text()
                .await
                .map_err(|e| format!("{name}: answer cut short: {e}"))?;
            if !status_ok(status, &step.expect.status) {
                return Err(format!(
                    "{name}: status {status}, expected {}",
                    expected(&step.expect.status)
                ));
            }
            if let Some(text) = &step.expect.body_contains
                && !body.contains(text.as_str())
            {
                return Err(format!("{name}: body does not contain {text:?}"));
            }
            if !step.expect.json.is_empty() || !step.capture.is_empty() {
                let json: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|e| format!("{name}: the answer is not JSON: {e}"))?;
                for (pointer, want) in &step.expect.json {
                    let want = match want {
                        serde_json::Value::String(s) => serde_json::Value::String(fill(s, &vars)),
                        other => other.clone(),
                    };
                    match json.pointer(pointer) {
                        Some(got) if *got == want => {}
                        Some(got) => {
                            return Err(format!("{name}: {pointer} is {got}, expected {want}"));
                        }
                        None => return Err(format!("{name}: the answer has no {pointer}")),
                    }
                }
                for (var, pointer) in &step.capture {
                    let value = json
                        .pointer(pointer)
                        .ok_or_else(|| format!("{name}: cannot capture {var}: no {pointer}"))?;
                    vars.insert(var.clone(), as_text(value));
                }
            }
        }
        Ok(vars)
    }
}

#[async_trait]
impl Probe for JourneyProbe {
    async fn check(&self, request: &ProbeRequest) -> release_core::Result<ProbeOutcome> {
        let mut results = Vec::new();
        for e in &request.endpoints {
            let r = self.run(request, e).await.map(|_| {
                format!(
                    "journey {} passed ({} steps)",
                    self.journey.name,
                    self.journey.steps.len()
                )
            });
            results.push((e.url.clone(), r));
        }
        Ok(combine(results))
    }
}

/// Requests that must all be refused: missing credentials, malicious input (M4.3).
#[derive(Debug, Clone)]
pub struct SecurityProbe {
    config: SecurityProbeConfig,
    client: reqwest::Client,
}

impl SecurityProbe {
    /// Builds the probe, checking every check's method.
    pub fn new(config: SecurityProbeConfig) -> Result<Self, ProbeError> {
        for c in &config.checks {
            method(&c.method)?;
        }
        Ok(Self {
            client: client(Duration::from_millis(config.timeout_ms))?,
            config,
        })
    }

    async fn one(&self, endpoint: &Endpoint, check: &SecurityCheck) -> Result<u16, String> {
        let m = method(&check.method).map_err(|e| e.to_string())?;
        let url = format!("{}{}", endpoint.url.trim_end_matches('/'), check.path);
        let mut call = self.client.request(m, &url);
        for (k, v) in &check.headers {
            call = call.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &check.body {
            call = call.body(body.clone());
        }
        let response = call
            .send()
            .await
            .map_err(|e| format!("{}: no answer: {e}", check.name))?;
        let status = response.status().as_u16();
        if check.refused_with.contains(&status) {
            Ok(status)
        } else {
            Err(format!(
                "{}: answered {status}, but must be refused with {}",
                check.name,
                expected(&check.refused_with)
            ))
        }
    }
}

#[async_trait]
impl Probe for SecurityProbe {
    async fn check(&self, request: &ProbeRequest) -> release_core::Result<ProbeOutcome> {
        let mut results = Vec::new();
        for e in &request.endpoints {
            let mut outcome = Ok(Vec::new());
            for check in &self.config.checks {
                match self.one(e, check).await {
                    Ok(status) => {
                        if let Ok(seen) = &mut outcome {
                            seen.push(format!("{} refused ({status})", check.name));
                        }
                    }
                    Err(message) => {
                        outcome = Err(message);
                        break;
                    }
                }
            }
            results.push((e.url.clone(), outcome.map(|seen| seen.join(", "))));
        }
        Ok(combine(results))
    }
}
