//! The deployment targets releasectl drives, both kept in the state directory so a later
//! invocation finds what an earlier one deployed.
//!
//! **`--target process`**: release-adapters' local-process target rooted at
//! `<state>/process/`, decorated with an installer. Builds are taken from `--artifacts DIR`,
//! laid out `DIR/<component>/<version>/`, and installed — copied — into the target's
//! `releases/<component>/<version>/` before the first apply of that version, as an Octopus
//! Tentacle extracts a package before deploying it. Decisions:
//! - Installing copies, not links: a CI job's workspace is cleaned after the job, but the
//!   processes keep running, and a rollback hours later re-applies the previous version from
//!   the installed copy even when the artifact directory no longer holds it.
//! - A version is immutable: when the artifact directory holds a build whose content digest
//!   differs from the installed copy's, the apply fails and says so (give the build a new
//!   version) instead of silently running the old bytes.
//! - The processes outlive the CLI (the process target's own decision) and a later `resume`
//!   finds them through the target's state files under `<state>/process/slots/`.
//!
//! **`--target simulated`**: release-core's in-memory target; after every change its slots
//! are written to `<state>/simulated.json` and re-applied into a fresh in-memory target by
//! the next invocation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use release_adapters::process::{ProcessTarget, ProcessTargetConfig, Readiness};
use release_core::digest::Sha256Digest;
use release_core::id::{ComponentId, EnvironmentName};
use release_core::memory::InMemoryTarget;
use release_core::plugin::{
    ApplyRequest, DeploymentTarget, SlotSpec, SlotStatus, TargetCapabilities,
};

use crate::state::ProcessSettings;

const PROCESS: &str = "releasectl-process";
const SIMULATED: &str = "releasectl-simulated";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// release-adapters' local-process target, installing builds from `--artifacts` first.
pub(crate) struct InstallingProcesses {
    target: ProcessTarget,
    root: PathBuf,
    artifacts: PathBuf,
    command: String,
    installing: tokio::sync::Mutex<()>,
}

impl InstallingProcesses {
    /// The target rooted at `<state>/process/`.
    pub fn new(state: &Path, s: ProcessSettings) -> Self {
        let root = state.join("process");
        let config = ProcessTargetConfig::new(&root, &s.command)
            .with_args(s.args.iter().cloned())
            .with_ports(s.ports.start, s.ports.end)
            .with_grace_period(std::time::Duration::from_millis(s.grace_period_ms))
            .with_ready_timeout(std::time::Duration::from_millis(s.ready_timeout_ms))
            .with_readiness(Readiness::Tcp);
        Self {
            target: ProcessTarget::new(config),
            root,
            artifacts: s.artifacts,
            command: s.command,
            installing: tokio::sync::Mutex::new(()),
        }
    }

    /// Copies `<artifacts>/<component>/<version>/` to `<root>/releases/<component>/<version>/`
    /// unless the same content is installed already.
    fn install(&self, component: &str, version: &semver::Version) -> Result<(), String> {
        let source = self.artifacts.join(component).join(version.to_string());
        let releases = self.root.join("releases").join(component);
        let installed = releases.join(version.to_string());
        let digest_file = releases.join(format!("{version}.sha256"));
        if installed.is_dir() {
            if !source.is_dir() {
                // The build is gone from the workspace; the installed copy is what we run.
                return Ok(());
            }
            let recorded = std::fs::read_to_string(&digest_file).unwrap_or_default();
            let digest = tree_digest(&source)?;
            if recorded.trim() != digest.hex() {
                return Err(format!(
                    "the build of {component} {version} in {} differs from the copy installed in {} (digest {} vs {}); a version is immutable: give the new build a new version",
                    source.display(),
                    installed.display(),
                    digest.hex(),
                    recorded.trim()
                ));
            }
            return Ok(());
        }
        if !source.is_dir() {
            return Err(format!(
                "no build of {component} {version}: {} is not a directory; put the build there (layout `<artifacts>/<component>/<version>/{}`) or fix `--artifacts`",
                source.display(),
                self.command
            ));
        }
        let digest = tree_digest(&source)?;
        let tmp = releases.join(format!(".{version}.installing"));
        let _ = std::fs::remove_dir_all(&tmp);
        copy_tree(&source, &tmp)?;
        std::fs::write(&digest_file, format!("{}\n", digest.hex()))
            .map_err(|e| format!("cannot write {}: {e}", digest_file.display()))?;
        std::fs::rename(&tmp, &installed)
            .map_err(|e| format!("cannot install {}: {e}", installed.display()))
    }
}

