//! The planner: turns a [`Release`] and the [`Platform`] it targets into a [`Plan`] — per
//! lifecycle environment, waves of deploy steps in dependency order, the rollback plan, the
//! critical path and each shipped component's blast radius. The engine interprets the plan;
//! nothing here talks to a target.
//!
//! Decisions:
//!
//! - **Waves are barriers.** Wave `k` starts only when every step of wave `k - 1` has
//!   finished; steps inside a wave may run in parallel. A component's wave is its ASAP level:
//!   the number of shipped components on its longest dependency chain. A parallelism cap
//!   (`max_parallel`) splits an oversized wave into consecutive waves, keeping the sorted order.
//! - **Ordering is transitive through components the release does not ship.** If `a` depends
//!   on `b` which depends on `c` and only `a` and `c` ship, `a` goes in a later wave than `c`:
//!   levels are computed over the whole platform topology, and only shipped nodes add a level.
//!   A cycle anywhere in the platform is an error, even among unshipped components.
//! - **Rollback is computed up front** (covers M8.3): per stage, the flattened deploy order
//!   reversed — waves last to first, steps within a wave reversed. Each
//!   [`RollbackStage`] undoes its stage; `Plan::rollback[i]` belongs to `Plan::stages[i]`, so
//!   undoing the whole release runs them from the last deployed stage backwards. What to
//!   restore is [`RestoreTarget::PreviousVersion`]: the engine knows it from the ledger.
//! - **Blast radius on demand.** The plan keeps the reverse adjacency (direct dependents, as
//!   CSR over indices) and [`Plan::blast_radius`] walks it by BFS in O(reach). Materialising
//!   every component's transitive dependents is Θ(n²) in the worst case, so the serialized
//!   plan carries them only for the components the release ships, and
//!   [`PlanOptions::with_blast_radius`] can turn even that off for huge releases.
//! - **Critical path** is the heaviest chain of shipped components by estimated duration
//!   (components without an estimate count [`PlanOptions::default_duration`]); it is the same
//!   for every stage, so the plan stores it once.
//! - **Deterministic.** Components are indexed in id order before anything else, all maps are
//!   `BTreeMap`s and ties break by id, so the same input — in any listing order — yields a
//!   byte-identical JSON plan.
//!
//! - **A platform is indexed once.** [`Planner::new`] sorts the components, resolves every
//!   `depends_on`, builds the graph and checks it for cycles; [`Planner::plan`] then reads only
//!   the release. A host planning many releases against one platform (what-ifs per change,
//!   `releasectl plan` over a directory, validation of a release train) keeps the planner;
//!   [`plan_release`] does both for one release. Errors about the platform (an undeclared
//!   lifecycle environment, duplicate ids, an unknown dependency, a cycle) come from `new`,
//!   errors about the release or the options from `plan`. `plan_release` reports errors in
//!   the order it always did: the options (a zero cap, an environment outside the
//!   lifecycle), the platform's ids and names, the release's components, then a cycle,
//!   which its single Kahn pass finds.
//!
//! - **A low peak, no cache** (issue #10). A whole [`plan_release`] on 100,000 components
//!   holds, at its peak, the topology the plan keeps (ids and both CSR directions, 5.7 MB),
//!   the deploy and rollback steps (25.6 MB) and whatever else is still alive. When the
//!   caller drops the plan, everything the call allocated is freed at once, and glibc
//!   returns the top of the heap to the kernel when that free block exceeds its trim
//!   threshold (dynamic: twice the largest `mmap`ed block freed so far, 35 MB in the bench);
//!   the next plan then faults every page back in. At a 38 MB peak a loop of `plan_release`
//!   took ~8,700 page faults and ~120 `brk` calls per plan, about 15 % of its time. So the
//!   planner keeps its peak low: the release's versions gathered for the shipped nodes only
//!   (not in a per-node array), no per-node array of durations (each is read where it is
//!   used), everything only the deploy steps need freed before the rollback steps are
//!   built — including a one-off planner's per-node step data (durations, strategies:
//!   4 MB) —, and the dependency index's result allocated below its
//!   transient partitions (`index::resolve`), so that their space is one free block the
//!   steps reuse. A library cannot set the allocator's thresholds (that is the host's
//!   `mallopt` or `GLIBC_TUNABLES`), and keeping tens of megabytes cached between calls
//!   would trade the churn for resident memory, so it does neither.
//!
//! The heavy lifting happens on dense `u32` indices in [`DependencyGraph`] (CSR adjacency,
//! Kahn's algorithm, Tarjan SCC for cycles); ids are mapped back only when steps are built.

