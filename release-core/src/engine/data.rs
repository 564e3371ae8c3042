//! Data safety in the engine (M2.6, M8.5): before a stage that migrates data, a backup of
//! each migrated database, then its migrations; on a full rollback of that stage, a restore
//! from the backup, checked against the digest the backup recorded.
//!
//! Decisions:
//! - **Which stages migrate:** those with a component that declares `migrations` in the
//!   platform; the database is the environment's binding of `migrations.database`. The
//!   migration set is the one registered with
//!   [`EngineBuilder::migrations`](crate::engine::EngineBuilder::migrations); a release that pins a
//!   digest gets exactly the registered set with that digest (one engine can ship several
//!   versions, each with its own set), an unpinned release the only registered set.
//! - **When:** after the stage's locks (the database is a shared resource of the component,
//!   so its lock is held) and its rollback plan, before its first wave. Old code still serves
//!   while the new rolls out: validation refuses contract migrations under phased strategies.
//! - **Plugins** are looked up by the concrete database (the binding), then by the declared
//!   resource (one plugin for every environment, told which by the request).
//! - **Rollback order:** code first (each component's rollback program), then data, so no new
//!   code writes into restored data. What was written between the migration and the restore
//!   is lost: that is what a full restore is (M8.5). Several backups of one stage are restored
//!   newest first, so the oldest — the state before the stage — wins.
//! - **Journal:** `BackupTaken` holds the backup record, so a resumed rollback restores from
//!   it; `MigrationApplied` follows the migrator's reply (a crash in between is safe: the
//!   migrator records applied versions and applies nothing twice); `DataRestored` carries the
//!   digest read back. A restore that does not read back to the recorded digest is journaled
//!   and stops the rollback with an error; `resume` tries it again.

use std::sync::Arc;

use super::Run;
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::id::{ComponentId, EnvironmentName, SharedResourceId};
use crate::ledger::{Event, Record};
use crate::migration::MigrationSet;
use crate::model::{Platform, Release};
use crate::plan::Plan;
use crate::plugin::{Backup, BackupRecord, BackupRequest, MigrateRequest, Migrator};

/// One migrating component of a stage: the component, the concrete database and the
/// declared resource.
struct Migrating {
    component: ComponentId,
    resource: SharedResourceId,
    declared: SharedResourceId,
}

fn migrating(platform: &Platform, plan: &Plan, index: usize) -> Vec<Migrating> {
    let stage = &plan.stages[index];
    let Some(environment) = platform.environment(stage.environment.as_str()) else {
        return Vec::new();
    };
    stage
        .steps()
        .filter_map(|step| {
            let declared = platform
                .component(step.component.as_str())?
                .migrations
                .as_ref()?
                .database
                .clone();
            Some(Migrating {
                component: step.component.clone(),
                resource: environment.bound_resource(&declared).clone(),
                declared,
            })
        })
        .collect()
}

fn lookup<'a, T: ?Sized>(
    plugins: &'a std::collections::BTreeMap<String, Arc<T>>,
    concrete: &SharedResourceId,
    declared: &SharedResourceId,
) -> Option<&'a Arc<T>> {
    plugins
        .get(concrete.as_str())
        .or_else(|| plugins.get(declared.as_str()))
}

/// What the engine needs for every migrating stage of a plan: a registered set (with the
/// pinned digest, if any), a migrator and a backup for its database. Appends what is missing.
pub(super) fn check_registered(
    inner: &Inner,
    platform: &Platform,
    release: &Release,
    plan: &Plan,
    missing: &mut Vec<String>,
) {
    for index in 0..plan.stages.len() {
        for m in migrating(platform, plan, index) {
            let component = &m.component;
            if let Err(problem) = set_for(&inner.migration_sets, release, component) {
                missing.push(problem);
            }
            if lookup(&inner.migrators, &m.resource, &m.declared).is_none() {
                missing.push(format!(
                    "no migrator for database {} (component {component}); add one with `.migrator(\"{}\", ...)`",
                    m.resource, m.resource
                ));
            }
            if lookup(&inner.backups, &m.resource, &m.declared).is_none() {
                missing.push(format!(
                    "no backup for database {} (component {component}): a stage that migrates data needs a pre-deployment backup; add one with `.backup(\"{}\", ...)`",
                    m.resource, m.resource
                ));
            }
        }
    }
}

