//! The in-memory deployment target.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::id::{ComponentId, EnvironmentName};
use crate::plugin::{
    ApplyRequest, DeploymentTarget, Endpoint, SlotName, SlotSpec, SlotStatus, TargetCapabilities,
};

use super::few::Few;
use super::history::History;
use super::lock;

const PLUGIN: &str = "memory-target";

/// How quickly applied slots become ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Convergence {
    /// Every replica is ready as soon as `apply` returns.
    #[default]
    Immediate,
    /// After a state-changing apply, the slot reports 0 ready replicas for this many
    /// `observe` calls, then all of them.
    AfterObserves(u32),
    /// Slots never report a ready replica.
    Never,
}

/// A state-changing call the target received, in call order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetChange {
    /// A slot was created or changed.
    Apply {
        /// The spec it now runs.
        spec: SlotSpec,
        /// The spec it ran before, if the slot existed.
        previous: Option<SlotSpec>,
    },
    /// A slot was removed.
    Remove {
        /// The spec it ran.
        spec: SlotSpec,
    },
}

impl TargetChange {
    /// The spec applied or removed.
    pub fn spec(&self) -> &SlotSpec {
        match self {
            Self::Apply { spec, .. } | Self::Remove { spec } => spec,
        }
    }

    /// True for [`TargetChange::Apply`].
    pub fn is_apply(&self) -> bool {
        matches!(self, Self::Apply { .. })
    }
}

/// The slots of one component in one environment, by slot name: inline (see `few.rs`).
type Slots = Few<SlotName, Slot>;

struct Slot {
    spec: SlotSpec,
    /// Observes left before the slot reports ready (for [`Convergence::AfterObserves`]).
    pending_observes: u32,
}

/// Slots indexed by (environment, component), then slot name, so that `observe`, `apply`
/// and the other lookups by (environment, component) are one hash lookup, not a scan of
/// every slot the target holds (one target shared by 10,000 applications). The pair is
/// hashed (nothing lists slots across components but [`InMemoryTarget::versions`], a test
/// helper that scans), and a component's slots are sorted inline, as `observe` reports them:
/// nested maps cost two small allocations per application, made while its first release ran
/// and kept for good (issue #10, `few.rs`).
#[derive(Default)]
struct State {
    slots: HashMap<(EnvironmentName, ComponentId), Slots>,
    history: History<TargetChange>,
    noop_applies: History<SlotSpec>,
}

impl State {
    fn slots(&self, environment: &EnvironmentName, component: &ComponentId) -> Option<&Slots> {
        self.slots.get(&(environment.clone(), component.clone()))
    }

    fn slots_mut(
        &mut self,
        environment: &EnvironmentName,
        component: &ComponentId,
    ) -> Option<&mut Slots> {
        self.slots
            .get_mut(&(environment.clone(), component.clone()))
    }

    fn slot(&self, spec: &SlotSpec) -> Option<&Slot> {
        self.slots(&spec.environment, &spec.component)?
            .get(&spec.slot)
    }

    fn insert(&mut self, slot: Slot) -> Option<Slot> {
        let spec = &slot.spec;
        let key = (spec.environment.clone(), spec.component.clone());
        let name = spec.slot.clone();
        self.slots.entry(key).or_default().insert(name, slot)
    }

    fn remove(
        &mut self,
        environment: &EnvironmentName,
        component: &ComponentId,
        slot: &str,
    ) -> Option<Slot> {
        let key = (environment.clone(), component.clone());
        let slots = self.slots.get_mut(&key)?;
        let removed = slots.remove(slot)?;
        if slots.is_empty() {
            self.slots.remove(&key);
        }
        Some(removed)
    }
}

/// A [`DeploymentTarget`] in memory: slots keyed by (environment, component, slot).
///
/// `apply` is idempotent (an identical spec changes nothing and is recorded in
/// [`InMemoryTarget::noop_applies`], not in [`InMemoryTarget::history`]), slots converge
/// immediately unless [`InMemoryTarget::with_convergence`] says otherwise, and each slot
/// serves on `mem://<env>/<component>/<slot>`. Both logs keep their last
/// [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT) entries unless
/// [`InMemoryTarget::with_history_limit`] says otherwise.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use release_core::memory::InMemoryTarget;
/// use release_core::plugin::{ApplyRequest, DeploymentTarget, SlotSpec};
///
/// let target = InMemoryTarget::new();
/// let spec = SlotSpec::new("web", "staging", "stable", semver::Version::new(1, 2, 0), 3);
/// let status = target.apply(&ApplyRequest::new(spec.clone())).await.unwrap();
/// assert_eq!(status.ready_replicas, 3);
/// target.apply(&ApplyRequest::new(spec)).await.unwrap(); // a no-op
/// assert_eq!(target.history().len(), 1);
/// # });
/// ```
pub struct InMemoryTarget {
    capabilities: TargetCapabilities,
    convergence: Convergence,
    state: Mutex<State>,
}