mod error;
mod graph;
mod index;
mod render;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use error::PlanError;
pub use graph::{DependencyGraph, GraphError, Waves};

use crate::id::{ComponentId, EnvironmentName, PhaseName, ReleaseId};
use crate::model::{
    Component, ComponentVersion, Criticality, HumanDuration, Platform, Release, StrategySpec, Tier,
};

/// What to plan and how; `PlanOptions::default()` plans every lifecycle environment.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanOptions {
    /// Plan only this environment.
    pub environment: Option<EnvironmentName>,
    /// Cap on steps per wave; overrides the release's `max_parallel`.
    pub max_parallel: Option<u32>,
    /// Duration of a component without an `estimated_duration` (default 5 minutes).
    pub default_duration: HumanDuration,
    /// Materialise the blast radius of every shipped component in the plan (default true).
    pub blast_radius: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            environment: None,
            max_parallel: None,
            default_duration: HumanDuration::from_mins(5),
            blast_radius: true,
        }
    }
}

impl PlanOptions {
    /// The defaults: every environment, the release's cap, 5 minutes per unknown duration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Plans only `environment`.
    pub fn with_environment(mut self, environment: impl Into<EnvironmentName>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Caps steps per wave, overriding the release's `max_parallel`.
    pub fn with_max_parallel(mut self, max_parallel: u32) -> Self {
        self.max_parallel = Some(max_parallel);
        self
    }

    /// Sets the duration assumed for components without an estimate.
    pub fn with_default_duration(mut self, duration: HumanDuration) -> Self {
        self.default_duration = duration;
        self
    }

    /// Whether the plan materialises shipped components' blast radius (Θ(shipped × reach)).
    pub fn with_blast_radius(mut self, enabled: bool) -> Self {
        self.blast_radius = enabled;
        self
    }
}

/// The rollout strategy a step uses, by name (`canary`, `rolling`, `blue_green`,
/// `all_at_once`, or a custom strategy's registered name).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyName {
    /// Replace every replica at once (also the default).
    AllAtOnce,
    /// Rolling update.
    Rolling,
    /// Blue-green switch.
    BlueGreen,
    /// Canary.
    Canary,
    /// A strategy the host registered under this name.
    Custom(String),
}

impl StrategyName {
    /// The strategy of a component (all-at-once when it names none).
    pub fn of(spec: Option<&StrategySpec>) -> Self {
        match spec {
            None | Some(StrategySpec::AllAtOnce {}) => Self::AllAtOnce,
            Some(StrategySpec::Rolling(_)) => Self::Rolling,
            Some(StrategySpec::BlueGreen(_)) => Self::BlueGreen,
            Some(StrategySpec::Canary(_)) => Self::Canary,
            Some(StrategySpec::Custom { name, .. }) => Self::Custom(name.clone()),
        }
    }

    /// The name as written in manifests.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AllAtOnce => "all_at_once",
            Self::Rolling => "rolling",
            Self::BlueGreen => "blue_green",
            Self::Canary => "canary",
            Self::Custom(name) => name,
        }
    }
}

impl fmt::Display for StrategyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StrategyName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StrategyName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(match name.as_str() {
            "all_at_once" => Self::AllAtOnce,
            "rolling" => Self::Rolling,
            "blue_green" => Self::BlueGreen,
            "canary" => Self::Canary,
            _ => Self::Custom(name),
        })
    }
}

/// Deploy one component at one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployStep {
    /// The component.
    pub component: ComponentId,
    /// The version the release ships.
    pub version: semver::Version,
    /// Its artifact reference, when the release names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// How it is rolled out.
    pub strategy: StrategyName,
    /// How long it is expected to take.
    pub estimated_duration: HumanDuration,
}

/// Steps that may run in parallel; the next wave starts when all of them finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    /// Position in the stage, from 0.
    pub index: u32,
    /// The steps, by component id.
    pub steps: Vec<DeployStep>,
}

impl Wave {
    /// The longest step of the wave: the wave's duration.
    pub fn estimated_duration(&self) -> HumanDuration {
        self.steps
            .iter()
            .map(|s| s.estimated_duration)
            .max()
            .unwrap_or_default()
    }
}

/// Deploying the release to one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// The environment.
    pub environment: EnvironmentName,
    /// Its tier.
    pub tier: Tier,
    /// The lifecycle phase it belongs to.
    pub phase: PhaseName,
    /// The waves, in order.
    pub waves: Vec<Wave>,
    /// Sum over waves of the longest step in each.
    pub estimated_duration: HumanDuration,
}

