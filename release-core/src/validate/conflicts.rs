//! The conflict report across releases (M1.2), after ServiceNow's conflict checks: releases
//! whose windows overlap and that ship the same component, touch the same shared resource or
//! need the same release manager, and cross-release change dependencies that are not ordered.
//!
//! Decisions:
//! - A release "touches" the components it ships and those its changes touch; shared
//!   resources are compared by the names components declare (the production binding), since
//!   overlapping releases meet in production.
//! - A release manager is double-booked when the same person is the primary of both releases
//!   or the primary of one and the backup of the other. Backup of both is not flagged: a
//!   backup only steps in when a primary fails, and two failures at once are unlikely.
//! - A cross-release dependency `OTHER/CHG` is ordered when `OTHER`'s window ends no later
//!   than the dependent release starts; when it starts later or overlaps, it is flagged.
//!   `OTHER` not among the given releases, or not carrying `CHG`, is flagged as unresolved.
//! - A release without a schedule has no window and cannot be given to the report; its
//!   dependencies on it are reported as unresolved by whoever depends on it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::release_window;
use crate::id::{ChangeId, ComponentId, PersonId, ReleaseId, SharedResourceId};
use crate::model::{ChangeRef, Platform, Release, TimeWindow};

/// A release with the window it is scheduled to run in.
#[derive(Clone, Debug)]
pub struct ScheduledRelease<'a> {
    /// The release.
    pub release: &'a Release,
    /// `[start, end)` it runs in.
    pub window: TimeWindow,
}

impl<'a> ScheduledRelease<'a> {
    /// A release with an explicit window.
    pub fn new(release: &'a Release, window: TimeWindow) -> Self {
        Self { release, window }
    }

    /// The release's schedule as a window (end = start + `estimated` when the schedule has no
    /// end); `None` when the release has no schedule.
    pub fn from_schedule(release: &'a Release, estimated: Option<Duration>) -> Option<Self> {
        release_window(release, estimated).map(|window| Self { release, window })
    }
}

/// Which role a double-booked person holds in a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagerRole {
    /// The release manager.
    Primary,
    /// The backup release manager.
    Backup,
}

impl fmt::Display for ManagerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Primary => "release manager",
            Self::Backup => "backup release manager",
        })
    }
}

/// Why a cross-release dependency could not be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnresolvedReason {
    /// The named release is not among the scheduled releases.
    ReleaseNotScheduled,
    /// The named release does not carry the named change.
    ChangeNotInRelease,
}

/// One conflict between two releases (or a release and a missing one).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "conflict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Conflict {
    /// Overlapping releases ship the same component.
    SameComponent {
        /// The release with the smaller id.
        first: ReleaseId,
        /// The other release.
        second: ReleaseId,
        /// The component both ship.
        component: ComponentId,
    },
    /// Overlapping releases touch the same shared resource.
    SharedResource {
        /// The release with the smaller id.
        first: ReleaseId,
        /// The other release.
        second: ReleaseId,
        /// The resource.
        resource: SharedResourceId,
        /// Components of `first` that use it.
        first_components: Vec<ComponentId>,
        /// Components of `second` that use it.
        second_components: Vec<ComponentId>,
    },
    /// One person manages two overlapping releases.
    DoubleBookedManager {
        /// The release with the smaller id.
        first: ReleaseId,
        /// The other release.
        second: ReleaseId,
        /// The person.
        person: PersonId,
        /// Their role in `first`.
        first_role: ManagerRole,
        /// Their role in `second`.
        second_role: ManagerRole,
    },
    /// A change depends on a change of a release that does not finish before it starts.
    DependencyNotOrdered {
        /// The dependent release.
        release: ReleaseId,
        /// The dependent change.
        change: ChangeId,
        /// The release carrying the dependency.
        depends_on_release: ReleaseId,
        /// The dependency.
        depends_on_change: ChangeId,
    },
    /// A change depends on a change the report cannot find.
    UnresolvedDependency {
        /// The dependent release.
        release: ReleaseId,
        /// The dependent change.
        change: ChangeId,
        /// The reference as written.
        depends_on: ChangeRef,
        /// What is missing.
        reason: UnresolvedReason,
    },
}

