//! Fault injection for deployment targets.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::id::{ComponentId, EnvironmentName};
use crate::memory::lock;
use crate::plugin::{
    ApplyRequest, Clock, DeploymentTarget, SlotName, SlotStatus, TargetCapabilities,
};

const PLUGIN: &str = "faulty-target";

/// How long a hanging apply hangs.
#[derive(Clone)]
pub enum Hang {
    /// It never returns; the engine's deadline must end it.
    Forever,
    /// It returns (having applied) once `clock` reads `at` or later: a slow target.
    Until {
        /// The clock to wait on (a [`crate::plugin::ManualClock`] in tests).
        clock: Arc<dyn Clock>,
        /// When the apply goes through.
        at: DateTime<Utc>,
    },
}

impl std::fmt::Debug for Hang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forever => f.write_str("Forever"),
            Self::Until { at, .. } => f.debug_struct("Until").field("at", at).finish(),
        }
    }
}

/// One kind of fault.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Fault {
    /// `apply` fails without touching the inner target.
    FailApply {
        /// Whether the error says a retry may succeed.
        retryable: bool,
    },
    /// `apply` hangs.
    HangApply(Hang),
    /// `apply` goes through on the inner target, then fails with a permanent error: the
    /// process died before it could journal success. Resume must find the slot applied.
    CrashAfterApply,
    /// `observe` reports at most `ready` ready replicas for the matched slots.
    Unready {
        /// The most ready replicas reported.
        ready: u32,
    },
    /// `observe` alternates: the 1st, 3rd, 5th… matching call reports 0 ready replicas for
    /// the matched slots, the others report what the inner target says.
    FlapHealth,
    /// `observe` fails.
    FailObserve {
        /// Whether the error says a retry may succeed.
        retryable: bool,
    },
    /// `remove` fails without touching the inner target.
    FailRemove {
        /// Whether the error says a retry may succeed.
        retryable: bool,
    },
}

impl Fault {
    /// A short name (`fail_apply`, `flap_health`…).
    pub fn name(&self) -> &'static str {
        match self {
            Self::FailApply { .. } => "fail_apply",
            Self::HangApply(_) => "hang_apply",
            Self::CrashAfterApply => "crash_after_apply",
            Self::Unready { .. } => "unready",
            Self::FlapHealth => "flap_health",
            Self::FailObserve { .. } => "fail_observe",
            Self::FailRemove { .. } => "fail_remove",
        }
    }

    fn op(&self) -> Op {
        match self {
            Self::FailApply { .. } | Self::HangApply(_) | Self::CrashAfterApply => Op::Apply,
            Self::Unready { .. } | Self::FlapHealth | Self::FailObserve { .. } => Op::Observe,
            Self::FailRemove { .. } => Op::Remove,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Apply,
    Observe,
    Remove,
}

/// Which calls a fault applies to; an unset field matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultScope {
    /// Only this component.
    pub component: Option<ComponentId>,
    /// Only this environment.
    pub environment: Option<EnvironmentName>,
    /// Only this slot (for `observe`: the slots whose status is changed).
    pub slot: Option<SlotName>,
}

impl FaultScope {
    fn matches(&self, component: &ComponentId, environment: &EnvironmentName) -> bool {
        self.component.as_ref().is_none_or(|c| c == component)
            && self.environment.as_ref().is_none_or(|e| e == environment)
    }

    fn matches_slot(&self, slot: &str) -> bool {
        self.slot.as_ref().is_none_or(|s| s == slot)
    }
}

/// Which of the matching calls a fault fires on, counted per rule from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Only the n-th matching call.
    Nth(u32),
    /// The first n matching calls.
    First(u32),
    /// Every matching call.
    Always,
}

impl Schedule {
    fn fires(self, call: u32) -> bool {
        match self {
            Self::Nth(n) => call == n,
            Self::First(n) => call <= n,
            Self::Always => true,
        }
    }
}

/// A fault, the calls it addresses and when it fires. By default it fires on the next
/// matching call of any component, environment and slot.
///
/// ```
/// use release_core::testkit::FaultRule;
/// // The second apply of `web` in production fails with a retryable error.
/// let rule = FaultRule::fail_apply(true).for_component("web").in_environment("production").nth(2);
/// ```
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// The fault.
    pub fault: Fault,
    /// The calls it addresses.
    pub scope: FaultScope,
    /// Which of them it fires on.
    pub schedule: Schedule,
}

