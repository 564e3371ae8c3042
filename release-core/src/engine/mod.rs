//! The engine: an interpreter of plans, one journaled step at a time.
//!
//! For each stage (environment) of a [`Plan`](crate::plan::Plan) the engine evaluates the
//! phase's entry gates, takes the environment lock and the locks of the shared resources the
//! stage touches (M2.5), captures what runs now as the stage's rollback plan and journals it
//! before deploying anything (M8.3), runs each wave's components through their strategy's
//! step program (bounded parallelism inside a wave), probes after each applied step (M5.4),
//! checks the rollback triggers after each step and through the watch window (M5.5, M8.1),
//! evaluates exit gates, and moves on. Every transition is appended to the
//! [`Ledger`] before the engine acts on it (M5.1); `resume` folds the
//! journal and continues, re-applying at most the one step that was in flight — safe,
//! because targets are declarative.
//!
//! Decisions (where the issues are silent, following Argo Rollouts, Spinnaker and Octopus):
//! - **Rollback is per stage.** A failure in production rolls production back; dev and
//!   staging keep the release they passed with. Every environment always runs one known
//!   version per component.
//! - **Which components roll back:** every component of the failing stage that had a step
//!   journaled, in reverse plan order, each through its strategy's rollback program (traffic
//!   first, then re-apply, then remove new slots).
//! - **Manual policy** (`rollback.automatic: false`): a failure or trigger pauses the release
//!   for an operator, who aborts (rolls back) or resumes (accepts the risk).
//! - **Operator actions are journal events**, so any engine process sees them: the running
//!   interpreter re-reads the journal at every step boundary and, while it sleeps, at every
//!   lease-renewal slice (`lease_ttl / 3`). An action taken through the engine that runs the
//!   release also wakes it at once, so `abort` and `promote` end a pause immediately, as in
//!   Argo Rollouts (`wake.rs`).
//! - **A pause sleeps to its end.** It wakes for background measurements that are due, for
//!   lease renewal and reading the journal (every `lease_ttl / 3`) and, every
//!   `poll_interval`, for the rollback triggers when the release has any — no longer every
//!   `poll_interval` regardless. Runs waiting for the same deadline (to the millisecond)
//!   share one clock sleep (`timers.rs`): 10,000 releases paused together on a virtual clock
//!   hold one timer, not 10,000 (issue #10).
//! - **Waiting is a return, not a block.** A gate that waits for a person, a pause until
//!   approved, or an inconclusive analysis journals `Paused` and returns
//!   [`RunOutcome::Waiting`]; a CI job can stop, and a later `approve` + `resume` continues.
//! - **Locks are leases** with fencing tokens: appends during a stage carry the environment
//!   lock's fence, so an engine that lost its lease cannot write. An engine's `holder`
//!   identity should be stable across restarts; another holder waits for the lease to expire.
//! - **Post-deployment issues** are journal events ([`Engine::report_issue`]); the policy's
//!   `critical_defect` trigger (default severity: critical) fires on an unresolved issue
//!   reported for the environment since its current stage attempt started — during the
//!   rollout or inside the watch window — naming the issue in `TriggerFired`.
//! - **Every rollback opens a root-cause analysis** (`RcaOpened`, once per stage attempt,
//!   also for an operator's abort: M8.6 asks for one after each rollback) naming the
//!   components the attempt deployed; a person closes it with [`Engine::close_rca`], and
//!   release-gates' `rca_closed` gate holds those components' next releases until then.
//! - **Data** (M2.6, M8.5): before a stage that migrates a database the engine takes a
//!   backup through the [`Backup`] registered for it and applies the component's migrations
//!   through its [`Migrator`]; a full rollback of the stage restores the backup after the
//!   components and checks the restored digest (see `data.rs`).
//! - **Virtual time.** All waiting goes through the injected [`Clock`]; with
//!   [`TokioClock`](crate::plugin::TokioClock) on a paused runtime, hours of pauses and watch
//!   windows run in milliseconds and deterministically.

mod history;
mod maps;
mod run;
mod state;
mod timers;
mod wake;
mod watch;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

pub use maps::{SortedMap, StepIter, StepMap};
pub use state::{ReleaseState, StageState, StepState};
pub use watch::{Measurement, evaluate_measurements};

