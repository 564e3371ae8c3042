//! Property tests of the planner on random DAGs (up to 60 components).
//!
//! Ids are `c0`, `c1`, … without padding, so id order (`c10` < `c2`) differs from the
//! generator's index order; edges go from a higher to a lower index, so the graph is acyclic.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use release_core::model::{
    Component, ComponentId, ComponentVersion, Criticality, Environment, HumanDuration, Lifecycle,
    Ownership, Phase, PhaseRequirement, Platform, Release, ReleaseDocumentKind, ReleaseKind,
    ReleaseManager, ReleaseMetadata, Tier,
};
use release_core::plan::{Plan, PlanError, PlanOptions, Planner, plan_release};

#[derive(Clone, Debug)]
struct Case {
    n: usize,
    /// `(dependent, dependency)` with dependent > dependency.
    edges: Vec<(usize, usize)>,
    shipped: Vec<bool>,
    durations: Vec<Option<u64>>,
    cap: Option<u32>,
    shuffle_seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..60).prop_flat_map(|n| {
        let edge = (1..n.max(2), any::<prop::sample::Index>());
        (
            Just(n),
            prop::collection::vec(edge, 0..n * 3),
            prop::collection::vec(any::<bool>(), n),
            prop::collection::vec(prop::option::of(1u64..600), n),
            prop::option::of(1u32..6),
            any::<u64>(),
        )
            .prop_map(|(n, raw, shipped, durations, cap, shuffle_seed)| {
                let edges = raw
                    .into_iter()
                    .filter(|&(a, _)| a < n)
                    .map(|(a, b)| (a, b.index(a)))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                Case {
                    n,
                    edges,
                    shipped,
                    durations,
                    cap,
                    shuffle_seed,
                }
            })
    })
}

fn id(i: usize) -> ComponentId {
    ComponentId::new(format!("c{i}"))
}

fn component(case: &Case, i: usize) -> Component {
    Component {
        id: id(i),
        owner: Ownership {
            primary: "a@x".into(),
            backup: "b@x".into(),
        },
        team: None,
        criticality: [Criticality::Low, Criticality::High][i % 2],
        depends_on: case
            .edges
            .iter()
            .filter(|&&(a, _)| a == i)
            .map(|&(_, b)| id(b))
            .collect(),
        shared_resources: Vec::new(),
        estimated_duration: case.durations[i].map(HumanDuration::from_secs),
        strategy: None,
        config: BTreeMap::new(),
        stateful: false,
        migrations: None,
        api_version: None,
    }
}

fn environment(name: &str, tier: Tier) -> Environment {
    Environment {
        name: name.into(),
        tier,
        protected: false,
        targets: BTreeMap::new(),
        parameters: BTreeMap::new(),
        bindings: BTreeMap::new(),
        windows: Vec::new(),
    }
}

fn platform(case: &Case) -> Platform {
    Platform {
        components: (0..case.n).map(|i| component(case, i)).collect(),
        environments: vec![
            environment("dev", Tier::Development),
            environment("prod", Tier::Production),
        ],
        lifecycle: Lifecycle {
            phases: vec![
                Phase {
                    name: "develop".into(),
                    environments: vec!["dev".into()],
                    required: PhaseRequirement::All,
                    entry_gates: Vec::new(),
                    exit_gates: Vec::new(),
                },
                Phase {
                    name: "release".into(),
                    environments: vec!["prod".into()],
                    required: PhaseRequirement::All,
                    entry_gates: Vec::new(),
                    exit_gates: Vec::new(),
                },
            ],
        },
        ..Platform::default()
    }
}

