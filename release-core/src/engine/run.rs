//! The interpreter: walks the plan, skipping what the journal says is done.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use tracing::Instrument;

use super::state::{ReleaseState, StepState};
use super::wake::{Registration, Seen};
use super::watch::{Measurement, check_triggers, evaluate_measurements, measure};
use super::{Inner, RunOutcome};
use crate::config::render_component;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::id::{ChangeId, ComponentId, EnvironmentName, ReleaseId};
use crate::ledger::{
    AnalysisOutcome, Event, EventDraft, Fence, Lease, Outcome, Program, Record, RollbackEntry,
    StepKey, read_all,
};
use crate::model::{ParamValue, Pause, Phase, Platform, Release, RollbackTrigger};
use crate::plan::{DeployStep, Plan, PlanOptions, plan_release};
use crate::plugin::{
    ApplyRequest, DeploymentTarget, GateContext, GatePosition, GateVerdict, MetricScope,
    ProbeRequest, Reason, RolloutSpec, RolloutStep, Route, SlotSpec, gate_name,
};

// Backups, migrations and restores of stages that change data: a child module, so it
// extends `Run` without widening its fields.
#[path = "data.rs"]
mod data;

/// Who the engine appends as for what it decides itself.
const ENGINE: &str = "engine";

pub(crate) async fn start(
    inner: Arc<Inner>,
    platform: Arc<Platform>,
    release: Arc<Release>,
    operator: &str,
) -> Result<RunOutcome> {
    let id = release.id().clone();
    if !inner.ledger.events(&id, 0).await?.is_empty() {
        return Err(Error::InvalidAction {
            action: "start".to_owned(),
            release: id,
            reason: "it was already started; resume it instead".to_owned(),
        });
    }
    let plan = plan_release(&platform, &release, &PlanOptions::default())
        .map_err(|e| Error::Invalid(e.to_string()))?;
    check_registered(&inner, &platform, &release, &plan)?;
    let plan_digest = plan_digest(&plan)?;
    let changes = release.changes.iter().map(|c| c.id.clone()).collect();
    let event = Event::ReleaseStarted {
        platform,
        release,
        plan_digest,
    };
    let draft = EventDraft::new(id.clone(), inner.clock.now(), operator, changes, event);
    // The run starts from the record it just appended and the plan it just made: reading the
    // record back (decoding the platform and release it carries) and planning again, as
    // `resume` must, would only repeat this work (issue #10). The record shares the platform
    // and the release with the fold (no copies); scoped, so that the rest of it does not stay
    // alive in this future for the whole run.
    let state = {
        let record = inner.ledger.append(draft, None).await?;
        publish(&inner, &record);
        notify(&inner, &record).await;
        ReleaseState::fold(std::slice::from_ref(&record))
    };
    run(inner, state, plan, operator).await
}

pub(crate) async fn resume(
    inner: Arc<Inner>,
    release: &ReleaseId,
    operator: &str,
) -> Result<RunOutcome> {
    let records = read_all(inner.ledger.as_ref(), release).await?;
    if records.is_empty() {
        return Err(super::not_started(release));
    }
    let state = ReleaseState::fold(&records);
    // The ledger keeps the records; the run keeps their fold (see `Journal::records`).
    drop(records);
    if let Some(outcome) = &state.finished {
        return Ok(RunOutcome::Finished {
            outcome: outcome.clone(),
        });
    }
    let (Some(platform), Some(spec)) = (&state.platform, &state.spec) else {
        return Err(Error::Invalid(format!(
            "the journal of {release} does not start with `release_started`; it cannot be resumed"
        )));
    };
    let plan = plan_release(platform, spec, &PlanOptions::default())
        .map_err(|e| Error::Invalid(e.to_string()))?;
    if state.plan_digest != Some(plan_digest(&plan)?) {
        return Err(Error::Invalid(format!(
            "the plan of {release} computed now differs from the one it started with \
             (the planner changed); finish it with the engine version that started it"
        )));
    }
    run(inner, state, plan, operator).await
}

/// Drives a release from the fold of its journal and its plan.
async fn run(
    inner: Arc<Inner>,
    state: ReleaseState,
    plan: Plan,
    operator: &str,
) -> Result<RunOutcome> {
    let (Some(platform), Some(spec)) = (state.platform.clone(), state.spec.clone()) else {
        return Err(Error::Invalid(format!(
            "the journal of {} does not start with `release_started`; it cannot be run",
            state
                .release
                .as_ref()
                .map_or_else(|| "this release".to_owned(), ToString::to_string)
        )));
    };
    let registration = inner.running.register(spec.id());
    let run = Run {
        inner,
        platform,
        release: spec,
        plan,
        actor: operator.to_owned(),
        journal: tokio::sync::Mutex::new(Journal {
            records: None,
            state,
            fence: None,
        }),
        leases: Mutex::new(Vec::new()),
        halt: AtomicBool::new(false),
        probe_failures: Mutex::new(BTreeMap::new()),
        background: Mutex::new(BTreeMap::new()),
        registration,
        seen: Seen::default(),
    };
    let span = tracing::info_span!("release", id = %run.release.id());
    run.drive().instrument(span).await
}

/// The records others appended between the run's last look (`seen`) and its own `record`:
/// exactly `seen + 1 .. record.seq`, in order, or an error naming the hole (a ledger that
/// lost or reordered records must not make the run skip, say, an abort).
fn gap(fresh: Vec<Record>, seen: u64, record: &Record) -> Result<Vec<Record>> {
    let between: Vec<Record> = fresh.into_iter().filter(|r| r.seq < record.seq).collect();
    let contiguous = between
        .iter()
        .zip(seen + 1..)
        .all(|(r, expected)| r.seq == expected);
    let expected = record.seq.saturating_sub(seen + 1);
    if contiguous && u64::try_from(between.len()).is_ok_and(|n| n == expected) {
        Ok(between)
    } else {
        Err(Error::InvalidReply {
            plugin: "ledger".to_owned(),
            message: format!(
                "it numbered this run's record of {} as {} after {seen}, but returned {} \
                 record(s) in between instead of {expected} in order; check the ledger's \
                 consistency (a replica that lags?) and resume the release",
                record.release,
                record.seq,
                between.len()
            ),
        })
    }
}

fn plan_digest(plan: &Plan) -> Result<Sha256Digest> {
    // Hashed as it is written: the same bytes as `Sha256Digest::of(&serde_json::to_vec(plan))`
    // without a buffer that grows past glibc's large-bin size on every start (issue #10).
    let mut out = HashingWriter::default();
    serde_json::to_writer(&mut out, plan).map_err(|e| Error::Codec {
        what: "the plan".to_owned(),
        message: e.to_string(),
    })?;
    Ok(out.finish())
}

/// An [`std::io::Write`] that hashes what it is given (`digest` 0.11 has no `io::Write`;
/// the hasher buffers its own partial block, so small writes need no buffer here).
struct HashingWriter(crate::digest::Sha256);

impl Default for HashingWriter {
    fn default() -> Self {
        Self(<crate::digest::Sha256 as sha2::Digest>::new())
    }
}

impl HashingWriter {
    fn finish(self) -> Sha256Digest {
        Sha256Digest::from_hasher(self.0)
    }
}

impl std::io::Write for HashingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every strategy, gate and target the plan needs must be registered; reports them all.
fn check_registered(
    inner: &Inner,
    platform: &Platform,
    release: &Release,
    plan: &Plan,
) -> Result<()> {
    let mut missing = Vec::new();
    data::check_registered(inner, platform, release, plan, &mut missing);
    for stage in &plan.stages {
        for step in stage.steps() {
            let name = step.strategy.as_str();
            if !inner.strategies.contains_key(name) {
                missing.push(format!(
                    "strategy `{name}` (component {}) is not registered; add it with `.strategy(...)`",
                    step.component
                ));
            }
            if let Err(e) = target_name(inner, platform, &stage.environment, &step.component) {
                missing.push(match e {
                    Error::Invalid(message) => message,
                    other => other.to_string(),
                });
            }
        }
    }
    for phase in &platform.lifecycle.phases {
        for spec in phase.entry_gates.iter().chain(&phase.exit_gates) {
            let name = gate_name(spec);
            if !inner.gates.contains_key(name) && name != "approval" {
                missing.push(format!(
                    "gate `{name}` (phase {}) is not registered; add it with `.gate(\"{name}\", ...)`",
                    phase.name
                ));
            }
        }
    }
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(missing.join("; ")))
    }
}

