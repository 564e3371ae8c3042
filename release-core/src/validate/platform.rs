//! Rules on a platform document alone: structure, analyses, ownership (M1.5), M2.5.

use std::collections::{BTreeMap, BTreeSet};

use super::{Pointer, Violation, ViolationKind as K};
use crate::id::{AnalysisName, ComponentId, PhaseName, SharedResourceId};
use crate::manifest::escape_segment;
use crate::model::{CanaryStep, GateSpec, Platform, StrategySpec, Tier};

struct Out<'a> {
    platform: &'a str,
    violations: Vec<Violation>,
}

impl Out<'_> {
    fn push(&mut self, kind: K, path: String) {
        self.violations
            .push(Violation::new(kind, Pointer::platform(self.platform, path)));
    }
}

/// Reports every second (and later) occurrence of an id.
fn duplicates<'a, T: Ord + 'a>(ids: impl Iterator<Item = &'a T>) -> Vec<(usize, &'a T)> {
    let mut seen = BTreeSet::new();
    ids.enumerate()
        .filter(|(_, id)| !seen.insert(*id))
        .collect()
}

pub(super) fn validate(platform: &Platform) -> Vec<Violation> {
    let mut out = Out {
        platform: &platform.metadata.name,
        violations: Vec::new(),
    };
    structure(platform, &mut out);
    cycles(platform, &mut out);
    analyses(platform, &mut out);
    shared_resources(platform, &mut out);
    out.violations
}

/// A dependency cycle, reported at the first component's `depends_on` (the planner would
/// refuse the platform; reporting it here lists it with every other violation).
fn cycles(p: &Platform, out: &mut Out<'_>) {
    let mut index: BTreeMap<&ComponentId, u32> = BTreeMap::new();
    for c in &p.components {
        let next = u32::try_from(index.len()).unwrap_or(u32::MAX);
        index.entry(&c.id).or_insert(next);
    }
    let ids: Vec<&ComponentId> = {
        let mut by_index: Vec<(u32, &ComponentId)> =
            index.iter().map(|(id, i)| (*i, *id)).collect();
        by_index.sort();
        by_index.into_iter().map(|(_, id)| id).collect()
    };
    let edges: Vec<(u32, u32)> = p
        .components
        .iter()
        .flat_map(|c| {
            let from = index[&c.id];
            c.depends_on
                .iter()
                .filter_map(|d| index.get(d))
                .map(move |to| (from, *to))
        })
        .collect();
    let Ok(graph) = crate::plan::DependencyGraph::from_edges(ids.len(), &edges) else {
        return;
    };
    if let Some(path) = graph.find_cycle() {
        let path: Vec<ComponentId> = path.iter().map(|i| ids[*i as usize].clone()).collect();
        let first = path.first().cloned();
        let at = first
            .and_then(|f| p.components.iter().position(|c| c.id == f))
            .map_or_else(
                || "/components".to_owned(),
                |i| format!("/components/{i}/depends_on"),
            );
        out.push(K::DependencyCycle { path }, at);
    }
}

