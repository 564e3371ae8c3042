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