use crate::config::SecretProvider;
use crate::error::{Error, Result};
use crate::id::ComponentId;
use crate::id::{EnvironmentName, ReleaseId};
use crate::ledger::{
    Decision, Event, EventDraft, Feedback, IssueReport, Ledger, MetricSamples, OperatorAction,
    Outcome, Program, RcaClosure, RcaOpening, Record, read_all,
};
use crate::migration::MigrationSet;
use crate::model::{Platform, Release};
use crate::plugin::{
    AllAtOnce, Backup, Clock, DeploymentTarget, Gate, MetricsSource, Migrator, Notifier, Probe,
    Strategy, SystemClock, TrafficRouter,
};

/// Tunables of the engine.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EngineOptions {
    /// This engine's identity as a lock holder (stable across restarts).
    pub holder: String,
    /// How long a lock lease lasts before it must be renewed.
    pub lease_ttl: Duration,
    /// How long a step may take to converge (Argo's `progressDeadlineSeconds`, 600 s).
    pub progress_deadline: Duration,
    /// How often convergence, the watch window and (during pauses, when the release has
    /// rollback triggers) the triggers are checked.
    pub poll_interval: Duration,
    /// How often a retryable plugin error is retried before the step fails.
    pub retries: u32,
    /// Parallelism inside a wave when the plan sets none.
    pub max_parallel: usize,
    /// How long the engine may wait in process for a gate that says when it opens (a
    /// deployment window); `None` (the default, right for CI jobs) returns `Waiting` instead.
    pub wait_for_gates: Option<Duration>,
}

impl EngineOptions {
    /// Options with this lock-holder identity.
    pub fn with_holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// Sets the lease time-to-live.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets the progress deadline.
    pub fn with_progress_deadline(mut self, deadline: Duration) -> Self {
        self.progress_deadline = deadline;
        self
    }

    /// Sets how often convergence and the watch window are polled.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets how often retryable errors are retried.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Lets the engine wait in process, up to `limit`, for a gate that names when it opens.
    pub fn with_wait_for_gates(mut self, limit: Option<Duration>) -> Self {
        self.wait_for_gates = limit;
        self
    }

    /// Sets the default parallelism inside a wave.
    pub fn with_max_parallel(mut self, max_parallel: usize) -> Self {
        self.max_parallel = max_parallel;
        self
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            holder: "engine".to_owned(),
            lease_ttl: Duration::from_secs(60),
            progress_deadline: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            retries: 2,
            max_parallel: 8,
            wait_for_gates: None,
        }
    }
}

/// How a call to [`Engine::start`] or [`Engine::resume`] ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RunOutcome {
    /// The release ended.
    Finished {
        /// How.
        outcome: Outcome,
    },
    /// The release waits for a person (approval, promotion, decision) or a time.
    Waiting {
        /// The environment it waits in.
        environment: Option<EnvironmentName>,
        /// Why.
        reason: String,
    },
}

impl RunOutcome {
    /// The final outcome, if the release ended.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            Self::Finished { outcome } => Some(outcome),
            Self::Waiting { .. } => None,
        }
    }
}

pub(crate) struct Inner {
    pub ledger: Arc<dyn Ledger>,
    pub clock: Arc<dyn Clock>,
    pub targets: BTreeMap<String, Arc<dyn DeploymentTarget>>,
    pub router: Option<Arc<dyn TrafficRouter>>,
    pub strategies: BTreeMap<String, Arc<dyn Strategy>>,
    pub gates: BTreeMap<String, Arc<dyn Gate>>,
    pub metrics: BTreeMap<String, Arc<dyn MetricsSource>>,
    pub probes: BTreeMap<String, Arc<dyn Probe>>,
    pub notifiers: Vec<Arc<dyn Notifier>>,
    pub secrets: Option<Arc<dyn SecretProvider>>,
    pub events: broadcast::Sender<crate::ledger::Record>,
    pub options: EngineOptions,
    pub backups: BTreeMap<String, Arc<dyn Backup>>,
    pub migrators: BTreeMap<String, Arc<dyn Migrator>>,
    pub migration_sets: BTreeMap<ComponentId, Vec<MigrationSet>>,
    /// Releases running in this engine, woken by operator actions (`wake.rs`).
    pub running: Arc<wake::Running>,
    /// One clock sleep per distinct deadline (`timers.rs`).
    pub timers: timers::Timers,
}

