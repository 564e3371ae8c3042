//! What a violation is: one variant per rule, each carrying the offending ids and values.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use crate::id::{
    AnalysisName, ChangeId, ChangeRequestId, ComponentId, EnvironmentName, PersonId, PhaseName,
    ReleaseId, SharedResourceId,
};
use crate::model::{ChangeRef, ChangeRequestKind, ChangeRequestState, ReleaseKind, Tier};

/// Joins ids for a message: `a, b, c`.
pub(crate) fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn request_kind_name(kind: ChangeRequestKind) -> &'static str {
    match kind {
        ChangeRequestKind::Standard => "standard",
        ChangeRequestKind::Normal => "normal",
        ChangeRequestKind::Emergency => "emergency",
    }
}

fn ts(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339()
}

/// One broken rule, with the ids and values that break it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "rule", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ViolationKind {
    // ---- documents of a set ----
    /// Two platform documents share a name.
    #[error("platform `{platform}` is defined twice")]
    DuplicatePlatform {
        /// The name.
        platform: String,
    },
    /// Two release documents share an id.
    #[error("release `{release}` is defined twice")]
    DuplicateRelease {
        /// The id.
        release: ReleaseId,
    },
    /// A release names a platform that is not loaded.
    #[error("release `{release}` is planned against platform `{platform}`, which is not loaded")]
    UnknownPlatform {
        /// The release.
        release: ReleaseId,
        /// The platform it names.
        platform: String,
    },
    /// A release is validated against a platform other than the one it names.
    #[error("release `{release}` names platform `{named}` but is validated against `{platform}`")]
    PlatformMismatch {
        /// The release.
        release: ReleaseId,
        /// The platform the release names.
        named: String,
        /// The platform it was validated against.
        platform: String,
    },

    // ---- platform structure ----
    /// Two components share an id.
    #[error("component `{component}` is defined twice")]
    DuplicateComponent {
        /// The id.
        component: ComponentId,
    },
    /// Two environments share a name.
    #[error("environment `{environment}` is defined twice")]
    DuplicateEnvironment {
        /// The name.
        environment: EnvironmentName,
    },
    /// Two shared resources share an id.
    #[error("shared resource `{resource}` is defined twice")]
    DuplicateSharedResource {
        /// The id.
        resource: SharedResourceId,
    },
    /// Two lifecycle phases share a name.
    #[error("lifecycle phase `{phase}` is defined twice")]
    DuplicatePhase {
        /// The name.
        phase: PhaseName,
    },
    /// A component depends on a component that does not exist.
    #[error("component `{component}` depends on unknown component `{depends_on}`")]
    UnknownComponentDependency {
        /// The dependent component.
        component: ComponentId,
        /// The missing dependency.
        depends_on: ComponentId,
    },
    /// A component uses a shared resource that is not declared.
    #[error("component `{component}` uses undeclared shared resource `{resource}`")]
    UnknownSharedResource {
        /// The component.
        component: ComponentId,
        /// The missing resource.
        resource: SharedResourceId,
    },
    /// An environment binds a shared resource name that is not declared.
    #[error("environment `{environment}` binds undeclared shared resource `{resource}`")]
    UnknownBindingSource {
        /// The environment.
        environment: EnvironmentName,
        /// The binding's key.
        resource: SharedResourceId,
    },
    /// An environment binds a shared resource to one that is not declared.
    #[error(
        "environment `{environment}` binds shared resource `{resource}` to undeclared `{target}`"
    )]
    UnknownBindingTarget {
        /// The environment.
        environment: EnvironmentName,
        /// The binding's key.
        resource: SharedResourceId,
        /// The undeclared resource it binds to.
        target: SharedResourceId,
    },
    /// A lifecycle phase lists an environment that does not exist.
    #[error("lifecycle phase `{phase}` lists unknown environment `{environment}`")]
    UnknownPhaseEnvironment {
        /// The phase.
        phase: PhaseName,
        /// The missing environment.
        environment: EnvironmentName,
    },
    /// An environment is listed in more than one phase.
    #[error(
        "environment `{environment}` is in lifecycle phase `{first}` and again in phase `{second}`"
    )]
    EnvironmentInSeveralPhases {
        /// The environment.
        environment: EnvironmentName,
        /// The first phase listing it.
        first: PhaseName,
        /// The later phase listing it again.
        second: PhaseName,
    },
    /// Components depend on each other in a cycle, so no order can deploy them.
    #[error("components depend on each other in a cycle: {}", path.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" → "))]
    DependencyCycle {
        /// The cycle, first component repeated at the end.
        path: Vec<ComponentId>,
    },
    /// Environments exist but the lifecycle has no phase.
    #[error("the lifecycle has no phase although environments {} exist", list(.environments))]
    EmptyLifecycle {
        /// The environments no release can reach.
        environments: Vec<EnvironmentName>,
    },
    /// A strategy, gate or rollback trigger names an analysis the platform does not define.
    #[error("{used_by} names unknown analysis `{analysis}`")]
    UnknownAnalysis {
        /// The missing analysis.
        analysis: AnalysisName,
        /// What names it, for people (`component orders-api (canary step 3)`).
        used_by: String,
    },
    /// A component's primary and backup owner are the same person (M1.5).
    #[error("component `{component}` has `{person}` as both primary and backup owner")]
    SameComponentOwners {
        /// The component.
        component: ComponentId,
        /// The person named twice.
        person: PersonId,
    },
    /// A non-production environment is bound to a production shared resource (M2.5).
    #[error(
        "{tier} environment `{environment}` binds production shared resource `{resource}` (for `{declared}`), touched by components {}",
        list(.components)
    )]
    ProductionResourceInNonProduction {
        /// The environment.
        environment: EnvironmentName,
        /// Its tier.
        tier: Tier,
        /// The resource name components declare.
        declared: SharedResourceId,
        /// The production resource it is bound to.
        resource: SharedResourceId,
        /// Components that touch the declared resource.
        components: Vec<ComponentId>,
    },

    // ---- release structure ----
    /// Two change requests of a release share an id.
    #[error("release `{release}` lists change request `{request}` twice")]
    DuplicateChangeRequest {
        /// The release.
        release: ReleaseId,
        /// The id.
        request: ChangeRequestId,
    },
    /// Two changes of a release share an id.
    #[error("release `{release}` lists change `{change}` twice")]
    DuplicateChange {
        /// The release.
        release: ReleaseId,
        /// The id.
        change: ChangeId,
    },
    /// A release ships a component the platform does not have.
    #[error("release `{release}` ships unknown component `{component}`")]
    UnknownReleaseComponent {
        /// The release.
        release: ReleaseId,
        /// The missing component.
        component: ComponentId,
    },
    /// A change touches a component the platform does not have.
    #[error("change `{change}` touches unknown component `{component}`")]
    UnknownChangeComponent {
        /// The change.
        change: ChangeId,
        /// The missing component.
        component: ComponentId,
    },
    /// A change request covers a configuration item the platform does not have.
    #[error("change request `{request}` covers unknown configuration item `{component}`")]
    UnknownConfigurationItem {
        /// The request.
        request: ChangeRequestId,
        /// The missing component.
        component: ComponentId,
    },
    /// A change cites a change request the release does not carry (M1.1).
    #[error("change `{change}` cites change request `{request}`, which the release does not list")]
    UnknownChangeRequest {
        /// The change.
        change: ChangeId,
        /// The missing request.
        request: ChangeRequestId,
    },
    /// A change cites a change request that is not approved (M1.1).
    #[error("change `{change}` cites change request `{request}`, which is `{state}`, not approved")]
    UnapprovedChange {
        /// The change.
        change: ChangeId,
        /// The request.
        request: ChangeRequestId,
        /// Its state.
        state: ChangeRequestState,
    },
    /// A non-emergency change request is approved through the expedited path (M1.1).
    #[error(
        "change `{change}` cites {} change request `{request}`, approved expedited; only emergency requests may be",
        request_kind_name(*.request_kind)
    )]
    ExpeditedApprovalNotEmergency {
        /// The change.
        change: ChangeId,
        /// The request.
        request: ChangeRequestId,
        /// The request's kind.
        request_kind: ChangeRequestKind,
    },
    /// A change touches a component its request does not cover (M1.1).
    #[error(
        "change `{change}` touches component `{component}`, which change request `{request}` does not cover"
    )]
    ComponentOutsideRequest {
        /// The change.
        change: ChangeId,
        /// The request.
        request: ChangeRequestId,
        /// The component outside the request's configuration items.
        component: ComponentId,
    },
    /// An emergency release carries no change (M1.3).
    #[error("emergency release `{release}` carries no change")]
    EmergencyReleaseWithoutChanges {
        /// The release.
        release: ReleaseId,
    },
    /// An emergency release carries a change under a non-emergency request (M1.3).
    #[error(
        "emergency release `{release}` carries change `{change}` under {} change request `{request}`",
        request_kind_name(*.request_kind)
    )]
    NonEmergencyChangeInEmergencyRelease {
        /// The release.
        release: ReleaseId,
        /// The change.
        change: ChangeId,
        /// The request.
        request: ChangeRequestId,
        /// The request's kind.
        request_kind: ChangeRequestKind,
    },
    /// A non-emergency release carries a change under an emergency request (M1.3).
    #[error(
        "{release_kind} release `{release}` carries change `{change}` under emergency change request `{request}`"
    )]
    EmergencyRequestInNonEmergencyRelease {
        /// The release.
        release: ReleaseId,
        /// The release's kind.
        release_kind: ReleaseKind,
        /// The change.
        change: ChangeId,
        /// The emergency request.
        request: ChangeRequestId,
    },
    /// A delta or emergency release ships a component no change touches (M1.3).
    #[error(
        "{release_kind} release `{release}` ships component `{component}`, which no change touches"
    )]
    UnchangedComponentShipped {
        /// The release.
        release: ReleaseId,
        /// The release's kind.
        release_kind: ReleaseKind,
        /// The component shipped without a change.
        component: ComponentId,
    },
    /// A change touches a component the release does not ship.
    #[error(
        "change `{change}` touches component `{component}`, which release `{release}` does not ship"
    )]
    ChangedComponentNotShipped {
        /// The release.
        release: ReleaseId,
        /// The change.
        change: ChangeId,
        /// The component.
        component: ComponentId,
    },
    /// A full release does not ship a platform component (M1.3).
    #[error("full release `{release}` does not ship platform component `{component}`")]
    FullReleaseMissingComponent {
        /// The release.
        release: ReleaseId,
        /// The component left out.
        component: ComponentId,
    },
    /// A release's schedule ends before it starts.
    #[error("release `{release}` is scheduled to end at {} before it starts at {}", ts(.end), ts(.start))]
    ScheduleEndsBeforeStart {
        /// The release.
        release: ReleaseId,
        /// Planned start.
        start: DateTime<FixedOffset>,
        /// Planned end.
        end: DateTime<FixedOffset>,
    },
    /// A release's schedule leaves a cited request's approved window (M1.2).
    #[error(
        "release `{release}` runs {} to {}, outside change request `{request}`'s approved window {} to {}",
        ts(.start), ts(.end), ts(.window_from), ts(.window_to)
    )]
    ScheduleOutsideRequestWindow {
        /// The release.
        release: ReleaseId,
        /// The request.
        request: ChangeRequestId,
        /// Planned start.
        start: DateTime<FixedOffset>,
        /// Planned (or estimated) end.
        end: DateTime<FixedOffset>,
        /// Start of the approved window.
        window_from: DateTime<FixedOffset>,
        /// End of the approved window.
        window_to: DateTime<FixedOffset>,
    },
    /// A scheduled release cites a request without an approved window (M1.2).
    #[error(
        "release `{release}` is scheduled but change request `{request}` has no approved window"
    )]
    RequestWithoutWindow {
        /// The release.
        release: ReleaseId,
        /// The request.
        request: ChangeRequestId,
    },
    /// A release's schedule overlaps a freeze of a production environment (M1.2, M5.6).
    #[error(
        "release `{release}` runs {} to {}, overlapping the freeze of production environment `{environment}` from {} to {}{}",
        ts(.start), ts(.end), ts(.freeze_from), ts(.freeze_to),
        .reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    ScheduleInFreeze {
        /// The release.
        release: ReleaseId,
        /// The frozen environment.
        environment: EnvironmentName,
        /// Planned start.
        start: DateTime<FixedOffset>,
        /// Planned (or estimated) end.
        end: DateTime<FixedOffset>,
        /// Freeze start.
        freeze_from: DateTime<FixedOffset>,
        /// Freeze end.
        freeze_to: DateTime<FixedOffset>,
        /// Why the freeze exists.
        reason: Option<String>,
    },
    /// A local `depends_on` names a change the release does not carry.
    #[error("change `{change}` depends on `{depends_on}`, which is not a change of this release")]
    UnknownChangeDependency {
        /// The dependent change.
        change: ChangeId,
        /// The unresolved reference.
        depends_on: ChangeRef,
    },
    /// Changes of a release depend on each other in a cycle.
    #[error("changes {} of release `{release}` depend on each other in a cycle", list(.changes))]
    ChangeDependencyCycle {
        /// The release.
        release: ReleaseId,
        /// The changes on the cycle, sorted.
        changes: Vec<ChangeId>,
    },
    /// `rollback_with` names a change the release does not carry.
    #[error("change `{change}` rolls back with `{other}`, which is not a change of this release")]
    UnknownRollbackPartner {
        /// The change.
        change: ChangeId,
        /// The missing partner.
        other: ChangeId,
    },
    /// A release's manager and backup are the same person (M1.5).
    #[error("release `{release}` has `{person}` as both release manager and backup")]
    SameReleaseManagers {
        /// The release.
        release: ReleaseId,
        /// The person named twice.
        person: PersonId,
    },
    /// A release reaches staging or production without rollback criteria (M1.6).
    #[error(
        "release `{release}` reaches {tier} environment `{environment}` without rollback criteria (a trigger and a non-zero watch window)"
    )]
    MissingRollbackCriteria {
        /// The release.
        release: ReleaseId,
        /// The first environment that needs them.
        environment: EnvironmentName,
        /// Its tier.
        tier: Tier,
    },

    // ---- data safety (M8.2, M2.5) ----
    /// A component's migrations name a database that is not a declared shared resource.
    #[error("component `{component}` migrates undeclared database `{database}`")]
    UnknownMigrationDatabase {
        /// The component.
        component: ComponentId,
        /// The database it names.
        database: SharedResourceId,
    },
    /// A component migrates a database it does not list in `shared_resources`.
    #[error(
        "component `{component}` migrates database `{database}` but does not list it in `shared_resources`, so its deployments would not hold the database's lock"
    )]
    MigrationDatabaseNotShared {
        /// The component.
        component: ComponentId,
        /// The database.
        database: SharedResourceId,
    },
    /// A component's migration files cannot be read.
    #[error("the migrations of component `{component}` cannot be read: {problem}")]
    UnreadableMigrations {
        /// The component.
        component: ComponentId,
        /// What is wrong, at its file and line.
        problem: String,
    },
    /// A release declares migrations for a component that declares none.
    #[error(
        "the release declares migrations for component `{component}`, which declares none in the platform"
    )]
    MigrationsNotDeclared {
        /// The component.
        component: ComponentId,
    },
    /// The release pins a migration set digest the files do not have.
    #[error(
        "component `{component}` pins migration set {pinned}, but its files have digest {actual}"
    )]
    MigrationDigestMismatch {
        /// The component.
        component: ComponentId,
        /// The pinned digest.
        pinned: String,
        /// The files' digest.
        actual: String,
    },
    /// A contract migration ships with code that still uses the old shape (M8.2).
    #[error(
        "contract migration {migration} of `{component}` ({change}) ships in the same release as `{code}`, whose running version still uses the old shape of `{database}`"
    )]
    ContractWithOldShapeCode {
        /// The component whose migration it is.
        component: ComponentId,
        /// The migration (`V003 drop_legacy`).
        migration: String,
        /// Its first contracting change, at its file and line.
        change: String,
        /// The database.
        database: SharedResourceId,
        /// The component whose code uses the old shape.
        code: ComponentId,
    },
    /// A contract migration would run while old and new versions serve together (M8.2).
    #[error(
        "contract migration {migration} of `{component}` ({change}) would run while old and new versions serve together under its {strategy} strategy"
    )]
    ContractInPhasedRollout {
        /// The component.
        component: ComponentId,
        /// The migration.
        migration: String,
        /// Its first contracting change.
        change: String,
        /// The phased strategy.
        strategy: String,
    },
    /// A breaking API change (semver) under a phased strategy (M8.2).
    #[error(
        "component `{component}` changes its API from {from} to {to}, a breaking change, under its phased {strategy} strategy"
    )]
    BreakingApiInPhasedRollout {
        /// The component.
        component: ComponentId,
        /// The API version the platform says runs.
        from: String,
        /// The API version the release ships.
        to: String,
        /// The phased strategy.
        strategy: String,
    },
}