impl Stage {
    /// The rollback of this stage: the flattened deploy order reversed (covers M8.3).
    pub fn rollback(&self) -> RollbackStage {
        let waves = self
            .waves
            .iter()
            .rev()
            .enumerate()
            .map(|(i, wave)| RollbackWave {
                index: i as u32,
                deploy_wave: wave.index,
                steps: wave
                    .steps
                    .iter()
                    .rev()
                    .map(|step| RollbackStep {
                        component: step.component.clone(),
                        from: clone_version(&step.version),
                        restore: RestoreTarget::PreviousVersion,
                        strategy: step.strategy.clone(),
                    })
                    .collect(),
            })
            .collect();
        RollbackStage {
            environment: self.environment.clone(),
            waves,
        }
    }

    /// Every step in deployment order.
    pub fn steps(&self) -> impl Iterator<Item = &DeployStep> {
        self.waves.iter().flat_map(|w| w.steps.iter())
    }
}

/// What a rollback step restores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RestoreTarget {
    /// The version that ran before this release; the engine reads it from the ledger.
    PreviousVersion,
    /// A known version.
    Version(semver::Version),
}

/// Undo one deploy step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackStep {
    /// The component.
    pub component: ComponentId,
    /// The version being rolled back (the one the release shipped).
    pub from: semver::Version,
    /// What to put back.
    pub restore: RestoreTarget,
    /// The strategy that deployed it (blue-green and canary roll back by a traffic switch).
    pub strategy: StrategyName,
}

/// Rollback steps that may run in parallel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackWave {
    /// Position in the rollback, from 0.
    pub index: u32,
    /// The deploy wave it undoes.
    pub deploy_wave: u32,
    /// The steps, in reverse deploy order.
    pub steps: Vec<RollbackStep>,
}

/// Rolling one stage back, in reverse dependency order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackStage {
    /// The environment.
    pub environment: EnvironmentName,
    /// The waves, last deploy wave first.
    pub waves: Vec<RollbackWave>,
}

impl RollbackStage {
    /// Every step in rollback order.
    pub fn steps(&self) -> impl Iterator<Item = &RollbackStep> {
        self.waves.iter().flat_map(|w| w.steps.iter())
    }
}

/// The components affected if one fails: its transitive dependents in the whole platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlastRadius {
    /// The component.
    pub component: ComponentId,
    /// Everything that transitively depends on it, sorted by id.
    pub dependents: Vec<ComponentId>,
    /// The highest criticality among the dependents (none when there are no dependents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_criticality: Option<Criticality>,
}

/// The heaviest chain of shipped components: the lower bound on a stage's duration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriticalPath {
    /// The chain, dependencies first.
    pub components: Vec<ComponentId>,
    /// Sum of their estimated durations.
    pub duration: HumanDuration,
}

/// The platform topology a plan was made against, indexed in component-id order.
#[derive(Clone, Default)]
struct Topology {
    /// Component ids, ascending; the index of an id is its node in `graph`.
    ids: Vec<ComponentId>,
    criticality: Vec<Criticality>,
    graph: DependencyGraph,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology")
            .field("components", &self.ids.len())
            .field("edges", &self.graph.edge_count())
            .finish()
    }
}

impl Topology {
    fn blast_radius(&self, node: u32) -> Option<BlastRadius> {
        self.radius_of(node, self.graph.transitive_dependents(node))
    }

    fn radius_of(&self, node: u32, reach: Vec<u32>) -> Option<BlastRadius> {
        let component = self.ids.get(node as usize)?.clone();
        let max_criticality = reach
            .iter()
            .filter_map(|&v| self.criticality.get(v as usize).copied())
            .max();
        // Sized up front: a `filter_map` collect grows by doubling, and the reallocations'
        // copies were 12 % of the 1 %-shipped bench's instructions (callgrind, issue #10).
        let mut dependents = Vec::with_capacity(reach.len());
        dependents.extend(
            reach
                .iter()
                .filter_map(|&v| self.ids.get(v as usize).cloned()),
        );
        Some(BlastRadius {
            component,
            dependents,
            max_criticality,
        })
    }
}

