//! The deployment target suite.

use semver::Version;

use crate::id::{ComponentId, EnvironmentName};
use crate::plugin::{ApplyRequest, DeploymentTarget, SlotSpec, SlotStatus};

use super::{Check, ConformanceFailure, ConformanceReport, Context, Run, ensure};

const ENV_A: &str = "conformance-a";
const ENV_B: &str = "conformance-b";

fn component(check: &str) -> ComponentId {
    ComponentId::new(format!("conformance-target-{check}"))
}

fn spec(component: &ComponentId, env: &str, slot: &str, major: u64, replicas: u32) -> SlotSpec {
    SlotSpec::new(
        component.clone(),
        env,
        slot,
        Version::new(major, 0, 0),
        replicas,
    )
}

/// (slot, version, replicas) of each slot, for comparing and printing.
fn summary(slots: &[SlotStatus]) -> Vec<(String, String, u32)> {
    slots
        .iter()
        .map(|s| {
            (
                s.spec.slot.to_string(),
                s.spec.version.to_string(),
                s.spec.replicas,
            )
        })
        .collect()
}

async fn apply(target: &dyn DeploymentTarget, spec: &SlotSpec) -> Result<SlotStatus, String> {
    target
        .apply(&ApplyRequest::new(spec.clone()))
        .await
        .context(&format!(
            "apply of slot {} v{} ×{} of {} in {}",
            spec.slot, spec.version, spec.replicas, spec.component, spec.environment
        ))
}

async fn observe(
    target: &dyn DeploymentTarget,
    component: &ComponentId,
    env: &str,
) -> Result<Vec<SlotStatus>, String> {
    target
        .observe(component, &EnvironmentName::from(env))
        .await
        .context(&format!("observe of {component} in {env}"))
}

/// Checks that a status describes `spec` exactly and reports no more ready replicas than
/// desired.
fn matches(status: &SlotStatus, spec: &SlotSpec, what: &str) -> Check {
    ensure!(
        status.spec.component == spec.component
            && status.spec.environment == spec.environment
            && status.spec.slot == spec.slot
            && status.spec.version == spec.version
            && status.spec.replicas == spec.replicas,
        "{what} reports slot {} v{} ×{} of {} in {}; expected slot {} v{} ×{} of {} in {}",
        status.spec.slot,
        status.spec.version,
        status.spec.replicas,
        status.spec.component,
        status.spec.environment,
        spec.slot,
        spec.version,
        spec.replicas,
        spec.component,
        spec.environment
    );
    ensure!(
        status.ready_replicas <= spec.replicas,
        "{what} reports {} ready replicas of slot {} but only {} are desired: replicas were duplicated",
        status.ready_replicas,
        spec.slot,
        spec.replicas
    );
    Ok(())
}

async fn observe_one(
    target: &dyn DeploymentTarget,
    spec: &SlotSpec,
    what: &str,
) -> Result<SlotStatus, String> {
    let slots = observe(target, &spec.component, spec.environment.as_str()).await?;
    ensure!(
        slots.len() == 1,
        "{what}: observe should report exactly slot {}, got {:?}",
        spec.slot,
        summary(&slots)
    );
    let status = slots.into_iter().next().ok_or("observe reported nothing")?;
    matches(&status, spec, what)?;
    Ok(status)
}

/// Removes what a check created, when the target can.
async fn cleanup(target: &dyn DeploymentTarget, component: &ComponentId, envs: &[&str]) {
    if !target.capabilities().remove {
        return;
    }
    for env in envs {
        let env = EnvironmentName::from(*env);
        if let Ok(slots) = target.observe(component, &env).await {
            for s in slots {
                let _ = target.remove(component, &env, &s.spec.slot).await;
            }
        }
    }
}

