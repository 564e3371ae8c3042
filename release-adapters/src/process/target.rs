//! The [`ProcessTarget`] implementation: spawning, stopping, readiness and state files.

use std::collections::BTreeMap;
use std::net::TcpListener as StdTcpListener;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use release_core::config::ResolvedConfig;
use release_core::id::{ComponentId, EnvironmentName};
use release_core::plugin::{
    ApplyRequest, DeploymentTarget, Endpoint, SlotSpec, SlotStatus, TargetCapabilities,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use super::config::{ProcessTargetConfig, Readiness};
use super::error::ProcessError;

/// (environment, component, slot).
type Key = (String, String, String);

/// One replica as recorded in the state file.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ReplicaRecord {
    index: u32,
    pid: u32,
    port: u16,
    /// The slot identity (version, artifact, config digest) the replica was started with.
    identity: String,
}

/// The state file of one slot.
#[derive(Debug, Serialize, Deserialize)]
struct SlotRecord {
    spec: SlotSpec,
    replicas: Vec<ReplicaRecord>,
}

struct Replica {
    record: ReplicaRecord,
    /// The child handle when this target value started the process (`None` after a reload).
    child: Option<Child>,
}

struct Slot {
    spec: SlotSpec,
    replicas: Vec<Replica>,
}

#[derive(Default)]
struct Inner {
    loaded: bool,
    slots: BTreeMap<Key, Slot>,
}

/// A [`DeploymentTarget`] running each slot as local OS processes on loopback ports.
///
/// See the [module docs](super) for the layout and the decisions.
pub struct ProcessTarget {
    config: ProcessTargetConfig,
    inner: Mutex<Inner>,
    hook: Option<EndpointHook>,
}

/// Called with a slot's ready endpoints whenever they change: after new replicas are ready
/// and before old ones are stopped, and with none before a slot is removed.
pub type EndpointHook = Arc<dyn Fn(&SlotSpec, &[Endpoint]) + Send + Sync>;

impl std::fmt::Debug for ProcessTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTarget")
            .field("root", &self.config.root)
            .finish_non_exhaustive()
    }
}

fn identity(spec: &SlotSpec) -> String {
    format!(
        "{}|{}|{}",
        spec.version,
        spec.artifact.as_deref().unwrap_or(""),
        spec.config_digest
    )
}

fn check_name(what: &'static str, name: &str) -> Result<(), ProcessError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ProcessError::InvalidName {
            what,
            name: name.to_owned(),
        })
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ProcessError {
    let path = path.to_path_buf();
    move |source| ProcessError::Io {
        action,
        path,
        source,
    }
}