/// A release planned against a platform: what the engine executes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// The release.
    pub release: ReleaseId,
    /// The release's version.
    pub version: semver::Version,
    /// The parallelism cap applied, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
    /// One stage per environment, in lifecycle order.
    pub stages: Vec<Stage>,
    /// `rollback[i]` undoes `stages[i]` (covers M8.3).
    pub rollback: Vec<RollbackStage>,
    /// The heaviest chain of shipped components.
    pub critical_path: CriticalPath,
    /// Blast radius of each shipped component (empty when turned off in the options).
    #[serde(default)]
    pub blast_radius: BTreeMap<ComponentId, BlastRadius>,
    /// Sum of the stages' estimated durations.
    pub estimated_duration: HumanDuration,
    /// The reverse index for on-demand blast radius; not serialized.
    #[serde(skip)]
    topology: Arc<Topology>,
}

impl PartialEq for Plan {
    /// Plans are equal when what they serialize is equal.
    fn eq(&self, other: &Self) -> bool {
        self.release == other.release
            && self.version == other.version
            && self.max_parallel == other.max_parallel
            && self.stages == other.stages
            && self.rollback == other.rollback
            && self.critical_path == other.critical_path
            && self.blast_radius == other.blast_radius
            && self.estimated_duration == other.estimated_duration
    }
}

impl Plan {
    /// The stage deploying to `environment`.
    pub fn stage(&self, environment: &str) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.environment.as_str() == environment)
    }

    /// The transitive dependents of any platform component, by BFS over the stored reverse
    /// index (O(reach)); `None` for an unknown component. A deserialized plan has no index
    /// and answers from its stored `blast_radius` map.
    pub fn blast_radius(&self, component: &str) -> Option<BlastRadius> {
        match self
            .topology
            .ids
            .binary_search_by(|id| id.as_str().cmp(component))
        {
            Ok(node) => self.topology.blast_radius(node as u32),
            Err(_) => self.blast_radius.get(component).cloned(),
        }
    }

    /// The plan as text for a terminal (same as `to_string()`).
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

/// The first position at or after `from` whose id is not before `key` in `ids` (sorted by
/// [`index::cmp_text`]): exponential search, then binary search inside the last step.
fn gallop(ids: &[ComponentId], from: usize, key: &str) -> usize {
    let before = |i: usize| index::cmp_text(ids[i].as_str(), key).is_lt();
    let (mut low, mut step) = (from, 1usize);
    while low + step <= ids.len() && before(low + step - 1) {
        low += step;
        step *= 2;
    }
    let high = (low + step).min(ids.len());
    low + ids[low..high].partition_point(|id| index::cmp_text(id.as_str(), key).is_lt())
}

/// `version.clone()`, without the calls that clone its pre-release and build identifiers
/// when both are empty (as they are for most shipped versions); the planner clones one
/// version per deploy and per rollback step (callgrind: 6 % of a plan, issue #10).
fn clone_version(version: &semver::Version) -> semver::Version {
    if version.pre.is_empty() && version.build.is_empty() {
        semver::Version::new(version.major, version.minor, version.patch)
    } else {
        version.clone()
    }
}

fn nanos(d: HumanDuration) -> u64 {
    u64::try_from(d.as_duration().as_nanos()).unwrap_or(u64::MAX)
}

/// Plans `release` against `platform`: see the module docs for the semantics.
///
/// The same as [`Planner::new`] followed by [`Planner::plan`]; when several releases are
/// planned against one platform, keep the [`Planner`] and skip re-indexing the platform.
pub fn plan_release(
    platform: &Platform,
    release: &Release,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    // The options' own mistakes first, as before the planner was split in two: a zero cap,
    // then (after the lifecycle's own environments) an environment outside the lifecycle.
    parallelism_cap(options, release)?;
    let targets = stage_targets(platform)?;
    select_targets(&targets, options)?;
    let mut planner = Planner::index(platform, targets, false)?;
    let steps = std::mem::take(&mut planner.steps);
    planner.plan_with(release, options, Cow::Owned(steps))
}

/// The lifecycle's environments in order; each must be declared.
fn stage_targets(platform: &Platform) -> Result<Vec<StageTarget>, PlanError> {
    let mut targets = Vec::new();
    for (phase, name) in platform.lifecycle.environments() {
        let environment = platform.environment(name.as_str()).ok_or_else(|| {
            PlanError::UnknownLifecycleEnvironment {
                phase: phase.name.clone(),
                environment: name.clone(),
            }
        })?;
        targets.push(StageTarget {
            phase: phase.name.clone(),
            environment: environment.name.clone(),
            tier: environment.tier,
        });
    }
    Ok(targets)
}