impl Default for InMemoryTarget {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InMemoryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryTarget")
            .field("capabilities", &self.capabilities)
            .field("convergence", &self.convergence)
            .finish_non_exhaustive()
    }
}

impl InMemoryTarget {
    /// An empty target with every capability that converges immediately.
    pub fn new() -> Self {
        Self {
            capabilities: TargetCapabilities::all(),
            convergence: Convergence::Immediate,
            state: Mutex::new(State::default()),
        }
    }

    /// Declares (and enforces) other capabilities: without `multiple_slots` a second slot of
    /// a component is refused, without `remove` removing is refused, without `scale` more
    /// than one replica is refused, without `endpoints` none are reported.
    pub fn with_capabilities(mut self, capabilities: TargetCapabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Sets how quickly applied slots become ready.
    pub fn with_convergence(mut self, convergence: Convergence) -> Self {
        self.convergence = convergence;
        self
    }

    /// Keeps the last `limit` entries in [`history`](Self::history) and in
    /// [`noop_applies`](Self::noop_applies) each (0 keeps none; the default is
    /// [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT)).
    pub fn with_history_limit(self, limit: usize) -> Self {
        {
            let mut state = lock(&self.state);
            state.history.set_limit(limit);
            state.noop_applies.set_limit(limit);
        }
        self
    }

    /// The kept state-changing applies and removes, in call order (the last ones, up to the
    /// history limit).
    pub fn history(&self) -> Vec<TargetChange> {
        lock(&self.state).history.to_vec()
    }

    /// Changes no longer in [`history`](Self::history) (older than the kept ones).
    pub fn history_dropped(&self) -> u64 {
        lock(&self.state).history.dropped()
    }

    /// The kept applies that changed nothing because the slot already ran the identical
    /// spec, in call order.
    pub fn noop_applies(&self) -> Vec<SlotSpec> {
        lock(&self.state).noop_applies.to_vec()
    }

    /// No-op applies no longer in [`noop_applies`](Self::noop_applies).
    pub fn noop_applies_dropped(&self) -> u64 {
        lock(&self.state).noop_applies.dropped()
    }

    /// The slots of a component in an environment, sorted by slot name, as `observe` would
    /// report them (without counting as an observe).
    pub fn running(&self, environment: &str, component: &str) -> Vec<SlotStatus> {
        let state = lock(&self.state);
        state
            .slots(&environment.into(), &component.into())
            .map(|slots| slots.values().map(|slot| self.status(slot)).collect())
            .unwrap_or_default()
    }

    /// The versions each component runs in an environment (slots with at least one replica),
    /// for asserting that no component is left on mixed versions. It looks at every slot the
    /// target holds (slots are indexed by environment and component together), which is
    /// fine for a test's assertion, not for a hot path.
    pub fn versions(&self, environment: &str) -> BTreeMap<ComponentId, BTreeSet<semver::Version>> {
        let state = lock(&self.state);
        let mut out: BTreeMap<ComponentId, BTreeSet<semver::Version>> = BTreeMap::new();
        let in_environment = state
            .slots
            .iter()
            .filter(|((env, _), _)| env.as_str() == environment);
        for ((_, c), slots) in in_environment {
            for slot in slots.values().filter(|slot| slot.spec.replicas > 0) {
                out.entry(c.clone())
                    .or_default()
                    .insert(slot.spec.version.clone());
            }
        }
        out
    }

    fn status(&self, slot: &Slot) -> SlotStatus {
        let ready = match self.convergence {
            Convergence::Never => 0,
            _ if slot.pending_observes > 0 => 0,
            _ => slot.spec.replicas,
        };
        let mut status = SlotStatus::new(slot.spec.clone(), ready);
        if self.capabilities.endpoints {
            status = status.with_endpoints(vec![endpoint(&slot.spec)]);
        }
        status
    }

    fn check_capabilities(&self, state: &State, spec: &SlotSpec) -> Result<()> {
        if !self.capabilities.scale && spec.replicas > 1 {
            return Err(Error::permanent(
                PLUGIN,
                format!(
                    "slot {} of {} in {} asks for {} replicas but this target cannot scale; ask for 0 or 1",
                    spec.slot, spec.component, spec.environment, spec.replicas
                ),
            ));
        }
        if !self.capabilities.multiple_slots {
            let other = state
                .slots(&spec.environment, &spec.component)
                .and_then(|slots| slots.iter().map(|(s, _)| s).find(|s| **s != spec.slot));
            if let Some(other) = other {
                return Err(Error::permanent(
                    PLUGIN,
                    format!(
                        "{} in {} already runs slot {other}; this target holds one slot per component, remove it before applying slot {}",
                        spec.component, spec.environment, spec.slot
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The endpoint of a slot: `mem://<env>/<component>/<slot>`.
fn endpoint(spec: &SlotSpec) -> Endpoint {
    // Built at its exact size: `format!` guesses a capacity and grows the string, and each
    // reallocation is allocator work that gets slower as the heap fragments (issue #10).
    let parts = [
        spec.environment.as_str(),
        spec.component.as_str(),
        spec.slot.as_str(),
    ];
    let mut url =
        String::with_capacity("mem:/".len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    url.push_str("mem:/");
    for part in parts {
        url.push('/');
        url.push_str(part);
    }
    Endpoint { url }
}

#[async_trait]
impl DeploymentTarget for InMemoryTarget {
    fn capabilities(&self) -> TargetCapabilities {
        self.capabilities
    }

    async fn apply(&self, request: &ApplyRequest) -> Result<SlotStatus> {
        let spec = &request.spec;
        let mut state = lock(&self.state);
        if let Some(slot) = state.slot(spec)
            && slot.spec == *spec
        {
            let status = self.status(slot);
            state.noop_applies.record(|| spec.clone());
            return Ok(status);
        }
        self.check_capabilities(&state, spec)?;
        let pending_observes = match self.convergence {
            Convergence::AfterObserves(n) => n,
            _ => 0,
        };
        let slot = Slot {
            spec: spec.clone(),
            pending_observes,
        };
        let status = self.status(&slot);
        let previous = state.insert(slot).map(|s| s.spec);
        state.history.record(|| TargetChange::Apply {
            spec: spec.clone(),
            previous,
        });
        Ok(status)
    }

    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> Result<Vec<SlotStatus>> {
        let mut state = lock(&self.state);
        let mut out = Vec::new();
        if let Some(slots) = state.slots_mut(environment, component) {
            // At its exact size (a status is ~250 bytes: growing from 4 of them asked for
            // 1,024 bytes, a large-bin request, for two slots; issue #10).
            out.reserve_exact(slots.len());
            for slot in slots.values_mut() {
                out.push(self.status(slot));
                slot.pending_observes = slot.pending_observes.saturating_sub(1);
            }
        }
        Ok(out)
    }

    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> Result<()> {
        if !self.capabilities.remove {
            return Err(Error::permanent(
                PLUGIN,
                format!(
                    "cannot remove slot {slot} of {component} in {environment}: this target does not remove slots; scale it to 0 replicas instead"
                ),
            ));
        }
        let mut state = lock(&self.state);
        if let Some(removed) = state.remove(environment, component, slot) {
            state
                .history
                .push(TargetChange::Remove { spec: removed.spec });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use semver::Version;

    fn spec(component: &str, env: &str, slot: &str, version: u64, replicas: u32) -> SlotSpec {
        SlotSpec::new(component, env, slot, Version::new(version, 0, 0), replicas)
    }

    async fn apply(t: &InMemoryTarget, s: &SlotSpec) -> Result<SlotStatus> {
        t.apply(&ApplyRequest::new(s.clone())).await
    }

    #[tokio::test]
    async fn apply_is_idempotent_and_recorded_as_noop() {
        let t = InMemoryTarget::new();
        let s = spec("web", "prod", "stable", 1, 3);
        let first = apply(&t, &s).await.unwrap();
        let second = apply(&t, &s).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(first.ready_replicas, 3);
        assert_eq!(
            first.endpoints,
            vec![Endpoint {
                url: "mem://prod/web/stable".into()
            }]
        );
        // Built at its exact size (issue #10).
        assert_eq!(
            first.endpoints[0].url.capacity(),
            first.endpoints[0].url.len()
        );
        assert_eq!(
            t.history(),
            vec![TargetChange::Apply {
                spec: s.clone(),
                previous: None
            }]
        );
        assert_eq!(t.noop_applies(), vec![s]);
    }

    #[tokio::test]
    async fn observe_is_sorted_and_versions_show_mixed_state() {
        let t = InMemoryTarget::new();
        apply(&t, &spec("web", "prod", "stable", 1, 3))
            .await
            .unwrap();
        apply(&t, &spec("web", "prod", "canary", 2, 1))
            .await
            .unwrap();
        apply(&t, &spec("web", "test", "stable", 3, 1))
            .await
            .unwrap();
        apply(&t, &spec("api", "prod", "stable", 1, 0))
            .await
            .unwrap();
        let slots = t
            .observe(&"web".into(), &"prod".into())
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.spec.slot)
            .collect::<Vec<_>>();
        assert_eq!(slots, ["canary", "stable"]);
        let versions = t.versions("prod");
        assert_eq!(
            versions.get("web").unwrap(),
            &BTreeSet::from([Version::new(1, 0, 0), Version::new(2, 0, 0)])
        );
        // Zero replicas run nothing.
        assert!(!versions.contains_key("api"));
        assert_eq!(t.running("test", "web").len(), 1);
    }

    #[tokio::test]
    async fn remove_records_and_missing_is_ok() {
        let t = InMemoryTarget::new();
        let s = spec("web", "prod", "canary", 2, 1);
        apply(&t, &s).await.unwrap();
        t.remove(&"web".into(), &"prod".into(), "canary")
            .await
            .unwrap();
        t.remove(&"web".into(), &"prod".into(), "canary")
            .await
            .unwrap();
        assert_eq!(t.history().len(), 2);
        assert_eq!(t.history()[1], TargetChange::Remove { spec: s });
        assert!(t.running("prod", "web").is_empty());
    }

    #[tokio::test]
    async fn converges_after_observes_when_configured() {
        let t = InMemoryTarget::new().with_convergence(Convergence::AfterObserves(2));
        let s = spec("web", "prod", "stable", 1, 2);
        assert_eq!(apply(&t, &s).await.unwrap().ready_replicas, 0);
        let (c, e) = (ComponentId::from("web"), EnvironmentName::from("prod"));
        assert_eq!(t.observe(&c, &e).await.unwrap()[0].ready_replicas, 0);
        assert_eq!(t.observe(&c, &e).await.unwrap()[0].ready_replicas, 0);
        assert_eq!(t.observe(&c, &e).await.unwrap()[0].ready_replicas, 2);
    }

    #[tokio::test]
    async fn capabilities_are_enforced() {
        let caps = TargetCapabilities {
            multiple_slots: false,
            remove: false,
            endpoints: false,
            scale: false,
        };
        let t = InMemoryTarget::new().with_capabilities(caps);
        assert_eq!(t.capabilities(), caps);
        let status = apply(&t, &spec("web", "prod", "stable", 1, 1))
            .await
            .unwrap();
        assert!(status.endpoints.is_empty());
        let err = apply(&t, &spec("web", "prod", "canary", 2, 1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("one slot per component"), "{err}");
        let err = apply(&t, &spec("web", "prod", "stable", 1, 3))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cannot scale"), "{err}");
        assert!(
            t.remove(&"web".into(), &"prod".into(), "stable")
                .await
                .is_err()
        );
        assert_eq!(t.history().len(), 1);
    }

    // Both logs keep the last entries up to the limit; the slots themselves are not
    // affected by it.
    #[tokio::test]
    async fn logs_keep_the_last_entries_up_to_the_limit() {
        let t = InMemoryTarget::new().with_history_limit(1);
        for version in 1..=3 {
            let s = spec("web", "prod", "stable", version, 2);
            apply(&t, &s).await.unwrap();
            apply(&t, &s).await.unwrap();
        }
        assert_eq!(
            t.history(),
            vec![TargetChange::Apply {
                spec: spec("web", "prod", "stable", 3, 2),
                previous: Some(spec("web", "prod", "stable", 2, 2)),
            }]
        );
        assert_eq!(t.history_dropped(), 2);
        assert_eq!(t.noop_applies(), vec![spec("web", "prod", "stable", 3, 2)]);
        assert_eq!(t.noop_applies_dropped(), 2);
        assert_eq!(
            t.running("prod", "web")[0].spec.version,
            Version::new(3, 0, 0)
        );

        let none = InMemoryTarget::new().with_history_limit(0);
        apply(&none, &spec("web", "prod", "stable", 1, 2))
            .await
            .unwrap();
        assert!(none.history().is_empty());
        assert_eq!(none.history_dropped(), 1);
        assert_eq!(none.running("prod", "web").len(), 1);
    }

    // A component with more than two slots (an experiment) is observed sorted, and back to
    // one slot after removals; removing its last slot forgets the component.
    #[tokio::test]
    async fn more_than_two_slots_stay_sorted_through_removals() {
        let t = InMemoryTarget::new();
        for slot in ["stable", "canary", "baseline", "preview"] {
            apply(&t, &spec("web", "prod", slot, 1, 1)).await.unwrap();
        }
        let names = |t: &InMemoryTarget| {
            t.running("prod", "web")
                .into_iter()
                .map(|s| s.spec.slot.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&t), ["baseline", "canary", "preview", "stable"]);
        for slot in ["canary", "preview", "baseline"] {
            t.remove(&"web".into(), &"prod".into(), slot).await.unwrap();
        }
        assert_eq!(names(&t), ["stable"]);
        t.remove(&"web".into(), &"prod".into(), "stable")
            .await
            .unwrap();
        assert!(names(&t).is_empty());
        assert!(t.versions("prod").is_empty());
    }
}