impl ViolationKind {
    /// How to fix it, in one sentence.
    pub fn fix(&self) -> String {
        use ViolationKind as K;
        match self {
            K::DuplicatePlatform { platform } => {
                format!("rename or remove one of the `{platform}` platform documents")
            }
            K::DuplicateRelease { release } => {
                format!("give one of the `{release}` release documents another id")
            }
            K::UnknownPlatform { platform, .. } => {
                format!("load the `{platform}` platform document or correct the `platform` field")
            }
            K::PlatformMismatch { named, .. } => {
                format!("validate against platform `{named}` or correct the `platform` field")
            }
            K::DuplicateComponent { component } => {
                format!("give one of the `{component}` components another id")
            }
            K::DuplicateEnvironment { environment } => {
                format!("give one of the `{environment}` environments another name")
            }
            K::DuplicateSharedResource { resource } => {
                format!("give one of the `{resource}` shared resources another id")
            }
            K::DuplicatePhase { phase } => format!("give one of the `{phase}` phases another name"),
            K::UnknownComponentDependency { depends_on, .. } => {
                format!("declare component `{depends_on}` or remove it from `depends_on`")
            }
            K::UnknownSharedResource { resource, .. } => {
                format!("declare `{resource}` under `shared_resources` or correct the name")
            }
            K::UnknownBindingSource { resource, .. } => {
                format!("declare `{resource}` under `shared_resources` or remove the binding")
            }
            K::UnknownBindingTarget { target, .. } => {
                format!("declare `{target}` under `shared_resources` or bind to a declared resource")
            }
            K::UnknownPhaseEnvironment { environment, .. } => {
                format!("declare environment `{environment}` or remove it from the phase")
            }
            K::EnvironmentInSeveralPhases { environment, second, .. } => {
                format!("remove `{environment}` from phase `{second}`; an environment belongs to one phase")
            }
            K::DependencyCycle { path } => format!(
                "remove one of the dependencies of the cycle, e.g. `{}` from the `depends_on` of `{}`",
                path.get(1).map_or("", |c| c.as_str()),
                path.first().map_or("", |c| c.as_str())
            ),
            K::EmptyLifecycle { .. } => {
                "add lifecycle phases that list the environments in promotion order".to_owned()
            }
            K::UnknownAnalysis { analysis, .. } => {
                format!("define `{analysis}` under `analyses` or correct the name")
            }
            K::SameComponentOwners { component, .. } => {
                format!("name a different person as backup owner of `{component}`")
            }
            K::ProductionResourceInNonProduction {
                environment,
                declared,
                ..
            } => format!(
                "bind `{declared}` in `{environment}` to a non-production resource (`bindings: {{ {declared}: {declared}-{environment} }}`)"
            ),
            K::DuplicateChangeRequest { request, .. } => {
                format!("list change request `{request}` once")
            }
            K::DuplicateChange { change, .. } => format!("give one of the `{change}` changes another id"),
            K::UnknownReleaseComponent { component, .. } => {
                format!("declare `{component}` in the platform or remove it from `components`")
            }
            K::UnknownChangeComponent { component, .. } => {
                format!("declare `{component}` in the platform or correct the change's components")
            }
            K::UnknownConfigurationItem { component, .. } => {
                format!("declare `{component}` in the platform or correct the request's configuration items")
            }
            K::UnknownChangeRequest { request, .. } => {
                format!("add change request `{request}` to `change_requests` or cite another request")
            }
            K::UnapprovedChange { request, .. } => {
                format!("get change request `{request}` approved, or move the change to a later release")
            }
            K::ExpeditedApprovalNotEmergency { request, .. } => format!(
                "get change request `{request}` approved through the normal path, or reclassify it as emergency"
            ),
            K::ComponentOutsideRequest { request, component, .. } => format!(
                "add `{component}` to the configuration items of `{request}` (and have it re-approved) or cite a request that covers it"
            ),
            K::EmergencyReleaseWithoutChanges { .. } => {
                "add the emergency change, or make it a delta or full release".to_owned()
            }
            K::NonEmergencyChangeInEmergencyRelease { change, .. } => format!(
                "move change `{change}` to a regular release; an emergency release carries emergency changes only"
            ),
            K::EmergencyRequestInNonEmergencyRelease { request, .. } => format!(
                "ship it in an emergency release or reclassify change request `{request}`"
            ),
            K::UnchangedComponentShipped { component, .. } => format!(
                "remove `{component}` from `components`, add the change that touches it, or make it a full release"
            ),
            K::ChangedComponentNotShipped { component, .. } => {
                format!("add `{component}` with its version to the release's `components`")
            }
            K::FullReleaseMissingComponent { component, .. } => format!(
                "add `{component}` with its version to `components`, or make it a delta release"
            ),
            K::ScheduleEndsBeforeStart { .. } => "set `schedule.end` after `schedule.start`".to_owned(),
            K::ScheduleOutsideRequestWindow { request, .. } => format!(
                "move the schedule inside the approved window, or have the window of `{request}` extended"
            ),
            K::RequestWithoutWindow { request, .. } => {
                format!("have the CAB approve a window for change request `{request}`")
            }
            K::ScheduleInFreeze { environment, .. } => format!(
                "schedule the release outside the freeze of `{environment}`, or obtain a recorded break-glass override"
            ),
            K::UnknownChangeDependency { depends_on, .. } => format!(
                "correct `{depends_on}`; write `RELEASE-ID/{depends_on}` for a change of another release"
            ),
            K::ChangeDependencyCycle { .. } => {
                "remove one `depends_on` edge of the cycle, or merge the changes".to_owned()
            }
            K::UnknownRollbackPartner { other, .. } => {
                format!("correct `{other}` or remove it from `rollback_with`")
            }
            K::SameReleaseManagers { .. } => {
                "name a different person as backup release manager".to_owned()
            }
            K::UnknownMigrationDatabase { database, .. } => format!(
                "declare `{database}` under `shared_resources` or correct `migrations.database`"
            ),
            K::MigrationDatabaseNotShared { component, database } => {
                format!("add `{database}` to the `shared_resources` of `{component}`")
            }
            K::UnreadableMigrations { .. } => {
                "correct `migrations.directory` or the migration file named".to_owned()
            }
            K::MigrationsNotDeclared { component } => format!(
                "declare `migrations` on component `{component}` in the platform, or remove them from the release"
            ),
            K::MigrationDigestMismatch { actual, .. } => format!(
                "pin {actual} if these files are the ones to ship (and rehearse them again), or restore the pinned files"
            ),
            K::ContractWithOldShapeCode { code, .. } => format!(
                "ship the contract migration in a later release, once `{code}` no longer uses the old shape anywhere (expand now, contract later)"
            ),
            K::ContractInPhasedRollout { component, .. } => format!(
                "ship the expand part now and the contract in a later release, or deploy `{component}` all at once"
            ),
            K::BreakingApiInPhasedRollout { component, from, .. } => format!(
                "serve the {from} API alongside the new one (a compatible release first), or deploy `{component}` all at once"
            ),
            K::MissingRollbackCriteria { .. } => "declare `rollback` with a `watch_window` and at least one trigger (error_rate, latency_p99, sla_breach, data_integrity)".to_owned(),
        }
    }
}
