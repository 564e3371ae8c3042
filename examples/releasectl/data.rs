//! Databases for releases that migrate data (M2.6, M4.5, M8.1–M8.5): `run --database`,
//! the migration sets a release ships, and `rehearse`.
//!
//! Decisions:
//! - `--database RESOURCE=PATH` names the SQLite file of a database resource: the one an
//!   environment binds (`orders-db-staging`), or the declared one (`orders-db`) for the
//!   environments that bind none. The declared resource never stands in for a binding, so
//!   staging cannot migrate production's file. The flags are remembered in the state
//!   directory's settings as defaults for later releases; backups go to
//!   `<state>/backups/<resource>/`.
//! - When a release first runs, the databases it needs and the migration set of each
//!   migrating component (read from the platform manifest's directory) are kept in
//!   `<state>/migrations/<release>/` (`databases.json`, `<component>/`): later jobs apply,
//!   rehearse and restore exactly those, whatever the flags or the checkout say by then. A
//!   flag naming another file for a started release is refused; a kept set that went missing
//!   is an error, never refilled from the checkout. Until the release's journal has a record,
//!   a new `run` replaces what an earlier, refused run kept.
//! - A release that migrates a database no `--database` names is invalid input before
//!   anything runs, naming the flag to pass.
//! - `rehearse --env ENV` clones ENV's database, applies the set, runs the declared checks
//!   and referential integrity, migrates down and compares the clone with the original,
//!   then journals the report as `migration_rehearsal` evidence (the gate of that name reads
//!   it). Exit 0 when every rehearsal passed, 3 when one failed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use release_adapters::migrations::{SqliteDatabase, SqliteDatabaseConfig};
use release_core::engine::{EngineBuilder, Evidence};
use release_core::id::{ComponentId, EnvironmentName, ReleaseId, SharedResourceId};
use release_core::manifest::ManifestSet;
use release_core::migration::{MigrationSet, REHEARSAL_EVIDENCE_KIND};
use release_core::model::{Platform, Release};
use release_core::plugin::{Migrator, RehearsalRequest};
use serde::Serialize;

use crate::Exit;
use crate::host::host;
use crate::pipeline::journaled;
use crate::state::{Failure, StateDir};

/// The components of `release` that migrate a database, with the database each
/// environment binds.
fn migrating<'a>(
    platform: &'a Platform,
    release: &'a Release,
) -> impl Iterator<Item = (&'a ComponentId, &'a SharedResourceId)> + 'a {
    release.components.keys().filter_map(|id| {
        let declared = &platform
            .component(id.as_str())?
            .migrations
            .as_ref()?
            .database;
        Some((id, declared))
    })
}

/// `<state>/migrations/<release>/`: what a release keeps from its first `run`. The id is
/// encoded so that no release id can name a path outside it.
fn release_dir(state: &StateDir, release: &ReleaseId) -> PathBuf {
    let mut name = String::new();
    for c in release.as_str().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            name.push(c);
        } else {
            name.push_str(&format!("%{:02x}", u32::from(c)));
        }
    }
    if name.is_empty() || name.chars().all(|c| c == '.') {
        name = format!("%{name}");
    }
    state.path().join("migrations").join(name)
}

const KEPT_DATABASES: &str = "databases.json";