/// The stages to plan: every lifecycle environment, or the one the options name.
fn select_targets<'t>(
    targets: &'t [StageTarget],
    options: &PlanOptions,
) -> Result<Vec<&'t StageTarget>, PlanError> {
    let mut selected: Vec<&StageTarget> = targets.iter().collect();
    if let Some(wanted) = &options.environment {
        if !selected.iter().any(|t| t.environment == *wanted) {
            return Err(PlanError::UnknownEnvironment {
                environment: wanted.clone(),
                known: selected.iter().map(|t| t.environment.clone()).collect(),
            });
        }
        selected.retain(|t| t.environment == *wanted);
    }
    Ok(selected)
}

/// The parallelism cap the options or the release ask for (the options win).
fn parallelism_cap(
    options: &PlanOptions,
    release: &Release,
) -> Result<Option<NonZeroU32>, PlanError> {
    let max_parallel = match (options.max_parallel, release.max_parallel) {
        (Some(cap), _) => Some((cap, "plan options")),
        (None, Some(cap)) => Some((cap, "release")),
        (None, None) => None,
    };
    match max_parallel {
        Some((cap, origin)) => NonZeroU32::new(cap)
            .map(Some)
            .ok_or(PlanError::ZeroParallelism { origin }),
        None => Ok(None),
    }
}

/// One lifecycle environment a plan deploys to, in lifecycle order.
#[derive(Clone, Debug)]
struct StageTarget {
    phase: PhaseName,
    environment: EnvironmentName,
    tier: Tier,
}

/// A platform prepared for planning: its components indexed in id order, `depends_on`
/// resolved into a graph, the graph checked for cycles and put in a topological order, and
/// what each step reads from a component gathered in index order.
///
/// Everything here depends on the platform alone, so a host that plans many releases against
/// one platform — a release train, a what-if for each open change, the engine replanning on
/// resume — pays for it once; [`Planner::plan`] then only reads the release. This is the
/// split networkx makes between building a `DiGraph` and `topological_generations`, and the
/// split DESIGN.md's planner target is measured at (see BENCHMARKS.md). [`plan_release`] is
/// `Planner::new` followed by `plan`.
///
/// A planner owns what it gathered (it does not borrow the platform), is `Send + Sync`, and
/// can be shared behind an `Arc`; every plan it makes shares its topology (ids and graph) for
/// [`Plan::blast_radius`] instead of copying it.
///
/// ```
/// use release_core::manifest::{Document, Format, parse_str};
/// use release_core::plan::{PlanOptions, Planner};
///
/// let text = r#"
/// apiVersion: release/v1
/// kind: Platform
/// metadata: { name: shop }
/// components:
///   - { id: db, owner: { primary: a@x, backup: b@x } }
///   - { id: api, owner: { primary: a@x, backup: b@x }, depends_on: [db] }
/// environments:
///   - { name: prod, tier: production }
/// lifecycle:
///   phases:
///     - { name: live, environments: [prod] }
/// "#;
/// let Ok(docs) = parse_str(text, "platform.yaml", Format::Yaml) else { panic!("valid") };
/// let Some(Document::Platform(platform)) = docs.into_iter().next() else { panic!("a platform") };
/// let planner = Planner::new(&platform.value)?;
/// for (n, shipped) in [["api", "db"].as_slice(), ["api"].as_slice()].into_iter().enumerate() {
///     let text = format!(
///         "apiVersion: release/v1\nkind: Release\nmetadata: {{ id: shop-{n} }}\nplatform: shop\n\
///          version: 1.0.{n}\ntype: delta\nrelease_manager: {{ primary: a@x, backup: b@x }}\ncomponents:\n{}",
///         shipped.iter().map(|c| format!("  {c}: {{ version: 1.0.{n} }}\n")).collect::<String>(),
///     );
///     let Ok(docs) = parse_str(&text, "release.yaml", Format::Yaml) else { panic!("valid") };
///     let Some(Document::Release(release)) = docs.into_iter().next() else { panic!("a release") };
///     let plan = planner.plan(&release.value, &PlanOptions::default())?;
///     // `db` deploys before `api` when both ship.
///     assert_eq!(plan.stages[0].waves[0].steps[0].component, shipped[shipped.len() - 1]);
/// }
/// # Ok::<(), release_core::plan::PlanError>(())
/// ```
#[derive(Clone)]
pub struct Planner {
    platform: String,
    targets: Vec<StageTarget>,
    steps: StepData,
    topology: Arc<Topology>,
}

