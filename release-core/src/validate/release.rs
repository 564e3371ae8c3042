//! Rules on a release against its platform: scope (M1.1), schedule (M1.2), type (M1.3),
//! local change dependencies, ownership (M1.5) and rollback criteria (M1.6).

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::DiGraph;

use super::{Pointer, ValidateOptions, Violation, ViolationKind as K, release_window};
use crate::id::{ChangeId, ComponentId, ReleaseId};
use crate::manifest::escape_segment;
use crate::model::{
    ChangeRequestKind, ChangeRequestState, Platform, Release, ReleaseKind, RollbackTrigger, Tier,
    WindowRule,
};

struct Out {
    release: ReleaseId,
    violations: Vec<Violation>,
}

impl Out {
    fn push(&mut self, kind: K, path: String) {
        self.violations.push(Violation::new(
            kind,
            Pointer::release(self.release.clone(), path),
        ));
    }
}

pub(super) fn validate(
    platform: &Platform,
    release: &Release,
    options: &ValidateOptions,
) -> Vec<Violation> {
    let mut out = Out {
        release: release.id().clone(),
        violations: Vec::new(),
    };
    if release.platform != platform.metadata.name {
        out.push(
            K::PlatformMismatch {
                release: release.id().clone(),
                named: release.platform.clone(),
                platform: platform.metadata.name.clone(),
            },
            "/platform".to_owned(),
        );
    }
    structure(platform, release, &mut out);
    scope(release, &mut out);
    kind_rules(platform, release, &mut out);
    schedule(platform, release, options, &mut out);
    dependencies(release, &mut out);
    ownership_and_rollback(platform, release, &mut out);
    out.violations
}

