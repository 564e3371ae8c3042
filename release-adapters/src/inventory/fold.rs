//! Folding one journal record into the inventory's tables, inside a transaction.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use release_core::ledger::{Event, Program, Record, RollbackEntry};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{DeploymentAction, InventoryError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS applied (
    release TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    release    TEXT PRIMARY KEY,
    platform   TEXT NOT NULL,
    version    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    components TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS platforms (
    platform TEXT PRIMARY KEY,
    as_of    TEXT NOT NULL,
    release  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dependencies (
    platform   TEXT NOT NULL,
    component  TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    PRIMARY KEY (platform, component, depends_on)
);
CREATE TABLE IF NOT EXISTS rollback_plans (
    release     TEXT NOT NULL,
    environment TEXT NOT NULL,
    component   TEXT NOT NULL,
    previous    TEXT,
    PRIMARY KEY (release, environment, component)
);
CREATE TABLE IF NOT EXISTS touched (
    release     TEXT NOT NULL,
    environment TEXT NOT NULL,
    component   TEXT NOT NULL,
    PRIMARY KEY (release, environment, component)
);
CREATE TABLE IF NOT EXISTS deployments (
    platform    TEXT NOT NULL,
    environment TEXT NOT NULL,
    component   TEXT NOT NULL,
    version     TEXT NOT NULL,
    release     TEXT NOT NULL,
    since       TEXT NOT NULL,
    via         TEXT NOT NULL,
    PRIMARY KEY (platform, environment, component)
);
CREATE INDEX IF NOT EXISTS deployments_by_component ON deployments (component);
CREATE TABLE IF NOT EXISTS history (
    release     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    component   TEXT NOT NULL,
    platform    TEXT NOT NULL,
    environment TEXT NOT NULL,
    action      TEXT NOT NULL,
    version     TEXT,
    replaced    TEXT,
    at          TEXT NOT NULL,
    PRIMARY KEY (release, seq, component)
);
CREATE INDEX IF NOT EXISTS history_by_component ON history (component, at);
";

/// The event types the fold reads; others only advance the applied position.
pub(crate) const WANTED: [&str; 5] = [
    "release_started",
    "rollback_planned",
    "step_started",
    "stage_completed",
    "rollback_completed",
];

/// Timestamps as fixed-width RFC 3339 text in UTC, so text order is time order.
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The version that ran before a stage: the slot with the most traffic, else the most
/// replicas (ties by slot name); `None` when nothing ran.
pub(crate) fn running_version(entry: &RollbackEntry) -> Option<String> {
    let by_weight = entry
        .previous_weights
        .iter()
        .filter(|w| w.weight > 0)
        .max_by(|a, b| a.weight.cmp(&b.weight).then(b.slot.cmp(&a.slot)))
        .and_then(|w| entry.previous.iter().find(|s| s.spec.slot == w.slot));
    by_weight
        .or_else(|| {
            entry.previous.iter().max_by(|a, b| {
                a.spec
                    .replicas
                    .cmp(&b.spec.replicas)
                    .then(b.spec.slot.cmp(&a.spec.slot))
            })
        })
        .map(|s| s.spec.version.to_string())
}

struct ReleaseRow {
    platform: String,
    components: BTreeMap<String, String>,
}

pub(crate) struct Fold<'a, 'c> {
    pub(crate) tx: &'a Transaction<'c>,
    pub(crate) path: &'a Path,
}

impl Fold<'_, '_> {
    fn sql(&self, action: &str) -> impl FnOnce(rusqlite::Error) -> InventoryError {
        InventoryError::sqlite(self.path, action.to_owned())
    }

    /// The last applied seq of a release (0 when none).
    pub(crate) fn applied(&self, release: &str) -> Result<u64, InventoryError> {
        let seq: Option<i64> = self
            .tx
            .query_row(
                "SELECT seq FROM applied WHERE release = ?1",
                [release],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("read the applied position"))?;
        Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
    }

    /// Applies one record unless it was applied already; true when it was applied now.
    pub(crate) fn apply(&self, record: &Record) -> Result<bool, InventoryError> {
        let release = record.release.as_str();
        if record.seq <= self.applied(release)? {
            return Ok(false);
        }
        let known = matches!(record.event, Event::ReleaseStarted { .. })
            || self.release(release)?.is_some();
        if !known {
            return Err(InventoryError::UnknownRelease {
                release: record.release.clone(),
                seq: record.seq,
            });
        }
        self.event(record)?;
        let seq = i64::try_from(record.seq).unwrap_or(i64::MAX);
        self.tx
            .execute(
                "INSERT INTO applied (release, seq) VALUES (?1, ?2)
                 ON CONFLICT (release) DO UPDATE SET seq = excluded.seq",
                params![release, seq],
            )
            .map_err(self.sql("record the applied position"))?;
        Ok(true)
    }

    fn release(&self, release: &str) -> Result<Option<ReleaseRow>, InventoryError> {
        let row: Option<(String, String)> = self
            .tx
            .query_row(
                "SELECT platform, components FROM releases WHERE release = ?1",
                [release],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sql("read a release"))?;
        row.map(|(platform, components)| {
            let components =
                serde_json::from_str(&components).map_err(|e| InventoryError::Corrupt {
                    path: self.path.to_owned(),
                    table: "releases",
                    problem: format!("the components of {release} do not decode: {e}"),
                })?;
            Ok(ReleaseRow {
                platform,
                components,
            })
        })
        .transpose()
    }

    fn event(&self, record: &Record) -> Result<(), InventoryError> {
        let release = record.release.as_str();
        let at = stamp(record.at);
        match &record.event {
            Event::ReleaseStarted {
                platform,
                release: spec,
                ..
            } => {
                let name = platform.metadata.name.as_str();
                let components: BTreeMap<String, String> = spec
                    .components
                    .iter()
                    .map(|(c, v)| (c.to_string(), v.version.to_string()))
                    .collect();
                let components =
                    serde_json::to_string(&components).map_err(|e| InventoryError::Corrupt {
                        path: self.path.to_owned(),
                        table: "releases",
                        problem: format!("cannot encode the components of {release}: {e}"),
                    })?;
                self.tx
                    .execute(
                        "INSERT OR REPLACE INTO releases (release, platform, version, started_at, components)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![release, name, spec.version.to_string(), at, components],
                    )
                    .map_err(self.sql("record a release"))?;
                let as_of: Option<String> = self
                    .tx
                    .query_row(
                        "SELECT as_of FROM platforms WHERE platform = ?1",
                        [name],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(self.sql("read a platform"))?;
                if as_of.is_none_or(|as_of| as_of <= at) {
                    self.tx
                        .execute(
                            "INSERT OR REPLACE INTO platforms (platform, as_of, release) VALUES (?1, ?2, ?3)",
                            params![name, at, release],
                        )
                        .map_err(self.sql("record a platform"))?;
                    self.tx
                        .execute("DELETE FROM dependencies WHERE platform = ?1", [name])
                        .map_err(self.sql("replace the dependencies"))?;
                    for c in &platform.components {
                        for dep in &c.depends_on {
                            self.tx
                                .execute(
                                    "INSERT OR IGNORE INTO dependencies (platform, component, depends_on)
                                     VALUES (?1, ?2, ?3)",
                                    params![name, c.id.as_str(), dep.as_str()],
                                )
                                .map_err(self.sql("record a dependency"))?;
                        }
                    }
                }
            }
            Event::RollbackPlanned {
                environment,
                components,
                ..
            } => {
                for table in ["rollback_plans", "touched"] {
                    self.tx
                        .execute(
                            &format!("DELETE FROM {table} WHERE release = ?1 AND environment = ?2"),
                            params![release, environment.as_str()],
                        )
                        .map_err(self.sql("replace a rollback plan"))?;
                }
                for entry in components {
                    self.tx
                        .execute(
                            "INSERT OR REPLACE INTO rollback_plans (release, environment, component, previous)
                             VALUES (?1, ?2, ?3, ?4)",
                            params![
                                release,
                                environment.as_str(),
                                entry.component.as_str(),
                                running_version(entry)
                            ],
                        )
                        .map_err(self.sql("record a rollback plan"))?;
                }
            }
            Event::StepStarted { key, .. } if key.program == Program::Deploy => {
                self.tx
                    .execute(
                        "INSERT OR IGNORE INTO touched (release, environment, component) VALUES (?1, ?2, ?3)",
                        params![release, key.environment.as_str(), key.component.as_str()],
                    )
                    .map_err(self.sql("record a touched component"))?;
            }
            Event::StageCompleted { environment } => {
                let Some(spec) = self.release(release)? else {
                    return Ok(());
                };
                for (component, version) in &spec.components {
                    let current = self.current(&spec.platform, environment.as_str(), component)?;
                    self.history(
                        record,
                        &spec.platform,
                        environment.as_str(),
                        component,
                        DeploymentAction::Deployed,
                        Some(version),
                        current.as_ref().map(|(v, _)| v.as_str()),
                    )?;
                    if current.as_ref().is_none_or(|(_, since)| *since <= at) {
                        self.set_current(
                            &spec.platform,
                            environment.as_str(),
                            component,
                            Some(version),
                            release,
                            &at,
                            DeploymentAction::Deployed,
                        )?;
                    }
                }
            }
            Event::RollbackCompleted { environment } => {
                let Some(spec) = self.release(release)? else {
                    return Ok(());
                };
                let plan = self.rollback_plan(release, environment.as_str())?;
                for (component, previous) in plan {
                    let current = self.current(&spec.platform, environment.as_str(), &component)?;
                    self.history(
                        record,
                        &spec.platform,
                        environment.as_str(),
                        &component,
                        DeploymentAction::RolledBack,
                        previous.as_deref(),
                        spec.components.get(&component).map(String::as_str),
                    )?;
                    let newer = current.as_ref().is_none_or(|(_, since)| *since <= at);
                    let unchanged = current.as_ref().map(|(v, _)| v) == previous.as_ref();
                    if newer && !unchanged {
                        self.set_current(
                            &spec.platform,
                            environment.as_str(),
                            &component,
                            previous.as_deref(),
                            release,
                            &at,
                            DeploymentAction::RolledBack,
                        )?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// (version, since) of what runs now.
    fn current(
        &self,
        platform: &str,
        environment: &str,
        component: &str,
    ) -> Result<Option<(String, String)>, InventoryError> {
        self.tx
            .query_row(
                "SELECT version, since FROM deployments
                 WHERE platform = ?1 AND environment = ?2 AND component = ?3",
                params![platform, environment, component],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sql("read a deployment"))
    }

    #[allow(clippy::too_many_arguments)]
    fn set_current(
        &self,
        platform: &str,
        environment: &str,
        component: &str,
        version: Option<&str>,
        release: &str,
        since: &str,
        via: DeploymentAction,
    ) -> Result<(), InventoryError> {
        match version {
            Some(version) => self.tx.execute(
                "INSERT OR REPLACE INTO deployments
                 (platform, environment, component, version, release, since, via)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![platform, environment, component, version, release, since, via.as_str()],
            ),
            None => self.tx.execute(
                "DELETE FROM deployments WHERE platform = ?1 AND environment = ?2 AND component = ?3",
                params![platform, environment, component],
            ),
        }
        .map_err(self.sql("record a deployment"))?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn history(
        &self,
        record: &Record,
        platform: &str,
        environment: &str,
        component: &str,
        action: DeploymentAction,
        version: Option<&str>,
        replaced: Option<&str>,
    ) -> Result<(), InventoryError> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO history
                 (release, seq, component, platform, environment, action, version, replaced, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    record.release.as_str(),
                    i64::try_from(record.seq).unwrap_or(i64::MAX),
                    component,
                    platform,
                    environment,
                    action.as_str(),
                    version,
                    replaced,
                    stamp(record.at)
                ],
            )
            .map_err(self.sql("record history"))?;
        Ok(())
    }

    /// (component, previous version) of the touched components, sorted by component.
    fn rollback_plan(
        &self,
        release: &str,
        environment: &str,
    ) -> Result<Vec<(String, Option<String>)>, InventoryError> {
        let mut stmt = self
            .tx
            .prepare(
                "SELECT p.component, p.previous FROM rollback_plans p
                 JOIN touched t ON t.release = p.release AND t.environment = p.environment
                                AND t.component = p.component
                 WHERE p.release = ?1 AND p.environment = ?2
                 ORDER BY p.component",
            )
            .map_err(self.sql("read a rollback plan"))?;
        let rows = stmt
            .query_map(params![release, environment], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.sql("read a rollback plan"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.sql("read a rollback plan"))
    }
}

#[cfg(test)]
mod tests {
    use release_core::plugin::{SlotSpec, SlotStatus, SlotWeight};
    use semver::Version;

    use super::*;

    fn slot(name: &str, major: u64, replicas: u32) -> SlotStatus {
        SlotStatus::new(
            SlotSpec::new(
                "api",
                "production",
                name,
                Version::new(major, 0, 0),
                replicas,
            ),
            replicas,
        )
    }

    fn entry(previous: Vec<SlotStatus>, weights: Vec<SlotWeight>) -> RollbackEntry {
        RollbackEntry {
            component: "api".into(),
            previous,
            previous_weights: weights,
            history: Vec::new(),
        }
    }

    #[test]
    fn the_running_version_is_the_slot_with_the_traffic_else_the_replicas() {
        let slots = vec![slot("canary", 2, 5), slot("stable", 1, 3)];
        assert_eq!(
            running_version(&entry(slots.clone(), vec![])).as_deref(),
            Some("2.0.0")
        );
        let weights = vec![SlotWeight::new("canary", 10), SlotWeight::new("stable", 90)];
        assert_eq!(
            running_version(&entry(slots.clone(), weights)).as_deref(),
            Some("1.0.0")
        );
        // Equal replicas: ties break by slot name, whatever the listing order.
        let tied = vec![slot("blue", 1, 2), slot("green", 2, 2)];
        let mut reversed = tied.clone();
        reversed.reverse();
        assert_eq!(
            running_version(&entry(tied, vec![])),
            running_version(&entry(reversed, vec![]))
        );
        assert_eq!(running_version(&entry(vec![], vec![])), None);
    }
}