/// The databases a release keeps: resource → SQLite file.
fn kept_databases(
    state: &StateDir,
    release: &ReleaseId,
) -> Result<BTreeMap<String, PathBuf>, Failure> {
    let path = release_dir(state, release).join(KEPT_DATABASES);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Failure::other(format!(
                "{}: {e}; the state directory was changed by hand: restore it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(Failure::other(format!("{}: {e}", path.display()))),
    }
}

/// The resource each environment migrates for `component`: the one it binds, or the declared
/// one where it binds none. An environment with its own binding needs a database of its own:
/// the declared resource never stands in for it (staging must not migrate production's file).
fn needed(platform: &Platform, declared: &SharedResourceId) -> Vec<(String, String)> {
    platform
        .environments
        .iter()
        .map(|env| {
            (
                env.name.to_string(),
                env.bound_resource(declared).to_string(),
            )
        })
        .collect()
}

/// Before a release is driven: the databases and migration sets it uses, kept under
/// `<state>/migrations/<release>/`.
///
/// - Not started yet (`started` false): checks every migrating environment has a database in
///   `databases` (saved settings plus this run's `--database`), and keeps the databases it
///   needs and a fresh copy of each migration set (written beside, then renamed into place,
///   so a job that dies mid-copy leaves no half set).
/// - Started: the kept databases and sets are the release's, whatever the flags or the
///   checkout say now; a `--database` naming another file for one of them is refused, and a
///   missing kept set is an error (it is never refilled from the checkout).
pub(crate) fn prepare(
    state: &StateDir,
    set: &ManifestSet,
    platform: &Platform,
    release: &Release,
    databases: &BTreeMap<String, PathBuf>,
    given: &BTreeMap<String, PathBuf>,
    started: bool,
) -> Result<(), Failure> {
    let id = release.id();
    let dir = release_dir(state, id);
    let migrating: Vec<_> = migrating(platform, release).collect();
    if migrating.is_empty() {
        return Ok(());
    }
    if started {
        let kept = kept_databases(state, id)?;
        for (resource, path) in given {
            if let Some(old) = kept.get(resource)
                && old != path
            {
                return Err(Failure::invalid(format!(
                    "`--database {resource}={}`: release {id} started with {resource} at {}; a started release keeps its databases (start a new release to use another file)",
                    path.display(),
                    old.display()
                )));
            }
        }
        for (component, _) in &migrating {
            let kept_set = dir.join(component.as_str());
            if !kept_set.is_dir() {
                return Err(Failure::invalid(format!(
                    "release {id} migrates {component}, but its migration set is missing from {}; restore the state directory the release started with",
                    kept_set.display()
                )));
            }
        }
        return Ok(());
    }
    let mut keep = BTreeMap::new();
    for (component, declared) in &migrating {
        for (env, resource) in needed(platform, declared) {
            let path = databases.get(&resource).ok_or_else(|| {
                let hint = if resource == declared.as_str() {
                    String::new()
                } else {
                    format!(" ({env} binds {declared} to {resource}: it needs its own file)")
                };
                Failure::invalid(format!(
                    "{component} migrates {resource} in {env} but no database is given for it; pass `--database {resource}=PATH`{hint}"
                ))
            })?;
            keep.insert(resource, path.clone());
        }
    }
    let base = set
        .platforms
        .iter()
        .find(|p| p.value.metadata.name == platform.metadata.name)
        .and_then(|p| {
            Path::new(p.source.file().as_ref())
                .parent()
                .map(Path::to_path_buf)
        })
        .unwrap_or_default();
    let fresh = dir.with_extension(format!("tmp-{}", std::process::id()));
    let io = |path: &Path| {
        let shown = path.display().to_string();
        move |e: std::io::Error| Failure::other(format!("{shown}: {e}"))
    };
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(io(&fresh))?;
    }
    for (component, _) in &migrating {
        let Some(declared) = platform
            .component(component.as_str())
            .and_then(|c| c.migrations.as_ref())
        else {
            continue;
        };
        let source = base.join(&declared.directory);
        // Loaded first, so a broken set is refused before anything is kept.
        MigrationSet::load(&source, declared.dialect)
            .map_err(|e| Failure::invalid(e.to_string()))?;
        let target = fresh.join(component.as_str());
        std::fs::create_dir_all(&target).map_err(io(&target))?;
        for entry in std::fs::read_dir(&source).map_err(io(&source))? {
            let from = entry.map_err(io(&source))?.path();
            if let (true, Some(name)) = (from.is_file(), from.file_name()) {
                std::fs::copy(&from, target.join(name)).map_err(io(&from))?;
            }
        }
    }
    let json = serde_json::to_vec_pretty(&keep).map_err(|e| Failure::other(e.to_string()))?;
    std::fs::write(fresh.join(KEPT_DATABASES), json).map_err(io(&fresh))?;
    if dir.exists() {
        // Left by a first run that stopped before anything was journaled: replaced.
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&fresh, &dir).map_err(io(&dir))?;
    Ok(())
}

/// The migration sets kept for `release`, by component.
fn sets(
    state: &StateDir,
    platform: &Platform,
    release: &ReleaseId,
) -> Result<BTreeMap<ComponentId, MigrationSet>, Failure> {
    let mut out = BTreeMap::new();
    for component in &platform.components {
        let Some(m) = &component.migrations else {
            continue;
        };
        let dir = release_dir(state, release).join(component.id.as_str());
        if dir.is_dir() {
            let set =
                MigrationSet::load(&dir, m.dialect).map_err(|e| Failure::other(e.to_string()))?;
            out.insert(component.id.clone(), set);
        }
    }
    Ok(out)
}

fn adapter(state: &StateDir, resource: &str, path: &Path) -> Result<Arc<SqliteDatabase>, Failure> {
    SqliteDatabaseConfig::new(path, state.path().join("backups").join(resource))
        .build()
        .map(Arc::new)
        .map_err(|e| Failure::invalid(format!("--database {resource}: {e}")))
}