/// Evidence for a gate, as [`Engine::record_evidence`] journals it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Evidence {
    /// What kind (`junit`, `sign_off`, `migration_rehearsal`…): the gate that reads it.
    pub kind: String,
    /// The environment it is for; the whole release when absent.
    pub environment: Option<EnvironmentName>,
    /// The evidence, in its gate's format.
    pub payload: serde_json::Value,
}

impl Evidence {
    /// Evidence of `kind` for the whole release.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            environment: None,
            payload,
        }
    }

    /// For one environment.
    pub fn for_environment(mut self, environment: impl Into<EnvironmentName>) -> Self {
        self.environment = Some(environment.into());
        self
    }
}

/// The release engine. Cheap to clone; every clone drives the same plugins.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("holder", &self.inner.options.holder)
            .field("targets", &self.inner.targets.keys().collect::<Vec<_>>())
            .field(
                "strategies",
                &self.inner.strategies.keys().collect::<Vec<_>>(),
            )
            .field("gates", &self.inner.gates.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`] from named plugins.
pub struct EngineBuilder {
    ledger: Option<Arc<dyn Ledger>>,
    clock: Arc<dyn Clock>,
    targets: BTreeMap<String, Arc<dyn DeploymentTarget>>,
    router: Option<Arc<dyn TrafficRouter>>,
    strategies: BTreeMap<String, Arc<dyn Strategy>>,
    gates: BTreeMap<String, Arc<dyn Gate>>,
    metrics: BTreeMap<String, Arc<dyn MetricsSource>>,
    probes: BTreeMap<String, Arc<dyn Probe>>,
    notifiers: Vec<Arc<dyn Notifier>>,
    secrets: Option<Arc<dyn SecretProvider>>,
    options: EngineOptions,
    backups: BTreeMap<String, Arc<dyn Backup>>,
    migrators: BTreeMap<String, Arc<dyn Migrator>>,
    migration_sets: BTreeMap<ComponentId, Vec<MigrationSet>>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        let mut strategies: BTreeMap<String, Arc<dyn Strategy>> = BTreeMap::new();
        strategies.insert("all_at_once".to_owned(), Arc::new(AllAtOnce));
        Self {
            ledger: None,
            clock: Arc::new(SystemClock),
            targets: BTreeMap::new(),
            router: None,
            strategies,
            gates: BTreeMap::new(),
            metrics: BTreeMap::new(),
            probes: BTreeMap::new(),
            notifiers: Vec::new(),
            secrets: None,
            options: EngineOptions::default(),
            backups: BTreeMap::new(),
            migrators: BTreeMap::new(),
            migration_sets: BTreeMap::new(),
        }
    }
}

impl EngineBuilder {
    /// The ledger (required).
    pub fn ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// The clock (the system clock by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A deployment target under the name environments use in `targets` (`default` serves
    /// components an environment does not map; a lone target serves everything).
    pub fn target(mut self, name: impl Into<String>, target: Arc<dyn DeploymentTarget>) -> Self {
        self.targets.insert(name.into(), target);
        self
    }

    /// The traffic router; without one, traffic follows replica counts.
    pub fn router(mut self, router: Arc<dyn TrafficRouter>) -> Self {
        self.router = Some(router);
        self
    }

    /// A strategy, under its own name (`all_at_once` is built in).
    pub fn strategy(mut self, strategy: Arc<dyn Strategy>) -> Self {
        self.strategies.insert(strategy.name().to_owned(), strategy);
        self
    }

    /// A gate under the name manifests use (`approval`, `window`, a custom name).
    pub fn gate(mut self, name: impl Into<String>, gate: Arc<dyn Gate>) -> Self {
        self.gates.insert(name.into(), gate);
        self
    }

    /// A metrics source under the name analyses use (`router`, `prometheus`); rollback
    /// triggers read the one named `default`, or the only one.
    pub fn metrics(mut self, name: impl Into<String>, source: Arc<dyn MetricsSource>) -> Self {
        self.metrics.insert(name.into(), source);
        self
    }

    /// A probe run against every slot after each apply, and by name from triggers.
    pub fn probe(mut self, name: impl Into<String>, probe: Arc<dyn Probe>) -> Self {
        self.probes.insert(name.into(), probe);
        self
    }

    /// A notifier that receives every record it wants.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifiers.push(notifier);
        self
    }

    /// The secret provider configurations are resolved through at deploy time.
    pub fn secrets(mut self, provider: Arc<dyn SecretProvider>) -> Self {
        self.secrets = Some(provider);
        self
    }

    /// The backup of a database (a shared resource), taken before a stage that migrates it
    /// and restored on that stage's full rollback (M2.6, M8.5). Registered under the concrete
    /// resource an environment binds, or under the declared one to serve every environment.
    pub fn backup(mut self, resource: impl Into<String>, backup: Arc<dyn Backup>) -> Self {
        self.backups.insert(resource.into(), backup);
        self
    }

    /// The migrator of a database (a shared resource), looked up like [`Self::backup`].
    pub fn migrator(mut self, resource: impl Into<String>, migrator: Arc<dyn Migrator>) -> Self {
        self.migrators.insert(resource.into(), migrator);
        self
    }

    /// A migration set a component's releases apply (register the same set again before
    /// resuming). Register one set per shipped version when releases of several versions
    /// run on one engine (as Flyway or Octopus keep the scripts with each package): a release
    /// that pins a digest (`components.<id>.migrations.digest`) gets exactly the set with
    /// that digest; an unpinned release needs exactly one registered set. Registering the
    /// same set twice keeps one.
    pub fn migrations(mut self, component: impl Into<ComponentId>, set: MigrationSet) -> Self {
        let sets = self.migration_sets.entry(component.into()).or_default();
        if !sets.iter().any(|s| s.digest() == set.digest()) {
            sets.push(set);
        }
        self
    }

    /// Engine options.
    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// The ledger set so far, for plugins that read other releases' journals (the RCA gate).
    pub fn ledger_handle(&self) -> Option<&Arc<dyn Ledger>> {
        self.ledger.as_ref()
    }

    /// Builds the engine.
    pub fn build(self) -> Result<Engine> {
        let ledger = self.ledger.ok_or_else(|| {
            Error::Invalid("the engine needs a ledger; call `.ledger(...)`".to_owned())
        })?;
        if self.targets.is_empty() {
            return Err(Error::Invalid(
                "the engine needs at least one deployment target; call `.target(name, ...)`"
                    .to_owned(),
            ));
        }
        let (events, _) = broadcast::channel(1024);
        Ok(Engine {
            inner: Arc::new(Inner {
                ledger,
                clock: self.clock,
                targets: self.targets,
                router: self.router,
                strategies: self.strategies,
                gates: self.gates,
                metrics: self.metrics,
                probes: self.probes,
                notifiers: self.notifiers,
                secrets: self.secrets,
                events,
                options: self.options,
                backups: self.backups,
                migrators: self.migrators,
                migration_sets: self.migration_sets,
                running: Arc::default(),
                timers: timers::Timers::default(),
            }),
        })
    }
}

impl Engine {
    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The stream of journal records as they are appended (for hosts and notifiers).
    pub fn subscribe(&self) -> broadcast::Receiver<crate::ledger::Record> {
        self.inner.events.subscribe()
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.inner.ledger
    }

    /// Starts a release: plans it, journals the start, and runs until it ends or waits.
    /// The platform and the release are copied once, into the journal's first record (see
    /// [`Engine::start_shared`] for documents the host already shares).
    pub async fn start(
        &self,
        platform: &Platform,
        release: &Release,
        operator: &str,
    ) -> Result<RunOutcome> {
        let (platform, release) = (Arc::new(platform.clone()), Arc::new(release.clone()));
        run::start(self.inner.clone(), platform, release, operator).await
    }

    /// [`Engine::start`] with documents the host already shares: the journal's
    /// `release_started` record and the run keep these, not copies. A host that starts many
    /// releases of one platform keeps one platform in memory for all of them.
    pub async fn start_shared(
        &self,
        platform: Arc<Platform>,
        release: Arc<Release>,
        operator: &str,
    ) -> Result<RunOutcome> {
        run::start(self.inner.clone(), platform, release, operator).await
    }

    /// Continues a release from its journal.
    pub async fn resume(&self, release: &ReleaseId, operator: &str) -> Result<RunOutcome> {
        run::resume(self.inner.clone(), release, operator).await
    }

    /// The release's state, folded from its journal.
    pub async fn status(&self, release: &ReleaseId) -> Result<ReleaseState> {
        let records = read_all(self.inner.ledger.as_ref(), release).await?;
        if records.is_empty() {
            return Err(not_started(release));
        }
        Ok(ReleaseState::fold(&records))
    }

    /// Records an approval for an environment's gates (M5.2).
    pub async fn approve(
        &self,
        release: &ReleaseId,
        environment: &EnvironmentName,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.decide(release, environment, operator, comment, Decision::Approve)
            .await
    }

    /// Records a rejection: the waiting gate fails.
    pub async fn reject(
        &self,
        release: &ReleaseId,
        environment: &EnvironmentName,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.decide(release, environment, operator, comment, Decision::Reject)
            .await
    }

    async fn decide(
        &self,
        release: &ReleaseId,
        environment: &EnvironmentName,
        operator: &str,
        comment: Option<String>,
        decision: Decision,
    ) -> Result<()> {
        let state = self.status(release).await?;
        let action = match decision {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        };
        if state.finished.is_some() {
            return Err(invalid_action(action, release, "it has already ended"));
        }
        known_environment(&state, action, release, environment)?;
        self.append_operator(
            release,
            operator,
            Event::ApprovalRecorded {
                environment: environment.clone(),
                decision,
                comment,
            },
        )
        .await
    }

    /// Asks a running release to stop at its next step boundary.
    pub async fn pause(
        &self,
        release: &ReleaseId,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.act(release, operator, OperatorAction::Pause, comment)
            .await
    }

    /// Aborts: the current stage rolls back and the release ends (run `resume` to carry it out
    /// when no engine is running the release).
    pub async fn abort(
        &self,
        release: &ReleaseId,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.act(release, operator, OperatorAction::Abort, comment)
            .await
    }

    /// Skips the remaining pauses and analyses of the current stage's rollouts.
    pub async fn promote_full(
        &self,
        release: &ReleaseId,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.act(release, operator, OperatorAction::PromoteFull, comment)
            .await
    }

    /// Lifts an operator pause and promotes a step paused until approved; then call
    /// [`Engine::resume`].
    pub async fn unpause(
        &self,
        release: &ReleaseId,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.act(release, operator, OperatorAction::Resume, comment)
            .await
    }

    /// Promotes (Argo Rollouts' `promote`): the step paused until approved, or the
    /// inconclusive analysis, counts as done; then call [`Engine::resume`].
    pub async fn promote(
        &self,
        release: &ReleaseId,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.act(release, operator, OperatorAction::Resume, comment)
            .await
    }

    /// Reopens a release that was rolled back or failed a gate: the failed stage starts over
    /// as a new attempt when the release is resumed.
    pub async fn retry(
        &self,
        release: &ReleaseId,
        operator: &str,
        comment: Option<String>,
    ) -> Result<()> {
        self.act(release, operator, OperatorAction::Retry, comment)
            .await
    }

    async fn act(
        &self,
        release: &ReleaseId,
        operator: &str,
        action: OperatorAction,
        comment: Option<String>,
    ) -> Result<()> {
        let state = self.status(release).await?;
        let name = action.to_string();
        match (action, &state.finished) {
            (OperatorAction::Retry, Some(Outcome::Succeeded)) => {
                return Err(invalid_action(
                    &name,
                    release,
                    "it succeeded; there is nothing to retry",
                ));
            }
            (OperatorAction::Retry, None) => {
                return Err(invalid_action(
                    &name,
                    release,
                    "it has not ended; resume it instead",
                ));
            }
            (OperatorAction::Retry, Some(_)) => {}
            (_, Some(_)) => return Err(invalid_action(&name, release, "it has already ended")),
            _ => {}
        }
        self.append_operator(release, operator, Event::OperatorActed { action, comment })
            .await
    }

    /// Records a post-deployment issue with its severity and owner (M6.6). A critical issue
    /// (or one at the policy's `critical_defect` severity) reported for an environment inside
    /// its watch window makes the running engine roll that stage back.
    pub async fn report_issue(
        &self,
        release: &ReleaseId,
        operator: &str,
        issue: IssueReport,
    ) -> Result<()> {
        let state = self.status(release).await?;
        let records = read_all(self.inner.ledger.as_ref(), release).await?;
        let what = "report issue";
        if issue.id.trim().is_empty() || issue.title.trim().is_empty() {
            return Err(invalid_action(
                what,
                release,
                "an issue needs a non-empty id and title",
            ));
        }
        known_environment(&state, what, release, &issue.environment)?;
        if let Some(component) = &issue.component
            && !state
                .platform
                .as_ref()
                .is_some_and(|p| p.components.iter().any(|c| &c.id == component))
        {
            return Err(invalid_action(
                what,
                release,
                &format!("the platform has no component `{component}`"),
            ));
        }
        if reported_issue(&records, &issue.id).is_some() {
            return Err(invalid_action(
                what,
                release,
                &format!(
                    "issue {} was already reported; resolve it or use a new id",
                    issue.id
                ),
            ));
        }
        self.append_operator(release, operator, Event::IssueReported(issue))
            .await
    }

    /// Marks a reported issue resolved.
    pub async fn resolve_issue(
        &self,
        release: &ReleaseId,
        issue: &str,
        operator: &str,
        resolution: impl Into<String>,
    ) -> Result<()> {
        let records = read_all(self.inner.ledger.as_ref(), release).await?;
        if records.is_empty() {
            return Err(not_started(release));
        }
        match reported_issue(&records, issue) {
            None => {
                return Err(invalid_action(
                    "resolve issue",
                    release,
                    &format!("no issue {issue} was reported for it; check the id"),
                ));
            }
            Some(true) => {
                return Err(invalid_action(
                    "resolve issue",
                    release,
                    &format!("issue {issue} is already resolved"),
                ));
            }
            Some(false) => {}
        }
        self.append_operator(
            release,
            operator,
            Event::IssueResolved {
                issue: issue.to_owned(),
                resolution: resolution.into(),
            },
        )
        .await
    }

    /// Records feedback from early users or internal teams with the release (M6.5).
    pub async fn record_feedback(
        &self,
        release: &ReleaseId,
        operator: &str,
        feedback: Feedback,
    ) -> Result<()> {
        let state = self.status(release).await?;
        if feedback.text.trim().is_empty() || feedback.from.trim().is_empty() {
            return Err(invalid_action(
                "record feedback",
                release,
                "feedback needs who gave it and what they said",
            ));
        }
        if let Some(environment) = &feedback.environment {
            known_environment(&state, "record feedback", release, environment)?;
        }
        self.append_operator(release, operator, Event::FeedbackRecorded(feedback))
            .await
    }

    /// Records evidence a gate reads — a test report (`junit`), a sign-off (`sign_off`), a
    /// scan — for one environment or, without one, for the whole release (M4.4–M4.6). The
    /// payload is the gate's own format (see release-gates' `EvidencePayload`); the gates
    /// judge it when the release resumes, as they judge evidence appended by other means.
    /// Evidence for a finished release is kept too (a late report belongs in its evidence
    /// bundle), though no gate reads it any more.
    pub async fn record_evidence(
        &self,
        release: &ReleaseId,
        operator: &str,
        evidence: Evidence,
    ) -> Result<()> {
        let Evidence {
            kind,
            environment,
            payload,
        } = evidence;
        let state = self.status(release).await?;
        if kind.trim().is_empty() {
            return Err(invalid_action(
                "record evidence",
                release,
                "evidence needs a kind, such as `junit` or `sign_off`",
            ));
        }
        if let Some(environment) = &environment {
            known_environment(&state, "record evidence", release, environment)?;
        }
        self.append_operator(
            release,
            operator,
            Event::EvidenceRecorded {
                kind,
                environment,
                payload,
            },
        )
        .await
    }

    /// Closes the root-cause analysis the engine opened after a rollback (M8.6); until then
    /// the `rca_closed` gate holds the rolled-back components' next releases.
    pub async fn close_rca(
        &self,
        release: &ReleaseId,
        operator: &str,
        closure: RcaClosure,
    ) -> Result<()> {
        let records = read_all(self.inner.ledger.as_ref(), release).await?;
        if records.is_empty() {
            return Err(not_started(release));
        }
        let what = "close RCA";
        let opened = records
            .iter()
            .any(|r| matches!(&r.event, Event::RcaOpened(o) if o.id == closure.id));
        if !opened {
            return Err(invalid_action(
                what,
                release,
                &format!(
                    "it has no RCA {}; its RCAs are opened when a stage rolls back",
                    closure.id
                ),
            ));
        }
        if records
            .iter()
            .any(|r| matches!(&r.event, Event::RcaClosed(c) if c.id == closure.id))
        {
            return Err(invalid_action(
                what,
                release,
                &format!("RCA {} is already closed", closure.id),
            ));
        }
        if closure.summary.trim().is_empty() || closure.cause.trim().is_empty() {
            return Err(invalid_action(
                what,
                release,
                &format!(
                    "RCA {} needs a summary and a root cause to be closed",
                    closure.id
                ),
            ));
        }
        self.append_operator(release, operator, Event::RcaClosed(closure))
            .await
    }

    /// Keeps metric samples (canary and baseline) with the release, for reports.
    pub async fn record_metrics(
        &self,
        release: &ReleaseId,
        operator: &str,
        samples: MetricSamples,
    ) -> Result<()> {
        let state = self.status(release).await?;
        known_environment(&state, "record metrics", release, &samples.environment)?;
        if let Some(bad) = samples.samples.iter().find(|s| !s.value.is_finite()) {
            return Err(invalid_action(
                "record metrics",
                release,
                &format!(
                    "sample of {} for slot {} at {} is not a finite number",
                    samples.metric, bad.slot, bad.at
                ),
            ));
        }
        self.append_operator(release, operator, Event::MetricsSampled(samples))
            .await
    }

    async fn append_operator(
        &self,
        release: &ReleaseId,
        operator: &str,
        event: Event,
    ) -> Result<()> {
        let changes = {
            let state = self.status(release).await?;
            state
                .spec
                .as_ref()
                .map(|r| r.changes.iter().map(|c| c.id.clone()).collect())
                .unwrap_or_default()
        };
        let draft = EventDraft::new(
            release.clone(),
            self.inner.clock.now(),
            operator,
            changes,
            event,
        );
        let record = self.inner.ledger.append(draft, None).await?;
        let _ = self.inner.events.send(record);
        // After the append: a run that wakes for it reads it (wake.rs).
        self.inner.running.signal(release);
        Ok(())
    }
}

fn known_environment(
    state: &ReleaseState,
    action: &str,
    release: &ReleaseId,
    environment: &EnvironmentName,
) -> Result<()> {
    let known = state
        .platform
        .as_ref()
        .is_some_and(|p| p.environment(environment.as_str()).is_some());
    if known {
        Ok(())
    } else {
        Err(invalid_action(
            action,
            release,
            &format!("the platform has no environment `{environment}`"),
        ))
    }
}

/// Whether issue `id` was reported (`Some`) and is resolved (`Some(true)`).
fn reported_issue(records: &[Record], id: &str) -> Option<bool> {
    let reported = records
        .iter()
        .any(|r| matches!(&r.event, Event::IssueReported(i) if i.id == id));
    reported.then(|| {
        records
            .iter()
            .any(|r| matches!(&r.event, Event::IssueResolved { issue, .. } if issue == id))
    })
}

/// The RCA to open after a stage attempt rolled back, unless the journal has it already:
/// it names every component the attempt deployed (and so rolled back), sorted.
pub(crate) fn rca_opening(
    records: &[Record],
    release: &ReleaseId,
    environment: &EnvironmentName,
    attempt: u32,
    reason: &str,
) -> Option<RcaOpening> {
    let id = RcaOpening::id_for(release, environment, attempt);
    if records
        .iter()
        .any(|r| matches!(&r.event, Event::RcaOpened(o) if o.id == id))
    {
        return None;
    }
    let mut components: Vec<_> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::StepStarted { key, .. }
                if &key.environment == environment
                    && key.attempt == attempt
                    && key.program == Program::Deploy =>
            {
                Some(key.component.clone())
            }
            _ => None,
        })
        .collect();
    components.sort();
    components.dedup();
    Some(RcaOpening {
        id,
        environment: environment.clone(),
        attempt,
        components,
        reason: reason.to_owned(),
    })
}

fn not_started(release: &ReleaseId) -> Error {
    Error::not_found(
        format!("release {release}"),
        "start it with `Engine::start` first, or check the ledger it was started on",
    )
}

fn invalid_action(action: &str, release: &ReleaseId, reason: &str) -> Error {
    Error::InvalidAction {
        action: action.to_owned(),
        release: release.clone(),
        reason: reason.to_owned(),
    }
}

/// Compile-time check: hosts `tokio::spawn` the engine, so its futures must be `Send`.
#[allow(dead_code)]
fn _futures_are_send(engine: &Engine, platform: &Platform, release: &Release, id: &ReleaseId) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&engine.start(platform, release, "host"));
    is_send(&engine.resume(id, "host"));
    is_send(&engine.abort(id, "host", None));
}