/// The set a release of `component` applies: the registered set with the digest the release
/// pins, or the only registered set of an unpinned release. `Err` says what is missing and
/// how to fix it.
fn set_for<'a>(
    sets: &'a std::collections::BTreeMap<ComponentId, Vec<MigrationSet>>,
    release: &Release,
    component: &ComponentId,
) -> std::result::Result<&'a MigrationSet, String> {
    let registered = sets.get(component).map(Vec::as_slice).unwrap_or_default();
    let pinned = release
        .components
        .get(component)
        .and_then(|v| v.migrations.as_ref())
        .and_then(|m| m.digest);
    match (pinned, registered) {
        (_, []) => Err(format!(
            "component {component} declares migrations but no migration set is registered; add it with `.migrations(\"{component}\", MigrationSet::load(..)?)`"
        )),
        (None, [only]) => Ok(only),
        (None, _) => Err(format!(
            "{} migration sets are registered for {component} and the release pins none; pin the one it ships in `components.{component}.migrations.digest`",
            registered.len()
        )),
        (Some(pinned), [only]) if only.digest() != pinned => Err(format!(
            "the migration set registered for {component} has digest {}, but the release pins {pinned}; register the pinned files",
            only.digest()
        )),
        (Some(pinned), _) => registered
            .iter()
            .find(|s| s.digest() == pinned)
            .ok_or_else(|| {
                format!(
                    "none of the migration sets registered for {component} ({}) has the digest {pinned} the release pins; register the pinned files",
                    registered
                        .iter()
                        .map(|s| s.digest().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
    }
}

fn backups_of(
    records: &[Record],
    env: &EnvironmentName,
    attempt: u32,
) -> Vec<(ComponentId, BackupRecord)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::BackupTaken {
                environment,
                attempt: a,
                component,
                record,
            } if environment == env && *a == attempt => Some((component.clone(), record.clone())),
            _ => None,
        })
        .collect()
}

impl Run {
    /// Before the stage's first wave: a backup of each migrated database, then its
    /// migrations. `Some(reason)` when one failed (the stage fails).
    pub(super) async fn migrate_stage(&self, index: usize, attempt: u32) -> Result<Option<String>> {
        let env = self.plan.stages[index].environment.clone();
        let migrations = migrating(&self.platform, &self.plan, index);
        if migrations.is_empty() {
            // Most stages migrate nothing: do not make the run keep its journal for them.
            super::same_yield_points().await;
            return Ok(None);
        }
        let records = self.records().await?;
        let taken = backups_of(&records, &env, attempt);
        for m in migrations {
            let component = &m.component;
            let set = match set_for(&self.inner.migration_sets, &self.release, component) {
                Ok(set) => set,
                Err(problem) => return Ok(Some(problem)),
            };
            let (Some(migrator), Some(backup)) = (
                lookup(&self.inner.migrators, &m.resource, &m.declared),
                lookup(&self.inner.backups, &m.resource, &m.declared),
            ) else {
                return Ok(Some(format!(
                    "{component}: the migrator or backup for {} is not registered",
                    m.resource
                )));
            };
            if !taken.iter().any(|(c, _)| c == component) {
                let request = BackupRequest::new(env.clone(), m.resource.as_str());
                let now = self.inner.clock.now();
                match self.retrying(|| backup.snapshot(&request, now)).await {
                    Ok(record) => {
                        self.append(Event::BackupTaken {
                            environment: env.clone(),
                            attempt,
                            component: component.clone(),
                            record,
                        })
                        .await?;
                    }
                    Err(e) => {
                        return Ok(Some(format!(
                            "{component}: the pre-deployment backup of {} failed: {e}",
                            m.resource
                        )));
                    }
                }
            }
            let applied = records.iter().any(|r| {
                matches!(&r.event, Event::MigrationApplied { environment, attempt: a, component: c, .. }
                    if *environment == env && *a == attempt && c == component)
            });
            if applied {
                continue;
            }
            let request = MigrateRequest::up(
                component.clone(),
                env.clone(),
                m.resource.as_str(),
                set.clone(),
                self.inner.clock.now(),
            );
            match self.retrying(|| migrator.migrate(&request)).await {
                Ok(reply) => {
                    self.append(Event::MigrationApplied {
                        environment: env.clone(),
                        attempt,
                        component: component.clone(),
                        resource: m.resource.to_string(),
                        set_digest: set.digest(),
                        applied: reply.versions,
                        current: reply.current,
                    })
                    .await?;
                }
                Err(e) => {
                    return Ok(Some(format!(
                        "{component}: the migrations of {} failed: {e}",
                        m.resource
                    )));
                }
            }
        }
        Ok(None)
    }