pub(super) fn target_name<'a>(
    inner: &'a Inner,
    platform: &Platform,
    environment: &EnvironmentName,
    component: &ComponentId,
) -> Result<&'a Arc<dyn DeploymentTarget>> {
    let env = platform.environment(environment.as_str());
    let named = env.and_then(|e| {
        e.targets
            .get(component.as_str())
            .or_else(|| e.targets.get("default"))
    });
    let found = match named {
        Some(name) => inner.targets.get(name),
        None => inner.targets.get("default").or_else(|| {
            (inner.targets.len() == 1)
                .then(|| inner.targets.values().next())
                .flatten()
        }),
    };
    found.ok_or_else(|| {
        Error::Invalid(format!(
            "no deployment target for {component} in {environment}: register `{}` with `.target(...)`",
            named.map_or("default", |s| s.as_str())
        ))
    })
}

/// The journal of one run: records seen, their fold, and the fence appends carry.
struct Journal {
    /// Every record seen (seq 1 ..= `state.last_seq`), kept only from the first time a gate,
    /// a `critical_defect` trigger, a rollback or a migrating stage asks for them
    /// ([`Run::records`]). Most runs never do, and the ledger holds the records anyway: at
    /// 10,000 concurrent releases a second copy of every journal was a fifth of the heap.
    records: Option<Vec<Record>>,
    state: ReleaseState,
    fence: Option<Fence>,
}

impl Journal {
    /// Folds records appended by others since the last look.
    fn fold(&mut self, fresh: Vec<Record>) {
        for r in fresh {
            self.state.apply(&r);
            if let Some(records) = &mut self.records {
                records.push(r);
            }
        }
    }
}

/// How a component's rollout (or a wave) ended.
enum Flow {
    Done,
    Failed(String),
    Waiting(String),
    Aborted,
    Halted,
}

/// A wave's outcome from its components' (in plan order): a failure wins over waiting, an
/// abort over everything; a component that stopped because another failed (`Halted`) counts
/// as done.
fn wave_outcome(results: impl IntoIterator<Item = Result<Flow>>) -> Result<Flow> {
    let mut outcome = Flow::Done;
    for r in results {
        match (r?, &outcome) {
            (Flow::Failed(reason), Flow::Done | Flow::Halted | Flow::Waiting(_)) => {
                outcome = Flow::Failed(reason);
            }
            (Flow::Aborted, _) => outcome = Flow::Aborted,
            (Flow::Waiting(reason), Flow::Done | Flow::Halted) => outcome = Flow::Waiting(reason),
            _ => {}
        }
    }
    Ok(outcome)
}

/// How one step ended.
enum StepEnd {
    Done,
    Waiting(String),
    Aborted,
}

struct Run {
    inner: Arc<Inner>,
    platform: Arc<Platform>,
    release: Arc<Release>,
    plan: Plan,
    actor: String,
    journal: tokio::sync::Mutex<Journal>,
    leases: Mutex<Vec<Lease>>,
    halt: AtomicBool,
    probe_failures: Mutex<BTreeMap<(ComponentId, String), u32>>,
    background: Mutex<BTreeMap<(EnvironmentName, ComponentId), Vec<Background>>>,
    /// This run's entry among the engine's running releases: operator actions taken
    /// through the engine wake its sleeps (see `engine/wake.rs`).
    registration: Registration,
    /// The action counter as of the last read of the ledger.
    seen: Seen,
}

/// How a sleep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slept {
    /// The whole duration passed.
    Elapsed,
    /// What the caller waits for (`until`) holds: an operator promoted the release.
    Acted,
    /// An abort was requested (interruptible sleeps only).
    Aborted,
}

/// An analysis running in the background of a component's rollout.
struct Background {
    analysis: crate::id::AnalysisName,
    next_due: DateTime<Utc>,
    measurements: Vec<Measurement>,
}

/// Spends the one unit of Tokio's cooperative budget that reading the run's journal (a
/// `tokio::sync::Mutex` lock) spent where the journal is no longer read. The budget decides
/// where a task yields, and so how the steps of a wave's concurrent components interleave
/// in the journal: keeping the yield points keeps every journal byte-identical to what the
/// engine wrote before the journal copy was dropped (tests/engine.rs, tests/closure.rs).
async fn same_yield_points() {
    tokio::task::consume_budget().await;
}

/// Sends a record to the engine's subscribers; without any, skips the copy (sending to no
/// receiver fails and drops it anyway).
fn publish(inner: &Inner, record: &Record) {
    if inner.events.receiver_count() > 0 {
        let _ = inner.events.send(record.clone());
    }
}

async fn notify(inner: &Inner, record: &Record) {
    for n in &inner.notifiers {
        if n.wants(&record.event)
            && let Err(e) = n.notify(record).await
        {
            tracing::warn!(error = %e, seq = record.seq, "a notifier failed; the release goes on");
        }
    }
}

impl Run {
    fn id(&self) -> &ReleaseId {
        self.release.id()
    }

    fn changes_for(&self, component: Option<&ComponentId>) -> Vec<ChangeId> {
        self.release
            .changes
            .iter()
            .filter(|c| component.is_none_or(|comp| c.components.contains(comp)))
            .map(|c| c.id.clone())
            .collect()
    }

    /// Appends an event (before acting on it) and folds it.
    async fn append(&self, event: Event) -> Result<Record> {
        let component = match &event {
            Event::StepStarted { key, .. }
            | Event::StepSucceeded { key }
            | Event::StepFailed { key, .. } => Some(key.component.clone()),
            Event::ProbeChecked { component, .. } | Event::AnalysisCompleted { component, .. } => {
                Some(component.clone())
            }
            Event::TriggerFired { component, .. } => component.clone(),
            _ => None,
        };
        let actor = match &event {
            Event::StageStarted { .. } => self.actor.as_str(),
            _ => ENGINE,
        };
        let draft = EventDraft::new(
            self.id().clone(),
            self.inner.clock.now(),
            actor,
            self.changes_for(component.as_ref()),
            event,
        );
        let record = {
            let mut j = self.journal.lock().await;
            let seen = j.state.last_seq;
            let record = self.inner.ledger.append(draft, j.fence.as_ref()).await?;
            // Others appended (operator actions) since the last look: fold theirs first, so
            // the fold stays in journal order. Read only then — before, every append read
            // the journal first, a query per record with a database ledger (issue #10).
            if record.seq != seen + 1 {
                let between = match self.inner.ledger.events(self.id(), seen).await {
                    Ok(fresh) => gap(fresh, seen, &record),
                    Err(e) => Err(e),
                };
                match between {
                    Ok(between) => j.fold(between),
                    Err(e) => {
                        // The record is journaled: subscribers and notifiers hear of it even
                        // though this run stops here; the fold stays at `seen`, so whoever
                        // resumes reads it all again.
                        drop(j);
                        publish(&self.inner, &record);
                        notify(&self.inner, &record).await;
                        return Err(e);
                    }
                }
            }
            j.state.apply(&record);
            if let Some(records) = &mut j.records {
                records.push(record.clone());
            }
            record
        };
        tracing::debug!(
            seq = record.seq,
            event = record.event.type_name(),
            "journaled"
        );
        publish(&self.inner, &record);
        notify(&self.inner, &record).await;
        Ok(record)
    }

    /// Folds records appended by others (operator actions) since the last look.
    async fn refresh(&self) -> Result<()> {
        let mut j = self.journal.lock().await;
        // Before the read: an action journaled after it wakes the next sleep.
        self.seen.mark(self.registration.wake());
        let fresh = self
            .inner
            .ledger
            .events(self.id(), j.state.last_seq)
            .await?;
        j.fold(fresh);
        Ok(())
    }

    async fn state<R>(&self, f: impl FnOnce(&ReleaseState) -> R) -> R {
        let j = self.journal.lock().await;
        f(&j.state)
    }

