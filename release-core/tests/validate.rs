//! Validation of whole manifest sets: every violation, located at `file:line:column`.
use release_core::manifest::{Format, ManifestSet, parse_str};
use release_core::validate::{ValidateOptions, Violation, ViolationKind, validate_set};

fn set(text: &str) -> ManifestSet {
    let mut set = ManifestSet::default();
    set.extend(parse_str(text, "name.yaml", Format::Yaml).unwrap_or_else(|e| panic!("{e:?}")));
    set
}

fn violations(text: &str) -> Vec<Violation> {
    match validate_set(&set(text), &ValidateOptions::default()) {
        Ok(()) => vec![],
        Err(v) => v.into_vec(),
    }
}

#[test]
fn shop_example_has_no_violation() {
    let set = ManifestSet::load(&["../examples/manifests/shop.yaml"]).unwrap();
    let opts = ValidateOptions::default().estimated_duration(std::time::Duration::from_secs(3600));
    if let Err(v) = validate_set(&set, &opts) {
        panic!("{v}");
    }
}

/// A small valid platform and release; tests break one thing at a time.
const BASE: &str = r#"apiVersion: release/v1
kind: Platform
metadata:
  name: shop
components:
  - id: db
    owner: { primary: ana, backup: raj }
    stateful: true
    shared_resources: [pg]
  - id: api
    owner: { primary: raj, backup: ana }
    depends_on: [db]
    shared_resources: [pg]
shared_resources:
  - { id: pg, tier: production }
  - { id: pg-staging, tier: staging }
environments:
  - name: staging
    tier: staging
    bindings: { pg: pg-staging }
  - name: production
    tier: production
    windows:
      - deny: { from: "2026-12-20T00:00:00+01:00", to: "2027-01-04T00:00:00+01:00", reason: year-end freeze }
lifecycle:
  phases:
    - { name: verify, environments: [staging] }
    - { name: release, environments: [production] }
---
apiVersion: release/v1
kind: Release
metadata:
  id: r1
version: 1.0.0
platform: shop
type: delta
release_manager: { primary: ana, backup: tom }
schedule: { start: "2026-12-01T10:00:00+01:00" }
change_requests:
  - id: CR-1
    kind: normal
    state: approved
    window: { from: "2026-12-01T08:00:00+01:00", to: "2026-12-01T18:00:00+01:00" }
    configuration_items: [db, api]
changes:
  - { id: CHG-1, request: CR-1, components: [db] }
  - { id: CHG-2, request: CR-1, components: [api], depends_on: [CHG-1] }
components:
  db: { version: 1.0.0 }
  api: { version: 1.0.0 }
rollback:
  watch_window: 30m
  triggers:
    - error_rate: { above: 0.02 }
"#;

