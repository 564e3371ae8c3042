//! Validation of platforms and releases (M1.1–M1.6, M2.5, M8.2): every violation at once, each
//! at the `file:line:column` of the value that causes it, with what is wrong and how to fix it.
//!
//! Data flow: `manifest` reads documents into a [`ManifestSet`]; [`validate_set`] checks every
//! platform, then every release against the platform it names, and fills each violation's
//! location from the document's source map. [`conflict_report`] then looks across releases
//! (ServiceNow's conflict checks); planning only starts from a set without violations.
//!
//! Decisions where the requirements are silent:
//! - A release without a schedule is not checked against its requests' windows: the window
//!   is enforced again by the `change_request` gate when the release actually runs. A
//!   scheduled release citing a request *without* a window is a violation (a CAB approves a
//!   window, ServiceNow's "planned start/end" are mandatory for normal changes).
//! - When the schedule has no `end`, the release is taken to run `[start, start + estimated
//!   duration)`, or the instant `start` when no estimate is given ([`ValidateOptions`]).
//! - Only requests some change cites are checked for windows; a listed but unused request is
//!   harmless.
//! - Emergency releases follow the delta rules too (they ship only what their changes touch),
//!   as an Octopus "hotfix" channel would.
//! - One-off freezes (`deny` windows with `from`/`to`) of production-tier environments in the
//!   lifecycle are checked against the schedule; recurring windows are the runway check's job
//!   at deploy time (M5.6).
//! - Cross-release dependencies (`RELEASE/CHG`) are not resolved here, only in the conflict
//!   report, which sees several releases.
//! - Without a location (documents built in code), a violation prints its document and JSON
//!   pointer instead, so it can still be found.
//! - M2.5 is checked for every shared resource any component declares, through each
//!   non-production environment's bindings (identity when unbound): forgetting a binding is
//!   caught as well as binding to production on purpose.
//! - Request problems (unapproved, expedited, emergency misuse) are reported once per change
//!   that cites the request, at that change: the change is what gets moved or re-scoped.
//! - M1.6 names the first staging/production environment in lifecycle order; a release with
//!   no such environment in its lifecycle needs no rollback criteria.
//! - Parameter and configuration checks belong to the `config` module, not here.
//! - Data safety (M8.2) — migration declarations, pinned set digests, contract migrations
//!   against phased strategies and old-shape code, breaking API versions — is in `data.rs`;
//!   [`validate_set`] reads each declared migration directory relative to its platform
//!   manifest, unless [`ValidateOptions::migration_set`] supplies the set.
//!
//! ```
//! use release_core::manifest::{Format, ManifestSet, parse_str};
//! use release_core::validate::{ValidateOptions, ViolationKind, validate_set};
//!
//! let text = "apiVersion: release/v1\nkind: Platform\nmetadata: { name: shop }\ncomponents:\n  - id: api\n    owner: { primary: ana, backup: ana }\n";
//! let mut set = ManifestSet::default();
//! set.extend(parse_str(text, "shop.yaml", Format::Yaml).unwrap());
//! let err = validate_set(&set, &ValidateOptions::default()).unwrap_err();
//! let v = &err.as_slice()[0];
//! assert!(matches!(v.kind, ViolationKind::SameComponentOwners { .. }));
//! assert_eq!(
//!     v.to_string(),
//!     "shop.yaml:6:28: component `api` has `ana` as both primary and backup owner; \
//!      fix: name a different person as backup owner of `api`"
//! );
//! ```

mod conflicts;
mod data;
mod kind;
mod platform;
mod release;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

pub use conflicts::{
    Conflict, ConflictReport, ManagerRole, ScheduledRelease, UnresolvedReason, conflict_report,
};
pub use kind::ViolationKind;
pub(crate) use kind::list as list_ids;

use crate::id::{ComponentId, ReleaseId};
use crate::manifest::{DocumentSource, Location, ManifestSet};
use crate::migration::MigrationSet;
use crate::model::{Platform, Release, TimeWindow};

/// Which document a violation is in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum DocumentRef {
    /// A platform document, by name.
    Platform(String),
    /// A release document, by id.
    Release(ReleaseId),
}

impl fmt::Display for DocumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Platform(name) => write!(f, "platform `{name}`"),
            Self::Release(id) => write!(f, "release `{id}`"),
        }
    }
}