/// Every regular file under `dir`, relative, sorted.
fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = std::fs::read_dir(dir.join(&relative))
            .map_err(|e| format!("cannot read {}: {e}", dir.join(&relative).display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let path = relative.join(entry.file_name());
            let kind = std::fs::metadata(entry.path())
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The SHA-256 of a directory: each file's relative path and content digest, in path order.
fn tree_digest(dir: &Path) -> Result<Sha256Digest, String> {
    let mut listing = String::new();
    for path in files(dir)? {
        let bytes = std::fs::read(dir.join(&path))
            .map_err(|e| format!("cannot read {}: {e}", dir.join(&path).display()))?;
        listing.push_str(&format!(
            "{}\0{}\n",
            path.display(),
            Sha256Digest::of(&bytes).hex()
        ));
    }
    Ok(Sha256Digest::of(listing.as_bytes()))
}

/// Copies `from` to `to`, keeping permissions (the program must stay executable).
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    for path in files(from)? {
        let target = to.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::copy(from.join(&path), &target)
            .map_err(|e| format!("cannot copy {}: {e}", from.join(&path).display()))?;
    }
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))
}

#[async_trait]
impl DeploymentTarget for InstallingProcesses {
    fn capabilities(&self) -> TargetCapabilities {
        self.target.capabilities()
    }

    async fn apply(&self, request: &ApplyRequest) -> release_core::Result<SlotStatus> {
        let spec = &request.spec;
        if spec.replicas > 0 {
            let _one_at_a_time = self.installing.lock().await;
            self.install(spec.component.as_str(), &spec.version)
                .map_err(|m| release_core::Error::permanent(PROCESS, m))?;
        }
        self.target.apply(request).await
    }

    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> release_core::Result<Vec<SlotStatus>> {
        self.target.observe(component, environment).await
    }

    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> release_core::Result<()> {
        self.target.remove(component, environment, slot).await
    }
}

type SlotKey = (String, String, String);

/// release-core's in-memory target with its slots kept in a file between invocations.
pub(crate) struct SimulatedTarget {
    memory: InMemoryTarget,
    file: PathBuf,
    slots: Mutex<BTreeMap<SlotKey, SlotSpec>>,
}

fn key(spec: &SlotSpec) -> SlotKey {
    (
        spec.environment.to_string(),
        spec.component.to_string(),
        spec.slot.to_string(),
    )
}

impl SimulatedTarget {
    /// Loads the slots saved in `<state>/simulated.json` (none when it does not exist).
    pub async fn load(state: &Path) -> Result<Self, String> {
        let file = state.join("simulated.json");
        let specs: Vec<SlotSpec> = match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{}:{}:{}: {e}; the simulated target's state is damaged: delete the file to start from empty environments",
                    file.display(),
                    e.line(),
                    e.column()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        let memory = InMemoryTarget::new();
        let mut slots = BTreeMap::new();
        for spec in specs {
            memory
                .apply(&ApplyRequest::new(spec.clone()))
                .await
                .map_err(|e| format!("{}: {e}", file.display()))?;
            slots.insert(key(&spec), spec);
        }
        Ok(Self {
            memory,
            file,
            slots: Mutex::new(slots),
        })
    }

    fn save(&self) -> release_core::Result<()> {
        let specs: Vec<SlotSpec> = lock(&self.slots).values().cloned().collect();
        let text = serde_json::to_string_pretty(&specs)
            .map_err(|e| release_core::Error::permanent(SIMULATED, e.to_string()))?;
        let tmp = self.file.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &self.file))
            .map_err(|e| {
                release_core::Error::permanent(
                    SIMULATED,
                    format!("cannot write {}: {e}", self.file.display()),
                )
            })
    }
}

#[async_trait]
impl DeploymentTarget for SimulatedTarget {
    fn capabilities(&self) -> TargetCapabilities {
        self.memory.capabilities()
    }

    async fn apply(&self, request: &ApplyRequest) -> release_core::Result<SlotStatus> {
        let status = self.memory.apply(request).await?;
        lock(&self.slots).insert(key(&request.spec), request.spec.clone());
        self.save()?;
        Ok(status)
    }

    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> release_core::Result<Vec<SlotStatus>> {
        self.memory.observe(component, environment).await
    }

    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> release_core::Result<()> {
        self.memory.remove(component, environment, slot).await?;
        lock(&self.slots).remove(&(
            environment.to_string(),
            component.to_string(),
            slot.to_owned(),
        ));
        self.save()
    }
}
