//! The versions a component ran in an environment, read back from other releases' journals,
//! for rollback windows (Argo Rollouts' `rollbackWindow`).
//!
//! Decisions:
//! - The history is read from the ledger only when the component's strategy has a rollback
//!   window, because it reads every other release's journal; it is journaled in the stage's
//!   `RollbackPlanned` entry, so a resumed stage decides the fast track exactly as the first
//!   run did even if other releases ran in between.
//! - A version "ran" in an environment when a stage observed it running before it deployed
//!   (`RollbackPlanned`), when a stage that deployed it completed (`StageCompleted`), and again
//!   when a rollback put it back (`RollbackCompleted`). Times are the records' timestamps;
//!   ties break by release id and sequence, so the order is stable.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::id::{ComponentId, EnvironmentName, ReleaseId};
use crate::ledger::{Event, Ledger, read_all};

/// The distinct versions `component` ran in `environment` according to every release in the
/// ledger other than `this`, most recent first.
pub(super) async fn version_history(
    ledger: &dyn Ledger,
    this: &ReleaseId,
    component: &ComponentId,
    environment: &EnvironmentName,
) -> Result<Vec<semver::Version>> {
    let mut seen: Vec<(DateTime<Utc>, ReleaseId, u64, semver::Version)> = Vec::new();
    for release in ledger.releases().await? {
        if &release == this {
            continue;
        }
        let records = read_all(ledger, &release).await?;
        let mut deployed: Option<semver::Version> = None;
        let mut before: Vec<semver::Version> = Vec::new();
        let mut in_stage = false;
        for record in &records {
            let mut push = |v: &semver::Version| {
                seen.push((record.at, release.clone(), record.seq, v.clone()));
            };
            match &record.event {
                Event::ReleaseStarted { release: r, .. } => {
                    deployed = r.components.get(component).map(|c| c.version.clone());
                }
                Event::RollbackPlanned {
                    environment: env,
                    components,
                    ..
                } if env == environment => {
                    before.clear();
                    in_stage = false;
                    if let Some(entry) = components.iter().find(|e| &e.component == component) {
                        in_stage = true;
                        let versions: BTreeSet<_> = entry
                            .previous
                            .iter()
                            .filter(|s| s.ready_replicas > 0)
                            .map(|s| s.spec.version.clone())
                            .collect();
                        for v in versions {
                            push(&v);
                            before.push(v);
                        }
                    }
                }
                Event::StageCompleted { environment: env } if env == environment && in_stage => {
                    if let Some(v) = &deployed {
                        push(v);
                    }
                }
                Event::RollbackCompleted { environment: env } if env == environment && in_stage => {
                    for v in &before {
                        push(v);
                    }
                }
                _ => {}
            }
        }
    }
    seen.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    let mut history: Vec<semver::Version> = Vec::new();
    for (_, _, _, v) in seen.into_iter().rev() {
        if !history.contains(&v) {
            history.push(v);
        }
    }
    Ok(history)
}