    /// In a full rollback of the stage, after the components: restores every database backed
    /// up for this attempt, newest backup first, and checks each against its digest.
    pub(super) async fn restore_stage(&self, index: usize, attempt: u32) -> Result<()> {
        let env = self.plan.stages[index].environment.clone();
        let records = self.records().await?;
        let restored: Vec<(ComponentId, String)> = records
            .iter()
            .filter_map(|r| match &r.event {
                Event::DataRestored {
                    environment,
                    attempt: a,
                    component,
                    backup,
                    verified: true,
                    ..
                } if *environment == env && *a == attempt => {
                    Some((component.clone(), backup.clone()))
                }
                _ => None,
            })
            .collect();
        for (component, record) in backups_of(&records, &env, attempt).into_iter().rev() {
            if restored.contains(&(component.clone(), record.id.clone())) {
                continue;
            }
            let concrete = SharedResourceId::new(record.request.resource.as_str());
            let declared = self
                .platform
                .component(component.as_str())
                .and_then(|c| c.migrations.as_ref())
                .map_or_else(|| concrete.clone(), |m| m.database.clone());
            let Some(backup) = lookup(&self.inner.backups, &concrete, &declared) else {
                return Err(Error::Deployment {
                    component,
                    environment: env,
                    message: format!(
                        "no backup plugin for {concrete} to restore backup {} from; register it with `.backup(...)` and resume to finish the rollback",
                        record.id
                    ),
                });
            };
            if let Err(e) = self.retrying(|| backup.restore(&record)).await {
                return Err(Error::Deployment {
                    component,
                    environment: env,
                    message: format!(
                        "restoring backup {} of {concrete} failed: {e}; fix it and resume to finish the rollback",
                        record.id
                    ),
                });
            }
            let (digest, verified) = match backup.live_digest(&record.request).await? {
                Some(digest) => (Some(digest), digest == record.digest),
                None => (None, backup.verify(&record).await?.verified),
            };
            self.append(Event::DataRestored {
                environment: env.clone(),
                attempt,
                component: component.clone(),
                resource: concrete.to_string(),
                backup: record.id.clone(),
                expected: record.digest,
                restored: digest,
                verified,
            })
            .await?;
            if !verified {
                return Err(Error::Deployment {
                    component,
                    environment: env,
                    message: format!(
                        "{concrete} restored from backup {} reads back as {}, not the recorded {}; restore it by hand (the backup is kept) and resume to finish the rollback",
                        record.id,
                        digest.map_or_else(|| "unverifiable".to_owned(), |d| d.to_string()),
                        record.digest
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Compile-time check: the plugin maps hold trait objects.
#[allow(dead_code)]
fn _plugins_are_objects(_: &dyn Backup, _: &dyn Migrator) {}