impl FaultRule {
    /// `fault` on the next call of its kind.
    pub fn new(fault: Fault) -> Self {
        Self {
            fault,
            scope: FaultScope::default(),
            schedule: Schedule::Nth(1),
        }
    }

    /// Fails an apply.
    pub fn fail_apply(retryable: bool) -> Self {
        Self::new(Fault::FailApply { retryable })
    }

    /// Hangs an apply.
    pub fn hang_apply(hang: Hang) -> Self {
        Self::new(Fault::HangApply(hang))
    }

    /// Applies, then fails as if the process died.
    pub fn crash_after_apply() -> Self {
        Self::new(Fault::CrashAfterApply)
    }

    /// Reports at most `ready` ready replicas on observe.
    pub fn unready(ready: u32) -> Self {
        Self::new(Fault::Unready { ready })
    }

    /// Alternates 0 ready / ready on observe (use with [`FaultRule::times`]).
    pub fn flap_health() -> Self {
        Self::new(Fault::FlapHealth)
    }

    /// Fails an observe.
    pub fn fail_observe(retryable: bool) -> Self {
        Self::new(Fault::FailObserve { retryable })
    }

    /// Fails a remove.
    pub fn fail_remove(retryable: bool) -> Self {
        Self::new(Fault::FailRemove { retryable })
    }

    /// Only calls for this component.
    pub fn for_component(mut self, component: impl Into<ComponentId>) -> Self {
        self.scope.component = Some(component.into());
        self
    }

    /// Only calls in this environment.
    pub fn in_environment(mut self, environment: impl Into<EnvironmentName>) -> Self {
        self.scope.environment = Some(environment.into());
        self
    }

    /// Only this slot.
    pub fn in_slot(mut self, slot: impl Into<SlotName>) -> Self {
        self.scope.slot = Some(slot.into());
        self
    }

    /// Only the n-th matching call (from 1).
    pub fn nth(mut self, n: u32) -> Self {
        self.schedule = Schedule::Nth(n);
        self
    }

    /// The next `k` matching calls.
    pub fn times(mut self, k: u32) -> Self {
        self.schedule = Schedule::First(k);
        self
    }

    /// Every matching call.
    pub fn always(mut self) -> Self {
        self.schedule = Schedule::Always;
        self
    }
}

/// A fault that fired, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FiredFault {
    /// The rule's index, in the order rules were injected.
    pub rule: usize,
    /// [`Fault::name`].
    pub fault: &'static str,
    /// The component of the call.
    pub component: ComponentId,
    /// The environment of the call.
    pub environment: EnvironmentName,
    /// The slot of the call (`None` for observe).
    pub slot: Option<SlotName>,
    /// The call's number among the calls the rule matched.
    pub call: u32,
}

/// A [`DeploymentTarget`] wrapper that injects scripted faults into the calls it forwards.
///
/// Deterministic: each rule counts the calls it matches, and fires by its [`Schedule`].
/// When several apply rules fire on one call, the first injected wins; observe faults
/// combine. Thread-safe; no lock is held across the inner target's calls.
pub struct FaultyTarget {
    inner: Arc<dyn DeploymentTarget>,
    rules: Mutex<Vec<(FaultRule, u32)>>,
    fired: Mutex<Vec<FiredFault>>,
}

impl std::fmt::Debug for FaultyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyTarget")
            .field("rules", &*lock(&self.rules))
            .finish_non_exhaustive()
    }
}

impl FaultyTarget {
    /// Wraps `inner` with no faults.
    pub fn new(inner: Arc<dyn DeploymentTarget>) -> Self {
        Self {
            inner,
            rules: Mutex::new(Vec::new()),
            fired: Mutex::new(Vec::new()),
        }
    }

    /// Adds a rule (builder style).
    pub fn with(self, rule: FaultRule) -> Self {
        self.inject(rule);
        self
    }

    /// Adds a rule while in use; returns its index.
    pub fn inject(&self, rule: FaultRule) -> usize {
        let mut rules = lock(&self.rules);
        rules.push((rule, 0));
        rules.len() - 1
    }

    /// Removes every rule and its count; the log of faults that fired is kept.
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// The faults that fired, in order.
    pub fn fired(&self) -> Vec<FiredFault> {
        lock(&self.fired).clone()
    }

