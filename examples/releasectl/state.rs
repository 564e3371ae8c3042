//! The state directory (`--state DIR`, default `.release/`) that lets separate CI jobs —
//! separate processes, hours apart — continue one release.
//!
//! ```text
//! .release/
//!   ledger.db          the SQLite ledger: every release's hash-chained journal (the truth)
//!   inventory.db       the CMDB (release-adapters' inventory), a projection of the ledger
//!   releasectl.json    the settings `run` chose (target, artifacts, ports, probe, roles,
//!                      `--database` defaults), read back by every later command
//!   lock               held (advisory file lock) by `run`, `resume` and `rollback` while they
//!                      drive a release, so two jobs never drive the same state at once
//!   process/releases/<component>/<version>/   installed copies of the builds
//!   process/slots/...                         the process target's state, config and logs
//!   simulated.json     the simulated target's slots (`--target simulated`)
//!   migrations/<release>/databases.json, <component>/   what a release that migrates data
//!                      kept when it started: its databases and migration sets (`data.rs`)
//!   backups/<resource>/  pre-deployment backups of those databases
//! ```
//!
//! Decisions:
//! - **One lock holder identity**, `releasectl`, for every invocation on a state directory:
//!   a `resume` in a later job renews the leases an earlier job left instead of waiting for
//!   them to expire; the file lock above keeps two invocations from driving at once.
//!   `approve`, `reject`, `abort`, `promote`, `sign-off`, `test-report` and `rehearse` only
//!   append to the journal (`rehearse` works on a clone) and take no lock,
//!   so they work while another job is running the release (it reads them at its next step).
//! - **Which release** a command means when `--release` is not given: the one whose journal
//!   has the most recent record (ties broken by id), i.e. the release the last job touched.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use release_adapters::inventory::{Inventory, InventoryConfig};
use release_adapters::process::PortRange;
use release_adapters::sqlite_ledger::SqliteLedgerConfig;
use release_core::ErrorKind;
use release_core::ledger::{Ledger, Record, read_all};
use release_core::model::ReleaseId;
use release_gates::promotion::GatesConfig;
use serde::{Deserialize, Serialize};

use crate::Exit;
pub(crate) use crate::cli::TargetKind;

/// A command that could not do its job: the exit code and a message naming the thing, the
/// place and the fix.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What a person reads on stderr.
    pub message: String,
}

impl Failure {
    /// Invalid input (exit 2).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Invalid,
            message: message.into(),
        }
    }

    /// Anything else (exit 1).
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Failure,
            message: message.into(),
        }
    }

    /// Prints the message on stderr (and, with `--json`, `{"error", "exit"}` on stdout) and
    /// returns the exit code.
    pub fn report(self, json: bool) -> Exit {
        eprintln!("error: {}", self.message);
        if json {
            println!(
                "{}",
                serde_json::json!({ "error": self.message, "exit": self.exit as u8 })
            );
        }
        self.exit
    }
}

impl From<release_core::Error> for Failure {
    fn from(e: release_core::Error) -> Self {
        let exit = match e.kind() {
            ErrorKind::NotFound | ErrorKind::InvalidAction | ErrorKind::Invalid => Exit::Invalid,
            ErrorKind::Tampered => Exit::Problems,
            _ => Exit::Failure,
        };
        Self {
            exit,
            message: e.to_string(),
        }
    }
}

/// How the process target runs artifacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProcessSettings {
    /// Where builds are: `<artifacts>/<component>/<version>/` (absolute).
    pub artifacts: PathBuf,
    /// The program in each artifact directory (or on `PATH`).
    pub command: String,
    /// Its arguments (`{port}` and friends are filled in by the target).
    pub args: Vec<String>,
    /// Loopback ports replicas may use.
    pub ports: PortRange,
    /// `GET` this path on every replica after each step (an HTTP health probe, M5.4).
    pub probe_path: Option<String>,
    /// Time between `SIGTERM` and `SIGKILL`, in milliseconds.
    pub grace_period_ms: u64,
    /// How long a new replica may take to accept connections, in milliseconds.
    pub ready_timeout_ms: u64,
}

/// What `run` chose, kept in `releasectl.json` for later commands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    /// The target.
    pub target: TargetKind,
    /// Process target settings (with `target: process`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessSettings>,
    /// Who holds which role, for the approval and sign-off gates.
    #[serde(default)]
    pub gates: GatesConfig,
    /// Prometheus' base URL: the metrics source of analyses and rollback triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// Database resource → its SQLite file (absolute), for releases that migrate data.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub databases: std::collections::BTreeMap<String, PathBuf>,
}

