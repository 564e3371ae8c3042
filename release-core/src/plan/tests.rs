//! Unit tests of the planner against the shop example and small hand-made platforms.

use std::collections::BTreeMap;

use super::*;
use crate::manifest::ManifestSet;
use crate::model::{
    Environment, Lifecycle, Ownership, Phase, PhaseRequirement, ReleaseDocumentKind, ReleaseKind,
    ReleaseManager, ReleaseMetadata,
};

fn shop() -> (Platform, Release) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/manifests/shop.yaml"
    );
    let set = ManifestSet::load(&[path]).expect("the shop example loads");
    let release = set.releases[0].value.clone();
    let platform = set
        .platform_for(&release)
        .expect("the shop release names the shop platform")
        .value
        .clone();
    (platform, release)
}

fn component(id: &str, deps: &[&str]) -> Component {
    Component {
        id: id.into(),
        owner: Ownership {
            primary: "a@x".into(),
            backup: "b@x".into(),
        },
        team: None,
        criticality: Criticality::Medium,
        depends_on: deps.iter().map(|d| ComponentId::from(*d)).collect(),
        shared_resources: Vec::new(),
        estimated_duration: None,
        strategy: None,
        config: BTreeMap::new(),
        stateful: false,
        migrations: None,
        api_version: None,
    }
}

fn platform(components: Vec<Component>) -> Platform {
    Platform {
        components,
        environments: vec![Environment {
            name: "dev".into(),
            tier: Tier::Development,
            protected: false,
            targets: BTreeMap::new(),
            parameters: BTreeMap::new(),
            bindings: BTreeMap::new(),
            windows: Vec::new(),
        }],
        lifecycle: Lifecycle {
            phases: vec![Phase {
                name: "develop".into(),
                environments: vec!["dev".into()],
                required: PhaseRequirement::All,
                entry_gates: Vec::new(),
                exit_gates: Vec::new(),
            }],
        },
        ..Platform::default()
    }
}

fn release(ships: &[&str]) -> Release {
    Release {
        api_version: Default::default(),
        document: ReleaseDocumentKind::Release,
        metadata: ReleaseMetadata {
            id: "r1".into(),
            labels: BTreeMap::new(),
        },
        version: semver::Version::new(1, 0, 0),
        platform: String::new(),
        kind: ReleaseKind::Delta,
        release_manager: ReleaseManager {
            primary: "a@x".into(),
            backup: "b@x".into(),
        },
        schedule: None,
        change_requests: Vec::new(),
        changes: Vec::new(),
        components: ships
            .iter()
            .map(|id| {
                (
                    ComponentId::from(*id),
                    ComponentVersion {
                        version: semver::Version::new(1, 2, 3),
                        artifact: None,
                        api_version: None,
                        migrations: None,
                    },
                )
            })
            .collect(),
        rollback: None,
        max_parallel: None,
    }
}

fn wave_ids(stage: &Stage) -> Vec<Vec<&str>> {
    stage
        .waves
        .iter()
        .map(|w| w.steps.iter().map(|s| s.component.as_str()).collect())
        .collect()
}

#[test]
fn shop_deploys_orders_db_before_orders_api_before_web() {
    let (platform, release) = shop();
    let plan = plan_release(&platform, &release, &PlanOptions::default()).expect("shop plans");
    let envs: Vec<&str> = plan.stages.iter().map(|s| s.environment.as_str()).collect();
    assert_eq!(envs, ["dev", "staging", "production"]);
    for stage in &plan.stages {
        assert_eq!(
            wave_ids(stage),
            vec![vec!["orders-db"], vec!["orders-api"], vec!["web"]]
        );
        // 3m + 4m + 5m
        assert_eq!(stage.estimated_duration, HumanDuration::from_mins(12));
    }
    let api = &plan.stages[0].waves[1].steps[0];
    assert_eq!(api.version, semver::Version::new(3, 8, 0));
    assert_eq!(api.strategy, StrategyName::Canary);
    assert!(
        api.artifact
            .as_deref()
            .is_some_and(|a| a.starts_with("sha256:"))
    );
    assert_eq!(
        plan.stages[0].waves[2].steps[0].strategy,
        StrategyName::Rolling
    );
    assert_eq!(
        plan.stages[0].waves[0].steps[0].strategy,
        StrategyName::AllAtOnce
    );
    assert_eq!(
        plan.critical_path.components,
        vec![
            ComponentId::from("orders-db"),
            "orders-api".into(),
            "web".into()
        ]
    );
    assert_eq!(plan.critical_path.duration, HumanDuration::from_mins(12));
    assert_eq!(plan.estimated_duration, HumanDuration::from_mins(36));
}

