//! HTTP, TCP and command probes.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use release_core::plugin::{Endpoint, Probe, ProbeOutcome, ProbeRequest};

use super::config::{CommandProbeConfig, HttpProbeConfig, TcpProbeConfig};
use super::error::ProbeError;

/// Builds the shared client: no redirects, no proxy from the environment.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, ProbeError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(ProbeError::Client)
}

pub(crate) fn method(name: &str) -> Result<reqwest::Method, ProbeError> {
    reqwest::Method::from_bytes(name.to_ascii_uppercase().as_bytes()).map_err(|_| {
        ProbeError::Method {
            method: name.to_owned(),
        }
    })
}

pub(crate) fn status_ok(status: u16, expected: &[u16]) -> bool {
    if expected.is_empty() {
        (200..300).contains(&status)
    } else {
        expected.contains(&status)
    }
}

/// Combines per-endpoint results: healthy only when every endpoint passed.
pub(crate) fn combine(results: Vec<(String, Result<String, String>)>) -> ProbeOutcome {
    if results.is_empty() {
        return ProbeOutcome::unhealthy("the slot reports no endpoints to probe");
    }
    let healthy = results.iter().all(|(_, r)| r.is_ok());
    let message = results
        .into_iter()
        .map(|(url, r)| match r {
            Ok(m) => format!("{url}: {m}"),
            Err(m) => format!("{url}: FAILED: {m}"),
        })
        .collect::<Vec<_>>()
        .join("; ");
    ProbeOutcome { healthy, message }
}

/// An HTTP probe: status, body text and latency bound.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    config: HttpProbeConfig,
    method: reqwest::Method,
    client: reqwest::Client,
}

impl HttpProbe {
    /// Builds the probe.
    pub fn new(config: HttpProbeConfig) -> Result<Self, ProbeError> {
        Ok(Self {
            method: method(&config.method)?,
            client: client(Duration::from_millis(config.timeout_ms))?,
            config,
        })
    }

    async fn one(&self, endpoint: &Endpoint) -> Result<String, String> {
        let url = format!("{}{}", endpoint.url.trim_end_matches('/'), self.config.path);
        let started = Instant::now();
        let response = self
            .client
            .request(self.method.clone(), &url)
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| format!("answer cut short: {e}"))?;
        let latency = started.elapsed();
        if !status_ok(status, &self.config.expect_status) {
            return Err(format!(
                "status {status}, expected {}",
                expected(&self.config.expect_status)
            ));
        }
        if let Some(text) = &self.config.body_contains
            && !body.contains(text.as_str())
        {
            return Err(format!("body does not contain {text:?}"));
        }
        let ms = latency.as_millis();
        if let Some(max) = self.config.max_latency_ms
            && ms > u128::from(max)
        {
            return Err(format!("answered in {ms} ms, slower than {max} ms"));
        }
        Ok(format!("{status} in {ms} ms"))
    }
}

pub(crate) fn expected(statuses: &[u16]) -> String {
    if statuses.is_empty() {
        "2xx".to_owned()
    } else {
        statuses
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

#[async_trait]
impl Probe for HttpProbe {
    async fn check(&self, request: &ProbeRequest) -> release_core::Result<ProbeOutcome> {
        let mut results = Vec::new();
        for e in &request.endpoints {
            results.push((e.url.clone(), self.one(e).await));
        }
        Ok(combine(results))
    }
}

/// A TCP probe: the endpoint's host and port accept a connection.
#[derive(Debug, Clone, Default)]
pub struct TcpProbe {
    config: TcpProbeConfig,
}

/// `host:port` of `http://host:port/…` or `tcp://host:port`.
fn authority(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    if authority.contains(':') {
        Some(authority.to_owned())
    } else if url.starts_with("https://") {
        Some(format!("{authority}:443"))
    } else {
        Some(format!("{authority}:80"))
    }
}

impl TcpProbe {
    /// Builds the probe.
    pub fn new(config: TcpProbeConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl Probe for TcpProbe {
    async fn check(&self, request: &ProbeRequest) -> release_core::Result<ProbeOutcome> {
        let mut results = Vec::new();
        for e in &request.endpoints {
            let result = match authority(&e.url) {
                None => Err("no host:port in the endpoint".to_owned()),
                Some(addr) => {
                    let started = Instant::now();
                    match tokio::time::timeout(
                        Duration::from_millis(self.config.timeout_ms),
                        tokio::net::TcpStream::connect(addr.as_str()),
                    )
                    .await
                    {
                        Ok(Ok(_)) => {
                            Ok(format!("connected in {} ms", started.elapsed().as_millis()))
                        }
                        Ok(Err(err)) => Err(format!("connect to {addr} failed: {err}")),
                        Err(_) => Err(format!(
                            "connect to {addr} timed out after {} ms",
                            self.config.timeout_ms
                        )),
                    }
                }
            };
            results.push((e.url.clone(), result));
        }
        Ok(combine(results))
    }
}

/// A command probe: runs a program once per endpoint; its exit code decides.
#[derive(Debug, Clone)]
pub struct CommandProbe {
    config: CommandProbeConfig,
}

impl CommandProbe {
    /// Builds the probe.
    pub fn new(config: CommandProbeConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl Probe for CommandProbe {
    async fn check(&self, request: &ProbeRequest) -> release_core::Result<ProbeOutcome> {
        let mut results = Vec::new();
        for e in &request.endpoints {
            let mut command = tokio::process::Command::new(&self.config.program);
            command
                .args(&self.config.args)
                .env("PROBE_ENDPOINT", &e.url)
                .env("PROBE_SLOT", request.slot.as_str())
                .env("PROBE_COMPONENT", request.component.as_str())
                .env("PROBE_ENVIRONMENT", request.environment.as_str())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true);
            let child = command.spawn().map_err(|source| ProbeError::Spawn {
                program: self.config.program.clone(),
                source,
            })?;
            let result = match tokio::time::timeout(
                Duration::from_millis(self.config.timeout_ms),
                child.wait_with_output(),
            )
            .await
            {
                Ok(Ok(output)) => match output.status.code() {
                    Some(code) if code == self.config.expect_exit => Ok(format!("exit {code}")),
                    Some(code) => Err(format!("exit {code}, expected {}", self.config.expect_exit)),
                    None => Err(format!("killed by a signal ({})", output.status)),
                },
                Ok(Err(err)) => Err(format!("waiting for the command failed: {err}")),
                // The child is killed on drop.
                Err(_) => Err(format!("timed out after {} ms", self.config.timeout_ms)),
            };
            results.push((e.url.clone(), result));
        }
        Ok(combine(results))
    }
}