/// A state directory.
#[derive(Clone, Debug)]
pub(crate) struct StateDir {
    path: PathBuf,
}

/// Programs run from their release directory, so every path handed on must be absolute.
fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(path)
        .map_err(|e| Failure::invalid(format!("--state {}: {e}", path.display())))
}

const SETTINGS: &str = "releasectl.json";
const LEDGER: &str = "ledger.db";

impl StateDir {
    /// A state directory that must already hold a ledger (read-only commands and decisions).
    pub fn existing(path: &Path) -> Result<Self, Failure> {
        let dir = Self {
            path: absolute(path)?,
        };
        if !dir.ledger_path().is_file() {
            return Err(Failure::invalid(format!(
                "no ledger at {}; start a release with `releasectl run --state {}` first, or point `--state` at the directory an earlier job used",
                dir.ledger_path().display(),
                path.display()
            )));
        }
        Ok(dir)
    }

    /// A state directory, created when missing (`run`).
    pub fn create(path: &Path) -> Result<Self, Failure> {
        std::fs::create_dir_all(path).map_err(|e| {
            Failure::other(format!(
                "cannot create the state directory {}: {e}; choose a writable `--state`",
                path.display()
            ))
        })?;
        Ok(Self {
            path: absolute(path)?,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite ledger's file.
    pub fn ledger_path(&self) -> PathBuf {
        self.path.join(LEDGER)
    }

    /// Opens the ledger (created when missing).
    pub fn ledger(&self) -> Result<Arc<dyn Ledger>, Failure> {
        let ledger = SqliteLedgerConfig::new(self.ledger_path())
            .open()
            .map_err(|e| Failure::other(format!("{e}")))?;
        Ok(Arc::new(ledger))
    }

    /// Opens the inventory (CMDB) kept beside the ledger.
    pub fn inventory(&self) -> Result<Inventory, Failure> {
        InventoryConfig::new(self.path.join("inventory.db"))
            .open()
            .map_err(|e| Failure::other(e.to_string()))
    }

    /// Takes the driving lock, or says who to wait for.
    pub fn lock(&self) -> Result<File, Failure> {
        let path = self.path.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Failure::other(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(Failure::other(format!(
                "another releasectl is driving a release in {} (it holds {}); wait for that job to finish, or use another `--state`",
                self.path.display(),
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(Failure::other(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }

    /// The saved settings, if `run` saved any.
    pub fn settings(&self) -> Result<Option<Settings>, Failure> {
        let path = self.path.join(SETTINGS);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Failure::other(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Failure::invalid(format!(
                "{}:{}:{}: {e}; fix the file or delete it and pass the settings to `releasectl run` again",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    }

    /// The saved settings, which every command after `run` needs.
    pub fn required_settings(&self) -> Result<Settings, Failure> {
        self.settings()?.ok_or_else(|| {
            Failure::invalid(format!(
                "{} has no {SETTINGS}; start the release with `releasectl run --state {}` first",
                self.path.display(),
                self.path.display()
            ))
        })
    }

    /// Saves the settings (written to a temporary file, then renamed).
    pub fn save_settings(&self, settings: &Settings) -> Result<(), Failure> {
        let path = self.path.join(SETTINGS);
        let tmp = self.path.join(format!("{SETTINGS}.tmp"));
        let text = serde_json::to_string_pretty(settings)
            .map_err(|e| Failure::other(format!("cannot encode the settings: {e}")))?;
        std::fs::write(&tmp, text + "\n")
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))
    }
}

/// The release a command means: `wanted`, or the one with the most recent record.
pub(crate) async fn pick_release(
    ledger: &dyn Ledger,
    wanted: Option<&str>,
    place: &Path,
) -> Result<(ReleaseId, Vec<Record>), Failure> {
    let known = ledger.releases().await?;
    if let Some(id) = wanted {
        let id = ReleaseId::from(id);
        let records = read_all(ledger, &id).await?;
        if records.is_empty() {
            let names: Vec<&str> = known.iter().map(ReleaseId::as_str).collect();
            return Err(Failure::invalid(format!(
                "release {id} has no journal in {}; the releases there are: {}",
                place.display(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        }
        return Ok((id, records));
    }
    let mut best: Option<(ReleaseId, Vec<Record>)> = None;
    for id in known {
        let records = read_all(ledger, &id).await?;
        let newer = match (&best, records.last()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some((_, b)), Some(last)) => b.last().is_none_or(|bl| last.at >= bl.at),
        };
        if newer {
            best = Some((id, records));
        }
    }
    best.ok_or_else(|| {
        Failure::invalid(format!(
            "{} holds no release yet; start one with `releasectl run`",
            place.display()
        ))
    })
}