#[test]
fn shop_rollback_reverses_each_stage() {
    let (platform, release) = shop();
    let plan = plan_release(&platform, &release, &PlanOptions::default()).expect("shop plans");
    assert_eq!(plan.rollback.len(), plan.stages.len());
    let back: Vec<&str> = plan.rollback[2]
        .steps()
        .map(|s| s.component.as_str())
        .collect();
    assert_eq!(back, ["web", "orders-api", "orders-db"]);
    assert_eq!(plan.rollback[2].environment, "production");
    assert_eq!(
        plan.rollback[2].waves[0].steps[0].restore,
        RestoreTarget::PreviousVersion
    );
    assert_eq!(
        plan.rollback[2].waves[0].steps[0].from,
        semver::Version::new(7, 1, 0)
    );
}

#[test]
fn shop_blast_radius_covers_unshipped_dependents() {
    let (platform, release) = shop();
    let plan = plan_release(&platform, &release, &PlanOptions::default()).expect("shop plans");
    let db = &plan.blast_radius[&ComponentId::from("orders-db")];
    let ids: Vec<&str> = db.dependents.iter().map(ComponentId::as_str).collect();
    assert_eq!(ids, ["orders-api", "payments-api", "web"]);
    assert_eq!(db.max_criticality, Some(Criticality::Critical));
    assert_eq!(plan.blast_radius.len(), 3);
    // On demand, for a component the release does not ship.
    let catalog = plan
        .blast_radius("catalog-db")
        .expect("a platform component");
    let ids: Vec<&str> = catalog.dependents.iter().map(ComponentId::as_str).collect();
    assert_eq!(ids, ["catalog-api", "search", "web"]);
    assert_eq!(catalog.max_criticality, Some(Criticality::High));
    assert!(plan.blast_radius("nope").is_none());
}

#[test]
fn shop_text_lists_waves_rollback_and_critical_path() {
    let (platform, release) = shop();
    let options = PlanOptions::new().with_environment("production");
    let plan = plan_release(&platform, &release, &options).expect("shop plans");
    let text = plan.to_text();
    assert!(
        text.contains("Critical path (12m): orders-db → orders-api → web"),
        "{text}"
    );
    assert!(text.contains("Stage 1/1: production (production, phase release), estimated 12m"));
    assert!(text.contains("wave 2"), "{text}");
    assert!(text.contains("orders-api  3.8.0   canary"), "{text}");
    assert!(text.contains("rollback, each component to its previous version"));
    assert!(
        text.contains(
            "orders-db   3 dependents, max criticality critical: orders-api, payments-api, web"
        ),
        "{text}"
    );
}

#[test]
fn shop_json_is_deterministic_and_round_trips() {
    let (platform, release) = shop();
    let a = plan_release(&platform, &release, &PlanOptions::default()).expect("shop plans");
    let b = plan_release(&platform, &release, &PlanOptions::default()).expect("shop plans");
    let ja = serde_json::to_string_pretty(&a).expect("plans serialize");
    assert_eq!(
        ja,
        serde_json::to_string_pretty(&b).expect("plans serialize")
    );
    let back: Plan = serde_json::from_str(&ja).expect("plans deserialize");
    assert_eq!(back, a);
    assert!(back.blast_radius("orders-db").is_some());
}

#[test]
fn only_the_named_environment_is_planned() {
    let (platform, release) = shop();
    let plan = plan_release(
        &platform,
        &release,
        &PlanOptions::new().with_environment("staging"),
    )
    .expect("shop plans");
    assert_eq!(plan.stages.len(), 1);
    assert_eq!(plan.stages[0].tier, Tier::Staging);
    assert_eq!(plan.stages[0].phase, "verify");
}

#[test]
fn unknown_environment_names_the_known_ones() {
    let (platform, release) = shop();
    let err = plan_release(
        &platform,
        &release,
        &PlanOptions::new().with_environment("qa"),
    )
    .expect_err("qa is not in the lifecycle");
    assert_eq!(
        err.to_string(),
        "environment `qa` is not in the platform's lifecycle; plan one of `dev`, `staging`, `production` or add it to a lifecycle phase"
    );
}