/// BASE with `from` replaced by `to` (which must occur exactly once).
fn with(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` must occur once");
    BASE.replacen(from, to, 1)
}

/// The only violation of `text`, asserted to print at `at` (`name.yaml:L:C`).
fn only(text: &str, at: &str) -> ViolationKind {
    let v = violations(text);
    assert_eq!(v.len(), 1, "{v:#?}");
    let line = v[0].to_string();
    assert!(line.starts_with(&format!("{at}: ")), "{line}");
    assert!(line.contains("; fix: "), "{line}");
    v[0].kind.clone()
}

#[test]
fn base_is_valid() {
    assert!(violations(BASE).is_empty(), "{:#?}", violations(BASE));
}

#[test]
fn unapproved_request_is_located_at_each_change() {
    let v = violations(&with("state: approved", "state: submitted"));
    assert_eq!(v.len(), 2, "{v:#?}");
    for (v, change, at) in [
        (&v[0], "CHG-1", "name.yaml:46:18"),
        (&v[1], "CHG-2", "name.yaml:47:18"),
    ] {
        assert!(
            matches!(&v.kind, ViolationKind::UnapprovedChange { change: c, request, state }
                if c == change && request == "CR-1" && state.as_str() == "submitted"),
            "{v:?}"
        );
        let text = v.to_string();
        assert!(text.starts_with(at), "{text}");
        assert!(
            text.contains(change) && text.contains("`CR-1`") && text.contains("`submitted`"),
            "{text}"
        );
    }
}

/// BASE with several replacements, each of text that occurs exactly once.
fn edit(edits: &[(&str, &str)]) -> String {
    let mut text = BASE.to_owned();
    for (from, to) in edits {
        assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
        text = text.replacen(from, to, 1);
    }
    text
}

// covers M1.5
#[test]
fn component_owners_must_differ() {
    let k = only(
        &with(
            "owner: { primary: ana, backup: raj }",
            "owner: { primary: ana, backup: ana }",
        ),
        "name.yaml:7:28",
    );
    assert_eq!(
        k,
        ViolationKind::SameComponentOwners {
            component: "db".into(),
            person: "ana".into()
        }
    );
}

// covers M1.5
#[test]
fn release_managers_must_differ() {
    let k = only(&with("backup: tom", "backup: ana"), "name.yaml:37:34");
    assert_eq!(
        k,
        ViolationKind::SameReleaseManagers {
            release: "r1".into(),
            person: "ana".into()
        }
    );
}

// covers M2.5
#[test]
fn staging_bound_to_production_database_is_rejected() {
    let text = with("    bindings: { pg: pg-staging }\n", "");
    let v = violations(&text);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(
        matches!(&v[0].kind, ViolationKind::ProductionResourceInNonProduction { environment, resource, components, .. }
        if environment == "staging" && resource == "pg" && components.len() == 2),
        "{v:?}"
    );
    let line = v[0].to_string();
    assert!(
        line.starts_with(
            "name.yaml:18:5: staging environment `staging` binds production shared resource `pg`"
        ),
        "{line}"
    );
    assert!(line.contains("api, db"), "{line}");
}

// covers M1.6
#[test]
fn release_reaching_staging_needs_rollback_criteria() {
    let text = with(
        "rollback:\n  watch_window: 30m\n  triggers:\n    - error_rate: { above: 0.02 }\n",
        "",
    );
    let k = only(&text, "name.yaml:30:1");
    assert_eq!(
        k,
        ViolationKind::MissingRollbackCriteria {
            release: "r1".into(),
            environment: "staging".into(),
            tier: release_core::model::Tier::Staging
        }
    );
    // A policy without triggers is no criteria either; it is reported at the policy.
    let text = with("  triggers:\n    - error_rate: { above: 0.02 }\n", "");
    let k = only(&text, "name.yaml:51:1");
    assert!(matches!(k, ViolationKind::MissingRollbackCriteria { .. }));
}

// covers M1.2
#[test]
fn schedule_must_sit_inside_the_request_window() {
    let k = only(
        &with("start: \"2026-12-01T10:00", "start: \"2026-12-01T19:00"),
        "name.yaml:38:1",
    );
    assert!(
        matches!(&k, ViolationKind::ScheduleOutsideRequestWindow { release, request, .. } if release == "r1" && request == "CR-1"),
        "{k:?}"
    );
    assert!(k.to_string().contains("2026-12-01T19:00:00+01:00"), "{k}");

    // Without an end, the estimated duration decides: 10:00 + 10h ends after 18:00.
    let opts =
        ValidateOptions::default().estimated_duration(std::time::Duration::from_secs(10 * 3600));
    let err = validate_set(&set(BASE), &opts).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert!(matches!(
        &err.as_slice()[0].kind,
        ViolationKind::ScheduleOutsideRequestWindow { .. }
    ));
}

// covers M1.2
#[test]
fn scheduled_release_needs_request_windows_and_avoids_freezes() {
    let k = only(
        &with(
            "    window: { from: \"2026-12-01T08:00:00+01:00\", to: \"2026-12-01T18:00:00+01:00\" }\n",
            "",
        ),
        "name.yaml:40:5",
    );
    assert_eq!(
        k,
        ViolationKind::RequestWithoutWindow {
            release: "r1".into(),
            request: "CR-1".into()
        }
    );

    let text = edit(&[
        ("start: \"2026-12-01T10:00", "start: \"2026-12-21T10:00"),
        (
            "to: \"2026-12-01T18:00:00+01:00\"",
            "to: \"2026-12-31T18:00:00+01:00\"",
        ),
    ]);
    let k = only(&text, "name.yaml:38:1");
    assert!(
        matches!(&k, ViolationKind::ScheduleInFreeze { environment, .. } if environment == "production"),
        "{k:?}"
    );
    assert!(k.to_string().contains("year-end freeze"), "{k}");
}

// covers M1.1
#[test]
fn change_may_only_touch_its_requests_items() {
    let k = only(
        &with(
            "configuration_items: [db, api]",
            "configuration_items: [db]",
        ),
        "name.yaml:47:46",
    );
    assert_eq!(
        k,
        ViolationKind::ComponentOutsideRequest {
            change: "CHG-2".into(),
            request: "CR-1".into(),
            component: "api".into()
        }
    );
    let text = k.to_string();
    assert!(
        text.contains("`CHG-2`") && text.contains("`CR-1`") && text.contains("`api`"),
        "{text}"
    );
}

// covers M1.1
#[test]
fn change_must_cite_a_listed_request() {
    let k = only(
        &with("{ id: CHG-2, request: CR-1", "{ id: CHG-2, request: CR-9"),
        "name.yaml:47:18",
    );
    assert_eq!(
        k,
        ViolationKind::UnknownChangeRequest {
            change: "CHG-2".into(),
            request: "CR-9".into()
        }
    );
}

// covers M1.1, M1.3
#[test]
fn expedited_approval_and_emergency_rules() {
    let v = violations(&with("state: approved", "state: approved_expedited"));
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        v.iter()
            .all(|v| matches!(v.kind, ViolationKind::ExpeditedApprovalNotEmergency { .. }))
    );

    // An emergency request in a delta release.
    let v = violations(&with("kind: normal", "kind: emergency"));
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        matches!(&v[0].kind, ViolationKind::EmergencyRequestInNonEmergencyRelease { change, request, .. } if change == "CHG-1" && request == "CR-1")
    );
    assert!(
        v[0].to_string()
            .contains("ship it in an emergency release or reclassify"),
        "{}",
        v[0]
    );

    // An emergency release under an emergency request approved expedited: fine.
    let ok = edit(&[
        ("kind: normal", "kind: emergency"),
        ("state: approved", "state: approved_expedited"),
        ("type: delta", "type: emergency"),
    ]);
    assert!(violations(&ok).is_empty(), "{:#?}", violations(&ok));

    // An emergency release with a normal request.
    let v = violations(&with("type: delta", "type: emergency"));
    assert_eq!(v.len(), 2, "{v:#?}");
    assert!(
        matches!(&v[1].kind, ViolationKind::NonEmergencyChangeInEmergencyRelease { change, .. } if change == "CHG-2")
    );
    assert!(v[1].to_string().starts_with("name.yaml:47:18"), "{}", v[1]);
}

// covers M1.3
#[test]
fn delta_ships_exactly_the_changed_components() {
    let k = only(
        &with(
            "components: [api], depends_on",
            "components: [db], depends_on",
        ),
        "name.yaml:50:3",
    );
    assert_eq!(
        k,
        ViolationKind::UnchangedComponentShipped {
            release: "r1".into(),
            release_kind: release_core::model::ReleaseKind::Delta,
            component: "api".into()
        }
    );
    let k = only(&with("  api: { version: 1.0.0 }\n", ""), "name.yaml:47:46");
    assert_eq!(
        k,
        ViolationKind::ChangedComponentNotShipped {
            release: "r1".into(),
            change: "CHG-2".into(),
            component: "api".into()
        }
    );
}

// covers M1.3
#[test]
fn full_release_ships_every_component() {
    let text = edit(&[
        (
            "components:\n  - id: db\n",
            "components:\n  - id: web\n    owner: { primary: li, backup: tom }\n  - id: db\n",
        ),
        ("type: delta", "type: full"),
    ]);
    let k = only(&text, "name.yaml:50:1");
    assert_eq!(
        k,
        ViolationKind::FullReleaseMissingComponent {
            release: "r1".into(),
            component: "web".into()
        }
    );
}

#[test]
fn local_dependencies_resolve_and_do_not_cycle() {
    let k = only(
        &with("depends_on: [CHG-1]", "depends_on: [CHG-9]"),
        "name.yaml:47:65",
    );
    assert!(
        matches!(&k, ViolationKind::UnknownChangeDependency { change, depends_on } if change == "CHG-2" && depends_on.0 == "CHG-9"),
        "{k:?}"
    );
    let k = only(
        &with(
            "components: [db] }",
            "components: [db], depends_on: [CHG-2] }",
        ),
        "name.yaml:46:51",
    );
    assert_eq!(
        k,
        ViolationKind::ChangeDependencyCycle {
            release: "r1".into(),
            changes: vec!["CHG-1".into(), "CHG-2".into()]
        }
    );
    assert!(k.to_string().contains("CHG-1, CHG-2"), "{k}");
    // A cross-release dependency is left to the conflict report.
    assert!(violations(&with("depends_on: [CHG-1]", "depends_on: [r0/CHG-1]")).is_empty());
}

#[test]
fn rollback_trigger_names_a_known_analysis() {
    let k = only(
        &with(
            "    - error_rate: { above: 0.02 }\n",
            "    - error_rate: { above: 0.02 }\n    - analysis: { name: nope }\n",
        ),
        "name.yaml:55:19",
    );
    assert!(
        matches!(&k, ViolationKind::UnknownAnalysis { analysis, used_by } if analysis == "nope" && used_by.contains("r1")),
        "{k:?}"
    );
}

#[test]
fn set_level_rules() {
    let k = only(&with("platform: shop", "platform: other"), "name.yaml:35:1");
    assert_eq!(
        k,
        ViolationKind::UnknownPlatform {
            release: "r1".into(),
            platform: "other".into()
        }
    );

    let (platform, release) = BASE.split_once("---\n").unwrap();
    let twice = format!("{BASE}---\n{release}");
    let k = only(&twice, "name.yaml:59:3");
    assert_eq!(
        k,
        ViolationKind::DuplicateRelease {
            release: "r1".into()
        }
    );
    let twice = format!("{platform}---\n{BASE}");
    let k = only(&twice, "name.yaml:33:3");
    assert_eq!(
        k,
        ViolationKind::DuplicatePlatform {
            platform: "shop".into()
        }
    );
}

#[test]
fn every_violation_is_listed_sorted_one_per_line() {
    let text = edit(&[
        (
            "owner: { primary: ana, backup: raj }",
            "owner: { primary: ana, backup: ana }",
        ),
        ("backup: tom", "backup: ana"),
        ("state: approved", "state: draft"),
    ]);
    let err = validate_set(&set(&text), &ValidateOptions::default()).unwrap_err();
    let printed = err.to_string();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 4, "{printed}");
    assert!(lines[0].starts_with("name.yaml:7:28:"), "{printed}");
    assert!(lines[1].starts_with("name.yaml:37:34:"), "{printed}");
    assert!(lines[2].starts_with("name.yaml:46:18:"), "{printed}");
    assert!(lines[3].starts_with("name.yaml:47:18:"), "{printed}");
    // Deterministic: the same input prints the same report.
    let again = validate_set(&set(&text), &ValidateOptions::default()).unwrap_err();
    assert_eq!(again.to_string(), printed);
    let json = serde_json::to_string(&err).unwrap();
    assert!(
        json.contains("\"rule\":\"same_component_owners\""),
        "{json}"
    );
}