/// A value inside a document: the document and a JSON pointer (`/changes/1/request`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pointer {
    /// The document.
    pub document: DocumentRef,
    /// JSON pointer into it (RFC 6901).
    pub path: String,
}

impl Pointer {
    /// A pointer into a platform document.
    pub fn platform(name: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            document: DocumentRef::Platform(name.into()),
            path: path.into(),
        }
    }

    /// A pointer into a release document.
    pub fn release(id: ReleaseId, path: impl Into<String>) -> Self {
        Self {
            document: DocumentRef::Release(id),
            path: path.into(),
        }
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{} at {path}", self.document)
    }
}

/// One broken rule: what, where in the document, and where in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// What is wrong, with the offending ids.
    pub kind: ViolationKind,
    /// Where in the document.
    pub at: Option<Pointer>,
    /// Where in the file, when the document was read from one.
    pub location: Option<Location>,
}

impl Violation {
    /// A violation at a pointer, not yet located in a file.
    pub fn new(kind: ViolationKind, at: Pointer) -> Self {
        Self {
            kind,
            at: Some(at),
            location: None,
        }
    }

    /// Fills `location` from the document's source map.
    pub fn locate(mut self, source: &DocumentSource) -> Self {
        if let Some(at) = &self.at {
            self.location = Some(source.locate(&at.path));
        }
        self
    }

    fn sort_key(&self) -> (Option<&Location>, Option<&Pointer>, String) {
        (
            self.location.as_ref(),
            self.at.as_ref(),
            self.kind.to_string(),
        )
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.location, &self.at) {
            (Some(location), _) => write!(f, "{location}: ")?,
            (None, Some(at)) => write!(f, "{at}: ")?,
            (None, None) => {}
        }
        write!(f, "{}; fix: {}", self.kind, self.kind.fix())
    }
}

/// Every violation of a set, sorted by location, pointer, then message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// Sorts (and removes exact duplicates) so two runs print byte-identical reports.
    pub fn new(mut violations: Vec<Violation>) -> Self {
        violations.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        violations.dedup();
        Self(violations)
    }

    /// The violations, sorted.
    pub fn as_slice(&self) -> &[Violation] {
        &self.0
    }

    /// The violations, sorted.
    pub fn into_vec(self) -> Vec<Violation> {
        self.0
    }

    /// Number of violations.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the violations.
    pub fn iter(&self) -> std::slice::Iter<'_, Violation> {
        self.0.iter()
    }
}

