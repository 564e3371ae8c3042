//! Databases for releases that migrate data (M2.6, M4.5, M8.1–M8.5): `run --database`,
//! the migration sets a release ships, and `rehearse`.
//!
//! Decisions:
//! - `--database RESOURCE=PATH` names the SQLite file of a database resource: a concrete
//!   one an environment binds (`orders-db-staging`) or the declared one (`orders-db`, for
//!   every environment without its own). It is kept in the state directory's settings, so
//!   later jobs (`resume`, `rehearse`) use the same files; backups go to
//!   `<state>/backups/<resource>/`.
//! - The migration set of each migrating component is read from the platform manifest's
//!   directory when `run` first starts a release and copied to
//!   `<state>/migrations/<release>/<component>/`: later jobs apply, rehearse and restore
//!   exactly the set the release started with, whatever the checkout holds by then.
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
use release_core::engine::EngineBuilder;
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

fn sets_dir(state: &StateDir, release: &ReleaseId) -> PathBuf {
    state.path().join("migrations").join(release.as_str())
}

/// On a release's first `run`: copies the migration set of each migrating component from
/// the platform manifest's directory into the state directory, and checks every database it
/// migrates has a `--database`.
pub(crate) fn prepare(
    state: &StateDir,
    set: &ManifestSet,
    platform: &Platform,
    release: &Release,
    databases: &BTreeMap<String, PathBuf>,
) -> Result<(), Failure> {
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
    for (component, declared) in migrating(platform, release) {
        for env in &platform.environments {
            let concrete = env.bound_resource(declared);
            if !databases.contains_key(concrete.as_str())
                && !databases.contains_key(declared.as_str())
            {
                return Err(Failure::invalid(format!(
                    "{component} migrates {concrete} in {} but no database is given for it; pass `--database {concrete}=PATH` (or `--database {declared}=PATH` for every environment)",
                    env.name
                )));
            }
        }
        let target = sets_dir(state, release.id()).join(component.as_str());
        if target.is_dir() {
            continue; // the set this release started with
        }
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
        std::fs::create_dir_all(&target)
            .map_err(|e| Failure::other(format!("{}: {e}", target.display())))?;
        let entries = std::fs::read_dir(&source)
            .map_err(|e| Failure::other(format!("{}: {e}", source.display())))?;
        for entry in entries {
            let from = entry
                .map_err(|e| Failure::other(format!("{}: {e}", source.display())))?
                .path();
            if let (true, Some(name)) = (from.is_file(), from.file_name()) {
                std::fs::copy(&from, target.join(name))
                    .map_err(|e| Failure::other(format!("{}: {e}", from.display())))?;
            }
        }
    }
    Ok(())
}

/// The migration sets stashed for `release`, by component.
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
        let dir = sets_dir(state, release).join(component.id.as_str());
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

/// Registers every `--database` as migrator and backup, and the sets of `release`.
pub(crate) fn register(
    mut builder: EngineBuilder,
    state: &StateDir,
    databases: &BTreeMap<String, PathBuf>,
    platform: &Platform,
    release: &ReleaseId,
) -> Result<EngineBuilder, Failure> {
    for (resource, path) in databases {
        let db = adapter(state, resource, path)?;
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
            let host = host(&state, &settings, &platform, &id).await?;
            let mut done = Vec::new();
            for (component, declared) in migrating(&platform, &spec) {
                let concrete = environment.bound_resource(declared);
                let (resource, path) = [concrete, declared]
                    .iter()
                    .find_map(|r| settings.databases.get_key_value(r.as_str()))
                    .ok_or_else(|| {
                        Failure::invalid(format!(
                            "no database for {concrete}; pass `--database {concrete}=PATH` to `releasectl run`"
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
                let request = RehearsalRequest::new(
                    component.clone(),
                    EnvironmentName::from(env),
                    concrete.as_str(),
                    set.clone(),
                    chrono::Utc::now(),
                )
                .with_checks(checks);
                let report = adapter(&state, resource, path)?
                    .rehearse(&request)
                    .await
                    .map_err(|e| Failure::other(format!("rehearsing {component} on a clone of {concrete}: {e}")))?;
                let payload = serde_json::to_value(&report)
                    .map_err(|e| Failure::other(format!("the rehearsal report: {e}")))?;
                host.engine
                    .record_evidence(
                        &id,
                        operator,
                        REHEARSAL_EVIDENCE_KIND,
                        Some(EnvironmentName::from(env)),
                        payload,
                    )
                    .await?;
                done.push(Rehearsed {
                    component: component.to_string(),
                    database: concrete.to_string(),
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