#[test]
fn lifecycle_environment_missing_from_platform() {
    let mut p = platform(vec![component("a", &[])]);
    p.lifecycle.phases[0].environments.push("qa".into());
    let err = plan_release(&p, &release(&["a"]), &PlanOptions::default()).expect_err("qa missing");
    assert!(matches!(err, PlanError::UnknownLifecycleEnvironment { .. }));
    assert!(
        err.to_string()
            .contains("lifecycle phase `develop` names environment `qa`")
    );
}

#[test]
fn cycle_prints_the_path_and_a_fix() {
    let p = platform(vec![
        component("orders-api", &["orders-db"]),
        component("orders-db", &["orders-api"]),
        component("web", &["orders-api"]),
    ]);
    let err = plan_release(&p, &release(&["web"]), &PlanOptions::default()).expect_err("cycle");
    assert_eq!(
        err,
        PlanError::Cycle {
            path: vec!["orders-api".into(), "orders-db".into(), "orders-api".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "dependency cycle: orders-api → orders-db → orders-api; no order can deploy these components, so remove one of these `depends_on` entries (for example `orders-api` depending on `orders-db`)"
    );
}

#[test]
fn self_dependency_is_a_cycle() {
    let p = platform(vec![component("a", &["a"])]);
    let err = plan_release(&p, &release(&["a"]), &PlanOptions::default()).expect_err("cycle");
    assert!(
        err.to_string().starts_with("dependency cycle: a → a;"),
        "{err}"
    );
}

#[test]
fn unknown_dependency_names_both_ids() {
    let p = platform(vec![component("web", &["orders-apj"])]);
    let err = plan_release(&p, &release(&["web"]), &PlanOptions::default()).expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "component `web` depends on `orders-apj`, which is not a component of the platform; add `orders-apj` to the platform's components or remove it from `web`'s `depends_on`"
    );
}

#[test]
fn unknown_shipped_component() {
    let p = platform(vec![component("web", &[])]);
    let err = plan_release(&p, &release(&["web", "ghost"]), &PlanOptions::default())
        .expect_err("ghost is unknown");
    assert!(matches!(&err, PlanError::UnknownComponent { component, .. } if component == "ghost"));
    assert!(err.to_string().contains("the release ships `ghost`"));
}

#[test]
fn duplicate_component_is_refused() {
    let p = platform(vec![component("a", &[]), component("a", &[])]);
    let err = plan_release(&p, &release(&["a"]), &PlanOptions::default()).expect_err("duplicate");
    assert_eq!(
        err,
        PlanError::DuplicateComponent {
            component: "a".into()
        }
    );
}

#[test]
fn order_is_transitive_through_unshipped_components() {
    let p = platform(vec![
        component("a", &["b"]),
        component("b", &["c"]),
        component("c", &[]),
    ]);
    let plan = plan_release(&p, &release(&["a", "c"]), &PlanOptions::default()).expect("plans");
    assert_eq!(wave_ids(&plan.stages[0]), vec![vec!["c"], vec!["a"]]);
    assert_eq!(
        plan.critical_path.components,
        vec![ComponentId::from("c"), "a".into()]
    );
}

#[test]
fn parallelism_cap_splits_waves_in_sorted_order() {
    let p = platform(vec![
        component("e", &[]),
        component("d", &[]),
        component("c", &[]),
        component("b", &[]),
        component("a", &[]),
        component("z", &["a"]),
    ]);
    let mut r = release(&["a", "b", "c", "d", "e", "z"]);
    r.max_parallel = Some(3);
    let plan = plan_release(&p, &r, &PlanOptions::default()).expect("plans");
    assert_eq!(
        wave_ids(&plan.stages[0]),
        vec![vec!["a", "b", "c"], vec!["d", "e"], vec!["z"]]
    );
    assert_eq!(plan.max_parallel, Some(3));
    let indices: Vec<u32> = plan.stages[0].waves.iter().map(|w| w.index).collect();
    assert_eq!(indices, [0, 1, 2]);
    // Options override the release.
    let plan = plan_release(&p, &r, &PlanOptions::new().with_max_parallel(2)).expect("plans");
    assert_eq!(
        wave_ids(&plan.stages[0]),
        vec![vec!["a", "b"], vec!["c", "d"], vec!["e"], vec!["z"]]
    );
    // 5m per wave by default.
    assert_eq!(
        plan.stages[0].estimated_duration,
        HumanDuration::from_mins(20)
    );
    let err = plan_release(&p, &r, &PlanOptions::new().with_max_parallel(0)).expect_err("zero");
    assert_eq!(
        err,
        PlanError::ZeroParallelism {
            origin: "plan options"
        }
    );
}

#[test]
fn default_duration_applies_to_unestimated_components() {
    let mut a = component("a", &[]);
    a.estimated_duration = Some(HumanDuration::from_secs(30));
    let p = platform(vec![a, component("b", &["a"])]);
    let options = PlanOptions::new().with_default_duration(HumanDuration::from_mins(2));
    let plan = plan_release(&p, &release(&["a", "b"]), &options).expect("plans");
    assert_eq!(plan.critical_path.duration, HumanDuration::from_secs(150));
    assert_eq!(
        plan.stages[0].waves[1].steps[0].estimated_duration,
        HumanDuration::from_mins(2)
    );
}

#[test]
fn empty_release_plans_empty_stages() {
    let p = platform(vec![component("a", &[])]);
    let plan = plan_release(&p, &release(&[]), &PlanOptions::default()).expect("plans");
    assert!(plan.stages[0].waves.is_empty());
    assert!(plan.critical_path.components.is_empty());
    assert!(plan.to_text().contains("nothing to deploy"));
}

/// A planner can be kept in a host's shared state.
#[test]
fn planner_is_send_and_sync() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<super::Planner>();
}