impl Conflict {
    fn label(&self) -> &'static str {
        match self {
            Self::SameComponent { .. } => "same component",
            Self::SharedResource { .. } => "shared resource",
            Self::DoubleBookedManager { .. } => "double-booked manager",
            Self::DependencyNotOrdered { .. } => "dependency not ordered",
            Self::UnresolvedDependency { .. } => "unresolved dependency",
        }
    }

    /// The two releases (the second is the dependency's release for dependencies).
    pub fn releases(&self) -> (&ReleaseId, &str) {
        match self {
            Self::SameComponent { first, second, .. }
            | Self::SharedResource { first, second, .. }
            | Self::DoubleBookedManager { first, second, .. } => (first, second.as_str()),
            Self::DependencyNotOrdered {
                release,
                depends_on_release,
                ..
            } => (release, depends_on_release.as_str()),
            Self::UnresolvedDependency {
                release,
                depends_on,
                ..
            } => (release, depends_on.parts().0.unwrap_or("")),
        }
    }

    /// What the two releases share or what is missing, for the table.
    pub fn subject(&self) -> String {
        match self {
            Self::SameComponent { component, .. } => format!("component {component}"),
            Self::SharedResource { resource, .. } => format!("resource {resource}"),
            Self::DoubleBookedManager { person, .. } => format!("person {person}"),
            Self::DependencyNotOrdered {
                change,
                depends_on_change,
                ..
            } => format!("{change} -> {depends_on_change}"),
            Self::UnresolvedDependency {
                change, depends_on, ..
            } => {
                format!("{change} -> {depends_on}")
            }
        }
    }

    /// How to resolve it, in one sentence.
    pub fn fix(&self) -> String {
        match self {
            Self::SameComponent { component, .. } => format!(
                "move one release so the windows do not overlap, or ship `{component}` in one of them only"
            ),
            Self::SharedResource { resource, .. } => format!(
                "move one release so the windows do not overlap; deployments hold the lock of `{resource}` and would wait"
            ),
            Self::DoubleBookedManager { person, .. } => {
                format!(
                    "name another release manager for one release, or move it; `{person}` cannot run both"
                )
            }
            Self::DependencyNotOrdered {
                depends_on_release, ..
            } => format!(
                "schedule the release after `{depends_on_release}` has finished, or move the change"
            ),
            Self::UnresolvedDependency {
                depends_on, reason, ..
            } => match reason {
                UnresolvedReason::ReleaseNotScheduled => format!(
                    "schedule the release of `{depends_on}` and include it in the report, or correct the reference"
                ),
                UnresolvedReason::ChangeNotInRelease => {
                    format!("correct `{depends_on}`; that release does not carry the change")
                }
            },
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SameComponent {
                first,
                second,
                component,
            } => write!(
                f,
                "releases `{first}` and `{second}` overlap and both ship component `{component}`"
            ),
            Self::SharedResource {
                first,
                second,
                resource,
                first_components,
                second_components,
            } => write!(
                f,
                "releases `{first}` ({}) and `{second}` ({}) overlap and both touch shared resource `{resource}`",
                super::kind::list(first_components),
                super::kind::list(second_components)
            ),
            Self::DoubleBookedManager {
                first,
                second,
                person,
                first_role,
                second_role,
            } => write!(
                f,
                "`{person}` is {first_role} of `{first}` and {second_role} of `{second}`, which overlap"
            ),
            Self::DependencyNotOrdered {
                release,
                change,
                depends_on_release,
                depends_on_change,
            } => write!(
                f,
                "change `{change}` of `{release}` depends on `{depends_on_change}` of `{depends_on_release}`, which does not finish before `{release}` starts"
            ),
            Self::UnresolvedDependency {
                release,
                change,
                depends_on,
                reason,
            } => {
                let why = match reason {
                    UnresolvedReason::ReleaseNotScheduled => {
                        "its release is not among the scheduled releases"
                    }
                    UnresolvedReason::ChangeNotInRelease => "that release does not carry it",
                };
                write!(
                    f,
                    "change `{change}` of `{release}` depends on `{depends_on}`, but {why}"
                )
            }
        }?;
        write!(f, "; fix: {}", self.fix())
    }
}

