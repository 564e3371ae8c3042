//! A deployment target written in one file against `release-core` alone: it "deploys" by
//! writing each slot's desired state to a directory of JSON files, the way a GitOps target
//! commits manifests for another controller to apply. Run the conformance suite against it:
//!
//! ```sh
//! cargo run --example custom_target
//! ```
//!
//! The same suite runs in `examples/tests/plugins.rs`, as a plugin author's CI would.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use release_core::model::{ComponentId, EnvironmentName};
use release_core::plugin::{
    ApplyRequest, DeploymentTarget, Endpoint, SlotStatus, TargetCapabilities,
};
use release_core::{Error, Result};

/// Desired state as files: `<root>/<environment>/<component>/<slot>.json`.
pub struct DirectoryTarget {
    root: PathBuf,
}

impl DirectoryTarget {
    /// A target writing under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn dir(&self, environment: &str, component: &str) -> PathBuf {
        self.root.join(environment).join(component)
    }

    fn io(path: &Path, e: std::io::Error) -> Error {
        Error::Plugin {
            plugin: "directory-target".to_owned(),
            message: format!("{}: {e}", path.display()),
            retryable: e.kind() == std::io::ErrorKind::Interrupted,
            source: Some(Box::new(e)),
        }
    }

    fn status(spec: release_core::plugin::SlotSpec) -> SlotStatus {
        let endpoint = Endpoint {
            url: format!(
                "file://{}/{}/{}",
                spec.environment, spec.component, spec.slot
            ),
        };
        let replicas = spec.replicas;
        SlotStatus::new(spec, replicas).with_endpoints(vec![endpoint])
    }
}

#[async_trait]
impl DeploymentTarget for DirectoryTarget {
    fn capabilities(&self) -> TargetCapabilities {
        TargetCapabilities::all()
    }

    async fn apply(&self, request: &ApplyRequest) -> Result<SlotStatus> {
        let spec = &request.spec;
        let dir = self.dir(spec.environment.as_str(), spec.component.as_str());
        std::fs::create_dir_all(&dir).map_err(|e| Self::io(&dir, e))?;
        let path = dir.join(format!("{}.json", spec.slot));
        // The spec holds secret references only, never values: safe to write down.
        let json = serde_json::to_vec_pretty(spec).map_err(|e| Error::Codec {
            what: format!("slot {}", spec.slot),
            message: e.to_string(),
        })?;
        // Idempotent: the same spec leaves the file untouched.
        if std::fs::read(&path).ok().as_deref() != Some(json.as_slice()) {
            let tmp = dir.join(format!(".{}.json.tmp", spec.slot));
            std::fs::write(&tmp, &json).map_err(|e| Self::io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Self::io(&path, e))?;
        }
        Ok(Self::status(spec.clone()))
    }

    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> Result<Vec<SlotStatus>> {
        let dir = self.dir(environment.as_str(), component.as_str());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut slots = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Self::io(&dir, e))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let bytes = std::fs::read(&path).map_err(|e| Self::io(&path, e))?;
                let spec = serde_json::from_slice(&bytes).map_err(|e| Error::InvalidReply {
                    plugin: "directory-target".to_owned(),
                    message: format!("{} is not a slot spec: {e}", path.display()),
                })?;
                slots.push(Self::status(spec));
            }
        }
        slots.sort_by(|a, b| a.spec.slot.cmp(&b.spec.slot));
        Ok(slots)
    }

    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> Result<()> {
        let path = self
            .dir(environment.as_str(), component.as_str())
            .join(format!("{slot}.json"));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Self::io(&path, e)),
            _ => Ok(()),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let root = std::env::temp_dir().join(format!("directory-target-{}", std::process::id()));
    let target = DirectoryTarget::new(&root);
    let result = release_core::testkit::target_conformance(&target).await;
    let _ = std::fs::remove_dir_all(&root);
    match result {
        Ok(report) => {
            println!(
                "{} conformance: {} checks passed",
                report.suite,
                report.passed.len()
            );
            for check in &report.passed {
                println!("  ok  {check}");
            }
        }
        Err(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
    }
}