/// Registers the databases `release` keeps as migrators and backups, and its sets.
pub(crate) fn register(
    mut builder: EngineBuilder,
    state: &StateDir,
    platform: &Platform,
    release: &ReleaseId,
) -> Result<EngineBuilder, Failure> {
    for (resource, path) in kept_databases(state, release)? {
        let db = adapter(state, &resource, &path)?;
        builder = builder
            .migrator(resource.as_str(), db.clone())
            .backup(resource.as_str(), db);
    }
    for (component, set) in sets(state, platform, release)? {
        builder = builder.migrations(component, set);
    }
    Ok(builder)
}

/// One rehearsal, as `rehearse` prints it.
#[derive(Serialize)]
struct Rehearsed {
    component: String,
    database: String,
    passed: bool,
    failed_checks: Vec<String>,
}

/// `rehearse`: rehearses the release's sets on clones of ENV's databases and journals the
/// reports.
pub(crate) fn rehearse(
    release: Option<&str>,
    env: &str,
    state_path: &Path,
    operator: &str,
    json: bool,
) -> Exit {
    let outcome = (|| {
        let state = StateDir::existing(state_path)?;
        let settings = state.required_settings()?;
        crate::host::runtime(settings.target)?.block_on(async {
            let (id, records, platform) = journaled(&state, release).await?;
            let folded = release_core::engine::ReleaseState::fold(&records);
            let spec = folded.spec.as_deref().cloned().ok_or_else(|| {
                Failure::invalid(format!("the journal of {id} holds no release document"))
            })?;
            let environment = platform.environment(env).ok_or_else(|| {
                Failure::invalid(format!(
                    "`--env {env}`: platform {} has no such environment",
                    platform.metadata.name
                ))
            })?;
            let sets = sets(&state, &platform, &id)?;
            let kept = kept_databases(&state, &id)?;
            // Everything is resolved before anything is rehearsed or journaled.
            let mut planned = Vec::new();
            for (component, declared) in migrating(&platform, &spec) {
                let resource = environment.bound_resource(declared);
                let path = kept.get(resource.as_str()).ok_or_else(|| {
                    Failure::invalid(format!(
                        "release {id} keeps no database for {resource}; `releasectl run --database {resource}=PATH` gives it one when the release starts"
                    ))
                })?;
                let set = sets.get(component).ok_or_else(|| {
                    Failure::invalid(format!(
                        "no migration set of {component} is kept for {id}; `releasectl run` keeps it when the release starts"
                    ))
                })?;
                let checks = platform
                    .component(component.as_str())
                    .and_then(|c| c.migrations.as_ref())
                    .map(|m| m.checks.clone())
                    .unwrap_or_default();
                planned.push((component, resource, adapter(&state, resource.as_str(), path)?, set, checks));
            }
            let host = host(&state, &settings, &platform, &id).await?;
            let mut done = Vec::new();
            for (component, resource, db, set, checks) in planned {
                let request = RehearsalRequest::new(
                    component.clone(),
                    EnvironmentName::from(env),
                    resource.as_str(),
                    set.clone(),
                    host.clock.now(),
                )
                .with_checks(checks);
                let report = db.rehearse(&request).await.map_err(|e| {
                    Failure::other(format!("rehearsing {component} on a clone of {resource}: {e}"))
                })?;
                let payload = serde_json::to_value(&report)
                    .map_err(|e| Failure::other(format!("the rehearsal report: {e}")))?;
                host.engine
                    .record_evidence(
                        &id,
                        operator,
                        Evidence::new(REHEARSAL_EVIDENCE_KIND, payload).for_environment(env),
                    )
                    .await?;
                done.push(Rehearsed {
                    component: component.to_string(),
                    database: resource.to_string(),
                    passed: report.passed(),
                    failed_checks: report
                        .checks
                        .iter()
                        .filter(|c| !c.passed)
                        .map(|c| format!("{}: {}", c.name, c.message))
                        .collect(),
                });
            }
            let exit = if done.iter().all(|d| d.passed) {
                Exit::Ok
            } else {
                Exit::Problems
            };
            if json {
                let text = serde_json::to_string_pretty(&serde_json::json!({
                    "release": id,
                    "environment": env,
                    "rehearsals": done,
                    "exit": exit as u8,
                }))
                .map_err(|e| Failure::other(e.to_string()))?;
                println!("{text}");
            } else if done.is_empty() {
                println!("{id} migrates no database; nothing to rehearse");
            } else {
                for d in &done {
                    println!(
                        "{} on a clone of {}: {}",
                        d.component,
                        d.database,
                        if d.passed { "passed" } else { "FAILED" }
                    );
                    for failed in &d.failed_checks {
                        println!("  {failed}");
                    }
                }
                println!("reports journaled as `{REHEARSAL_EVIDENCE_KIND}` evidence for {env}");
            }
            Ok(exit)
        })
    })();
    outcome.unwrap_or_else(|f: Failure| f.report(json))
}