/// What a deploy step reads from its component, per node in index order; only the deploy
/// steps read it, so a one-off plan frees it before building the rollback steps.
#[derive(Clone, Default)]
struct StepData {
    /// The component's own estimate, if it has one.
    durations: Vec<Option<HumanDuration>>,
    /// Its strategy.
    strategies: Vec<StrategyName>,
}

impl fmt::Debug for Planner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Planner")
            .field("platform", &self.platform)
            .field("environments", &self.targets.len())
            .field("topology", &self.topology)
            .finish()
    }
}

impl Planner {
    /// Prepares `platform` for planning. Fails on what is wrong with the platform itself: a
    /// lifecycle environment that is not declared, two components with one id, a
    /// `depends_on` naming no component, a dependency cycle, or more than `u32::MAX - 1`
    /// components or edges.
    pub fn new(platform: &Platform) -> Result<Self, PlanError> {
        Self::index(platform, stage_targets(platform)?, true)
    }

    /// [`Self::new`] with the lifecycle's `targets` already read (`plan_release` reads them
    /// first to check its options); without `check_cycles` a cycle is left for the plan's own
    /// Kahn pass to find, which is how [`plan_release`] makes one pass instead of two.
    fn index(
        platform: &Platform,
        targets: Vec<StageTarget>,
        check_cycles: bool,
    ) -> Result<Self, PlanError> {
        // Index components in id order: the source of every tie-break.
        let mut components: Vec<&Component> = platform.components.iter().collect();
        components.sort_unstable_by(|a, b| index::cmp_text(a.id.as_str(), b.id.as_str()));
        let n = components.len();
        // One pass over the components gathers what the plan reads from them, dense and in
        // index order: the ids (a clone copies 24 bytes, see `crate::id`), the dependency
        // rows' offsets, durations, strategies and criticality. A `Component` is a few
        // hundred bytes with these fields on different cache lines, and a pass per field
        // missed on every component each time (perf: most of the planner's own time, issue
        // #10).
        let mut ids: Vec<ComponentId> = Vec::with_capacity(n);
        let mut row_offsets: Vec<u32> = Vec::with_capacity(n + 1);
        let mut durations: Vec<Option<HumanDuration>> = Vec::with_capacity(n);
        let mut strategies: Vec<StrategyName> = Vec::with_capacity(n);
        let mut criticality: Vec<Criticality> = Vec::with_capacity(n);
        let mut edge_count = 0usize;
        row_offsets.push(0);
        for c in &components {
            ids.push(c.id.clone());
            edge_count += c.depends_on.len();
            // Saturates only when the edge count is refused below.
            row_offsets.push(u32::try_from(edge_count).unwrap_or(u32::MAX));
            durations.push(c.estimated_duration);
            strategies.push(StrategyName::of(c.strategy.as_ref()));
            criticality.push(c.criticality);
        }
        if let Some(pair) = ids.windows(2).find(|p| p[0] == p[1]) {
            return Err(PlanError::DuplicateComponent {
                component: pair[0].clone(),
            });
        }
        if n >= u32::MAX as usize || edge_count >= u32::MAX as usize {
            return Err(PlanError::Graph(GraphError::TooLarge {
                node_count: n,
                edge_count,
            }));
        }

        // Dependencies resolved straight into CSR rows (the graph's forward adjacency).
        let row_targets = index::resolve(&ids, edge_count, || {
            components
                .iter()
                .flat_map(|c| c.depends_on.iter().map(ComponentId::as_str))
        })
        .map_err(|position| unknown_dependency(&components, &row_offsets, position))?;
        let graph = DependencyGraph::from_dependency_rows(row_offsets, row_targets)
            .map_err(|e| graph_error(e, &ids))?;
        // A cycle anywhere in the platform is an error, even among components no release
        // ships. Each plan still runs Kahn's algorithm itself (its levels count shipped
        // components only), so what a planner keeps is what networkx keeps in a built
        // `DiGraph`: ids, adjacency, node data.
        if check_cycles {
            graph
                .topological_order()
                .map_err(|e| graph_error(e, &ids))?;
        }
        Ok(Self {
            platform: platform.metadata.name.clone(),
            targets,
            steps: StepData {
                durations,
                strategies,
            },
            topology: Arc::new(Topology {
                ids,
                criticality,
                graph,
            }),
        })
    }

    /// Number of components in the platform.
    pub fn component_count(&self) -> usize {
        self.topology.ids.len()
    }

