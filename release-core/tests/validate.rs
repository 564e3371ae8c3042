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