    /// The records this run has seen (seq 1 ..= the last one folded), read from the ledger
    /// the first time and kept up to date from then on.
    async fn records(&self) -> Result<Arc<[Record]>> {
        let mut j = self.journal.lock().await;
        let records = match &mut j.records {
            Some(records) => records,
            None => {
                let mut all = read_all(self.inner.ledger.as_ref(), self.id()).await?;
                // Records are numbered 1, 2, 3…: the first `last_seq` are those folded so
                // far (anything newer is picked up, with the fold, by the next refresh).
                all.truncate(usize::try_from(j.state.last_seq).unwrap_or(usize::MAX));
                j.records.insert(all)
            }
        };
        Ok(Arc::from(records.as_slice()))
    }

    async fn drive(&self) -> Result<RunOutcome> {
        for index in 0..self.plan.stages.len() {
            let environment = self.plan.stages[index].environment.clone();
            let span = tracing::info_span!("stage", environment = %environment);
            if let Some(outcome) = self.run_stage(index).instrument(span).await? {
                return Ok(outcome);
            }
        }
        self.finish(Outcome::Succeeded).await
    }

    async fn finish(&self, outcome: Outcome) -> Result<RunOutcome> {
        self.release_locks().await?;
        self.append(Event::ReleaseFinished {
            outcome: outcome.clone(),
        })
        .await?;
        Ok(RunOutcome::Finished { outcome })
    }

    async fn wait(
        &self,
        environment: Option<&EnvironmentName>,
        reason: String,
    ) -> Result<RunOutcome> {
        let already = self.state(|s| s.waiting.as_ref() == Some(&reason)).await;
        if !already {
            self.append(Event::Paused {
                environment: environment.cloned(),
                reason: reason.clone(),
            })
            .await?;
        }
        Ok(RunOutcome::Waiting {
            environment: environment.cloned(),
            reason,
        })
    }

    fn phase(&self, index: usize) -> Option<&Phase> {
        let stage = &self.plan.stages[index];
        self.platform
            .lifecycle
            .phases
            .iter()
            .find(|p| p.name == stage.phase)
    }

    async fn run_stage(&self, index: usize) -> Result<Option<RunOutcome>> {
        let stage = &self.plan.stages[index];
        let env = &stage.environment;
        self.refresh().await?;
        let st = self.state(|s| s.stage(env)).await;
        if st.completed {
            return Ok(None);
        }
        let attempt = st.attempt.max(1);
        if !st.started {
            self.append(Event::StageStarted {
                environment: env.clone(),
                attempt,
            })
            .await?;
        }
        if self.state(|s| s.paused_by_operator).await {
            return self
                .wait(Some(env), "paused by an operator".to_owned())
                .await
                .map(Some);
        }
        let phase = self.phase(index).cloned();
        let first_in_phase = phase
            .as_ref()
            .is_some_and(|p| p.environments.first() == Some(env));
        let last_in_phase = phase
            .as_ref()
            .is_some_and(|p| p.environments.last() == Some(env));
        if first_in_phase
            && let Some(phase) = &phase
            && st.rollback_started.is_none()
            && let Some(outcome) = self
                .gates(phase, env, GatePosition::Entry, index, attempt)
                .await?
        {
            return Ok(Some(outcome));
        }

        self.acquire_locks(index).await?;
        if st.rollback_plan.is_none() {
            self.plan_rollback(index, attempt).await?;
        }
        if let Some(reason) = &st.rollback_started {
            let aborted = self.state(|s| s.abort_requested).await;
            return self
                .rollback(index, attempt, reason.clone(), aborted)
                .await
                .map(Some);
        }

        if let Some(reason) = self.migrate_stage(index, attempt).await? {
            return self.on_failure(index, attempt, reason).await.map(Some);
        }
        for wave in &stage.waves {
            let flow = self.run_wave(index, &wave.steps, attempt).await?;
            match flow {
                Flow::Done | Flow::Halted => {}
                Flow::Failed(reason) => {
                    return self.on_failure(index, attempt, reason).await.map(Some);
                }
                Flow::Waiting(reason) => return self.wait(Some(env), reason).await.map(Some),
                Flow::Aborted => {
                    return self
                        .rollback(index, attempt, "aborted by an operator".to_owned(), true)
                        .await
                        .map(Some);
                }
            }
        }

        if let Some(outcome) = self.watch(index, attempt).await? {
            return Ok(Some(outcome));
        }
        if last_in_phase
            && let Some(phase) = &phase
            && let Some(outcome) = self
                .gates(phase, env, GatePosition::Exit, index, attempt)
                .await?
        {
            return Ok(Some(outcome));
        }
        self.append(Event::StageCompleted {
            environment: env.clone(),
        })
        .await?;
        self.release_locks().await?;
        Ok(None)
    }

    /// Evaluates a phase's gates at one position; `Some` when the release must stop there.
    async fn gates(
        &self,
        phase: &Phase,
        env: &EnvironmentName,
        position: GatePosition,
        index: usize,
        attempt: u32,
    ) -> Result<Option<RunOutcome>> {
        let specs = match position {
            GatePosition::Entry => &phase.entry_gates,
            GatePosition::Exit => &phase.exit_gates,
        };
        let mut pending = specs.iter().peekable();
        while let Some(spec) = pending.peek().copied() {
            let name = gate_name(spec).to_owned();
            let passed = self
                .state(|s| {
                    s.stage(env)
                        .gates_passed
                        .contains(&(position, name.clone()))
                })
                .await;
            if passed {
                pending.next();
                continue;
            }
            // An abort while the release waits at a gate (M5.2): at an entry gate nothing of
            // this stage has run, so the release ends here; at an exit gate the stage rolls back.
            if self.state(|s| s.abort_requested).await {
                return match position {
                    GatePosition::Entry => self
                        .finish(Outcome::Aborted {
                            environment: Some(env.clone()),
                        })
                        .await
                        .map(Some),
                    GatePosition::Exit => self
                        .rollback(index, attempt, "aborted by an operator".to_owned(), true)
                        .await
                        .map(Some),
                };
            }
            let verdict = match self.inner.gates.get(&name) {
                Some(gate) => {
                    let context = GateContext {
                        platform: self.platform.clone(),
                        release: self.release.clone(),
                        environment: env.clone(),
                        phase: phase.name.clone(),
                        position,
                        spec: spec.clone(),
                        now: self.inner.clock.now(),
                        started_by: self.state(|s| s.started_by.clone().map(Into::into)).await,
                        events: self.records().await?,
                    };
                    gate.evaluate(&context).await?
                }
                None => self.builtin_approval(spec, env).await,
            };
            let record = self
                .append(Event::GateEvaluated {
                    environment: env.clone(),
                    phase: phase.name.clone(),
                    position,
                    gate: name.clone(),
                    verdict: verdict.clone(),
                })
                .await?;
            let _ = record;
            match verdict {
                GateVerdict::Pass { .. } => {
                    pending.next();
                }
                GateVerdict::Wait { reasons, until } => {
                    let why: Vec<String> = reasons.iter().map(|r| r.message.clone()).collect();
                    let reason = format!("gate `{name}` waits: {}", why.join("; "));
                    // A gate that names when it opens (a deployment window) is waited for in
                    // process when the host allows that long a wait; then it is asked again.
                    let now = self.inner.clock.now();
                    let wait = until.and_then(|t| (t - now).to_std().ok());
                    match (wait, self.inner.options.wait_for_gates) {
                        (Some(wait), Some(limit)) if wait <= limit => {
                            self.wait(Some(env), reason).await?;
                            if !self.sleep(wait.max(Duration::from_secs(1)), true).await? {
                                return self
                                    .finish(Outcome::Aborted {
                                        environment: Some(env.clone()),
                                    })
                                    .await
                                    .map(Some);
                            }
                        }
                        _ => return self.wait(Some(env), reason).await.map(Some),
                    }
                }
                GateVerdict::Fail { reasons } => {
                    let why: Vec<String> = reasons.iter().map(|r| r.message.clone()).collect();
                    if position == GatePosition::Exit {
                        // Deployed but not accepted: the stage goes back (no mixed state).
                        let reason = format!("exit gate `{name}` failed: {}", why.join("; "));
                        return self.rollback(index, attempt, reason, false).await.map(Some);
                    }
                    return self
                        .finish(Outcome::GateFailed {
                            environment: env.clone(),
                            gate: name,
                            reasons: why,
                        })
                        .await
                        .map(Some);
                }
            }
        }
        Ok(None)
    }