    /// Plans `release`: see the module docs for the semantics. Fails when the release ships
    /// a component the platform does not have, when the options name an environment outside
    /// the lifecycle, or when the options or the release set `max_parallel` to 0.
    pub fn plan(&self, release: &Release, options: &PlanOptions) -> Result<Plan, PlanError> {
        self.plan_with(release, options, Cow::Borrowed(&self.steps))
    }

    /// [`Self::plan`] reading the per-node step data from `steps`, which it drops as soon as
    /// the deploy steps are built: [`plan_release`] hands over the planner's own (taken out
    /// of it), so that their 4 MB (100,000 components) are free again before the rollback
    /// steps are allocated (see "A low peak" in the module docs).
    fn plan_with(
        &self,
        release: &Release,
        options: &PlanOptions,
        steps: Cow<'_, StepData>,
    ) -> Result<Plan, PlanError> {
        let cap = parallelism_cap(options, release)?;
        let targets = select_targets(&self.targets, options)?;
        let topology = &self.topology;
        let ids = &topology.ids;
        let n = ids.len();

        // Shipped components: a merge of two id-sorted sequences. The release usually ships
        // the next id (an equality test), else the merge gallops to it, so a release shipping
        // 1 % of a platform costs O(shipped · log gap) comparisons, not one per component.
        // The versions are kept in that order, which is the shipped nodes' index order (a
        // per-node array of them was 8 bytes for every platform component).
        let mut shipped = vec![false; n];
        let mut versions: Vec<&ComponentVersion> = Vec::with_capacity(release.components.len());
        let mut at = 0usize;
        for (id, version) in &release.components {
            if ids.get(at).is_none_or(|next| next != id) {
                at = gallop(ids, at, id.as_str());
                if ids.get(at).is_none_or(|next| next != id) {
                    return Err(PlanError::UnknownComponent {
                        component: id.clone(),
                        platform: self.platform.clone(),
                    });
                }
            }
            shipped[at] = true;
            versions.push(version);
            at += 1;
        }

        let default_duration = options.default_duration;
        let duration = |v: usize| {
            steps
                .durations
                .get(v)
                .copied()
                .flatten()
                .unwrap_or(default_duration)
        };
        let weights: Vec<u64> = shipped
            .iter()
            .enumerate()
            .map(|(v, &s)| if s { nanos(duration(v)) } else { 0 })
            .collect();
        // Levels and the critical path in one Kahn pass (callgrind, issue #10). A planner
        // made by `new` was checked for cycles; `plan_release`'s finds one here.
        let (level, chain, chain_weight) = topology
            .graph
            .levels_and_critical_path(&shipped, &weights)
            .map_err(|e| graph_error(e, ids))?;
        let critical_path = CriticalPath {
            components: chain.iter().map(|&v| ids[v as usize].clone()).collect(),
            duration: HumanDuration(Duration::from_nanos(chain_weight)),
        };

        // One template of waves, cloned per stage (the last stage takes it). A shipped node's
        // wave is its level, split into runs of `cap`; inside a wave nodes keep index order
        // (what `DependencyGraph::waves_of` and `Waves::split` give). So the steps are built
        // in one pass in index order, each pushed onto the end of its wave: every read is
        // sequential, where building them in wave order read each node's data at random
        // (perf: 15 % of the plan on the version's load alone, issue #10).
        let wave_of_level = WaveLayout::new(&level, &shipped, cap);
        let mut template: Vec<Wave> = wave_of_level
            .sizes
            .iter()
            .enumerate()
            .map(|(k, &size)| Wave {
                index: k as u32,
                steps: Vec::with_capacity(size),
            })
            .collect();
        let mut longest = vec![0u64; template.len()];
        let mut rank = vec![0u32; wave_of_level.first.len()];
        let shipped_nodes = shipped.iter().enumerate().filter(|(_, s)| **s);
        for ((v, _), version) in shipped_nodes.zip(&versions) {
            let l = level[v] as usize;
            let k = wave_of_level.wave(l, rank[l]);
            rank[l] += 1;
            longest[k] = longest[k].max(weights[v]);
            template[k].steps.push(DeployStep {
                component: ids[v].clone(),
                version: clone_version(&version.version),
                artifact: version.artifact.clone(),
                strategy: steps.strategies[v].clone(),
                estimated_duration: duration(v),
            });
        }
        // What only the deploy steps needed is freed before the rollback steps are built.
        drop((versions, weights, level, rank, wave_of_level, steps));
        let stage_nanos = longest
            .iter()
            .fold(0u64, |sum, &wave| sum.saturating_add(wave));
        drop(longest);
        let stage_duration = HumanDuration(Duration::from_nanos(stage_nanos));

        let count = targets.len();
        let mut stages = Vec::with_capacity(count);
        for (i, target) in targets.into_iter().enumerate() {
            let waves = if i + 1 == count {
                std::mem::take(&mut template)
            } else {
                template.clone()
            };
            stages.push(Stage {
                environment: target.environment.clone(),
                tier: target.tier,
                phase: target.phase.clone(),
                waves,
                estimated_duration: stage_duration,
            });
        }
        let rollback = stages.iter().map(Stage::rollback).collect();
        let estimated_duration = HumanDuration(Duration::from_nanos(
            stage_nanos.saturating_mul(stages.len() as u64),
        ));

        let mut blast_radius = BTreeMap::new();
        if options.blast_radius {
            let mut reach = graph::Reach::new(&topology.graph);
            for (v, _) in shipped.iter().enumerate().filter(|(_, s)| **s) {
                let dependents = reach.dependents(&topology.graph, v as u32);
                if let Some(radius) = topology.radius_of(v as u32, dependents) {
                    blast_radius.insert(radius.component.clone(), radius);
                }
            }
        }

        Ok(Plan {
            release: release.id().clone(),
            version: release.version.clone(),
            max_parallel: cap.map(NonZeroU32::get),
            stages,
            rollback,
            critical_path,
            blast_radius,
            estimated_duration,
            topology: Arc::clone(&self.topology),
        })
    }
}

