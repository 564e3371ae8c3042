//! The advisors on the shop example: release type (M1.3) and bundling (M1.4).
use release_core::advise::{
    ReleaseKindInput, RiskTolerance, RollbackComplexity, bundle_changes, recommend_release_kind,
};
use release_core::manifest::ManifestSet;
use release_core::model::{Criticality, ReleaseKind};

fn shop() -> ManifestSet {
    ManifestSet::load(&["../examples/manifests/shop.yaml"]).unwrap()
}

// covers M1.3
#[test]
fn shop_release_kind_follows_risk_tolerance() {
    let set = shop();
    let (platform, release) = (&set.platforms[0].value, &set.releases[0].value);
    let input = ReleaseKindInput::from_release(platform, release, RiskTolerance::Medium);
    assert_eq!(input.rollback_complexity, RollbackComplexity::Complex);
    assert_eq!(input.highest_criticality, Criticality::Critical);
    assert_eq!((input.changed_components, input.total_components), (3, 7));
    assert!(!input.emergency_request);

    let advice = recommend_release_kind(&input);
    assert_eq!(advice.kind, ReleaseKind::Delta, "{advice}");
    let codes: Vec<_> = advice.reasons.iter().map(|r| r.code).collect();
    assert_eq!(codes, ["small-change-set", "complex-rollback-tolerated"]);

    let cautious = ReleaseKindInput::from_release(platform, release, RiskTolerance::Low);
    let advice = recommend_release_kind(&cautious);
    assert_eq!(advice.kind, ReleaseKind::Full, "{advice}");
    let text = advice.to_string();
    assert!(
        text.contains("[low-tolerance-complex-rollback]")
            && text.contains("[low-tolerance-critical-component]"),
        "{text}"
    );
    let json = serde_json::to_value(&advice).unwrap();
    assert_eq!(json["kind"], "full");
}

// covers M1.4
#[test]
fn shop_changes_bundle_and_split() {
    let set = shop();
    let b = bundle_changes(&set.releases[0].value);
    assert_eq!(b.bundles.len(), 1);
    assert_eq!(b.bundles[0].changes, ["CHG-1", "CHG-2"]);
    assert_eq!(b.bundles[0].links[0].to_string(), "CHG-2 depends on CHG-1");
    assert_eq!(b.independent, ["CHG-3"]);
    assert_eq!(b.decouple.len(), 1);
    assert_eq!(b.decouple[0].changes, ["CHG-3"]);
    assert!(
        b.decouple[0].reason.contains("visual-review"),
        "{}",
        b.decouple[0].reason
    );
    // Deterministic: same input, same output.
    assert_eq!(
        b.to_string(),
        bundle_changes(&set.releases[0].value).to_string()
    );
    let json = serde_json::to_value(&b).unwrap();
    assert_eq!(json["bundles"][0]["links"][0]["kind"], "depends_on");
}

mod bundling_properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use release_core::advise::bundle_changes;
    use release_core::model::{Change, ChangeRef, Release};

    fn release(changes: Vec<Change>) -> Release {
        static BASE: std::sync::OnceLock<Release> = std::sync::OnceLock::new();
        let base = BASE.get_or_init(|| super::shop().releases.remove(0).value);
        Release {
            changes,
            ..base.clone()
        }
    }

    /// Per change: dependencies, rollback partners (indices), schemas and test constraints.
    type Spec = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);

    fn changes(specs: &[Spec]) -> Vec<Change> {
        let n = specs.len();
        let id = |i: usize| format!("CHG-{}", i % n);
        specs
            .iter()
            .enumerate()
            .map(|(i, (deps, rb, schemas, tests))| Change {
                id: id(i).into(),
                request: "CR-1042".into(),
                components: vec![],
                depends_on: deps.iter().map(|d| ChangeRef(id(*d))).collect(),
                rollback_with: rb.iter().map(|d| id(*d).into()).collect(),
                schemas: schemas.iter().map(|s| format!("s{s}")).collect(),
                test_constraints: tests.iter().map(|t| format!("t{t}")).collect(),
                author: None,
                summary: None,
            })
            .collect()
    }

    fn spec() -> impl Strategy<Value = Vec<Spec>> {
        let idx = || prop::collection::vec(0usize..8, 0..2);
        prop::collection::vec(
            (
                idx(),
                idx(),
                prop::collection::vec(0usize..3, 0..2),
                prop::collection::vec(0usize..2, 0..2),
            ),
            1..8,
        )
    }

    proptest! {
        // covers M1.4: every change lands in exactly one unit, and every edge stays inside one.
        #[test]
        fn every_change_in_one_unit_and_edges_inside(specs in spec()) {
            let changes = changes(&specs);
            let b = bundle_changes(&release(changes.clone()));
            let mut unit: BTreeMap<String, usize> = BTreeMap::new();
            for (u, bundle) in b.bundles.iter().enumerate() {
                prop_assert!(bundle.changes.len() >= 2);
                prop_assert!(bundle.links.len() + 1 >= bundle.changes.len());
                for c in &bundle.changes {
                    prop_assert!(unit.insert(c.to_string(), u).is_none());
                }
            }
            for (k, c) in b.independent.iter().enumerate() {
                prop_assert!(unit.insert(c.to_string(), 1000 + k).is_none());
            }
            let mut ids: Vec<String> = changes.iter().map(|c| c.id.to_string()).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(unit.keys().cloned().collect::<Vec<_>>(), ids);
            let mut schema_first: BTreeMap<&String, &str> = BTreeMap::new();
            for c in &changes {
                let here = unit[c.id.as_str()];
                for d in &c.depends_on {
                    prop_assert_eq!(unit[d.0.as_str()], here);
                }
                for r in &c.rollback_with {
                    prop_assert_eq!(unit[r.as_str()], here);
                }
                for s in &c.schemas {
                    let first = *schema_first.entry(s).or_insert(c.id.as_str());
                    prop_assert_eq!(unit[first], here);
                }
            }
            // Deterministic output.
            prop_assert_eq!(b, bundle_changes(&release(changes)));
        }
    }
}