fn structure(p: &Platform, r: &Release, out: &mut Out) {
    let id = r.id();
    let mut seen = BTreeSet::new();
    for (i, cr) in r.change_requests.iter().enumerate() {
        if !seen.insert(&cr.id) {
            out.push(
                K::DuplicateChangeRequest {
                    release: id.clone(),
                    request: cr.id.clone(),
                },
                format!("/change_requests/{i}/id"),
            );
        }
        for (j, ci) in cr.configuration_items.iter().enumerate() {
            if p.component(ci.as_str()).is_none() {
                out.push(
                    K::UnknownConfigurationItem {
                        request: cr.id.clone(),
                        component: ci.clone(),
                    },
                    format!("/change_requests/{i}/configuration_items/{j}"),
                );
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (i, c) in r.changes.iter().enumerate() {
        if !seen.insert(&c.id) {
            out.push(
                K::DuplicateChange {
                    release: id.clone(),
                    change: c.id.clone(),
                },
                format!("/changes/{i}/id"),
            );
        }
        for (j, comp) in c.components.iter().enumerate() {
            if p.component(comp.as_str()).is_none() {
                out.push(
                    K::UnknownChangeComponent {
                        change: c.id.clone(),
                        component: comp.clone(),
                    },
                    format!("/changes/{i}/components/{j}"),
                );
            }
        }
    }
    for comp in r.components.keys() {
        if p.component(comp.as_str()).is_none() {
            out.push(
                K::UnknownReleaseComponent {
                    release: id.clone(),
                    component: comp.clone(),
                },
                format!("/components/{}", escape_segment(comp.as_str())),
            );
        }
    }
}

/// M1.1: approved requests, and only their configuration items.
fn scope(r: &Release, out: &mut Out) {
    for (i, c) in r.changes.iter().enumerate() {
        let Some(cr) = r.change_request(c.request.as_str()) else {
            out.push(
                K::UnknownChangeRequest {
                    change: c.id.clone(),
                    request: c.request.clone(),
                },
                format!("/changes/{i}/request"),
            );
            continue;
        };
        match (cr.state, cr.kind) {
            (ChangeRequestState::Approved, _)
            | (ChangeRequestState::ApprovedExpedited, ChangeRequestKind::Emergency) => {}
            (ChangeRequestState::ApprovedExpedited, kind) => out.push(
                K::ExpeditedApprovalNotEmergency {
                    change: c.id.clone(),
                    request: cr.id.clone(),
                    request_kind: kind,
                },
                format!("/changes/{i}/request"),
            ),
            (state, _) => out.push(
                K::UnapprovedChange {
                    change: c.id.clone(),
                    request: cr.id.clone(),
                    state,
                },
                format!("/changes/{i}/request"),
            ),
        }
        for (j, comp) in c.components.iter().enumerate() {
            if !cr.configuration_items.contains(comp) {
                out.push(
                    K::ComponentOutsideRequest {
                        change: c.id.clone(),
                        request: cr.id.clone(),
                        component: comp.clone(),
                    },
                    format!("/changes/{i}/components/{j}"),
                );
            }
        }
    }
}

/// M1.3: emergency, delta and full rules.
fn kind_rules(p: &Platform, r: &Release, out: &mut Out) {
    let id = r.id();
    if r.kind == ReleaseKind::Emergency && r.changes.is_empty() {
        out.push(
            K::EmergencyReleaseWithoutChanges {
                release: id.clone(),
            },
            "/changes".to_owned(),
        );
    }
    for (i, c) in r.changes.iter().enumerate() {
        let Some(cr) = r.change_request(c.request.as_str()) else {
            continue;
        };
        let emergency = cr.kind == ChangeRequestKind::Emergency;
        if r.kind == ReleaseKind::Emergency && !emergency {
            out.push(
                K::NonEmergencyChangeInEmergencyRelease {
                    release: id.clone(),
                    change: c.id.clone(),
                    request: cr.id.clone(),
                    request_kind: cr.kind,
                },
                format!("/changes/{i}/request"),
            );
        } else if r.kind != ReleaseKind::Emergency && emergency {
            out.push(
                K::EmergencyRequestInNonEmergencyRelease {
                    release: id.clone(),
                    release_kind: r.kind,
                    change: c.id.clone(),
                    request: cr.id.clone(),
                },
                format!("/changes/{i}/request"),
            );
        }
    }

    let touched: BTreeSet<&ComponentId> = r.changes.iter().flat_map(|c| &c.components).collect();
    let mut reported = BTreeSet::new();
    for (i, c) in r.changes.iter().enumerate() {
        for (j, comp) in c.components.iter().enumerate() {
            if !r.components.contains_key(comp) && reported.insert(comp) {
                out.push(
                    K::ChangedComponentNotShipped {
                        release: id.clone(),
                        change: c.id.clone(),
                        component: comp.clone(),
                    },
                    format!("/changes/{i}/components/{j}"),
                );
            }
        }
    }
    match r.kind {
        ReleaseKind::Delta | ReleaseKind::Emergency => {
            for comp in r.components.keys() {
                if !touched.contains(comp) {
                    out.push(
                        K::UnchangedComponentShipped {
                            release: id.clone(),
                            release_kind: r.kind,
                            component: comp.clone(),
                        },
                        format!("/components/{}", escape_segment(comp.as_str())),
                    );
                }
            }
        }
        ReleaseKind::Full => {
            for comp in &p.components {
                // Already reported as ChangedComponentNotShipped when a change touches it.
                if !r.components.contains_key(&comp.id) && !touched.contains(&comp.id) {
                    out.push(
                        K::FullReleaseMissingComponent {
                            release: id.clone(),
                            component: comp.id.clone(),
                        },
                        "/components".to_owned(),
                    );
                }
            }
        }
    }
}

/// M1.2: the schedule inside every cited request's window, and outside production freezes.
fn schedule(p: &Platform, r: &Release, options: &ValidateOptions, out: &mut Out) {
    let Some(window) = release_window(r, options.estimated_duration) else {
        return;
    };
    let id = r.id();
    if window.to < window.from {
        out.push(
            K::ScheduleEndsBeforeStart {
                release: id.clone(),
                start: window.from,
                end: window.to,
            },
            "/schedule/end".to_owned(),
        );
        return;
    }
    let cited: BTreeSet<&str> = r.changes.iter().map(|c| c.request.as_str()).collect();
    let mut checked = BTreeSet::new();
    for (i, cr) in r.change_requests.iter().enumerate() {
        if !cited.contains(cr.id.as_str()) || !checked.insert(&cr.id) {
            continue;
        }
        match &cr.window {
            None => out.push(
                K::RequestWithoutWindow {
                    release: id.clone(),
                    request: cr.id.clone(),
                },
                format!("/change_requests/{i}"),
            ),
            Some(w) if !w.contains(window.from, window.to) => out.push(
                K::ScheduleOutsideRequestWindow {
                    release: id.clone(),
                    request: cr.id.clone(),
                    start: window.from,
                    end: window.to,
                    window_from: w.from,
                    window_to: w.to,
                },
                "/schedule".to_owned(),
            ),
            Some(_) => {}
        }
    }
    let mut seen = BTreeSet::new();
    for (_, env_name) in p.lifecycle.environments() {
        let Some(env) = p.environment(env_name.as_str()) else {
            continue;
        };
        if env.tier != Tier::Production || !seen.insert(&env.name) {
            continue;
        }
        for rule in &env.windows {
            let WindowRule::Deny(spec) = rule else {
                continue;
            };
            let (Some(from), Some(to)) = (spec.from, spec.to) else {
                continue;
            };
            let freeze = crate::model::TimeWindow { from, to };
            // An instant schedule (no end, no estimate) still must not fall inside a freeze.
            let hit = if window.from == window.to {
                from <= window.from && window.from < to
            } else {
                freeze.overlaps(&window)
            };
            if hit {
                out.push(
                    K::ScheduleInFreeze {
                        release: id.clone(),
                        environment: env.name.clone(),
                        start: window.from,
                        end: window.to,
                        freeze_from: from,
                        freeze_to: to,
                        reason: spec.reason.clone(),
                    },
                    "/schedule".to_owned(),
                );
            }
        }
    }
}

/// Local `depends_on` resolve and form no cycle; `rollback_with` resolve.
fn dependencies(r: &Release, out: &mut Out) {
    let mut index: BTreeMap<&ChangeId, petgraph::graph::NodeIndex> = BTreeMap::new();
    let mut graph: DiGraph<&ChangeId, ()> = DiGraph::new();
    for c in &r.changes {
        index.entry(&c.id).or_insert_with(|| graph.add_node(&c.id));
    }
    for (i, c) in r.changes.iter().enumerate() {
        for (j, dep) in c.depends_on.iter().enumerate() {
            let (release, change) = dep.parts();
            if release.is_some_and(|rel| rel != r.id().as_str()) {
                continue; // another release: the conflict report resolves it
            }
            match (index.get(&c.id), index.get(&ChangeId::new(change))) {
                (Some(&from), Some(&to)) => {
                    graph.update_edge(from, to, ());
                }
                _ => out.push(
                    K::UnknownChangeDependency {
                        change: c.id.clone(),
                        depends_on: dep.clone(),
                    },
                    format!("/changes/{i}/depends_on/{j}"),
                ),
            }
        }
        for (j, other) in c.rollback_with.iter().enumerate() {
            if !index.contains_key(other) {
                out.push(
                    K::UnknownRollbackPartner {
                        change: c.id.clone(),
                        other: other.clone(),
                    },
                    format!("/changes/{i}/rollback_with/{j}"),
                );
            }
        }
    }
    let mut cycles: Vec<Vec<ChangeId>> = petgraph::algo::tarjan_scc(&graph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || scc.iter().any(|&n| graph.contains_edge(n, n)))
        .map(|scc| {
            let mut ids: Vec<ChangeId> = scc.iter().map(|&n| graph[n].clone()).collect();
            ids.sort();
            ids
        })
        .collect();
    cycles.sort();
    for changes in cycles {
        let first = r
            .changes
            .iter()
            .position(|c| changes.first() == Some(&c.id))
            .unwrap_or(0);
        out.push(
            K::ChangeDependencyCycle {
                release: r.id().clone(),
                changes,
            },
            format!("/changes/{first}/depends_on"),
        );
    }
}

/// M1.5 and M1.6.
fn ownership_and_rollback(p: &Platform, r: &Release, out: &mut Out) {
    if r.release_manager.primary == r.release_manager.backup {
        out.push(
            K::SameReleaseManagers {
                release: r.id().clone(),
                person: r.release_manager.primary.clone(),
            },
            "/release_manager/backup".to_owned(),
        );
    }
    let needs = p.lifecycle.environments().find_map(|(_, name)| {
        p.environment(name.as_str())
            .filter(|e| e.tier.requires_rollback_criteria())
    });
    if let Some(env) = needs
        && !r.rollback.as_ref().is_some_and(|rb| rb.has_criteria())
    {
        out.push(
            K::MissingRollbackCriteria {
                release: r.id().clone(),
                environment: env.name.clone(),
                tier: env.tier,
            },
            "/rollback".to_owned(),
        );
    }
    if let Some(rb) = &r.rollback {
        for (i, t) in rb.triggers.iter().enumerate() {
            if let RollbackTrigger::Analysis { name } = t
                && !p.analyses.contains_key(name)
            {
                out.push(
                    K::UnknownAnalysis {
                        analysis: name.clone(),
                        used_by: format!("rollback trigger {} of release `{}`", i + 1, r.id()),
                    },
                    format!("/rollback/triggers/{i}/analysis/name"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ViolationKind;
    use super::*;
    use crate::manifest::{Document, Format, parse_str};

    const DOCS: &str = r#"apiVersion: release/v1
kind: Platform
metadata: { name: shop }
components:
  - { id: db, owner: { primary: ana, backup: raj } }
  - { id: api, owner: { primary: raj, backup: ana } }
environments:
  - { name: dev, tier: development }
lifecycle:
  phases: [ { name: build, environments: [dev] } ]
---
apiVersion: release/v1
kind: Release
metadata: { id: r1 }
version: 1.0.0
platform: shop
type: delta
release_manager: { primary: ana, backup: tom }
change_requests:
  - { id: CR-1, kind: normal, state: approved, configuration_items: [db, api] }
changes:
  - { id: CHG-1, request: CR-1, components: [db], rollback_with: [CHG-2] }
  - { id: CHG-2, request: CR-1, components: [api] }
components:
  db: { version: 1.0.0 }
  api: { version: 1.0.0 }
"#;

    fn load(text: &str) -> (Platform, Release) {
        let docs = parse_str(text, "t.yaml", Format::Yaml).unwrap_or_else(|e| panic!("{e:?}"));
        let mut platform = None;
        let mut release = None;
        for d in docs {
            match d {
                Document::Platform(p) => platform = Some(p.value),
                Document::Release(r) => release = Some(r.value),
            }
        }
        (platform.unwrap(), release.unwrap())
    }

    fn kinds(edit: impl FnOnce(&mut Platform, &mut Release)) -> Vec<ViolationKind> {
        let (mut p, mut r) = load(DOCS);
        edit(&mut p, &mut r);
        validate(&p, &r, &ValidateOptions::default())
            .into_iter()
            .map(|v| v.kind)
            .collect()
    }

    #[test]
    fn fixture_is_valid() {
        assert_eq!(kinds(|_, _| {}), vec![]);
    }

    #[test]
    fn duplicate_requests_and_changes() {
        let k = kinds(|_, r| {
            r.change_requests.push(r.change_requests[0].clone());
            r.changes.push(r.changes[1].clone());
        });
        assert_eq!(
            k,
            vec![
                ViolationKind::DuplicateChangeRequest {
                    release: "r1".into(),
                    request: "CR-1".into()
                },
                ViolationKind::DuplicateChange {
                    release: "r1".into(),
                    change: "CHG-2".into()
                },
            ]
        );
        assert!(k[1].to_string().contains("`r1`") && k[1].to_string().contains("`CHG-2`"));
    }

    #[test]
    fn unknown_components_everywhere() {
        let k = kinds(|_, r| {
            r.change_requests[0]
                .configuration_items
                .push("cache".into());
            r.changes[1].components.push("cache".into());
            r.components
                .insert("cache".into(), r.components["db"].clone());
        });
        assert_eq!(
            k,
            vec![
                ViolationKind::UnknownConfigurationItem {
                    request: "CR-1".into(),
                    component: "cache".into()
                },
                ViolationKind::UnknownChangeComponent {
                    change: "CHG-2".into(),
                    component: "cache".into()
                },
                ViolationKind::UnknownReleaseComponent {
                    release: "r1".into(),
                    component: "cache".into()
                },
            ]
        );
    }

    #[test]
    fn emergency_release_needs_a_change() {
        let k = kinds(|_, r| {
            r.kind = ReleaseKind::Emergency;
            r.changes.clear();
            r.components.clear();
        });
        assert_eq!(
            k,
            vec![ViolationKind::EmergencyReleaseWithoutChanges {
                release: "r1".into()
            }]
        );
        assert!(k[0].to_string().contains("`r1`"));
    }

    #[test]
    fn unapproved_states_are_named() {
        for state in [
            ChangeRequestState::Draft,
            ChangeRequestState::Rejected,
            ChangeRequestState::Closed,
        ] {
            let k = kinds(|_, r| r.change_requests[0].state = state);
            assert_eq!(k.len(), 2);
            assert_eq!(
                k[0],
                ViolationKind::UnapprovedChange {
                    change: "CHG-1".into(),
                    request: "CR-1".into(),
                    state
                }
            );
            assert!(k[0].to_string().contains(state.as_str()));
        }
    }

    #[test]
    fn schedule_ending_before_start() {
        let k = kinds(|_, r| {
            let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+01:00").unwrap();
            let end = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00+01:00").unwrap();
            r.schedule = Some(crate::model::Schedule {
                start,
                end: Some(end),
            });
        });
        assert!(
            matches!(&k[..], [ViolationKind::ScheduleEndsBeforeStart { release, .. }] if release == "r1"),
            "{k:?}"
        );
    }

    #[test]
    fn unknown_rollback_partner_and_platform_mismatch() {
        let k = kinds(|p, r| {
            r.changes[0].rollback_with.push("CHG-7".into());
            p.metadata.name = "other".into();
        });
        assert_eq!(
            k,
            vec![
                ViolationKind::PlatformMismatch {
                    release: "r1".into(),
                    named: "shop".into(),
                    platform: "other".into()
                },
                ViolationKind::UnknownRollbackPartner {
                    change: "CHG-1".into(),
                    other: "CHG-7".into()
                },
            ]
        );
    }

    #[test]
    fn violations_without_location_print_their_pointer() {
        let (p, mut r) = load(DOCS);
        r.release_manager.backup = "ana".into();
        let v = validate(&p, &r, &ValidateOptions::default());
        assert_eq!(
            v[0].to_string(),
            "release `r1` at /release_manager/backup: release `r1` has `ana` as both release manager and backup; fix: name a different person as backup release manager"
        );
    }
}