/// `gallop` finds what a binary search from the same start finds, for every start and key:
/// present ids, ids between, before and after all of them, and prefixes of ids.
#[test]
fn gallop_agrees_with_partition_point() {
    let mut ids: Vec<ComponentId> = (0..200u32)
        .map(|i| ComponentId::new(format!("{}{}", "c".repeat((i % 20) as usize + 1), i * 3)))
        .collect();
    ids.sort_by(|a, b| super::index::cmp_text(a.as_str(), b.as_str()));
    let mut keys: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
    keys.extend(ids.iter().map(|id| format!("{}0", id.as_str())));
    keys.extend(
        ids.iter()
            .map(|id| id.as_str()[..id.as_str().len() - 1].to_owned()),
    );
    keys.extend(["", "a", "zzzz"].map(String::from));
    for from in 0..=ids.len() {
        for key in &keys {
            let expected = from
                + ids[from..]
                    .partition_point(|id| super::index::cmp_text(id.as_str(), key).is_lt());
            assert_eq!(
                super::gallop(&ids, from, key),
                expected,
                "from {from}, key {key:?}"
            );
        }
    }
}

/// `plan_release` reports the options' mistakes before the platform's, as it did before the
/// planner was split; a kept `Planner` reports a release's unknown component, and refuses a
/// cyclic platform when it is made.
#[test]
fn error_precedence_of_plan_release_and_planner() {
    let cyclic = platform(vec![component("a", &["b"]), component("b", &["a"])]);
    let err = plan_release(
        &cyclic,
        &release(&["a"]),
        &PlanOptions::new().with_environment("qa"),
    )
    .expect_err("qa and a cycle");
    assert!(matches!(err, PlanError::UnknownEnvironment { .. }), "{err}");
    let err = plan_release(
        &cyclic,
        &release(&["a"]),
        &PlanOptions::new().with_max_parallel(0),
    )
    .expect_err("zero cap and a cycle");
    assert!(matches!(err, PlanError::ZeroParallelism { .. }), "{err}");
    // The release's unknown component before the platform's cycle, as before the split...
    let err = plan_release(&cyclic, &release(&["a", "ghost"]), &PlanOptions::default())
        .expect_err("ghost and a cycle");
    assert!(matches!(err, PlanError::UnknownComponent { .. }), "{err}");
    // ...and the cycle, with its ids, when the release is fine.
    let err =
        plan_release(&cyclic, &release(&["a"]), &PlanOptions::default()).expect_err("a cycle");
    assert_eq!(
        err,
        PlanError::Cycle {
            path: vec!["a".into(), "b".into(), "a".into()]
        }
    );
    // A kept planner refuses the cyclic platform when it is made.
    assert_eq!(Planner::new(&cyclic).map(|_| ()), Err(err));
    let planner = Planner::new(&platform(vec![component("a", &[])])).expect("acyclic");
    assert!(matches!(
        planner.plan(&release(&["a", "b"]), &PlanOptions::default()),
        Err(PlanError::UnknownComponent { .. })
    ));
    assert!(matches!(
        planner.plan(&release(&["a"]), &PlanOptions::new().with_environment("qa")),
        Err(PlanError::UnknownEnvironment { .. })
    ));
}