    /// The wrapped target.
    pub fn inner(&self) -> &Arc<dyn DeploymentTarget> {
        &self.inner
    }

    /// Counts the call on every matching rule and returns the faults that fire, in rule
    /// order, with the call number.
    fn fire(
        &self,
        op: Op,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: Option<&str>,
    ) -> Vec<(Fault, FaultScope, u32)> {
        let mut out = Vec::new();
        let mut fired = Vec::new();
        {
            let mut rules = lock(&self.rules);
            for (i, (rule, count)) in rules.iter_mut().enumerate() {
                if rule.fault.op() != op
                    || !rule.scope.matches(component, environment)
                    || slot.is_some_and(|s| !rule.scope.matches_slot(s))
                {
                    continue;
                }
                *count += 1;
                if rule.schedule.fires(*count) {
                    fired.push(FiredFault {
                        rule: i,
                        fault: rule.fault.name(),
                        component: component.clone(),
                        environment: environment.clone(),
                        slot: slot.map(SlotName::from),
                        call: *count,
                    });
                    out.push((rule.fault.clone(), rule.scope.clone(), *count));
                }
            }
        }
        lock(&self.fired).extend(fired);
        out
    }
}

fn injected(retryable: bool, message: String) -> Error {
    if retryable {
        Error::transient(PLUGIN, format!("injected fault: {message}"))
    } else {
        Error::permanent(PLUGIN, format!("injected fault: {message}"))
    }
}

async fn wait_until(clock: &dyn Clock, at: DateTime<Utc>) {
    loop {
        let now = clock.now();
        if now >= at {
            return;
        }
        let left = (at - now).to_std().unwrap_or_default();
        clock.sleep(left).await;
    }
}

#[async_trait]
impl DeploymentTarget for FaultyTarget {
    fn capabilities(&self) -> TargetCapabilities {
        self.inner.capabilities()
    }