fn endpoint(port: u16) -> Endpoint {
    Endpoint {
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// True when `pid` is a live (non-zombie) process.
fn pid_alive(pid: u32) -> bool {
    let stat = PathBuf::from(format!("/proc/{pid}/stat"));
    if Path::new("/proc/self/stat").exists() {
        return match std::fs::read_to_string(&stat) {
            // The state is the field after the parenthesised command name.
            Ok(text) => text
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        };
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Replica {
    fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => pid_alive(self.record.pid),
        }
    }
}

/// Sends `signal` to the process group led by `pid` (replicas are group leaders).
async fn signal_group(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

fn signal_group_blocking(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(format!("-{pid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

async fn port_ready(port: u16, readiness: &Readiness) -> bool {
    let connect = tokio::time::timeout(
        Duration::from_millis(500),
        TcpStream::connect(("127.0.0.1", port)),
    )
    .await;
    let Ok(Ok(mut stream)) = connect else {
        return false;
    };
    match readiness {
        Readiness::Tcp => true,
        Readiness::Http { path } => {
            let request = format!(
                "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            );
            let exchange = async {
                stream.write_all(request.as_bytes()).await?;
                let mut head = [0u8; 16];
                let mut read = 0;
                while read < head.len() {
                    let n = stream.read(&mut head[read..]).await?;
                    if n == 0 {
                        break;
                    }
                    read += n;
                }
                Ok::<_, std::io::Error>(head[..read].to_vec())
            };
            let ready = match tokio::time::timeout(Duration::from_secs(1), exchange).await {
                // `HTTP/1.x 2xx`
                Ok(Ok(head)) => head.starts_with(b"HTTP/1.") && head.get(9) == Some(&b'2'),
                _ => false,
            };
            // Read the rest of the answer (up to 64 KiB, briefly) before hanging up: closing
            // a socket with unread data sends a reset, which servers log as an error
            // (Python's http.server prints a ConnectionResetError traceback): noise in the
            // service's logs, and a false "new exception" for a log-based canary analysis
            // (release-adapters/tests/logs.rs caught it). A server that keeps the connection
            // open despite `Connection: close` only costs the short wait.
            let drain = async {
                let mut rest = [0u8; 4096];
                let mut drained = 0usize;
                while drained < 64 * 1024 {
                    match stream.read(&mut rest).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => drained += n,
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
            ready
        }
    }
}

impl ProcessTarget {
    /// A target managing processes under `config.root`; state files left there by an earlier
    /// target value are read back on first use.
    pub fn new(config: ProcessTargetConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner::default()),
            hook: None,
        }
    }

    /// Reports endpoint changes to `hook` (a router's
    /// `HttpRouter::endpoint_hook`), so traffic moves before replicas stop.
    pub fn with_endpoint_hook(
        mut self,
        hook: impl Fn(&SlotSpec, &[Endpoint]) + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    fn announce(&self, spec: &SlotSpec, replicas: &[Replica]) {
        if let Some(hook) = &self.hook {
            let mut sorted: Vec<&Replica> = replicas.iter().collect();
            sorted.sort_by_key(|r| r.record.index);
            let endpoints: Vec<Endpoint> = sorted.iter().map(|r| endpoint(r.record.port)).collect();
            hook(spec, &endpoints);
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProcessTargetConfig {
        &self.config
    }

    /// The directory of one slot.
    pub fn slot_dir(&self, environment: &str, component: &str, slot: &str) -> PathBuf {
        self.config
            .root
            .join("slots")
            .join(environment)
            .join(component)
            .join(slot)
    }

    /// The directory a version is unpacked in, shared by every component.
    pub fn release_dir(&self, version: &semver::Version) -> PathBuf {
        self.config.root.join("releases").join(version.to_string())
    }

    /// The directory a component's version is unpacked in: `releases/<component>/<version>/`
    /// when it exists (several components with their own artifacts on one target), else the
    /// shared [`release_dir`](Self::release_dir).
    pub fn component_release_dir(&self, component: &str, version: &semver::Version) -> PathBuf {
        let own = self
            .config
            .root
            .join("releases")
            .join(component)
            .join(version.to_string());
        if own.is_dir() {
            own
        } else {
            self.release_dir(version)
        }
    }

    /// The log file of one replica.
    pub fn log_file(
        &self,
        environment: &str,
        component: &str,
        slot: &str,
        replica: u32,
    ) -> PathBuf {
        self.slot_dir(environment, component, slot)
            .join("logs")
            .join(format!("replica-{replica}.log"))
    }

    /// Stops every process this target manages and forgets their slots.
    pub async fn stop_all(&self) -> release_core::Result<()> {
        let mut inner = self.inner.lock().await;
        self.ensure_loaded(&mut inner)?;
        let keys: Vec<Key> = inner.slots.keys().cloned().collect();
        for key in keys {
            if let Some(mut slot) = inner.slots.remove(&key) {
                for r in &mut slot.replicas {
                    self.stop(r).await;
                }
                self.forget(&key)?;
            }
        }
        Ok(())
    }

    /// Sends `SIGKILL` to every process recorded in the state files under the root, without
    /// waiting; for `Drop` guards in tests and emergency shutdown.
    pub fn kill_all_blocking(&self) {
        let slots = self.config.root.join("slots");
        for path in state_files(&slots) {
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(record) = serde_json::from_str::<SlotRecord>(&text)
            {
                for r in record.replicas {
                    signal_group_blocking(r.pid, "KILL");
                }
            }
        }
    }

    fn ensure_loaded(&self, inner: &mut Inner) -> Result<(), ProcessError> {
        if inner.loaded {
            return Ok(());
        }
        for path in state_files(&self.config.root.join("slots")) {
            let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
            let record: SlotRecord =
                serde_json::from_str(&text).map_err(|source| ProcessError::State {
                    path: path.clone(),
                    source,
                })?;
            let key = (
                record.spec.environment.to_string(),
                record.spec.component.to_string(),
                record.spec.slot.to_string(),
            );
            // Dead pids are dropped here and restarted by the next apply.
            let replicas = record
                .replicas
                .into_iter()
                .filter(|r| pid_alive(r.pid))
                .map(|record| Replica {
                    record,
                    child: None,
                })
                .collect();
            inner.slots.insert(
                key,
                Slot {
                    spec: record.spec,
                    replicas,
                },
            );
        }
        inner.loaded = true;
        Ok(())
    }

    fn save(&self, slot: &Slot) -> Result<(), ProcessError> {
        let s = &slot.spec;
        let dir = self.slot_dir(s.environment.as_str(), s.component.as_str(), &s.slot);
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let record = SlotRecord {
            spec: slot.spec.clone(),
            replicas: slot.replicas.iter().map(|r| r.record.clone()).collect(),
        };
        let path = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let text = serde_json::to_vec_pretty(&record).map_err(|source| ProcessError::State {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
        Ok(())
    }

    /// Deletes a slot's state and configuration; logs stay for the log watcher.
    fn forget(&self, key: &Key) -> Result<(), ProcessError> {
        let dir = self.slot_dir(&key.0, &key.1, &key.2);
        let state = dir.join("state.json");
        match std::fs::remove_file(&state) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("delete", &state)(e)),
        }
        let config = dir.join("config");
        match std::fs::remove_dir_all(&config) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("delete", &config)(e)),
        }
    }

    /// Writes the configuration files for `spec` and returns their directory.
    fn write_config(
        &self,
        spec: &SlotSpec,
        resolved: Option<&ResolvedConfig>,
    ) -> Result<PathBuf, ProcessError> {
        let dir = self
            .slot_dir(
                spec.environment.as_str(),
                spec.component.as_str(),
                &spec.slot,
            )
            .join("config")
            .join(spec.config_digest.hex());
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let mut files: Vec<(String, String)> = Vec::new();
        match resolved {
            Some(resolved) => {
                for name in resolved.file_names() {
                    if let Some(text) = resolved.expose_file(name) {
                        files.push((name.to_owned(), text));
                    }
                }
            }
            None => {
                for (name, file) in spec.config.files() {
                    if file.secret_refs().next().is_some() {
                        return Err(ProcessError::UnresolvedSecrets {
                            slot: spec.slot.to_string(),
                        });
                    }
                    files.push((name.clone(), file.to_string()));
                }
            }
        }
        for (name, text) in files {
            let relative = Path::new(&name);
            if name.is_empty()
                || !relative
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
            {
                return Err(ProcessError::InvalidName {
                    what: "configuration file",
                    name,
                });
            }
            let path = dir.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io("create", parent))?;
            }
            write_private(&path, text.as_bytes()).map_err(io("write", &path))?;
        }
        Ok(dir)
    }

    fn free_port(&self, inner: &Inner, taken: &[u16]) -> Result<u16, ProcessError> {
        let used: Vec<u16> = inner
            .slots
            .values()
            .flat_map(|s| s.replicas.iter().map(|r| r.record.port))
            .chain(taken.iter().copied())
            .collect();
        let range = self.config.ports;
        (range.start..=range.end)
            .filter(|p| !used.contains(p))
            .find(|p| StdTcpListener::bind(("127.0.0.1", *p)).is_ok())
            .ok_or(ProcessError::NoFreePort {
                start: range.start,
                end: range.end,
            })
    }

    fn spawn(
        &self,
        spec: &SlotSpec,
        index: u32,
        port: u16,
        config_dir: &Path,
    ) -> Result<Replica, ProcessError> {
        let release_dir = self.component_release_dir(spec.component.as_str(), &spec.version);
        if !release_dir.is_dir() {
            return Err(ProcessError::MissingRelease {
                version: spec.version.to_string(),
                path: release_dir,
            });
        }
        let local = release_dir.join(&self.config.command);
        let program = if local.is_file() {
            local
        } else {
            PathBuf::from(&self.config.command)
        };
        let fill = |arg: &str| {
            arg.replace("{port}", &port.to_string())
                .replace("{replica}", &index.to_string())
                .replace("{config_dir}", &config_dir.to_string_lossy())
                .replace("{release_dir}", &release_dir.to_string_lossy())
                .replace("{slot}", &spec.slot)
                .replace("{version}", &spec.version.to_string())
        };
        let log = self.log_file(
            spec.environment.as_str(),
            spec.component.as_str(),
            &spec.slot,
            index,
        );
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io("open", &log))?;
        let err = out.try_clone().map_err(io("open", &log))?;
        let mut command = Command::new(&program);
        command
            .args(self.config.args.iter().map(|a| fill(a)))
            .current_dir(&release_dir)
            .envs(&self.config.env)
            .env("PORT", port.to_string())
            .env("RELEASE_CONFIG_DIR", config_dir)
            .env("RELEASE_DIR", &release_dir)
            .env("RELEASE_VERSION", spec.version.to_string())
            .env("RELEASE_SLOT", spec.slot.as_str())
            .env("RELEASE_REPLICA", index.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(false);
        #[cfg(unix)]
        command.process_group(0);
        let child = command.spawn().map_err(|source| ProcessError::Spawn {
            command: program.display().to_string(),
            slot: spec.slot.to_string(),
            replica: index,
            source,
        })?;
        let pid = child.id().unwrap_or(0);
        Ok(Replica {
            record: ReplicaRecord {
                index,
                pid,
                port,
                identity: identity(spec),
            },
            child: Some(child),
        })
    }

    /// `SIGTERM`, the grace period, then `SIGKILL`; reaps the child when it is ours.
    async fn stop(&self, replica: &mut Replica) {
        let pid = replica.record.pid;
        if pid == 0 || !replica.alive() {
            return;
        }
        signal_group(pid, "TERM").await;
        let deadline = Instant::now() + self.config.grace_period();
        while replica.alive() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if replica.alive() {
            signal_group(pid, "KILL").await;
        }
        if let Some(child) = &mut replica.child {
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        } else {
            let deadline = Instant::now() + Duration::from_secs(2);
            while pid_alive(pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Waits until every replica in `fresh` is ready.
    async fn wait_ready(&self, spec: &SlotSpec, fresh: &mut [Replica]) -> Result<(), ProcessError> {
        let deadline = Instant::now() + self.config.ready_timeout();
        let mut pending: Vec<usize> = (0..fresh.len()).collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for i in pending {
                let r = &mut fresh[i];
                if let Some(child) = &mut r.child
                    && let Ok(Some(status)) = child.try_wait()
                {
                    return Err(ProcessError::Exited {
                        slot: spec.slot.to_string(),
                        replica: r.record.index,
                        status: status.to_string(),
                        log: self.log_file(
                            spec.environment.as_str(),
                            spec.component.as_str(),
                            &spec.slot,
                            r.record.index,
                        ),
                    });
                }
                if !port_ready(r.record.port, &self.config.readiness).await {
                    still.push(i);
                }
            }
            pending = still;
            if pending.is_empty() || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn status(&self, slot: &mut Slot) -> SlotStatus {
        let mut ready = 0;
        let mut endpoints = Vec::new();
        let mut ports = Vec::new();
        slot.replicas.sort_by_key(|r| r.record.index);
        for r in &mut slot.replicas {
            if r.alive() && port_ready(r.record.port, &self.config.readiness).await {
                ready += 1;
                endpoints.push(endpoint(r.record.port));
                ports.push(r.record.port.to_string());
            }
        }
        let dir = self.slot_dir(
            slot.spec.environment.as_str(),
            slot.spec.component.as_str(),
            &slot.spec.slot,
        );
        let mut status = SlotStatus::new(slot.spec.clone(), ready).with_endpoints(endpoints);
        status
            .details
            .insert("slot_dir".to_owned(), dir.display().to_string());
        status.details.insert("ports".to_owned(), ports.join(","));
        status
    }

    async fn converge(
        &self,
        inner: &mut Inner,
        request: &ApplyRequest,
    ) -> Result<SlotStatus, ProcessError> {
        let spec = &request.spec;
        let key: Key = (
            spec.environment.to_string(),
            spec.component.to_string(),
            spec.slot.to_string(),
        );
        let wanted = identity(spec);
        let existed = inner.slots.contains_key(&key);
        let mut slot = inner.slots.remove(&key).unwrap_or_else(|| Slot {
            spec: spec.clone(),
            replicas: Vec::new(),
        });
        // Forget replicas that died; they count as missing below.
        let mut live = Vec::new();
        for mut r in slot.replicas.drain(..) {
            if r.alive() {
                live.push(r);
            }
        }
        let (mut keep, old): (Vec<Replica>, Vec<Replica>) =
            live.into_iter().partition(|r| r.record.identity == wanted);
        keep.sort_by_key(|r| r.record.index);
        let mut extra = Vec::new();
        keep.retain_mut(|r| {
            if r.record.index < spec.replicas {
                true
            } else {
                extra.push(Replica {
                    record: r.record.clone(),
                    child: r.child.take(),
                });
                false
            }
        });
        let missing: Vec<u32> = (0..spec.replicas)
            .filter(|i| !keep.iter().any(|r| r.record.index == *i))
            .collect();
        let mut fresh: Vec<Replica> = Vec::new();
        let started = async {
            if missing.is_empty() {
                return Ok(());
            }
            let config_dir = self.write_config(spec, request.resolved.as_ref())?;
            for index in &missing {
                let taken: Vec<u16> = keep
                    .iter()
                    .chain(old.iter())
                    .chain(fresh.iter())
                    .map(|r| r.record.port)
                    .collect();
                let port = self.free_port(inner, &taken)?;
                fresh.push(self.spawn(spec, *index, port, &config_dir)?);
            }
            self.wait_ready(spec, &mut fresh).await
        }
        .await;
        if let Err(e) = started {
            // Keep the slot as it was: stop what was just started, restore the old replicas.
            for r in &mut fresh {
                self.stop(r).await;
            }
            // A slot that never converged is not reported at all.
            if existed {
                slot.replicas = keep.into_iter().chain(old).chain(extra).collect();
                self.save(&slot)?;
                inner.slots.insert(key, slot);
            }
            return Err(e);
        }
        slot.spec = spec.clone();
        slot.replicas = keep.into_iter().chain(fresh).collect();
        if !missing.is_empty() || !old.is_empty() || !extra.is_empty() {
            self.announce(spec, &slot.replicas);
        }
        for mut r in old.into_iter().chain(extra) {
            self.stop(&mut r).await;
        }
        self.save(&slot)?;
        self.prune_config(spec);
        let status = self.status(&mut slot).await;
        inner.slots.insert(key, slot);
        Ok(status)
    }

    /// Removes configuration directories of earlier specs (best effort).
    fn prune_config(&self, spec: &SlotSpec) {
        let dir = self
            .slot_dir(
                spec.environment.as_str(),
                spec.component.as_str(),
                &spec.slot,
            )
            .join("config");
        let current = spec.config_digest.hex();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy() != current {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Every `slots/<env>/<component>/<slot>/state.json` under `slots`.
fn state_files(slots: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    for env in dirs(slots) {
        for component in dirs(&env) {
            for slot in dirs(&component) {
                let state = slot.join("state.json");
                if state.is_file() {
                    found.push(state);
                }
            }
        }
    }
    found
}

#[async_trait]
impl DeploymentTarget for ProcessTarget {
    fn capabilities(&self) -> TargetCapabilities {
        TargetCapabilities::all()
    }

    async fn apply(&self, request: &ApplyRequest) -> release_core::Result<SlotStatus> {
        let spec = &request.spec;
        check_name("environment", spec.environment.as_str())?;
        check_name("component", spec.component.as_str())?;
        check_name("slot", &spec.slot)?;
        let mut inner = self.inner.lock().await;
        self.ensure_loaded(&mut inner)?;
        Ok(self.converge(&mut inner, request).await?)
    }

    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> release_core::Result<Vec<SlotStatus>> {
        let mut inner = self.inner.lock().await;
        self.ensure_loaded(&mut inner)?;
        let mut out = Vec::new();
        for ((env, comp, _), slot) in inner.slots.iter_mut() {
            if env == environment.as_str() && comp == component.as_str() {
                out.push(self.status(slot).await);
            }
        }
        // BTreeMap order is by slot name within one (environment, component).
        Ok(out)
    }

    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> release_core::Result<()> {
        let mut inner = self.inner.lock().await;
        self.ensure_loaded(&mut inner)?;
        let key: Key = (
            environment.to_string(),
            component.to_string(),
            slot.to_owned(),
        );
        if let Some(mut s) = inner.slots.remove(&key) {
            self.announce(&s.spec, &[]);
            for r in &mut s.replicas {
                self.stop(r).await;
            }
            self.forget(&key)?;
        }
        Ok(())
    }
}
