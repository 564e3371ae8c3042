//! Deployment targets: declarative, idempotent convergence of *slots*.
//!
//! A slot is a named group of replicas of one component at one version in one environment
//! (`stable`, `canary`, `blue`, `green`). The engine states the desired [`SlotSpec`]; the
//! target converges to it. Applying the same spec twice changes nothing, which makes every
//! journaled step safe to repeat after a crash and every rollback a re-apply.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::config::{ConfigDigest, RenderedConfig, ResolvedConfig};
use crate::error::Result;
pub use crate::id::SlotName;
use crate::id::{ComponentId, EnvironmentName};

/// The desired state of one slot: what the engine journals and the target converges to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SlotSpec {
    /// The component.
    pub component: ComponentId,
    /// The environment.
    pub environment: EnvironmentName,
    /// The slot's name.
    pub slot: SlotName,
    /// The version to run.
    pub version: semver::Version,
    /// The artifact to run it from (`sha256:…`).
    pub artifact: Option<String>,
    /// How many replicas.
    pub replicas: u32,
    /// The rendered configuration (secrets as references).
    pub config: RenderedConfig,
    /// Its digest, recorded so drift can be detected (M2.4).
    pub config_digest: ConfigDigest,
}

impl SlotSpec {
    /// A spec with an empty configuration.
    pub fn new(
        component: impl Into<ComponentId>,
        environment: impl Into<EnvironmentName>,
        slot: impl Into<SlotName>,
        version: semver::Version,
        replicas: u32,
    ) -> Self {
        let config = RenderedConfig::new();
        let config_digest = config.digest();
        Self {
            component: component.into(),
            environment: environment.into(),
            slot: slot.into(),
            version,
            artifact: None,
            replicas,
            config,
            config_digest,
        }
    }

    /// Sets the artifact reference.
    pub fn with_artifact(mut self, artifact: Option<String>) -> Self {
        self.artifact = artifact;
        self
    }

    /// Sets the configuration and its digest.
    pub fn with_config(mut self, config: RenderedConfig) -> Self {
        self.config_digest = config.digest();
        self.config = config;
        self
    }

    /// The same spec with another replica count.
    pub fn scaled(&self, replicas: u32) -> Self {
        let mut s = self.clone();
        s.replicas = replicas;
        s
    }

    /// The same spec for another slot.
    pub fn in_slot(&self, slot: impl Into<SlotName>) -> Self {
        let mut s = self.clone();
        s.slot = slot.into();
        s
    }
}

/// What the engine hands a target: the spec, plus the configuration with secrets resolved
/// just before the call (never journaled, redacted in `Debug`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ApplyRequest {
    /// The desired state.
    pub spec: SlotSpec,
    /// The configuration with secrets resolved, when the spec has any configuration.
    pub resolved: Option<ResolvedConfig>,
}

impl ApplyRequest {
    /// A request for `spec`, without resolved configuration.
    pub fn new(spec: SlotSpec) -> Self {
        Self {
            spec,
            resolved: None,
        }
    }

    /// Attaches the resolved configuration.
    pub fn with_resolved(mut self, resolved: ResolvedConfig) -> Self {
        self.resolved = Some(resolved);
        self
    }
}

/// An address a slot serves on, for probes and routers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Endpoint {
    /// `http://127.0.0.1:8081`, `tcp://…`.
    pub url: String,
}

/// What a target reports about one slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SlotStatus {
    /// The spec the slot was last applied with.
    pub spec: SlotSpec,
    /// Replicas running and ready.
    pub ready_replicas: u32,
    /// Where the slot serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
    /// Labels the target wants to show.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl SlotStatus {
    /// A status for `spec` with `ready_replicas` ready.
    pub fn new(spec: SlotSpec, ready_replicas: u32) -> Self {
        Self {
            spec,
            ready_replicas,
            endpoints: Vec::new(),
            details: BTreeMap::new(),
        }
    }

    /// Attaches endpoints.
    pub fn with_endpoints(mut self, endpoints: Vec<Endpoint>) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// True when every desired replica is ready.
    pub fn converged(&self) -> bool {
        self.ready_replicas >= self.spec.replicas
    }
}

/// What a target can do; the engine and the conformance suite branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TargetCapabilities {
    /// More than one slot per component at once (canary, blue-green).
    pub multiple_slots: bool,
    /// Slots can be removed.
    pub remove: bool,
    /// Slots report endpoints.
    pub endpoints: bool,
    /// Replica counts other than 0 and 1 are honoured.
    pub scale: bool,
}

impl Default for TargetCapabilities {
    fn default() -> Self {
        Self {
            multiple_slots: true,
            remove: true,
            endpoints: false,
            scale: true,
        }
    }
}

impl TargetCapabilities {
    /// Everything.
    pub fn all() -> Self {
        Self {
            multiple_slots: true,
            remove: true,
            endpoints: true,
            scale: true,
        }
    }
}

/// Where components run. Declarative: `apply` converges a slot to a spec, idempotently.
#[async_trait]
pub trait DeploymentTarget: Send + Sync {
    /// What this target can do.
    fn capabilities(&self) -> TargetCapabilities {
        TargetCapabilities::default()
    }

    /// Converges the slot to the spec and reports its state. Applying the same spec twice
    /// must change nothing.
    async fn apply(&self, request: &ApplyRequest) -> Result<SlotStatus>;

    /// Every slot of a component in an environment, sorted by slot name.
    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> Result<Vec<SlotStatus>>;

    /// Removes a slot; removing a slot that does not exist is not an error.
    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> Result<()>;
}

fn _assert_object_safe(_: &dyn DeploymentTarget) {}