fn release(case: &Case) -> Release {
    Release {
        api_version: Default::default(),
        document: ReleaseDocumentKind::Release,
        metadata: ReleaseMetadata {
            id: "r".into(),
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
        components: (0..case.n)
            .filter(|&i| case.shipped[i])
            .map(|i| {
                (
                    id(i),
                    ComponentVersion {
                        version: semver::Version::new(1, i as u64, 0),
                        artifact: None,
                        api_version: None,
                        migrations: None,
                    },
                )
            })
            .collect(),
        rollback: None,
        max_parallel: case.cap,
    }
}

/// `reach[a]` = every node `a` transitively depends on.
fn reachability(case: &Case) -> Vec<BTreeSet<usize>> {
    let mut reach: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); case.n];
    // Dependencies have lower indices, so ascending order sees them first.
    for a in 0..case.n {
        for &(x, b) in &case.edges {
            if x == a {
                let below: Vec<usize> = reach[b].iter().copied().collect();
                reach[a].insert(b);
                reach[a].extend(below);
            }
        }
    }
    reach
}

/// A tiny deterministic shuffle (xorshift), enough to permute test input.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut s = seed | 1;
    for i in (1..items.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        items.swap(i, (s % (i as u64 + 1)) as usize);
    }
}

fn plan(case: &Case) -> Plan {
    match plan_release(&platform(case), &release(case), &PlanOptions::default()) {
        Ok(plan) => plan,
        Err(e) => panic!("an acyclic platform plans: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn shipped_dependencies_deploy_in_earlier_waves(case in case()) {
        let plan = plan(&case);
        let reach = reachability(&case);
        for stage in &plan.stages {
            let wave: BTreeMap<&str, u32> = stage
                .waves
                .iter()
                .flat_map(|w| w.steps.iter().map(move |s| (s.component.as_str(), w.index)))
                .collect();
            // Direct edges and, through unshipped components, transitive ones (covers M8.3's
            // premise that the deploy order is a dependency order).
            for a in 0..case.n {
                for &b in &reach[a] {
                    if case.shipped[a] && case.shipped[b] {
                        let (wa, wb) = (wave[id(a).as_str()], wave[id(b).as_str()]);
                        prop_assert!(wb < wa, "{} (wave {wa}) depends on {} (wave {wb})", id(a), id(b));
                    }
                }
            }
            if let Some(cap) = case.cap {
                prop_assert!(stage.waves.iter().all(|w| w.steps.len() <= cap as usize));
            }
            for w in &stage.waves {
                let ids: Vec<&ComponentId> = w.steps.iter().map(|s| &s.component).collect();
                prop_assert!(ids.windows(2).all(|p| p[0] < p[1]), "wave not sorted: {ids:?}");
            }
        }
    }

    #[test]
    fn every_shipped_component_appears_once_per_environment(case in case()) {
        let plan = plan(&case);
        prop_assert_eq!(plan.stages.len(), 2);
        let expected: Vec<ComponentId> =
            (0..case.n).filter(|&i| case.shipped[i]).map(id).collect::<BTreeSet<_>>().into_iter().collect();
        for stage in &plan.stages {
            let mut got: Vec<ComponentId> = stage.steps().map(|s| s.component.clone()).collect();
            got.sort();
            prop_assert_eq!(&got, &expected);
        }
    }

    #[test]
    fn rollback_is_the_exact_reverse_of_the_deploy_order(case in case()) {
        // covers M8.3: the rollback plan is computed up front and mirrors the deploy plan.
        let plan = plan(&case);
        prop_assert_eq!(plan.rollback.len(), plan.stages.len());
        for (stage, rollback) in plan.stages.iter().zip(&plan.rollback) {
            prop_assert_eq!(&rollback.environment, &stage.environment);
            let mut forward: Vec<(&ComponentId, &semver::Version)> =
                stage.steps().map(|s| (&s.component, &s.version)).collect();
            forward.reverse();
            let backward: Vec<(&ComponentId, &semver::Version)> =
                rollback.steps().map(|s| (&s.component, &s.from)).collect();
            prop_assert_eq!(forward, backward);
            let sizes: Vec<usize> = stage.waves.iter().rev().map(|w| w.steps.len()).collect();
            let back_sizes: Vec<usize> = rollback.waves.iter().map(|w| w.steps.len()).collect();
            prop_assert_eq!(sizes, back_sizes);
            prop_assert_eq!(&stage.rollback(), rollback);
        }
    }

    #[test]
    fn a_back_edge_is_reported_as_a_real_cycle(case in case(), pick in any::<prop::sample::Index>()) {
        let reach = reachability(&case);
        let pairs: Vec<(usize, usize)> =
            (0..case.n).flat_map(|a| reach[a].iter().map(move |&b| (a, b))).collect();
        prop_assume!(!pairs.is_empty());
        // `a` transitively depends on `b`; make `b` depend on `a`.
        let (a, b) = pairs[pick.index(pairs.len())];
        let mut cyclic = case.clone();
        cyclic.edges.push((b, a));
        let err = plan_release(&platform(&cyclic), &release(&cyclic), &PlanOptions::default())
            .expect_err("a back edge makes a cycle");
        let PlanError::Cycle { path } = &err else {
            return Err(TestCaseError::fail(format!("expected a cycle, got {err}")));
        };
        prop_assert!(path.len() >= 2);
        prop_assert_eq!(path.first(), path.last());
        let edges: BTreeSet<(ComponentId, ComponentId)> =
            cyclic.edges.iter().map(|&(x, y)| (id(x), id(y))).collect();
        for pair in path.windows(2) {
            prop_assert!(edges.contains(&(pair[0].clone(), pair[1].clone())), "{} → {} is no edge", pair[0], pair[1]);
        }
        let back_edge = path.windows(2).any(|p| p[0] == id(b) && p[1] == id(a));
        prop_assert!(back_edge, "{err}");
        let text = err.to_string();
        prop_assert!(text.contains(&format!("{} → {}", id(b), id(a))), "{}", text);
    }

    #[test]
    fn json_is_identical_across_runs_and_input_orders(case in case()) {
        let first = serde_json::to_string_pretty(&plan(&case)).expect("plans serialize");
        let second = serde_json::to_string_pretty(&plan(&case)).expect("plans serialize");
        prop_assert_eq!(&first, &second);
        let mut shuffled = platform(&case);
        shuffle(&mut shuffled.components, case.shuffle_seed);
        for (k, c) in shuffled.components.iter_mut().enumerate() {
            shuffle(&mut c.depends_on, case.shuffle_seed ^ k as u64);
        }
        let third = plan_release(&shuffled, &release(&case), &PlanOptions::default())
            .expect("a shuffled acyclic platform plans");
        prop_assert_eq!(&first, &serde_json::to_string_pretty(&third).expect("plans serialize"));
    }

    /// A release naming a component between, before or after the platform's ids, or a
    /// prefix or extension of one, is refused by name, however sparse the rest of it is (the
    /// merge gallops over the components a release does not ship). That plans equal the
    /// planner's before `Planner` existed is `plan_fingerprint.rs`'s job.
    #[test]
    fn a_release_naming_no_platform_component_is_refused_by_name(case in case(), stride in 1usize..5) {
        let platform = platform(&case);
        let planner = Planner::new(&platform).expect("an acyclic platform is indexed");
        prop_assert_eq!(planner.component_count(), case.n);
        let version = ComponentVersion {
            version: semver::Version::new(2, 0, 0),
            artifact: None,
            api_version: None,
            migrations: None,
        };
        let mut sparse = release(&case);
        sparse.components = (0..case.n).step_by(stride).map(|i| (id(i), version.clone())).collect();
        prop_assert!(planner.plan(&sparse, &PlanOptions::default()).is_ok());
        for stray in ["a", "c", "c0a", "zz"] {
            let mut bad = sparse.clone();
            bad.components.insert(ComponentId::new(stray), version.clone());
            match planner.plan(&bad, &PlanOptions::default()) {
                Err(PlanError::UnknownComponent { component, .. }) => prop_assert_eq!(component.as_str(), stray),
                other => prop_assert!(false, "{stray}: {other:?}"),
            }
        }
    }
}
