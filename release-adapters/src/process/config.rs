//! The local-process target's serde configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An inclusive range of loopback ports replicas may listen on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub start: u16,
    /// Last port (inclusive).
    pub end: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        Self {
            start: 20_000,
            end: 20_999,
        }
    }
}

/// How a replica is judged ready.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Readiness {
    /// The port accepts a TCP connection.
    #[default]
    Tcp,
    /// `GET <path>` answers 2xx.
    Http {
        /// The path, e.g. `/healthz`.
        path: String,
    },
}

/// Configuration of a [`ProcessTarget`](super::ProcessTarget).
///
/// ```
/// use release_adapters::process::ProcessTargetConfig;
/// let config: ProcessTargetConfig = serde_json::from_str(
///     r#"{ "root": "/srv/shop", "command": "run.sh", "args": ["--port", "{port}"],
///          "ports": { "start": 21000, "end": 21099 }, "grace_period_ms": 2000 }"#,
/// ).unwrap();
/// assert_eq!(config.ports.start, 21000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ProcessTargetConfig {
    /// The root: releases are unpacked in `<root>/releases/<version>/`, slots live in
    /// `<root>/slots/`.
    pub root: PathBuf,
    /// The program, relative to the release directory when a file of that name exists there,
    /// otherwise looked up on `PATH` (`python3`).
    pub command: String,
    /// Arguments; `{port}`, `{replica}`, `{config_dir}`, `{release_dir}`, `{slot}` and
    /// `{version}` are replaced.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Ports on 127.0.0.1 replicas may use.
    pub ports: PortRange,
    /// Time between `SIGTERM` and `SIGKILL`, in milliseconds.
    pub grace_period_ms: u64,
    /// How readiness is checked.
    pub readiness: Readiness,
    /// How long `apply` waits for new replicas to be ready, in milliseconds.
    pub ready_timeout_ms: u64,
}

impl Default for ProcessTargetConfig {
    fn default() -> Self {
        Self {
            root: PathBuf::from("."),
            command: "run.sh".to_owned(),
            args: Vec::new(),
            env: BTreeMap::new(),
            ports: PortRange::default(),
            grace_period_ms: 5_000,
            readiness: Readiness::Tcp,
            ready_timeout_ms: 10_000,
        }
    }
}

impl ProcessTargetConfig {
    /// A configuration running `command` from releases under `root`.
    pub fn new(root: impl Into<PathBuf>, command: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            command: command.into(),
            ..Self::default()
        }
    }

    /// Sets the arguments.
    pub fn with_args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds an environment variable.
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the port range.
    pub fn with_ports(mut self, start: u16, end: u16) -> Self {
        self.ports = PortRange { start, end };
        self
    }

    /// Sets the grace period between `SIGTERM` and `SIGKILL`.
    pub fn with_grace_period(mut self, grace: Duration) -> Self {
        self.grace_period_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// Sets the readiness check.
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// Sets how long `apply` waits for readiness.
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self
    }

    pub(crate) fn grace_period(&self) -> Duration {
        Duration::from_millis(self.grace_period_ms)
    }

    pub(crate) fn ready_timeout(&self) -> Duration {
        Duration::from_millis(self.ready_timeout_ms)
    }
}