/// Every conflict among a set of scheduled releases, sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConflictReport {
    /// The conflicts, sorted by kind, releases and subject.
    pub conflicts: Vec<Conflict>,
}

impl ConflictReport {
    /// True when there is no conflict.
    pub fn is_empty(&self) -> bool {
        self.conflicts.is_empty()
    }
}

impl fmt::Display for ConflictReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.conflicts.is_empty() {
            return f.write_str("no conflicts");
        }
        let rows: Vec<[String; 5]> = self
            .conflicts
            .iter()
            .map(|c| {
                let (a, b) = c.releases();
                [
                    c.label().to_owned(),
                    a.to_string(),
                    b.to_owned(),
                    c.subject(),
                    c.fix(),
                ]
            })
            .collect();
        let header = ["CONFLICT", "RELEASE", "WITH", "ON", "FIX"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 5]| -> fmt::Result {
            for (i, cell) in cells.iter().enumerate().take(4) {
                write!(f, "{cell:<w$}  ", w = widths[i])?;
            }
            writeln!(f, "{}", cells[4])
        };
        line(f, header)?;
        for row in &rows {
            line(f, [&row[0], &row[1], &row[2], &row[3], &row[4]])?;
        }
        Ok(())
    }
}

/// Components a release ships or its changes touch.
fn touched(release: &Release) -> BTreeSet<&ComponentId> {
    release
        .components
        .keys()
        .chain(release.changes.iter().flat_map(|c| &c.components))
        .collect()
}

fn resources<'a>(
    platform: &'a Platform,
    components: &BTreeSet<&ComponentId>,
) -> BTreeMap<&'a SharedResourceId, Vec<ComponentId>> {
    let mut out: BTreeMap<&SharedResourceId, Vec<ComponentId>> = BTreeMap::new();
    for id in components {
        if let Some(c) = platform.component(id.as_str()) {
            for r in &c.shared_resources {
                out.entry(r).or_default().push(c.id.clone());
            }
        }
    }
    out
}

fn roles(release: &Release) -> [(&PersonId, ManagerRole); 2] {
    [
        (&release.release_manager.primary, ManagerRole::Primary),
        (&release.release_manager.backup, ManagerRole::Backup),
    ]
}