impl From<Vec<Violation>> for Violations {
    fn from(violations: Vec<Violation>) -> Self {
        Self::new(violations)
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Violations {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// Options of release validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidateOptions {
    /// How long the release is expected to run, used when its schedule has no `end`.
    pub estimated_duration: Option<Duration>,
    /// Migration sets by component, for the compatibility rules (M8.2); [`validate_set`]
    /// loads the sets it is not given from each component's `migrations.directory`.
    pub migrations: BTreeMap<ComponentId, MigrationSet>,
}

impl ValidateOptions {
    /// Gives the migration set of a component (instead of reading its directory).
    pub fn migration_set(mut self, component: impl Into<ComponentId>, set: MigrationSet) -> Self {
        self.migrations.insert(component.into(), set);
        self
    }

    /// Sets how long the release is expected to run.
    pub fn estimated_duration(mut self, duration: Duration) -> Self {
        self.estimated_duration = Some(duration);
        self
    }
}

/// The `[start, end)` a release is scheduled to run in; `None` without a schedule.
///
/// Without `schedule.end` the end is `start + estimated`, or `start` when there is no estimate.
pub fn release_window(release: &Release, estimated: Option<Duration>) -> Option<TimeWindow> {
    let schedule = release.schedule.as_ref()?;
    let end = schedule
        .end
        .unwrap_or_else(|| add_duration(schedule.start, estimated));
    Some(TimeWindow {
        from: schedule.start,
        to: end,
    })
}

fn add_duration(start: DateTime<FixedOffset>, d: Option<Duration>) -> DateTime<FixedOffset> {
    d.and_then(|d| chrono::TimeDelta::from_std(d).ok())
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(start)
}

/// Checks a platform on its own: structure, ownership (M1.5) and shared resources (M2.5).
pub fn validate_platform(platform: &Platform) -> Vec<Violation> {
    let mut out = platform::validate(platform);
    out.extend(data::platform(platform));
    out
}

/// Checks a release against its platform: scope (M1.1), schedule (M1.2), type rules (M1.3),
/// ownership (M1.5) and rollback criteria (M1.6). Platform-only problems are not repeated.
pub fn validate_release(
    platform: &Platform,
    release: &Release,
    options: &ValidateOptions,
) -> Vec<Violation> {
    let mut out = release::validate(platform, release, options);
    out.extend(data::release(platform, release, &options.migrations));
    out
}

/// Reads the migration sets of every platform component that declares migrations and is not
/// given one in `options`: each directory relative to its platform manifest's directory.
/// Documents built in code have no directory to resolve against and are skipped.
fn load_migration_sets(
    set: &ManifestSet,
    options: &ValidateOptions,
) -> (BTreeMap<ComponentId, MigrationSet>, Vec<Violation>) {
    let mut sets = options.migrations.clone();
    let mut violations = Vec::new();
    for p in &set.platforms {
        let file = p.source.file();
        if file.as_ref() == "<code>" {
            continue;
        }
        let base = std::path::Path::new(file.as_ref())
            .parent()
            .unwrap_or(std::path::Path::new(""));
        for (i, c) in p.value.components.iter().enumerate() {
            let Some(m) = &c.migrations else { continue };
            if sets.contains_key(&c.id) {
                continue;
            }
            match MigrationSet::load(base.join(&m.directory), m.dialect) {
                Ok(loaded) => {
                    sets.insert(c.id.clone(), loaded);
                }
                Err(e) => violations.push(
                    Violation::new(
                        ViolationKind::UnreadableMigrations {
                            component: c.id.clone(),
                            problem: e.to_string(),
                        },
                        Pointer::platform(
                            p.value.metadata.name.clone(),
                            format!("/components/{i}/migrations/directory"),
                        ),
                    )
                    .locate(&p.source),
                ),
            }
        }
    }
    (sets, violations)
}

/// Checks every document of a set, each release against the platform it names; returns all
/// violations, located and sorted, or `Ok` when there is none.
pub fn validate_set(set: &ManifestSet, options: &ValidateOptions) -> Result<(), Violations> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for p in &set.platforms {
        let name = &p.value.metadata.name;
        if !names.insert(name.as_str()) {
            out.push(
                Violation::new(
                    ViolationKind::DuplicatePlatform {
                        platform: name.clone(),
                    },
                    Pointer::platform(name.clone(), "/metadata/name"),
                )
                .locate(&p.source),
            );
            continue;
        }
        out.extend(
            validate_platform(&p.value)
                .into_iter()
                .map(|v| v.locate(&p.source)),
        );
    }
    let (sets, unreadable) = load_migration_sets(set, options);
    out.extend(unreadable);
    let options = &ValidateOptions {
        migrations: sets,
        ..options.clone()
    };
    let mut ids = BTreeSet::new();
    // One planner per platform: releases of one platform share its indexed topology.
    let mut planners: BTreeMap<&str, Option<crate::plan::Planner>> = BTreeMap::new();
    for r in &set.releases {
        let id = r.value.id();
        if !ids.insert(id.clone()) {
            out.push(
                Violation::new(
                    ViolationKind::DuplicateRelease {
                        release: id.clone(),
                    },
                    Pointer::release(id.clone(), "/metadata/id"),
                )
                .locate(&r.source),
            );
        }
        match set.platform_for(&r.value) {
            Some(p) => {
                // Without an estimate, the planner's estimated duration fills a missing
                // schedule end (a platform with a cycle is reported on its own).
                let mut options = options.clone();
                if options.estimated_duration.is_none() {
                    options.estimated_duration = planners
                        .entry(p.value.metadata.name.as_str())
                        .or_insert_with(|| crate::plan::Planner::new(&p.value).ok())
                        .as_ref()
                        .and_then(|planner| {
                            planner
                                .plan(&r.value, &crate::plan::PlanOptions::default())
                                .ok()
                        })
                        .map(|plan| plan.estimated_duration.as_duration());
                }
                out.extend(
                    validate_release(&p.value, &r.value, &options)
                        .into_iter()
                        .map(|v| v.locate(&r.source)),
                )
            }
            None => out.push(
                Violation::new(
                    ViolationKind::UnknownPlatform {
                        release: id.clone(),
                        platform: r.value.platform.clone(),
                    },
                    Pointer::release(id.clone(), "/platform"),
                )
                .locate(&r.source),
            ),
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(Violations::new(out))
    }
}