    /// The built-in manual approval (M5.2): enough distinct approvers for the environment, not
    /// counting who started the release unless self-approval is allowed; any rejection fails.
    /// release-gates brings the role-aware version.
    async fn builtin_approval(
        &self,
        spec: &crate::model::GateSpec,
        env: &EnvironmentName,
    ) -> GateVerdict {
        let (needed, allow_self) = match spec {
            crate::model::GateSpec::Approval {
                rules,
                allow_self_approval,
            } => (
                rules.iter().map(|r| r.count).sum::<u32>().max(1),
                *allow_self_approval,
            ),
            _ => (1, false),
        };
        let (mut approvers, rejected) = self.state(|s| s.approvals_for(env)).await;
        let starter = self.state(|s| s.started_by.clone()).await;
        if !allow_self {
            approvers.retain(|a| Some(a) != starter.as_ref());
        }
        if rejected {
            return GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "approval.rejected",
                    format!("an approver rejected the release for {env}"),
                )],
            };
        }
        let have = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
        if have >= needed {
            GateVerdict::Pass {
                reasons: vec![Reason::new(
                    "approval.granted",
                    format!("approved for {env} by {}", approvers.join(", ")),
                )],
            }
        } else {
            GateVerdict::Wait {
                until: None,
                reasons: vec![Reason::new(
                    "approval.missing",
                    format!(
                        "{have} of {needed} approvals for {env}; approve with an operator id other than the one who started the release"
                    ),
                )],
            }
        }
    }

    async fn acquire_locks(&self, index: usize) -> Result<()> {
        let stage = &self.plan.stages[index];
        let env = &stage.environment;
        let mut locks = vec![format!("env:{env}")];
        if let Some(environment) = self.platform.environment(env.as_str()) {
            let mut resources: Vec<String> = stage
                .steps()
                .filter_map(|s| self.platform.component(s.component.as_str()))
                .flat_map(|c| c.shared_resources.iter())
                .map(|r| format!("resource:{}", environment.bound_resource(r)))
                .collect();
            resources.sort();
            resources.dedup();
            locks.extend(resources);
        }
        let now = self.inner.clock.now();
        for lock in locks {
            let held = {
                let leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
                leases.iter().any(|l| l.lock == lock)
            };
            if held {
                continue;
            }
            let lease = self
                .inner
                .ledger
                .acquire(
                    &lock,
                    &self.inner.options.holder,
                    self.inner.options.lease_ttl,
                    now,
                )
                .await?;
            if lock.starts_with("env:") {
                self.journal.lock().await.fence = Some(lease.fence());
            }
            self.leases
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(lease.clone());
            self.append(Event::LockAcquired {
                lock,
                token: lease.token,
            })
            .await?;
        }
        Ok(())
    }

    async fn renew_locks(&self) -> Result<()> {
        let now = self.inner.clock.now();
        let ttl = self.inner.options.lease_ttl;
        let half = chrono::Duration::from_std(ttl / 2).unwrap_or(chrono::Duration::zero());
        // Only the leases due are copied (most wake-ups renew nothing; every sleep slice of
        // every release comes here; issue #10).
        let due: Vec<Lease> = {
            let held = self.leases.lock().unwrap_or_else(|p| p.into_inner());
            held.iter()
                .filter(|lease| lease.expires_at - now < half)
                .cloned()
                .collect()
        };
        for lease in due {
            let renewed = self.inner.ledger.renew(&lease, ttl, now).await?;
            let mut held = self.leases.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(slot) = held
                .iter_mut()
                .find(|l| l.lock == lease.lock && l.token == lease.token)
            {
                *slot = renewed;
            }
        }
        Ok(())
    }

    async fn release_locks(&self) -> Result<()> {
        let leases: Vec<Lease> =
            std::mem::take(&mut *self.leases.lock().unwrap_or_else(|p| p.into_inner()));
        for lease in leases.iter().rev() {
            self.append(Event::LockReleased {
                lock: lease.lock.clone(),
            })
            .await?;
        }
        self.journal.lock().await.fence = None;
        for lease in leases.iter().rev() {
            self.inner.ledger.release(lease).await?;
        }
        Ok(())
    }

    /// Waits on the engine's clock in slices, renewing locks and watching for an abort.
    /// Returns false when an abort interrupted the sleep (only when `interruptible`: the
    /// pauses of a rollback program, such as a scale-down delay, are never cut short).
    async fn sleep(&self, duration: Duration, interruptible: bool) -> Result<bool> {
        Ok(self.nap(duration, interruptible, None).await? != Slept::Aborted)
    }

    /// Sleeps `duration` on the engine's clock, in step with every other run of this engine
    /// that waits for the same deadline (`engine/timers.rs`).
    async fn tick(&self, duration: Duration) {
        let now = self.inner.clock.now();
        self.inner
            .timers
            .after(&self.inner.clock, now, duration)
            .await;
    }

    /// [`Run::sleep`] that also returns ([`Slept::Acted`]) as soon as `until` holds for the
    /// journal's fold — checked before sleeping and after every read of the journal — so
    /// that a pause ends on a `promote` at once.
    ///
    /// An operator action taken through this engine ends the current slice at once (the
    /// journal is read, `until` and the abort checked; anything else sleeps on). Slices are
    /// `lease_ttl / 3`: leases are renewed, and actions taken by another process (which
    /// cannot wake this one) seen, at that pace.
    async fn nap(
        &self,
        duration: Duration,
        interruptible: bool,
        until: Option<&(dyn Fn(&ReleaseState) -> bool + Sync)>,
    ) -> Result<Slept> {
        let ended = |s: &ReleaseState| {
            if interruptible && s.abort_requested {
                Some(Slept::Aborted)
            } else if until.is_some_and(|until| until(s)) {
                Some(Slept::Acted)
            } else {
                None
            }
        };
        // What another component of the run folded in already (without waiting for the
        // lock: a lock held means a read in progress, whose result the loop checks).
        if let Ok(j) = self.journal.try_lock()
            && let Some(end) = ended(&j.state)
        {
            return Ok(end);
        }
        let slice = self.inner.options.lease_ttl / 3;
        let mut left = duration;
        while !left.is_zero() {
            let step = left.min(slice.max(Duration::from_millis(1)));
            let started = self.inner.clock.now();
            let tick = self.inner.timers.after(&self.inner.clock, started, step);
            // Biased: when the slice ends as an action arrives, the slice ends as before.
            let acted = tokio::select! {
                biased;
                () = tick => false,
                () = self.registration.wake().acted_since(&self.seen) => true,
            };
            left -= if acted {
                (self.inner.clock.now() - started)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(step)
            } else {
                step
            };
            self.renew_locks().await?;
            self.refresh().await?;
            if (interruptible || until.is_some())
                && let Some(end) = self.state(ended).await
            {
                return Ok(end);
            }
        }
        Ok(Slept::Elapsed)
    }

    /// Captures what runs now, before anything is deployed (M8.3).
    async fn plan_rollback(&self, index: usize, attempt: u32) -> Result<()> {
        let env = &self.plan.stages[index].environment;
        let mut components = Vec::new();
        for step in self.plan.rollback[index].steps() {
            let target = target_name(&self.inner, &self.platform, env, &step.component)?;
            let previous = target.observe(&step.component, env).await?;
            let previous_weights = match &self.inner.router {
                Some(router) => {
                    router
                        .weights(&Route::new(step.component.clone(), env.clone()))
                        .await?
                }
                None => Vec::new(),
            };
            let windowed = self
                .platform
                .component(step.component.as_str())
                .and_then(|c| c.strategy.as_ref())
                .and_then(crate::model::StrategySpec::rollback_window)
                .is_some();
            let history = if windowed {
                super::history::version_history(
                    self.inner.ledger.as_ref(),
                    self.id(),
                    &step.component,
                    env,
                )
                .await?
            } else {
                Vec::new()
            };
            components.push(RollbackEntry {
                component: step.component.clone(),
                previous,
                previous_weights,
                history,
            });
        }
        self.append(Event::RollbackPlanned {
            environment: env.clone(),
            attempt,
            components,
        })
        .await?;
        Ok(())
    }

    async fn rollout_spec(&self, env: &EnvironmentName, step: &DeployStep) -> Result<RolloutSpec> {
        let component = self
            .platform
            .component(step.component.as_str())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "component {} is not in the platform",
                    step.component
                ))
            })?;
        let environment = self
            .platform
            .environment(env.as_str())
            .ok_or_else(|| Error::Invalid(format!("environment {env} is not in the platform")))?;
        let replicas = match environment.parameters.get("replicas") {
            Some(ParamValue::Integer(n)) => u32::try_from(*n).unwrap_or(1).max(1),
            _ => 1,
        };
        let config = render_component(&self.platform, component, environment, Some(&step.version))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let entry = self
            .state(|s| {
                s.stage(env)
                    .rollback_plan
                    .and_then(|plan| plan.into_iter().find(|e| e.component == step.component))
            })
            .await;
        let (previous, weights, history) = entry.map_or_else(Default::default, |e| {
            (e.previous, e.previous_weights, e.history)
        });
        Ok(RolloutSpec::new(
            step.component.clone(),
            env.clone(),
            step.version.clone(),
            replicas,
            component
                .strategy
                .clone()
                .unwrap_or(crate::model::StrategySpec::AllAtOnce {}),
        )
        .with_artifact(step.artifact.clone(), config)
        .with_previous(previous, weights)
        .with_history(history)
        .with_router(self.inner.router.is_some()))
    }

    async fn run_wave(&self, index: usize, steps: &[DeployStep], attempt: u32) -> Result<Flow> {
        let parallel = self
            .plan
            .max_parallel
            .map_or(self.inner.options.max_parallel, |p| p as usize)
            .max(1);
        if let [step] = steps {
            // A wave of one component (the common case): awaited in place, without a stream
            // holding a second copy of its future.
            let span = tracing::info_span!("component", component = %step.component);
            let result = self
                .run_component(index, step, attempt)
                .instrument(span)
                .await;
            return wave_outcome([result]);
        }
        // The futures are built into a Vec first: a closure inside the stream chain would make
        // the engine's future lose `Send` (rustc cannot prove it for every lifetime). Boxed,
        // so that the Vec holds pointers and each future lives once, in its box.
        let mut rollouts = Vec::with_capacity(steps.len());
        for step in steps {
            let span = tracing::info_span!("component", component = %step.component);
            rollouts.push(Box::pin(
                self.run_component(index, step, attempt).instrument(span),
            ));
        }
        let results: Vec<Result<Flow>> = stream::iter(rollouts).buffered(parallel).collect().await;
        wave_outcome(results)
    }

    fn key(
        env: &EnvironmentName,
        attempt: u32,
        component: &ComponentId,
        program: Program,
        index: usize,
    ) -> StepKey {
        StepKey {
            environment: env.clone(),
            attempt,
            component: component.clone(),
            program,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    async fn run_component(&self, index: usize, step: &DeployStep, attempt: u32) -> Result<Flow> {
        let env = &self.plan.stages[index].environment;
        let spec = match self.rollout_spec(env, step).await {
            Ok(spec) => spec,
            Err(e) => return self.component_failed(&step.component, e.to_string()),
        };
        let Some(strategy) = self.inner.strategies.get(step.strategy.as_str()) else {
            return self.component_failed(
                &step.component,
                format!("strategy `{}` is not registered", step.strategy),
            );
        };
        let program = match strategy.steps(&spec) {
            Ok(p) => p,
            Err(e) => return self.component_failed(&step.component, e.to_string()),
        };
        for (i, instruction) in program.iter().enumerate() {
            let key = Self::key(env, attempt, &step.component, Program::Deploy, i);
            self.refresh().await?;
            let (abort, paused, current, promotions, promote_full) = self
                .state(|s| {
                    (
                        s.abort_requested,
                        s.paused_by_operator,
                        s.steps.get(&key).cloned(),
                        s.promotions.clone(),
                        s.promote_full.contains(&(env.clone(), attempt)),
                    )
                })
                .await;
            if abort {
                return Ok(Flow::Aborted);
            }
            if self.halt.load(Ordering::SeqCst) {
                return Ok(Flow::Halted);
            }
            if paused {
                return Ok(Flow::Waiting("paused by an operator".to_owned()));
            }
            let started = match current {
                Some(StepState::Succeeded) => {
                    if let RolloutStep::StartBackgroundAnalysis { analysis } = instruction {
                        self.start_background(env, &step.component, analysis);
                    }
                    continue;
                }
                Some(StepState::Failed { error, seq }) => {
                    if promotions.iter().any(|p| *p > seq) {
                        None // an operator resumed after the failure: run it again
                    } else {
                        self.halt.store(true, Ordering::SeqCst);
                        return Ok(Flow::Failed(format!("{}: {error}", step.component)));
                    }
                }
                Some(StepState::Started { at, seq }) => Some((at, seq)),
                None => None,
            };
            let skippable = matches!(
                instruction,
                RolloutStep::Pause(_) | RolloutStep::Analyze { .. }
            );
            let promoted_since =
                started.is_some_and(|(_, seq)| promotions.iter().any(|p| *p > seq));
            let started_at = match started {
                Some((at, _)) => at,
                None => {
                    self.append(Event::StepStarted {
                        key: key.clone(),
                        step: instruction.clone(),
                    })
                    .await?;
                    self.inner.clock.now()
                }
            };
            let end = if skippable && (promote_full || promoted_since) {
                Ok(StepEnd::Done)
            } else {
                self.renew_locks().await?;
                let span = tracing::info_span!("step", key = %key, step = %instruction.label());
                self.execute(&key, instruction, started_at, true)
                    .instrument(span)
                    .await
            };
            match end {
                Ok(StepEnd::Done) => {
                    if let Err(e) = self.check_background(env, &step.component).await {
                        let error = e.to_string();
                        self.append(Event::StepFailed {
                            key,
                            error: error.clone(),
                        })
                        .await?;
                        self.halt.store(true, Ordering::SeqCst);
                        return Ok(Flow::Failed(format!("{}: {error}", step.component)));
                    }
                    let fired = self.check_after_step(env, &step.component).await?;
                    self.append(Event::StepSucceeded { key }).await?;
                    if let Some(reason) = fired {
                        self.halt.store(true, Ordering::SeqCst);
                        return Ok(Flow::Failed(reason));
                    }
                }
                Ok(StepEnd::Waiting(reason)) => return Ok(Flow::Waiting(reason)),
                Ok(StepEnd::Aborted) => return Ok(Flow::Aborted),
                Err(e) if matches!(e, Error::StaleFence { .. }) => return Err(e),
                Err(e) => {
                    let error = e.to_string();
                    self.append(Event::StepFailed {
                        key,
                        error: error.clone(),
                    })
                    .await?;
                    self.halt.store(true, Ordering::SeqCst);
                    return Ok(Flow::Failed(format!("{}: {error}", step.component)));
                }
            }
        }
        self.finish_background(env, &step.component).await?;
        Ok(Flow::Done)
    }

    fn start_background(
        &self,
        env: &EnvironmentName,
        component: &ComponentId,
        analysis: &crate::id::AnalysisName,
    ) {
        let mut bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
        let list = bg.entry((env.clone(), component.clone())).or_default();
        if !list.iter().any(|b| &b.analysis == analysis) {
            list.push(Background {
                analysis: analysis.clone(),
                next_due: self.inner.clock.now(),
                measurements: Vec::new(),
            });
        }
    }

    /// When the next background measurement of a component is due.
    fn next_background_due(
        &self,
        env: &EnvironmentName,
        component: &ComponentId,
    ) -> Option<DateTime<Utc>> {
        let bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
        bg.get(&(env.clone(), component.clone()))
            .and_then(|list| list.iter().map(|b| b.next_due).min())
    }

    /// Takes the background measurements that are due; a failed analysis fails the rollout.
    async fn check_background(&self, env: &EnvironmentName, component: &ComponentId) -> Result<()> {
        let now = self.inner.clock.now();
        let due: Vec<crate::id::AnalysisName> = {
            let bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
            bg.get(&(env.clone(), component.clone()))
                .map(|list| {
                    list.iter()
                        .filter(|b| b.next_due <= now)
                        .map(|b| b.analysis.clone())
                        .collect()
                })
                .unwrap_or_default()
        };
        for analysis in due {
            let template = self.platform.analyses.get(&analysis).ok_or_else(|| {
                Error::Invalid(format!(
                    "analysis `{analysis}` is not defined in the platform"
                ))
            })?;
            let scope = MetricScope {
                component: component.clone(),
                environment: env.clone(),
                slot: None,
            };
            let m = measure(
                self.inner.metrics.get(&template.metric.source),
                &template.metric.query,
                scope,
                now,
            )
            .await;
            let measurements = {
                let mut bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
                let Some(b) = bg
                    .get_mut(&(env.clone(), component.clone()))
                    .and_then(|list| list.iter_mut().find(|b| b.analysis == analysis))
                else {
                    continue;
                };
                b.measurements.push(m);
                b.next_due = now
                    + chrono::Duration::from_std(template.interval.as_duration())
                        .unwrap_or(chrono::Duration::MAX);
                b.measurements.clone()
            };
            let outcome = evaluate_measurements(template, &measurements);
            if matches!(outcome, AnalysisOutcome::Failed | AnalysisOutcome::Error) {
                self.append(Event::AnalysisCompleted {
                    environment: env.clone(),
                    component: component.clone(),
                    analysis: analysis.clone(),
                    outcome,
                    measurements: measurements.iter().map(Measurement::value).collect(),
                })
                .await?;
                return Err(Error::Deployment {
                    component: component.clone(),
                    environment: env.clone(),
                    message: format!("background analysis {analysis} failed"),
                });
            }
        }
        Ok(())
    }

    /// Journals the background analyses of a finished program.
    async fn finish_background(
        &self,
        env: &EnvironmentName,
        component: &ComponentId,
    ) -> Result<()> {
        let finished = {
            let mut bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
            bg.remove(&(env.clone(), component.clone()))
                .unwrap_or_default()
        };
        for b in finished {
            let outcome = self
                .platform
                .analyses
                .get(&b.analysis)
                .map_or(AnalysisOutcome::Successful, |t| {
                    evaluate_measurements(t, &b.measurements)
                });
            self.append(Event::AnalysisCompleted {
                environment: env.clone(),
                component: component.clone(),
                analysis: b.analysis,
                outcome,
                measurements: b.measurements.iter().map(Measurement::value).collect(),
            })
            .await?;
        }
        Ok(())
    }

    fn component_failed(&self, component: &ComponentId, reason: String) -> Result<Flow> {
        self.halt.store(true, Ordering::SeqCst);
        Ok(Flow::Failed(format!("{component}: {reason}")))
    }

    /// True when the release's rollback policy has triggers to poll during a step.
    fn watches_triggers(&self) -> bool {
        self.release
            .rollback
            .as_ref()
            .is_some_and(|policy| !policy.triggers.is_empty())
    }

    /// Rollback triggers after a step; `Some(reason)` when one fired and must act.
    async fn check_after_step(
        &self,
        env: &EnvironmentName,
        component: &ComponentId,
    ) -> Result<Option<String>> {
        self.fire_triggers(env, std::slice::from_ref(component))
            .await
    }

    /// Checks the rollback policy's triggers for `components` (unless an operator accepted
    /// the risk) and journals the one that fired; `Some(reason)` when one did.
    async fn fire_triggers(
        &self,
        env: &EnvironmentName,
        components: &[ComponentId],
    ) -> Result<Option<String>> {
        let Some(policy) = &self.release.rollback else {
            return Ok(None);
        };
        if self.triggers_acknowledged(env).await {
            return Ok(None);
        }
        // Only `critical_defect` reads the journal (for reported issues); the others ask
        // the metrics source and the probes.
        let reads_journal = policy
            .triggers
            .iter()
            .any(|t| matches!(t, RollbackTrigger::CriticalDefect { .. }));
        let records = if reads_journal {
            self.records().await?
        } else {
            same_yield_points().await;
            Arc::from(Vec::new())
        };
        let mut failures = std::mem::take(
            &mut *self
                .probe_failures
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let fired = check_triggers(
            &self.inner,
            &self.platform,
            &policy.triggers,
            env,
            components,
            &records,
            &mut failures,
        )
        .await;
        *self
            .probe_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = failures;
        let Some((component, trigger, observed)) = fired else {
            return Ok(None);
        };
        self.append(Event::TriggerFired {
            environment: env.clone(),
            component,
            trigger: trigger.clone(),
            observed: observed.clone(),
        })
        .await?;
        Ok(Some(format!("{trigger}: {observed}")))
    }

    /// An operator resumed after the last trigger of this stage: accept the risk.
    async fn triggers_acknowledged(&self, env: &EnvironmentName) -> bool {
        self.state(|s| {
            let last = s.stage(env).last_trigger_seq;
            last > 0 && s.promotions.iter().any(|p| *p > last)
        })
        .await
    }

    async fn execute(
        &self,
        key: &StepKey,
        step: &RolloutStep,
        started_at: DateTime<Utc>,
        deploy: bool,
    ) -> Result<StepEnd> {
        let env = &key.environment;
        let component = &key.component;
        match step {
            RolloutStep::Apply(spec) => {
                self.apply(spec, deploy).await?;
                Ok(StepEnd::Done)
            }
            RolloutStep::SetWeights(weights) => {
                if let Some(router) = &self.inner.router {
                    let route = Route::new(component.clone(), env.clone());
                    self.retrying(|| router.set_weights(&route, weights))
                        .await?;
                }
                Ok(StepEnd::Done)
            }
            RolloutStep::Pause(Pause::For(duration)) => {
                let end = started_at
                    + chrono::Duration::from_std(duration.as_duration())
                        .unwrap_or(chrono::Duration::MAX);
                if !deploy {
                    // A rollback's pause (a scale-down delay) runs to its end.
                    let left = (end - self.inner.clock.now())
                        .to_std()
                        .unwrap_or(Duration::ZERO);
                    self.sleep(left, false).await?;
                    return Ok(StepEnd::Done);
                }
                // Sleep to the end of the pause, waking for background measurements. A
                // `promote` or `promote-full` ends the pause at once (as in Argo Rollouts).
                let promoted = |s: &ReleaseState| {
                    (
                        s.promotions.len(),
                        s.promote_full.contains(&(env.clone(), key.attempt)),
                    )
                };
                let before = self.state(promoted).await;
                loop {
                    let now = self.inner.clock.now();
                    if now >= end {
                        return Ok(StepEnd::Done);
                    }
                    // Wake for background measurements and, every poll interval, for the
                    // rollback triggers when the release has any (M5.5: watched during the
                    // step, not only after it). Nothing else needs a wake-up: an operator's
                    // `promote` or `abort` through this engine wakes the pause at once, and
                    // one from another process is seen at the next lease slice (wake.rs).
                    let mut wake = self
                        .next_background_due(env, component)
                        .filter(|due| *due < end)
                        .unwrap_or(end);
                    if self.watches_triggers() {
                        let poll = now
                            + chrono::Duration::from_std(self.inner.options.poll_interval)
                                .unwrap_or(chrono::Duration::MAX);
                        wake = wake.min(poll);
                    }
                    let left = (wake - now).to_std().unwrap_or(Duration::ZERO);
                    let promoted_since = |s: &ReleaseState| {
                        let (promotions, full) = promoted(s);
                        promotions > before.0 || (full && !before.1)
                    };
                    if self.nap(left, true, Some(&promoted_since)).await? == Slept::Aborted {
                        return Ok(StepEnd::Aborted);
                    }
                    let (promotions, full) = self.state(promoted).await;
                    if promotions > before.0 || (full && !before.1) {
                        return Ok(StepEnd::Done);
                    }
                    self.check_background(env, component).await?;
                    if let Some(reason) = self.check_after_step(env, component).await? {
                        return Err(Error::Deployment {
                            component: component.clone(),
                            environment: env.clone(),
                            message: format!("rollback trigger fired during the pause: {reason}"),
                        });
                    }
                }
            }
            RolloutStep::Pause(Pause::UntilApproved) => Ok(StepEnd::Waiting(format!(
                "{component} in {env} is paused until an operator promotes it"
            ))),
            RolloutStep::Analyze { analysis } => self.analyze(env, component, analysis).await,
            RolloutStep::Verify => {
                let target = target_name(&self.inner, &self.platform, env, component)?;
                let slots = target.observe(component, env).await?;
                for slot in &slots {
                    self.probe_slot(component, env, &slot.spec.slot, slot.endpoints.clone())
                        .await?;
                }
                Ok(StepEnd::Done)
            }
            RolloutStep::StartBackgroundAnalysis { analysis } => {
                if !self.platform.analyses.contains_key(analysis) {
                    return Err(Error::Invalid(format!(
                        "analysis `{analysis}` is not defined in the platform"
                    )));
                }
                self.start_background(env, component, analysis);
                Ok(StepEnd::Done)
            }
            RolloutStep::RemoveSlot { slot } => {
                let target = target_name(&self.inner, &self.platform, env, component)?;
                self.retrying(|| target.remove(component, env, slot))
                    .await?;
                Ok(StepEnd::Done)
            }
        }
    }

    /// Retries retryable plugin errors.
    async fn retrying<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut tries = 0;
        loop {
            match call().await {
                Err(e) if e.is_retryable() && tries < self.inner.options.retries => {
                    tries += 1;
                    tracing::info!(error = %e, tries, "retrying");
                    self.inner
                        .clock
                        .sleep(self.inner.options.poll_interval)
                        .await;
                }
                other => return other,
            }
        }
    }

    /// Applies a slot spec (secrets resolved just before), waits for convergence within the
    /// progress deadline, then probes the slot (M5.4).
    async fn apply(&self, spec: &SlotSpec, probe: bool) -> Result<()> {
        let target = target_name(
            &self.inner,
            &self.platform,
            &spec.environment,
            &spec.component,
        )?;
        let mut request = ApplyRequest::new(spec.clone());
        if !spec.config.secret_refs().is_empty() {
            let provider = self.inner.secrets.as_ref().ok_or_else(|| {
                Error::Invalid(format!(
                    "the configuration of {} in {} references secrets but the engine has no secret provider; add one with `.secrets(...)`",
                    spec.component, spec.environment
                ))
            })?;
            let resolved =
                spec.config
                    .resolve(provider.as_ref())
                    .await
                    .map_err(|e| Error::Plugin {
                        plugin: "secrets".to_owned(),
                        retryable: e.is_retryable(),
                        message: e.to_string(),
                        source: None,
                    })?;
            request = request.with_resolved(resolved);
        }
        let deadline = self.inner.options.progress_deadline;
        let what = format!(
            "apply of {} {} in {}",
            spec.component, spec.slot, spec.environment
        );
        // Biased, and the deadline's sleep made only when first polled: an apply that
        // answers at once (most do) then never creates, registers and cancels a timer, which
        // with 10,000 releases meant touching other releases' timers in Tokio's wheel
        // (issue #10). An apply still pending races the deadline as before.
        let applied = tokio::select! {
            biased;
            r = self.retrying(|| target.apply(&request)) => r?,
            () = async { self.inner.clock.sleep(deadline).await } => {
                return Err(Error::Timeout { what, seconds: deadline.as_secs() });
            }
        };
        let started = self.inner.clock.now();
        let mut status = applied;
        while !status.converged() {
            let waited = (self.inner.clock.now() - started)
                .to_std()
                .unwrap_or(Duration::ZERO);
            if waited >= deadline {
                return Err(Error::Deployment {
                    component: spec.component.clone(),
                    environment: spec.environment.clone(),
                    message: format!(
                        "slot {} has {} of {} replicas ready after the {} s progress deadline",
                        spec.slot,
                        status.ready_replicas,
                        spec.replicas,
                        deadline.as_secs()
                    ),
                });
            }
            self.tick(self.inner.options.poll_interval).await;
            let observed = target.observe(&spec.component, &spec.environment).await?;
            if let Some(s) = observed.into_iter().find(|s| s.spec.slot == spec.slot) {
                status = s;
            }
        }
        if probe && spec.replicas > 0 {
            self.probe_slot(
                &spec.component,
                &spec.environment,
                &spec.slot,
                status.endpoints.clone(),
            )
            .await?;
        }
        Ok(())
    }

    async fn probe_slot(
        &self,
        component: &ComponentId,
        env: &EnvironmentName,
        slot: &crate::plugin::SlotName,
        endpoints: Vec<crate::plugin::Endpoint>,
    ) -> Result<()> {
        for (name, probe) in &self.inner.probes {
            let request = ProbeRequest::new(
                component.clone(),
                env.clone(),
                slot.clone(),
                endpoints.clone(),
            );
            let outcome = match probe.check(&request).await {
                Ok(o) => o,
                Err(e) => crate::plugin::ProbeOutcome::unhealthy(e.to_string()),
            };
            self.append(Event::ProbeChecked {
                environment: env.clone(),
                component: component.clone(),
                slot: slot.to_string(),
                probe: name.clone(),
                outcome: outcome.clone(),
            })
            .await?;
            if !outcome.healthy {
                return Err(Error::Deployment {
                    component: component.clone(),
                    environment: env.clone(),
                    message: format!("probe {name} on slot {slot} failed: {}", outcome.message),
                });
            }
        }
        Ok(())
    }

    async fn analyze(
        &self,
        env: &EnvironmentName,
        component: &ComponentId,
        analysis: &crate::id::AnalysisName,
    ) -> Result<StepEnd> {
        let template = self.platform.analyses.get(analysis).ok_or_else(|| {
            Error::Invalid(format!(
                "analysis `{analysis}` is not defined in the platform"
            ))
        })?;
        let source = self.inner.metrics.get(&template.metric.source);
        let count = template.count.unwrap_or(1).max(1);
        let mut measurements = Vec::new();
        for i in 0..count {
            let scope = MetricScope {
                component: component.clone(),
                environment: env.clone(),
                slot: None,
            };
            let m = measure(
                source,
                &template.metric.query,
                scope,
                self.inner.clock.now(),
            )
            .await;
            measurements.push(m);
            let so_far = evaluate_measurements(template, &measurements);
            if matches!(
                so_far,
                AnalysisOutcome::Failed | AnalysisOutcome::Error | AnalysisOutcome::Inconclusive
            ) {
                break;
            }
            if i + 1 < count && !self.sleep(template.interval.as_duration(), true).await? {
                return Ok(StepEnd::Aborted);
            }
        }
        let outcome = evaluate_measurements(template, &measurements);
        self.append(Event::AnalysisCompleted {
            environment: env.clone(),
            component: component.clone(),
            analysis: analysis.clone(),
            outcome,
            measurements: measurements.iter().map(Measurement::value).collect(),
        })
        .await?;
        match outcome {
            AnalysisOutcome::Successful => Ok(StepEnd::Done),
            AnalysisOutcome::Inconclusive => Ok(StepEnd::Waiting(format!(
                "analysis {analysis} of {component} in {env} is inconclusive; promote to go on or abort"
            ))),
            AnalysisOutcome::Failed | AnalysisOutcome::Error => Err(Error::Deployment {
                component: component.clone(),
                environment: env.clone(),
                message: format!(
                    "analysis {analysis} {}; measurements: {}",
                    if outcome == AnalysisOutcome::Failed {
                        "failed"
                    } else {
                        "could not query its source"
                    },
                    measurements
                        .iter()
                        .map(|m| match m {
                            Measurement::Value(v) => v.to_string(),
                            Measurement::NoData => "no data".to_owned(),
                            Measurement::Error(e) => format!("error ({e})"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// The watch window after a stage's rollouts (M8.1); `Some` when the release stops.
    async fn watch(&self, index: usize, attempt: u32) -> Result<Option<RunOutcome>> {
        let Some(policy) = self.release.rollback.clone() else {
            return Ok(None);
        };
        if policy.watch_window.is_zero() || policy.triggers.is_empty() {
            return Ok(None);
        }
        let stage = &self.plan.stages[index];
        let env = &stage.environment;
        let st = self.state(|s| s.stage(env)).await;
        if st.watch_completed {
            return Ok(None);
        }
        let until = match st.watch_until {
            Some(until) => until,
            None => {
                let window = chrono::Duration::from_std(policy.watch_window.as_duration())
                    .unwrap_or(chrono::Duration::MAX);
                let until = self.inner.clock.now() + window;
                self.append(Event::WatchStarted {
                    environment: env.clone(),
                    until,
                })
                .await?;
                until
            }
        };
        let components: Vec<ComponentId> = stage.steps().map(|s| s.component.clone()).collect();
        loop {
            self.refresh().await?;
            if self.state(|s| s.abort_requested).await {
                return self
                    .rollback(index, attempt, "aborted by an operator".to_owned(), true)
                    .await
                    .map(Some);
            }
            if let Some(reason) = self.fire_triggers(env, &components).await? {
                return self.on_failure(index, attempt, reason).await.map(Some);
            }
            let now = self.inner.clock.now();
            if now >= until {
                break;
            }
            let left = (until - now).to_std().unwrap_or(Duration::ZERO);
            let interval = self.inner.options.poll_interval.max(Duration::from_secs(1));
            if !self.sleep(left.min(interval), true).await? {
                continue; // abort noticed: handled at the top of the loop
            }
        }
        self.append(Event::WatchCompleted {
            environment: env.clone(),
        })
        .await?;
        Ok(None)
    }

    /// A failure or trigger: roll back, or pause for an operator under a manual policy.
    async fn on_failure(&self, index: usize, attempt: u32, reason: String) -> Result<RunOutcome> {
        let automatic = self.release.rollback.as_ref().is_none_or(|p| p.automatic);
        if automatic {
            self.rollback(index, attempt, reason, false).await
        } else {
            let env = self.plan.stages[index].environment.clone();
            self.wait(
                Some(&env),
                format!("{reason}; the rollback policy is manual: abort to roll back, or resume to go on"),
            )
            .await
        }
    }

    /// Rolls a stage back to what its rollback plan captured, in reverse plan order.
    async fn rollback(
        &self,
        index: usize,
        attempt: u32,
        reason: String,
        aborted: bool,
    ) -> Result<RunOutcome> {
        let stage = &self.plan.stages[index];
        let env = &stage.environment;
        let span = tracing::warn_span!("rollback", environment = %env);
        async {
            // Background analyses of the failed rollouts end here: they must not judge the
            // rollback.
            self.background
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(e, _), _| e != env);
            let st = self.state(|s| s.stage(env)).await;
            if st.rollback_started.is_none() {
                self.append(Event::RollbackStarted {
                    environment: env.clone(),
                    reason: reason.clone(),
                })
                .await?;
            }
            let touched = self.state(|s| s.touched(env, attempt)).await;
            let entries = self.state(|s| s.stage(env).rollback_plan.unwrap_or_default()).await;
            for entry in entries.iter().filter(|e| touched.contains(e.component.as_str())) {
                let Some(step) = stage.steps().find(|s| s.component == entry.component) else {
                    continue;
                };
                let journaled = self
                    .state(|s| {
                        s.rollback_programs
                            .get(&(env.clone(), attempt, entry.component.clone()))
                            .cloned()
                    })
                    .await;
                let program = match journaled {
                    Some(program) => program,
                    None => {
                        let Some(strategy) = self.inner.strategies.get(step.strategy.as_str())
                        else {
                            continue;
                        };
                        let target = target_name(&self.inner, &self.platform, env, &entry.component)?;
                        let current = target.observe(&entry.component, env).await?;
                        let spec = self.rollout_spec(env, step).await?.with_current(current);
                        let program = strategy.rollback_steps(&spec);
                        self.append(Event::RollbackProgrammed {
                            environment: env.clone(),
                            attempt,
                            component: entry.component.clone(),
                            steps: program.clone(),
                        })
                        .await?;
                        program
                    }
                };
                for (i, instruction) in program.iter().enumerate() {
                    let key = Self::key(env, attempt, &entry.component, Program::Rollback, i);
                    let current = self.state(|s| s.steps.get(&key).cloned()).await;
                    let started_at = match current {
                        Some(StepState::Succeeded) => continue,
                        Some(StepState::Started { at, .. }) => at,
                        _ => {
                            self.append(Event::StepStarted {
                                key: key.clone(),
                                step: instruction.clone(),
                            })
                            .await?;
                            self.inner.clock.now()
                        }
                    };
                    match self.execute(&key, instruction, started_at, false).await {
                        Ok(_) => {
                            self.append(Event::StepSucceeded { key }).await?;
                        }
                        Err(e) => {
                            self.append(Event::StepFailed {
                                key: key.clone(),
                                error: e.to_string(),
                            })
                            .await?;
                            return Err(Error::Deployment {
                                component: entry.component.clone(),
                                environment: env.clone(),
                                message: format!(
                                    "rollback step {key} failed: {e}; fix the target and resume to finish the rollback"
                                ),
                            });
                        }
                    }
                }
            }
            self.restore_stage(index, attempt).await?;
            self.append(Event::RollbackCompleted {
                environment: env.clone(),
            })
            .await?;
            // M8.6: every rollback opens a root-cause analysis (once, also on resume).
            let records = self.records().await?;
            if let Some(rca) = super::rca_opening(&records, self.id(), env, attempt, &reason) {
                self.append(Event::RcaOpened(rca)).await?;
            }
            let outcome = if aborted {
                Outcome::Aborted {
                    environment: Some(env.clone()),
                }
            } else {
                Outcome::RolledBack {
                    environment: env.clone(),
                    reason,
                }
            };
            self.finish(outcome).await
        }
        .instrument(span)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{InMemoryLedger, Ledger, OperatorAction};

    #[test]
    fn the_hashing_writer_hashes_what_a_buffer_would_hold() {
        use std::io::Write as _;
        let text: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
        // Pieces of every size: tiny, around a 64-byte block and 256 bytes, larger.
        for cut in [1, 7, 255, 256, 257, 1000, 2000] {
            let mut w = HashingWriter::default();
            for piece in text.chunks(cut) {
                w.write_all(piece).unwrap();
            }
            assert_eq!(w.finish(), Sha256Digest::of(&text), "pieces of {cut}");
        }
        // Mixed sizes: a partly filled block, then a larger piece, and so on.
        let mut w = HashingWriter::default();
        let mut rest = &text[..];
        for cut in [3, 300, 1, 255, 256, 17, 600].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*cut).min(rest.len()));
            w.write_all(piece).unwrap();
            rest = tail;
        }
        assert_eq!(w.finish(), Sha256Digest::of(&text), "mixed pieces");
    }

    // covers M8.1: the digest journaled at start is the digest of the plan's JSON, as it was
    // before the plan was hashed while written (resume compares the two).
    #[test]
    fn the_plan_digest_is_the_digest_of_the_plans_json() {
        let (platform, release) = crate::engine::state::tests::documents();
        let plan = plan_release(&platform, &release, &PlanOptions::default()).unwrap();
        assert_eq!(
            plan_digest(&plan).unwrap(),
            Sha256Digest::of(&serde_json::to_vec(&plan).unwrap())
        );
    }

    #[tokio::test]
    async fn what_others_appended_must_be_exactly_the_records_in_between() {
        let ledger = InMemoryLedger::new();
        let id = ReleaseId::from("shop-1.0.0");
        let at = DateTime::<Utc>::default();
        for _ in 0..4 {
            let draft = EventDraft::new(
                id.clone(),
                at,
                "tom@x",
                Vec::new(),
                Event::OperatorActed {
                    action: OperatorAction::Pause,
                    comment: None,
                },
            );
            ledger.append(draft, None).await.unwrap();
        }
        let all = read_all(&ledger, &id).await.unwrap();
        let own = &all[3];
        // The run had seen record 1 and appended record 4: 2 and 3 are others'.
        let between = gap(all[1..].to_vec(), 1, own).unwrap();
        assert_eq!(between.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
        // A ledger that lost record 2, returned them out of order, or returned what the
        // run had seen already: the run stops instead of skipping a record.
        for wrong in [
            vec![all[2].clone(), all[3].clone()],
            vec![all[2].clone(), all[1].clone()],
            all.clone(),
        ] {
            let e = gap(wrong, 1, own).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidReply { plugin, .. } if plugin == "ledger"),
                "{e}"
            );
            assert!(e.to_string().contains("resume the release"), "{e}");
        }
    }
}