/// Lists the conflicts among `releases`, all planned against `platform`.
pub fn conflict_report(platform: &Platform, releases: &[ScheduledRelease<'_>]) -> ConflictReport {
    let mut conflicts = BTreeSet::new();
    let mut sorted: Vec<&ScheduledRelease<'_>> = releases.iter().collect();
    sorted.sort_by(|a, b| a.release.id().cmp(b.release.id()));

    for (i, a) in sorted.iter().enumerate() {
        for b in sorted.iter().skip(i + 1) {
            if a.release.id() == b.release.id() || !a.window.overlaps(&b.window) {
                continue;
            }
            let (first, second) = (a.release.id(), b.release.id());
            let (ta, tb) = (touched(a.release), touched(b.release));
            for component in ta.intersection(&tb) {
                conflicts.insert(Conflict::SameComponent {
                    first: first.clone(),
                    second: second.clone(),
                    component: (*component).clone(),
                });
            }
            let (ra, rb) = (resources(platform, &ta), resources(platform, &tb));
            for (resource, first_components) in &ra {
                if let Some(second_components) = rb.get(resource) {
                    conflicts.insert(Conflict::SharedResource {
                        first: first.clone(),
                        second: second.clone(),
                        resource: (*resource).clone(),
                        first_components: first_components.clone(),
                        second_components: second_components.clone(),
                    });
                }
            }
            for (pa, role_a) in roles(a.release) {
                for (pb, role_b) in roles(b.release) {
                    let flagged = role_a == ManagerRole::Primary || role_b == ManagerRole::Primary;
                    if pa == pb && flagged {
                        conflicts.insert(Conflict::DoubleBookedManager {
                            first: first.clone(),
                            second: second.clone(),
                            person: pa.clone(),
                            first_role: role_a,
                            second_role: role_b,
                        });
                    }
                }
            }
        }
    }

    let by_id: BTreeMap<&str, &ScheduledRelease<'_>> = sorted
        .iter()
        .map(|s| (s.release.id().as_str(), *s))
        .collect();
    for s in &sorted {
        for change in &s.release.changes {
            for dep in &change.depends_on {
                let (Some(other), dep_change) = dep.parts() else {
                    continue;
                };
                if other == s.release.id().as_str() {
                    continue; // same release: validation checks it
                }
                let unresolved = |reason| Conflict::UnresolvedDependency {
                    release: s.release.id().clone(),
                    change: change.id.clone(),
                    depends_on: dep.clone(),
                    reason,
                };
                let Some(target) = by_id.get(other) else {
                    conflicts.insert(unresolved(UnresolvedReason::ReleaseNotScheduled));
                    continue;
                };
                if target.release.change(dep_change).is_none() {
                    conflicts.insert(unresolved(UnresolvedReason::ChangeNotInRelease));
                } else if target.window.to > s.window.from {
                    conflicts.insert(Conflict::DependencyNotOrdered {
                        release: s.release.id().clone(),
                        change: change.id.clone(),
                        depends_on_release: target.release.id().clone(),
                        depends_on_change: ChangeId::new(dep_change),
                    });
                }
            }
        }
    }
    ConflictReport {
        conflicts: conflicts.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Document, Format, parse_str};

    const PLATFORM: &str = r#"apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: db, owner: { primary: ana, backup: raj }, shared_resources: [pg] }
  - { id: api, owner: { primary: raj, backup: ana }, shared_resources: [pg] }
  - { id: web, owner: { primary: li, backup: tom } }
shared_resources: [ { id: pg, tier: production } ]
"#;

    fn release(id: &str, manager: (&str, &str), components: &[&str], depends_on: &str) -> Release {
        let comps: String = components
            .iter()
            .map(|c| format!("  {c}: {{ version: 1.0.0 }}\n"))
            .collect();
        let comps = if comps.is_empty() {
            "{}\n".to_owned()
        } else {
            format!("\n{comps}")
        };
        let text = format!(
            "apiVersion: release/v1\nkind: Release\nmetadata: {{ id: {id} }}\nversion: 1.0.0\nplatform: shop\ntype: delta\n\
             release_manager: {{ primary: {}, backup: {} }}\nchanges:\n  - {{ id: CHG-1, request: CR-1, components: [{}], depends_on: [{depends_on}] }}\ncomponents: {comps}",
            manager.0,
            manager.1,
            components.join(", "),
        );
        match parse_str(&text, "r.yaml", Format::Yaml)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .remove(0)
        {
            Document::Release(r) => r.value,
            Document::Platform(_) => panic!("not a release"),
        }
    }

    fn platform() -> Platform {
        match parse_str(PLATFORM, "p.yaml", Format::Yaml)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .remove(0)
        {
            Document::Platform(p) => p.value,
            Document::Release(_) => panic!("not a platform"),
        }
    }

    fn window(from_h: u32, to_h: u32) -> TimeWindow {
        let at = |h: u32| {
            chrono::DateTime::parse_from_rfc3339(&format!("2026-12-01T{h:02}:00:00+00:00")).unwrap()
        };
        TimeWindow {
            from: at(from_h),
            to: at(to_h),
        }
    }

    #[test]
    fn overlapping_releases_on_same_component_and_resource() {
        let a = release("a", ("ana", "tom"), &["api"], "");
        let b = release("b", ("li", "raj"), &["api", "db"], "");
        let p = platform();
        let report = conflict_report(
            &p,
            &[
                ScheduledRelease::new(&b, window(10, 12)),
                ScheduledRelease::new(&a, window(9, 11)),
            ],
        );
        assert_eq!(
            report.conflicts,
            vec![
                Conflict::SameComponent {
                    first: "a".into(),
                    second: "b".into(),
                    component: "api".into()
                },
                Conflict::SharedResource {
                    first: "a".into(),
                    second: "b".into(),
                    resource: "pg".into(),
                    first_components: vec!["api".into()],
                    second_components: vec!["api".into(), "db".into()],
                },
            ]
        );
        assert!(
            report.conflicts[1]
                .to_string()
                .contains("`a` (api) and `b` (api, db)"),
            "{}",
            report.conflicts[1]
        );
        let table = report.to_string();
        assert!(table.starts_with("CONFLICT"), "{table}");
        assert!(
            table.contains("same component") && table.contains("resource pg"),
            "{table}"
        );
        // Windows that only touch do not overlap.
        let report = conflict_report(
            &p,
            &[
                ScheduledRelease::new(&a, window(9, 10)),
                ScheduledRelease::new(&b, window(10, 12)),
            ],
        );
        assert!(report.is_empty(), "{report}");
        assert_eq!(report.to_string(), "no conflicts");
    }

    #[test]
    fn double_booked_release_manager() {
        let a = release("a", ("ana", "tom"), &["web"], "");
        let b = release("b", ("li", "ana"), &["db"], "");
        let c = release("c", ("raj", "tom"), &[], "");
        let p = platform();
        let report = conflict_report(
            &p,
            &[
                ScheduledRelease::new(&a, window(9, 11)),
                ScheduledRelease::new(&b, window(10, 12)),
                ScheduledRelease::new(&c, window(10, 12)),
            ],
        );
        // tom is backup of both a and c: not flagged.
        assert_eq!(
            report.conflicts,
            vec![Conflict::DoubleBookedManager {
                first: "a".into(),
                second: "b".into(),
                person: "ana".into(),
                first_role: ManagerRole::Primary,
                second_role: ManagerRole::Backup,
            }]
        );
        assert!(
            report.conflicts[0]
                .to_string()
                .contains("`ana` is release manager of `a` and backup release manager of `b`")
        );
    }

    #[test]
    fn cross_release_dependencies() {
        let a = release("a", ("ana", "tom"), &["web"], "");
        let b = release("b", ("li", "raj"), &["db"], "a/CHG-1");
        let p = platform();
        // a finishes before b starts: ordered.
        let ok = conflict_report(
            &p,
            &[
                ScheduledRelease::new(&a, window(8, 9)),
                ScheduledRelease::new(&b, window(10, 12)),
            ],
        );
        assert!(ok.is_empty(), "{ok}");
        // a starts later: flagged.
        let late = conflict_report(
            &p,
            &[
                ScheduledRelease::new(&a, window(13, 14)),
                ScheduledRelease::new(&b, window(10, 12)),
            ],
        );
        assert_eq!(
            late.conflicts,
            vec![Conflict::DependencyNotOrdered {
                release: "b".into(),
                change: "CHG-1".into(),
                depends_on_release: "a".into(),
                depends_on_change: "CHG-1".into(),
            }]
        );
        // a not given, or without that change: unresolved.
        let missing = conflict_report(&p, &[ScheduledRelease::new(&b, window(10, 12))]);
        assert!(matches!(
            &missing.conflicts[..],
            [Conflict::UnresolvedDependency {
                reason: UnresolvedReason::ReleaseNotScheduled,
                ..
            }]
        ));
        let c = release("c", ("li", "raj"), &["db"], "a/CHG-9");
        let wrong = conflict_report(
            &p,
            &[
                ScheduledRelease::new(&a, window(8, 9)),
                ScheduledRelease::new(&c, window(10, 12)),
            ],
        );
        assert!(
            matches!(&wrong.conflicts[..], [Conflict::UnresolvedDependency { reason: UnresolvedReason::ChangeNotInRelease, release, .. }] if release == "c")
        );
        let json = serde_json::to_string(&wrong).unwrap();
        assert!(
            json.contains("\"conflict\":\"unresolved_dependency\""),
            "{json}"
        );
    }

    #[test]
    fn window_from_schedule_uses_the_estimate() {
        let mut a = release("a", ("ana", "tom"), &["web"], "");
        assert!(ScheduledRelease::from_schedule(&a, None).is_none());
        let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+00:00").unwrap();
        a.schedule = Some(crate::model::Schedule { start, end: None });
        let s = ScheduledRelease::from_schedule(&a, Some(Duration::from_secs(3600))).unwrap();
        assert_eq!(s.window, window(10, 11));
    }
}
