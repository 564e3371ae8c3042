//! Our in-memory plugins pass the testkit's conformance suites, and broken plugins do not.
#![cfg(feature = "testkit")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use release_core::id::{ComponentId, EnvironmentName};
use release_core::ledger::InMemoryLedger;
use release_core::memory::{InMemoryArtifactStore, InMemoryRouter, InMemoryTarget};
use release_core::plugin::{
    ApplyRequest, DeploymentTarget, Route, SlotSpec, SlotStatus, SlotWeight, TargetCapabilities,
    TrafficRouter,
};
use release_core::testkit::{
    FaultyTarget, artifact_store_conformance, ledger_conformance, ledger_parallel_conformance,
    router_conformance, target_conformance,
};

#[tokio::test]
async fn in_memory_target_passes_with_every_capability() {
    let report = target_conformance(&InMemoryTarget::new()).await.unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    for check in [
        "observe_unknown_is_empty",
        "apply_reports_spec",
        "observe_reflects_apply",
        "apply_idempotent",
        "version_change",
        "scale_up_down",
        "remove",
        "remove_missing_is_ok",
        "multiple_slots_sorted",
        "endpoints_reported",
        "environments_isolated",
        "components_isolated",
    ] {
        assert!(
            report.passed.iter().any(|c| c == check),
            "{check} did not run"
        );
    }
}

#[tokio::test]
async fn in_memory_target_with_fewer_capabilities_skips_their_checks() {
    let mut caps = TargetCapabilities::default();
    caps.multiple_slots = false;
    caps.remove = false;
    caps.endpoints = false;
    caps.scale = false;
    let target = InMemoryTarget::new().with_capabilities(caps);
    let report = target_conformance(&target).await.unwrap();
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.check.as_str()).collect();
    assert_eq!(
        skipped,
        [
            "scale_up_down",
            "remove",
            "remove_missing_is_ok",
            "multiple_slots_sorted",
            "endpoints_reported"
        ]
    );
}

#[tokio::test]
async fn a_faulty_target_without_faults_is_transparent() {
    let target = FaultyTarget::new(Arc::new(InMemoryTarget::new()));
    target_conformance(&target).await.unwrap();
}

#[tokio::test]
async fn in_memory_router_passes() {
    router_conformance(&InMemoryRouter::new()).await.unwrap();
}

#[tokio::test]
async fn in_memory_ledger_passes() {
    let report = ledger_conformance(&InMemoryLedger::new()).await.unwrap();
    assert!(report.passed.iter().any(|c| c == "concurrent_appends"));
    assert!(
        report
            .passed
            .iter()
            .any(|c| c == "stale_fence_append_refused")
    );
}

#[tokio::test]
async fn in_memory_artifact_store_passes() {
    artifact_store_conformance(&InMemoryArtifactStore::new())
        .await
        .unwrap();
}

#[tokio::test]
async fn suites_can_share_one_backend() {
    let target = InMemoryTarget::new();
    let ledger = InMemoryLedger::new();
    target_conformance(&target).await.unwrap();
    target_conformance(&target).await.unwrap();
    ledger_conformance(&ledger).await.unwrap();
    ledger_conformance(&ledger).await.unwrap();
}

/// Parallel appends and racing acquisitions from spawned tasks on several threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_ledger_passes_the_parallel_checks() {
    let report = ledger_parallel_conformance(Arc::new(InMemoryLedger::new()))
        .await
        .unwrap();
    assert_eq!(report.passed, ["parallel_appends", "parallel_acquire"]);
}

/// A target that adds replicas on every apply instead of converging to the spec.
#[derive(Default)]
struct AccumulatingTarget {
    slots: Mutex<BTreeMap<(String, String, String), SlotSpec>>,
}

#[async_trait]
impl DeploymentTarget for AccumulatingTarget {
    async fn apply(&self, request: &ApplyRequest) -> release_core::Result<SlotStatus> {
        let s = &request.spec;
        let key = (
            s.environment.to_string(),
            s.component.to_string(),
            s.slot.to_string(),
        );
        let mut slots = self.slots.lock().unwrap();
        let stored = slots
            .entry(key)
            .and_modify(|old| {
                let replicas = old.replicas + s.replicas;
                *old = s.scaled(replicas);
            })
            .or_insert_with(|| s.clone());
        Ok(SlotStatus::new(stored.clone(), stored.replicas))
    }

    async fn observe(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
    ) -> release_core::Result<Vec<SlotStatus>> {
        let slots = self.slots.lock().unwrap();
        Ok(slots
            .values()
            .filter(|s| s.component == *component && s.environment == *environment)
            .map(|s| SlotStatus::new(s.clone(), s.replicas))
            .collect())
    }

    async fn remove(
        &self,
        component: &ComponentId,
        environment: &EnvironmentName,
        slot: &str,
    ) -> release_core::Result<()> {
        self.slots.lock().unwrap().remove(&(
            environment.to_string(),
            component.to_string(),
            slot.to_owned(),
        ));
        Ok(())
    }
}

#[tokio::test]
async fn a_non_idempotent_target_is_rejected_by_name() {
    let failure = target_conformance(&AccumulatingTarget::default())
        .await
        .unwrap_err();
    assert!(failure.failed("apply_idempotent"), "{failure}");
    let idempotence = failure
        .failures
        .iter()
        .find(|f| f.check == "apply_idempotent")
        .unwrap();
    assert!(
        idempotence
            .message
            .contains("applying the identical spec again reports slot stable v1.0.0 ×4"),
        "{}",
        idempotence.message
    );
    // What it does right still passes.
    assert!(failure.passed.iter().any(|c| c == "observe_reflects_apply"));
    assert!(failure.to_string().starts_with("target conformance:"));
}

/// A router that stores whatever it is given.
#[derive(Default)]
struct UncheckedRouter {
    routes: Mutex<BTreeMap<Route, Vec<SlotWeight>>>,
}

#[async_trait]
impl TrafficRouter for UncheckedRouter {
    async fn set_weights(&self, route: &Route, weights: &[SlotWeight]) -> release_core::Result<()> {
        self.routes
            .lock()
            .unwrap()
            .insert(route.clone(), weights.to_vec());
        Ok(())
    }

    async fn weights(&self, route: &Route) -> release_core::Result<Vec<SlotWeight>> {
        Ok(self
            .routes
            .lock()
            .unwrap()
            .get(route)
            .cloned()
            .unwrap_or_default())
    }
}

#[tokio::test]
async fn an_unchecked_router_is_rejected_by_name() {
    let failure = router_conformance(&UncheckedRouter::default())
        .await
        .unwrap_err();
    let failed: Vec<&str> = failure.failures.iter().map(|f| f.check.as_str()).collect();
    // Unsorted reads, and bad weights accepted.
    assert_eq!(
        failed,
        [
            "round_trip_sorted",
            "rejects_bad_sum",
            "rejects_duplicate_slot"
        ]
    );
}

#[tokio::test]
async fn faulty_target_fault_shows_up_as_a_failed_check() {
    let target = FaultyTarget::new(Arc::new(InMemoryTarget::new()));
    target.inject(release_core::testkit::FaultRule::fail_apply(false).always());
    let failure = target_conformance(&target).await.unwrap_err();
    assert!(failure.failed("apply_reports_spec"));
    assert!(
        failure
            .passed
            .iter()
            .any(|c| c == "observe_unknown_is_empty")
    );
}