/// Where each level's waves start, and how many steps each wave gets: one wave per level,
/// or with a cap the level's nodes in runs of `cap` (an empty level keeps one empty wave,
/// as `Waves::split` does).
struct WaveLayout {
    /// `first[l]`: the wave the first node of level `l` goes to.
    first: Vec<usize>,
    /// Steps per wave.
    sizes: Vec<usize>,
    cap: Option<NonZeroU32>,
}

impl WaveLayout {
    fn new(level: &[u32], shipped: &[bool], cap: Option<NonZeroU32>) -> Self {
        let mut per_level: Vec<usize> = Vec::new();
        for (&l, _) in level.iter().zip(shipped).filter(|(_, s)| **s) {
            let l = l as usize;
            if per_level.len() <= l {
                per_level.resize(l + 1, 0);
            }
            per_level[l] += 1;
        }
        let mut first = Vec::with_capacity(per_level.len());
        let mut sizes = Vec::with_capacity(per_level.len());
        for count in per_level {
            first.push(sizes.len());
            let mut left = count;
            if let Some(cap) = cap {
                let cap = cap.get() as usize;
                while left > cap {
                    sizes.push(cap);
                    left -= cap;
                }
            }
            sizes.push(left);
        }
        Self { first, sizes, cap }
    }

    /// The wave of the `rank`-th node (from 0, in index order) of level `l`.
    fn wave(&self, l: usize, rank: u32) -> usize {
        self.first[l] + self.cap.map_or(0, |cap| (rank / cap.get()) as usize)
    }
}

/// The error for the `position`-th `depends_on` entry (counted over the id-sorted
/// components) that names no component.
fn unknown_dependency(
    components: &[&Component],
    row_offsets: &[u32],
    position: usize,
) -> PlanError {
    // The row holding `position`: the last offset at or before it (empty rows share it).
    let v = row_offsets
        .partition_point(|&o| o as usize <= position)
        .saturating_sub(1);
    let start = row_offsets.get(v).map_or(0, |&o| o as usize);
    match components.get(v) {
        Some(c) => PlanError::UnknownDependency {
            component: c.id.clone(),
            dependency: position
                .checked_sub(start)
                .and_then(|i| c.depends_on.get(i))
                .cloned()
                .unwrap_or_else(|| ComponentId::new(format!("#{position}"))),
        },
        None => PlanError::Graph(GraphError::LengthMismatch {
            len: position,
            node_count: components.len(),
        }),
    }
}

/// Maps an index-level graph error to the component ids it concerns.
fn graph_error(error: GraphError, ids: &[ComponentId]) -> PlanError {
    let id = |v: u32| {
        ids.get(v as usize)
            .cloned()
            .unwrap_or_else(|| ComponentId::new(format!("#{v}")))
    };
    match error {
        GraphError::Cycle { path } => PlanError::Cycle {
            path: path.into_iter().map(id).collect(),
        },
        // The planner builds edges from resolved ids and one entry per node, so only a
        // cycle can come back; keep a faithful message for the impossible cases anyway.
        other => PlanError::Graph(other),
    }
}

#[cfg(test)]
mod tests;