/// Runs the deployment target suite.
///
/// Checks, always: `observe_unknown_is_empty`, `apply_reports_spec`,
/// `observe_reflects_apply`, `apply_idempotent` (the same spec twice gives the same observed
/// state and no extra replicas), `version_change`, `environments_isolated`,
/// `components_isolated`. By capability: `scale_up_down` (`scale`), `remove` and
/// `remove_missing_is_ok` (`remove`), `multiple_slots_sorted` (`multiple_slots`),
/// `endpoints_reported` (`endpoints`).
///
/// The target need not converge at once: the suite checks the desired state a target
/// reports, and only that it never reports more ready replicas than desired.
pub async fn target_conformance(
    target: &dyn DeploymentTarget,
) -> Result<ConformanceReport, ConformanceFailure> {
    let caps = target.capabilities();
    let many = if caps.scale { 2 } else { 1 };
    let mut run = Run::new("target");

    run.check("observe_unknown_is_empty", async {
        let slots = observe(target, &component("never-applied"), ENV_A).await?;
        ensure!(
            slots.is_empty(),
            "observe of a component never applied should be empty, got {:?}",
            summary(&slots)
        );
        Ok(())
    })
    .await;

    run.check("apply_reports_spec", async {
        let c = component("apply-reports-spec");
        let s = spec(&c, ENV_A, "stable", 1, many);
        let status = apply(target, &s).await?;
        let out = matches(&status, &s, "apply");
        cleanup(target, &c, &[ENV_A]).await;
        out
    })
    .await;

    run.check("observe_reflects_apply", async {
        let c = component("observe-reflects-apply");
        let s = spec(&c, ENV_A, "stable", 1, many);
        apply(target, &s).await?;
        let out = observe_one(target, &s, "observe after apply")
            .await
            .map(|_| ());
        cleanup(target, &c, &[ENV_A]).await;
        out
    })
    .await;

    run.check("apply_idempotent", async {
        let c = component("apply-idempotent");
        let s = spec(&c, ENV_A, "stable", 1, many);
        let first = apply(target, &s).await?;
        let observed_first = observe(target, &c, ENV_A).await?;
        let second = apply(target, &s).await?;
        let observed_second = observe(target, &c, ENV_A).await?;
        let out = async {
            matches(&first, &s, "the first apply")?;
            matches(&second, &s, "applying the identical spec again")?;
            ensure!(
                summary(&observed_first) == summary(&observed_second),
                "applying the identical spec twice changed the observed state from {:?} to {:?}",
                summary(&observed_first),
                summary(&observed_second)
            );
            observe_one(target, &s, "observe after applying the same spec twice").await?;
            Ok(())
        }
        .await;
        cleanup(target, &c, &[ENV_A]).await;
        out
    })
    .await;

    run.check("version_change", async {
        let c = component("version-change");
        apply(target, &spec(&c, ENV_A, "stable", 1, 1)).await?;
        let v2 = spec(&c, ENV_A, "stable", 2, 1);
        apply(target, &v2).await?;
        let out = observe_one(
            target,
            &v2,
            "observe after applying a new version to the slot",
        )
        .await
        .map(|_| ());
        cleanup(target, &c, &[ENV_A]).await;
        out
    })
    .await;

    if caps.scale {
        run.check("scale_up_down", async {
            let c = component("scale-up-down");
            let out = async {
                for replicas in [1, 3, 1, 0] {
                    let s = spec(&c, ENV_A, "stable", 1, replicas);
                    apply(target, &s).await?;
                    observe_one(target, &s, &format!("observe after scaling to {replicas}"))
                        .await?;
                }
                Ok(())
            }
            .await;
            cleanup(target, &c, &[ENV_A]).await;
            out
        })
        .await;
    } else {
        run.skip("scale_up_down", "the target does not declare `scale`");
    }

    if caps.remove {
        run.check("remove", async {
            let c = component("remove");
            let s = spec(&c, ENV_A, "stable", 1, 1);
            apply(target, &s).await?;
            target
                .remove(&c, &ENV_A.into(), "stable")
                .await
                .context("remove of an existing slot")?;
            let slots = observe(target, &c, ENV_A).await?;
            ensure!(
                slots.is_empty(),
                "after remove, observe should be empty, got {:?}",
                summary(&slots)
            );
            target
                .remove(&c, &ENV_A.into(), "stable")
                .await
                .context("removing the same slot a second time")?;
            Ok(())
        })
        .await;
        run.check("remove_missing_is_ok", async {
            let c = component("remove-missing");
            target
                .remove(&c, &ENV_A.into(), "never-applied")
                .await
                .context("remove of a slot that never existed")
        })
        .await;
    } else {
        run.skip("remove", "the target does not declare `remove`");
        run.skip(
            "remove_missing_is_ok",
            "the target does not declare `remove`",
        );
    }

    if caps.multiple_slots {
        run.check("multiple_slots_sorted", async {
            let c = component("multiple-slots");
            let stable = spec(&c, ENV_A, "stable", 1, many);
            let canary = spec(&c, ENV_A, "canary", 2, 1);
            let out = async {
                apply(target, &stable).await?;
                apply(target, &canary).await?;
                let slots = observe(target, &c, ENV_A).await?;
                ensure!(
                    slots.len() == 2,
                    "with slots stable and canary applied, observe reported {:?}",
                    summary(&slots)
                );
                matches(&slots[0], &canary, "observe's first slot (sorted by name)")?;
                matches(&slots[1], &stable, "observe's second slot (sorted by name)")?;
                if caps.remove {
                    target
                        .remove(&c, &ENV_A.into(), "canary")
                        .await
                        .context("remove of slot canary")?;
                    observe_one(target, &stable, "observe after removing canary").await?;
                }
                Ok(())
            }
            .await;
            cleanup(target, &c, &[ENV_A]).await;
            out
        })
        .await;
    } else {
        run.skip(
            "multiple_slots_sorted",
            "the target does not declare `multiple_slots`",
        );
    }

    if caps.endpoints {
        run.check("endpoints_reported", async {
            let c = component("endpoints");
            let s = spec(&c, ENV_A, "stable", 1, 1);
            let applied = apply(target, &s).await?;
            let observed = observe(target, &c, ENV_A).await?;
            let out = async {
                ensure!(
                    !applied.endpoints.is_empty()
                        || observed.iter().any(|o| !o.endpoints.is_empty()),
                    "the target declares `endpoints` but slot stable reports none"
                );
                Ok(())
            }
            .await;
            cleanup(target, &c, &[ENV_A]).await;
            out
        })
        .await;
    } else {
        run.skip(
            "endpoints_reported",
            "the target does not declare `endpoints`",
        );
    }

    run.check("environments_isolated", async {
        let c = component("environments-isolated");
        let a = spec(&c, ENV_A, "stable", 1, 1);
        let b = spec(&c, ENV_B, "stable", 2, 1);
        let out = async {
            apply(target, &a).await?;
            apply(target, &b).await?;
            observe_one(target, &a, "observe in the first environment").await?;
            observe_one(target, &b, "observe in the second environment").await?;
            if caps.remove {
                target
                    .remove(&c, &ENV_A.into(), "stable")
                    .await
                    .context("remove in the first environment")?;
                observe_one(
                    target,
                    &b,
                    "observe in the second environment after removing from the first",
                )
                .await?;
            }
            Ok(())
        }
        .await;
        cleanup(target, &c, &[ENV_A, ENV_B]).await;
        out
    })
    .await;

    run.check("components_isolated", async {
        let c1 = component("components-isolated-1");
        let c2 = component("components-isolated-2");
        let s1 = spec(&c1, ENV_A, "stable", 1, 1);
        let s2 = spec(&c2, ENV_A, "stable", 2, 1);
        let out = async {
            apply(target, &s1).await?;
            apply(target, &s2).await?;
            observe_one(target, &s1, "observe of the first component").await?;
            observe_one(target, &s2, "observe of the second component").await?;
            Ok(())
        }
        .await;
        cleanup(target, &c1, &[ENV_A]).await;
        cleanup(target, &c2, &[ENV_A]).await;
        out
    })
    .await;

    run.finish()
}