    async fn apply(&self, request: &ApplyRequest) -> Result<SlotStatus> {
        let s = &request.spec;
        let fired = self.fire(Op::Apply, &s.component, &s.environment, Some(&s.slot));
        let what = |call: u32| {
            format!(
                "apply #{call} of slot {} of {} in {}",
                s.slot, s.component, s.environment
            )
        };
        match fired.into_iter().next() {
            None => self.inner.apply(request).await,
            Some((Fault::FailApply { retryable }, _, call)) => {
                Err(injected(retryable, format!("{} failed", what(call))))
            }
            Some((Fault::HangApply(Hang::Forever), _, _)) => std::future::pending().await,
            Some((Fault::HangApply(Hang::Until { clock, at }), _, _)) => {
                wait_until(clock.as_ref(), at).await;
                self.inner.apply(request).await
            }
            Some((Fault::CrashAfterApply, _, call)) => {
                self.inner.apply(request).await?;
                Err(injected(
                    false,
                    format!("{} went through, then the process crashed", what(call)),
                ))
            }
            // Only apply faults are returned for Op::Apply.
            Some((_, _, _)) => self.inner.apply(request).await,
        }
    }

    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> Result<Vec<SlotStatus>> {
        let fired = self.fire(Op::Observe, component, environment, None);
        if let Some((retryable, call)) = fired.iter().find_map(|(f, _, call)| match f {
            Fault::FailObserve { retryable } => Some((*retryable, *call)),
            _ => None,
        }) {
            return Err(injected(
                retryable,
                format!("observe #{call} of {component} in {environment} failed"),
            ));
        }
        let mut slots = self.inner.observe(component, environment).await?;
        for (fault, scope, call) in &fired {
            for status in slots
                .iter_mut()
                .filter(|s| scope.matches_slot(&s.spec.slot))
            {
                match fault {
                    Fault::Unready { ready } => {
                        status.ready_replicas = status.ready_replicas.min(*ready);
                    }
                    Fault::FlapHealth if call % 2 == 1 => status.ready_replicas = 0,
                    _ => {}
                }
            }
        }
        Ok(slots)
    }

    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> Result<()> {
        let fired = self.fire(Op::Remove, component, environment, Some(slot));
        if let Some((Fault::FailRemove { retryable }, _, call)) = fired.into_iter().next() {
            return Err(injected(
                retryable,
                format!("remove #{call} of slot {slot} of {component} in {environment} failed"),
            ));
        }
        self.inner.remove(component, environment, slot).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::InMemoryTarget;
    use crate::plugin::{ManualClock, SlotSpec};
    use std::time::Duration;

    fn spec(component: &str, slot: &str, replicas: u32) -> ApplyRequest {
        ApplyRequest::new(SlotSpec::new(
            component,
            "prod",
            slot,
            semver::Version::new(1, 0, 0),
            replicas,
        ))
    }

    fn setup() -> (Arc<InMemoryTarget>, FaultyTarget) {
        let inner = Arc::new(InMemoryTarget::new());
        let faulty = FaultyTarget::new(inner.clone());
        (inner, faulty)
    }

    #[tokio::test]
    async fn fails_the_nth_matching_apply_only() {
        let (inner, t) = setup();
        t.inject(FaultRule::fail_apply(true).for_component("web").nth(2));
        t.apply(&spec("web", "stable", 1)).await.unwrap();
        t.apply(&spec("api", "stable", 1)).await.unwrap(); // not counted
        let err = t.apply(&spec("web", "stable", 2)).await.unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(
            err.to_string(),
            "faulty-target: injected fault: apply #2 of slot stable of web in prod failed"
        );
        assert_eq!(inner.running("prod", "web")[0].spec.replicas, 1);
        t.apply(&spec("web", "stable", 2)).await.unwrap();
        assert_eq!(t.fired().len(), 1);
        assert_eq!(t.fired()[0].call, 2);
    }

    #[tokio::test]
    async fn crash_after_apply_applies_then_fails() {
        let (inner, t) = setup();
        t.inject(FaultRule::crash_after_apply().in_slot("canary"));
        let err = t.apply(&spec("web", "canary", 1)).await.unwrap_err();
        assert!(!err.is_retryable());
        assert_eq!(inner.running("prod", "web").len(), 1);
        // Resume re-applies the journaled spec: a no-op on the target.
        t.apply(&spec("web", "canary", 1)).await.unwrap();
        assert_eq!(inner.history().len(), 1);
        assert_eq!(inner.noop_applies().len(), 1);
    }

    #[tokio::test]
    async fn hang_until_the_clock_passes() {
        let (inner, t) = setup();
        let start = DateTime::from_timestamp(1_893_456_000, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        t.inject(FaultRule::hang_apply(Hang::Until {
            clock: clock.clone(),
            at: start + chrono::Duration::minutes(5),
        }));
        let t = Arc::new(t);
        let t2 = t.clone();
        let handle = tokio::spawn(async move { t2.apply(&spec("web", "stable", 1)).await });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(60));
        tokio::task::yield_now().await;
        assert!(!handle.is_finished());
        assert!(inner.running("prod", "web").is_empty());
        clock.advance(Duration::from_secs(240));
        handle.await.unwrap().unwrap();
        assert_eq!(inner.running("prod", "web").len(), 1);
    }

    #[tokio::test]
    async fn hang_forever_never_returns() {
        let (_, t) = setup();
        t.inject(FaultRule::hang_apply(Hang::Forever));
        let r = tokio::time::timeout(
            Duration::from_millis(20),
            t.apply(&spec("web", "stable", 1)),
        )
        .await;
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn health_flaps_then_settles() {
        let (_, t) = setup();
        t.apply(&spec("web", "stable", 3)).await.unwrap();
        t.apply(&spec("web", "canary", 1)).await.unwrap();
        t.inject(FaultRule::flap_health().in_slot("canary").times(4));
        let (c, e) = (ComponentId::from("web"), EnvironmentName::from("prod"));
        let mut canary = Vec::new();
        for _ in 0..5 {
            let slots = t.observe(&c, &e).await.unwrap();
            assert_eq!(slots[1].ready_replicas, 3, "stable is untouched");
            canary.push(slots[0].ready_replicas);
        }
        assert_eq!(canary, [0, 1, 0, 1, 1]);
        t.inject(FaultRule::unready(1).times(1));
        assert_eq!(t.observe(&c, &e).await.unwrap()[1].ready_replicas, 1);
        t.inject(FaultRule::fail_observe(false));
        assert!(t.observe(&c, &e).await.is_err());
        t.inject(FaultRule::fail_remove(true).in_slot("canary"));
        assert!(t.remove(&c, &e, "canary").await.unwrap_err().is_retryable());
        t.remove(&c, &e, "canary").await.unwrap();
    }
}