fn structure(p: &Platform, out: &mut Out<'_>) {
    for (i, id) in duplicates(p.components.iter().map(|c| &c.id)) {
        out.push(
            K::DuplicateComponent {
                component: id.clone(),
            },
            format!("/components/{i}/id"),
        );
    }
    for (i, name) in duplicates(p.environments.iter().map(|e| &e.name)) {
        out.push(
            K::DuplicateEnvironment {
                environment: name.clone(),
            },
            format!("/environments/{i}/name"),
        );
    }
    for (i, id) in duplicates(p.shared_resources.iter().map(|r| &r.id)) {
        out.push(
            K::DuplicateSharedResource {
                resource: id.clone(),
            },
            format!("/shared_resources/{i}/id"),
        );
    }
    for (i, name) in duplicates(p.lifecycle.phases.iter().map(|ph| &ph.name)) {
        out.push(
            K::DuplicatePhase {
                phase: name.clone(),
            },
            format!("/lifecycle/phases/{i}/name"),
        );
    }

    for (i, c) in p.components.iter().enumerate() {
        for (j, dep) in c.depends_on.iter().enumerate() {
            if p.component(dep.as_str()).is_none() {
                out.push(
                    K::UnknownComponentDependency {
                        component: c.id.clone(),
                        depends_on: dep.clone(),
                    },
                    format!("/components/{i}/depends_on/{j}"),
                );
            }
        }
        for (j, r) in c.shared_resources.iter().enumerate() {
            if p.shared_resource(r.as_str()).is_none() {
                out.push(
                    K::UnknownSharedResource {
                        component: c.id.clone(),
                        resource: r.clone(),
                    },
                    format!("/components/{i}/shared_resources/{j}"),
                );
            }
        }
        if c.owner.primary == c.owner.backup {
            out.push(
                K::SameComponentOwners {
                    component: c.id.clone(),
                    person: c.owner.primary.clone(),
                },
                format!("/components/{i}/owner/backup"),
            );
        }
    }

    let mut phase_of: BTreeMap<&str, &PhaseName> = BTreeMap::new();
    for (i, phase) in p.lifecycle.phases.iter().enumerate() {
        for (j, env) in phase.environments.iter().enumerate() {
            let path = format!("/lifecycle/phases/{i}/environments/{j}");
            if p.environment(env.as_str()).is_none() {
                out.push(
                    K::UnknownPhaseEnvironment {
                        phase: phase.name.clone(),
                        environment: env.clone(),
                    },
                    path.clone(),
                );
            }
            match phase_of.get(env.as_str()) {
                Some(first) if **first != phase.name => out.push(
                    K::EnvironmentInSeveralPhases {
                        environment: env.clone(),
                        first: (*first).clone(),
                        second: phase.name.clone(),
                    },
                    path,
                ),
                Some(_) => {}
                None => {
                    phase_of.insert(env.as_str(), &phase.name);
                }
            }
        }
    }
    if p.lifecycle.phases.is_empty() && !p.environments.is_empty() {
        let mut environments: Vec<_> = p.environments.iter().map(|e| e.name.clone()).collect();
        environments.sort();
        environments.dedup();
        out.push(K::EmptyLifecycle { environments }, "/lifecycle".to_owned());
    }
}

fn analyses(p: &Platform, out: &mut Out<'_>) {
    let mut check = |name: &AnalysisName, used_by: String, path: String| {
        if !p.analyses.contains_key(name) {
            out.push(
                K::UnknownAnalysis {
                    analysis: name.clone(),
                    used_by,
                },
                path,
            );
        }
    };
    for (i, c) in p.components.iter().enumerate() {
        let base = format!("/components/{i}/strategy");
        match &c.strategy {
            Some(StrategySpec::Canary(spec)) => {
                for (j, step) in spec.steps.iter().enumerate() {
                    if let CanaryStep::Analysis(name) = step {
                        check(
                            name,
                            format!("component `{}` (canary step {})", c.id, j + 1),
                            format!("{base}/canary/steps/{j}/analysis"),
                        );
                    }
                }
                if let Some(name) = &spec.background_analysis {
                    check(
                        name,
                        format!("component `{}` (canary background analysis)", c.id),
                        format!("{base}/canary/background_analysis"),
                    );
                }
            }
            Some(StrategySpec::BlueGreen(spec)) => {
                for (field, name) in [
                    ("pre_promotion_analysis", &spec.pre_promotion_analysis),
                    ("post_promotion_analysis", &spec.post_promotion_analysis),
                ] {
                    if let Some(name) = name {
                        check(
                            name,
                            format!("component `{}` (blue-green {field})", c.id),
                            format!("{base}/blue_green/{field}"),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    for (i, phase) in p.lifecycle.phases.iter().enumerate() {
        for (field, gates) in [
            ("entry_gates", &phase.entry_gates),
            ("exit_gates", &phase.exit_gates),
        ] {
            for (j, gate) in gates.iter().enumerate() {
                if let GateSpec::Analysis { name } = gate {
                    check(
                        name,
                        format!("gate {} of phase `{}` ({field})", j + 1, phase.name),
                        format!("/lifecycle/phases/{i}/{field}/{j}/analysis/name"),
                    );
                }
            }
        }
    }
}

/// Bindings (unknown keys and targets) and M2.5: no non-production environment may bind a
/// production resource for any resource a component uses.
fn shared_resources(p: &Platform, out: &mut Out<'_>) {
    let mut users: BTreeMap<&SharedResourceId, Vec<ComponentId>> = BTreeMap::new();
    for c in &p.components {
        for r in &c.shared_resources {
            users.entry(r).or_default().push(c.id.clone());
        }
    }
    for comps in users.values_mut() {
        comps.sort();
        comps.dedup();
    }
    for (i, env) in p.environments.iter().enumerate() {
        for (from, to) in &env.bindings {
            let path = format!(
                "/environments/{i}/bindings/{}",
                escape_segment(from.as_str())
            );
            if p.shared_resource(from.as_str()).is_none() {
                out.push(
                    K::UnknownBindingSource {
                        environment: env.name.clone(),
                        resource: from.clone(),
                    },
                    path.clone(),
                );
            }
            if p.shared_resource(to.as_str()).is_none() {
                out.push(
                    K::UnknownBindingTarget {
                        environment: env.name.clone(),
                        resource: from.clone(),
                        target: to.clone(),
                    },
                    path,
                );
            }
        }
        if env.tier == Tier::Production {
            continue;
        }
        for (declared, components) in &users {
            let bound = env.bound_resource(declared);
            // Unknown resources are reported above (binding) or on the component.
            let Some(resource) = p.shared_resource(bound.as_str()) else {
                continue;
            };
            if resource.tier == Tier::Production {
                let path = if env.bindings.contains_key(*declared) {
                    format!(
                        "/environments/{i}/bindings/{}",
                        escape_segment(declared.as_str())
                    )
                } else {
                    format!("/environments/{i}/name")
                };
                out.push(
                    K::ProductionResourceInNonProduction {
                        environment: env.name.clone(),
                        tier: env.tier,
                        declared: (*declared).clone(),
                        resource: bound.clone(),
                        components: components.clone(),
                    },
                    path,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        AnalysisTemplate, Component, Environment, Lifecycle, MetricRef, Ownership, Phase,
        PlatformMetadata, SharedResource,
    };

    pub(crate) fn component(id: &str) -> Component {
        Component {
            id: id.into(),
            owner: Ownership {
                primary: "ana".into(),
                backup: "raj".into(),
            },
            team: None,
            criticality: Default::default(),
            depends_on: vec![],
            shared_resources: vec![],
            estimated_duration: None,
            strategy: None,
            config: Default::default(),
            stateful: false,
            migrations: None,
            api_version: None,
        }
    }

    fn env(name: &str, tier: Tier) -> Environment {
        Environment {
            name: name.into(),
            tier,
            protected: false,
            targets: Default::default(),
            parameters: Default::default(),
            bindings: Default::default(),
            windows: vec![],
        }
    }

    fn phase(name: &str, envs: &[&str]) -> Phase {
        Phase {
            name: name.into(),
            environments: envs.iter().map(|e| (*e).into()).collect(),
            required: Default::default(),
            entry_gates: vec![],
            exit_gates: vec![],
        }
    }

    fn platform() -> Platform {
        Platform {
            metadata: PlatformMetadata {
                name: "shop".into(),
                labels: Default::default(),
            },
            components: vec![component("api"), component("db")],
            shared_resources: vec![
                SharedResource {
                    id: "pg".into(),
                    kind: Default::default(),
                    tier: Tier::Production,
                    description: None,
                },
                SharedResource {
                    id: "pg-dev".into(),
                    kind: Default::default(),
                    tier: Tier::Development,
                    description: None,
                },
            ],
            environments: vec![env("dev", Tier::Development), env("prod", Tier::Production)],
            lifecycle: Lifecycle {
                phases: vec![phase("build", &["dev"]), phase("ship", &["prod"])],
            },
            ..Default::default()
        }
    }

    fn only(p: &Platform) -> ViolationKind {
        let v = validate(p);
        assert_eq!(v.len(), 1, "{v:#?}");
        v[0].kind.clone()
    }

    use super::super::ViolationKind;

    #[test]
    fn valid_platform_has_no_violation() {
        assert!(validate(&platform()).is_empty());
    }

    #[test]
    fn duplicates_are_reported_with_the_id() {
        let mut p = platform();
        p.components.push(component("api"));
        p.environments.push(env("dev", Tier::Development));
        p.shared_resources.push(p.shared_resources[0].clone());
        p.lifecycle.phases.push(phase("build", &[]));
        let v = validate(&p);
        let kinds: Vec<_> = v.iter().map(|v| v.kind.clone()).collect();
        assert!(kinds.contains(&ViolationKind::DuplicateComponent {
            component: "api".into()
        }));
        assert!(kinds.contains(&ViolationKind::DuplicateEnvironment {
            environment: "dev".into()
        }));
        assert!(kinds.contains(&ViolationKind::DuplicateSharedResource {
            resource: "pg".into()
        }));
        assert!(kinds.contains(&ViolationKind::DuplicatePhase {
            phase: "build".into()
        }));
        assert_eq!(v.len(), 4, "{v:#?}");
        assert!(v[0].to_string().contains("`api`"), "{}", v[0]);
    }

    #[test]
    fn unknown_references_name_both_ends() {
        let mut p = platform();
        p.components[0].depends_on.push("cache".into());
        let k = only(&p);
        assert_eq!(
            k,
            ViolationKind::UnknownComponentDependency {
                component: "api".into(),
                depends_on: "cache".into()
            }
        );
        assert!(k.to_string().contains("`api`") && k.to_string().contains("`cache`"));

        let mut p = platform();
        p.components[1].shared_resources.push("redis".into());
        assert_eq!(
            only(&p),
            ViolationKind::UnknownSharedResource {
                component: "db".into(),
                resource: "redis".into()
            }
        );

        let mut p = platform();
        p.lifecycle.phases[0].environments.push("qa".into());
        assert_eq!(
            only(&p),
            ViolationKind::UnknownPhaseEnvironment {
                phase: "build".into(),
                environment: "qa".into()
            }
        );
    }

    #[test]
    fn bindings_must_name_declared_resources() {
        let mut p = platform();
        p.environments[0]
            .bindings
            .insert("mq".into(), "pg-dev".into());
        assert_eq!(
            only(&p),
            ViolationKind::UnknownBindingSource {
                environment: "dev".into(),
                resource: "mq".into()
            }
        );
        let mut p = platform();
        p.environments[0]
            .bindings
            .insert("pg".into(), "pg-qa".into());
        let k = only(&p);
        assert_eq!(
            k,
            ViolationKind::UnknownBindingTarget {
                environment: "dev".into(),
                resource: "pg".into(),
                target: "pg-qa".into()
            }
        );
        assert!(k.to_string().contains("`pg-qa`"));
    }

    #[test]
    fn environment_in_two_phases_and_empty_lifecycle() {
        let mut p = platform();
        p.lifecycle.phases[1].environments.push("dev".into());
        let k = only(&p);
        assert_eq!(
            k,
            ViolationKind::EnvironmentInSeveralPhases {
                environment: "dev".into(),
                first: "build".into(),
                second: "ship".into()
            }
        );
        let mut p = platform();
        p.lifecycle.phases.clear();
        assert_eq!(
            only(&p),
            ViolationKind::EmptyLifecycle {
                environments: vec!["dev".into(), "prod".into()]
            }
        );
    }

    #[test]
    fn unknown_analyses_in_strategies_and_gates() {
        let mut p = platform();
        p.components[0].strategy = Some(StrategySpec::Canary(crate::model::CanarySpec {
            steps: vec![
                CanaryStep::SetWeight(10),
                CanaryStep::Analysis("error-rate".into()),
            ],
            background_analysis: Some("latency".into()),
            max_surge: crate::model::CountOrPercent::Percent(25),
            max_unavailable: crate::model::CountOrPercent::Percent(25),
            abort_scale_down_delay: crate::model::HumanDuration::from_secs(30),
            rollback_window: None,
        }));
        p.components[1].strategy = Some(StrategySpec::BlueGreen(crate::model::BlueGreenSpec {
            post_promotion_analysis: Some("smoke".into()),
            ..Default::default()
        }));
        p.lifecycle.phases[1]
            .entry_gates
            .push(GateSpec::Analysis { name: "slo".into() });
        let v = validate(&p);
        let names: Vec<_> = v
            .iter()
            .map(|v| match &v.kind {
                ViolationKind::UnknownAnalysis { analysis, .. } => analysis.to_string(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(names, ["error-rate", "latency", "smoke", "slo"]);
        assert!(
            v[0].to_string().contains("component `api` (canary step 2)"),
            "{}",
            v[0]
        );
        assert_eq!(
            v[0].at.as_ref().map(|p| p.path.as_str()),
            Some("/components/0/strategy/canary/steps/1/analysis")
        );

        p.analyses.insert(
            "error-rate".into(),
            AnalysisTemplate {
                metric: MetricRef {
                    source: "router".into(),
                    query: "q".into(),
                },
                success: None,
                failure: None,
                interval: crate::model::HumanDuration::from_secs(30),
                count: None,
                failure_limit: 0,
                inconclusive_limit: 0,
                consecutive_error_limit: 4,
                no_data: Default::default(),
            },
        );
        assert_eq!(validate(&p).len(), 3);
    }

    #[test]
    fn owners_must_differ() {
        let mut p = platform();
        p.components[1].owner.backup = "ana".into();
        let k = only(&p);
        assert_eq!(
            k,
            ViolationKind::SameComponentOwners {
                component: "db".into(),
                person: "ana".into()
            }
        );
        assert!(k.to_string().contains("`db`") && k.to_string().contains("`ana`"));
    }

    #[test]
    fn non_production_environment_may_not_bind_production_resource() {
        let mut p = platform();
        p.components[0].shared_resources.push("pg".into());
        p.components[1].shared_resources.push("pg".into());
        // dev binds pg to itself (no binding): a violation; prod may use it.
        let k = only(&p);
        assert_eq!(
            k,
            ViolationKind::ProductionResourceInNonProduction {
                environment: "dev".into(),
                tier: Tier::Development,
                declared: "pg".into(),
                resource: "pg".into(),
                components: vec!["api".into(), "db".into()],
            }
        );
        let text = k.to_string();
        assert!(
            text.contains("`dev`") && text.contains("`pg`") && text.contains("api, db"),
            "{text}"
        );
        p.environments[0]
            .bindings
            .insert("pg".into(), "pg-dev".into());
        assert!(validate(&p).is_empty());
        // An explicit binding to production is caught as well.
        p.environments.push(env("qa", Tier::Test));
        p.environments[2]
            .bindings
            .insert("pg-dev".into(), "pg".into());
        p.components[0].shared_resources.push("pg-dev".into());
        p.lifecycle.phases[0].environments.push("qa".into());
        let v = validate(&p);
        assert!(
            v.iter().any(|v| matches!(&v.kind,
            ViolationKind::ProductionResourceInNonProduction { environment, declared, .. }
                if environment == "qa" && declared == "pg-dev")),
            "{v:#?}"
        );
    }
}
