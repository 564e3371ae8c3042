//! Retention (M3.3): which artifacts may go, and why — as a plan that a dry run prints and
//! [`apply`] carries out, recording each deletion in the ledger.
//!
//! Decisions:
//! - An artifact is deleted only when a delete rule matches **and no keep rule does**: keep
//!   rules always win. Keep rules: the last N per component, younger than a minimum age,
//!   anything an environment runs now (always, whatever the policy says) or ran within a
//!   window, legal holds, and anything whose age is unknown (no build time recorded).
//! - Age is measured from the build's finish (else its start) in the build metadata; `now`
//!   is given, so plans are deterministic and testable.
//! - Plans are sorted by artifact id and every decision carries all the reasons that applied.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use release_core::digest::Sha256Digest;
use release_core::id::{EnvironmentName, ReleaseId};
use release_core::ledger::{Event, EventDraft, Ledger};
use release_core::plugin::{ArtifactId, ArtifactMeta, ArtifactStore};
use serde::{Deserialize, Serialize};

use crate::artifact::{BuildMetadata, label, recover};
use crate::error::{ArtifactError, Result};

/// Keep and delete rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetentionPolicy {
    /// Keep the newest N artifacts of each component.
    pub keep_last: Option<usize>,
    /// Keep artifacts younger than this.
    pub keep_younger_than: Option<Duration>,
    /// Keep artifacts an environment ran within this window (running ones are always kept).
    pub keep_deployed_within: Option<Duration>,
    /// Delete rule: artifacts older than this.
    pub delete_older_than: Option<Duration>,
    /// Delete rule: artifacts with at least this many newer versions of the same component.
    pub delete_superseded_by: Option<usize>,
}

/// Where an artifact runs or ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Deployment {
    /// The environment.
    pub environment: EnvironmentName,
    /// The artifact.
    pub artifact: ArtifactId,
    /// Until when it ran; `None` while it still runs.
    pub until: Option<DateTime<Utc>>,
}

impl Deployment {
    /// `artifact` running in `environment` now.
    pub fn running(environment: impl Into<EnvironmentName>, artifact: ArtifactId) -> Self {
        Self {
            environment: environment.into(),
            artifact,
            until: None,
        }
    }

    /// `artifact` ran in `environment` until `until`.
    pub fn ran(
        environment: impl Into<EnvironmentName>,
        artifact: ArtifactId,
        until: DateTime<Utc>,
    ) -> Self {
        Self {
            environment: environment.into(),
            artifact,
            until: Some(until),
        }
    }
}

/// A legal hold on a component (every version) or one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LegalHold {
    /// The component.
    pub name: String,
    /// One version, or all.
    pub version: Option<String>,
    /// Why (a case number).
    pub reason: String,
}

impl LegalHold {
    /// A hold on every version of `name`.
    pub fn component(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: None,
            reason: reason.into(),
        }
    }

    /// A hold on one artifact.
    pub fn artifact(id: &ArtifactId, reason: impl Into<String>) -> Self {
        Self {
            name: id.name.clone(),
            version: Some(id.version.clone()),
            reason: reason.into(),
        }
    }

    fn covers(&self, id: &ArtifactId) -> bool {
        self.name == id.name && self.version.as_ref().is_none_or(|v| *v == id.version)
    }
}

/// Why an artifact stays or goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
#[non_exhaustive]
pub enum Reason {
    /// Among the newest N of its component.
    KeepLast {
        /// 1 = newest.
        rank: usize,
        /// N.
        keep: usize,
    },
    /// Younger than the minimum age.
    KeepYoung {
        /// Age in seconds.
        age_seconds: i64,
    },
    /// An environment runs it now.
    KeepRunning {
        /// The environment.
        environment: EnvironmentName,
    },
    /// An environment ran it within the window.
    KeepRanRecently {
        /// The environment.
        environment: EnvironmentName,
        /// Until when.
        until: DateTime<Utc>,
    },
    /// A legal hold.
    KeepHeld {
        /// The hold's reason.
        reason: String,
    },
    /// No build time recorded, so its age is unknown.
    KeepUnknownAge,
    /// No delete rule matched.
    KeepNoDeleteRule,
    /// Older than the limit.
    DeleteOlderThan {
        /// Age in seconds.
        age_seconds: i64,
    },
    /// Superseded by enough newer versions.
    DeleteSuperseded {
        /// Newer versions.
        newer: usize,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = |s: &i64| *s as f64 / 86_400.0;
        match self {
            Self::KeepLast { rank, keep } => write!(
                f,
                "keep: #{rank} newest of its component (keep last {keep})"
            ),
            Self::KeepYoung { age_seconds } => write!(
                f,
                "keep: {:.1} days old, under the minimum age",
                days(age_seconds)
            ),
            Self::KeepRunning { environment } => write!(f, "keep: running in {environment}"),
            Self::KeepRanRecently { environment, until } => {
                write!(f, "keep: ran in {environment} until {until}")
            }
            Self::KeepHeld { reason } => write!(f, "keep: legal hold ({reason})"),
            Self::KeepUnknownAge => f.write_str("keep: no build time recorded, age unknown"),
            Self::KeepNoDeleteRule => f.write_str("keep: no delete rule matches"),
            Self::DeleteOlderThan { age_seconds } => write!(
                f,
                "delete: {:.1} days old, over the age limit",
                days(age_seconds)
            ),
            Self::DeleteSuperseded { newer } => {
                write!(f, "delete: superseded by {newer} newer versions")
            }
        }
    }
}

/// Keep or delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Stays.
    Keep,
    /// Goes.
    Delete,
}

/// The decision about one artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// The artifact.
    pub artifact: ArtifactId,
    /// Its digest.
    pub digest: Sha256Digest,
    /// Keep or delete.
    pub action: Action,
    /// Every rule that matched (keep rules first when kept).
    pub reasons: Vec<Reason>,
}

/// A retention plan: one decision per artifact, sorted by id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetentionPlan {
    /// The decisions.
    pub decisions: Vec<Decision>,
}

impl RetentionPlan {
    /// The artifacts planned for deletion.
    pub fn deletions(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.action == Action::Delete)
    }

    /// The dry-run report: one line per artifact with what would happen and why.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.decisions {
            let action = match d.action {
                Action::Keep => "keep  ",
                Action::Delete => "DELETE",
            };
            let reasons: Vec<String> = d.reasons.iter().map(ToString::to_string).collect();
            out.push_str(&format!(
                "{action} {} — {}\n",
                label(&d.artifact),
                reasons.join("; ")
            ));
        }
        out
    }
}

fn built_at(meta: &ArtifactMeta) -> Option<DateTime<Utc>> {
    let b = BuildMetadata::from_map(&label(&meta.id), &meta.metadata).ok()?;
    b.build_finished.or(b.build_started)
}

fn within(age: chrono::TimeDelta, limit: Duration) -> bool {
    chrono::TimeDelta::from_std(limit).is_ok_and(|l| age < l)
}

/// Plans retention at `now`: pure, so a dry run is just this plan rendered.
pub fn plan(
    policy: &RetentionPolicy,
    artifacts: &[ArtifactMeta],
    deployments: &[Deployment],
    holds: &[LegalHold],
    now: DateTime<Utc>,
) -> RetentionPlan {
    // Newest first per component: by build time, then version text.
    let mut by_name: BTreeMap<&str, Vec<&ArtifactMeta>> = BTreeMap::new();
    for a in artifacts {
        by_name.entry(a.id.name.as_str()).or_default().push(a);
    }
    let mut rank: BTreeMap<&ArtifactId, usize> = BTreeMap::new();
    for list in by_name.values_mut() {
        list.sort_by(|a, b| {
            built_at(b)
                .cmp(&built_at(a))
                .then_with(|| b.id.version.cmp(&a.id.version))
        });
        for (i, a) in list.iter().enumerate() {
            rank.insert(&a.id, i + 1);
        }
    }
    let mut decisions: Vec<Decision> = artifacts
        .iter()
        .map(|a| {
            let r = rank.get(&a.id).copied().unwrap_or(1);
            let age = built_at(a).map(|t| now - t);
            let mut keep = Vec::new();
            if let Some(n) = policy.keep_last
                && r <= n
            {
                keep.push(Reason::KeepLast { rank: r, keep: n });
            }
            match age {
                None => keep.push(Reason::KeepUnknownAge),
                Some(age) => {
                    if let Some(min) = policy.keep_younger_than
                        && within(age, min)
                    {
                        keep.push(Reason::KeepYoung {
                            age_seconds: age.num_seconds(),
                        });
                    }
                }
            }
            for d in deployments.iter().filter(|d| d.artifact == a.id) {
                match d.until {
                    None => keep.push(Reason::KeepRunning {
                        environment: d.environment.clone(),
                    }),
                    Some(until) => {
                        if let Some(window) = policy.keep_deployed_within
                            && within(now - until, window)
                        {
                            keep.push(Reason::KeepRanRecently {
                                environment: d.environment.clone(),
                                until,
                            });
                        }
                    }
                }
            }
            for h in holds.iter().filter(|h| h.covers(&a.id)) {
                keep.push(Reason::KeepHeld {
                    reason: h.reason.clone(),
                });
            }
            let mut delete = Vec::new();
            if let (Some(limit), Some(age)) = (policy.delete_older_than, age)
                && !within(age, limit)
            {
                delete.push(Reason::DeleteOlderThan {
                    age_seconds: age.num_seconds(),
                });
            }
            if let Some(n) = policy.delete_superseded_by
                && r > n
            {
                delete.push(Reason::DeleteSuperseded { newer: r - 1 });
            }
            let (action, reasons) = match (keep.is_empty(), delete.is_empty()) {
                (_, true) => {
                    keep.push(Reason::KeepNoDeleteRule);
                    (Action::Keep, keep)
                }
                (false, false) => {
                    keep.extend(delete);
                    (Action::Keep, keep)
                }
                (true, false) => (Action::Delete, delete),
            };
            Decision {
                artifact: a.id.clone(),
                digest: a.digest,
                action,
                reasons,
            }
        })
        .collect();
    decisions.sort_by(|a, b| a.artifact.cmp(&b.artifact));
    RetentionPlan { decisions }
}

/// Deletes what `plan` marks for deletion, appending `EvidenceRecorded { kind:
/// "artifact_deleted" }` to `release`'s ledger after each deletion. Returns the deleted ids.
pub async fn apply(
    plan: &RetentionPlan,
    store: &dyn ArtifactStore,
    ledger: &dyn Ledger,
    release: &ReleaseId,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Vec<ArtifactId>> {
    let mut deleted = Vec::new();
    for d in plan.deletions() {
        let existed = store
            .delete(&d.artifact)
            .await
            .map_err(|e| recover(&d.artifact, e))?;
        if !existed {
            continue;
        }
        let draft = EventDraft::new(
            release.clone(),
            at,
            actor,
            Vec::new(),
            Event::EvidenceRecorded {
                kind: "artifact_deleted".into(),
                environment: None,
                payload: serde_json::json!({
                    "artifact": label(&d.artifact),
                    "digest": d.digest,
                    "reasons": d.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
            },
        );
        ledger
            .append(draft, None)
            .await
            .map_err(|source| ArtifactError::Ledger {
                what: format!("the deletion of {}", label(&d.artifact)),
                source,
            })?;
        deleted.push(d.artifact.clone());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::BuildMetadata;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const DAY: u64 = 86_400;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap()
    }

    fn meta(name: &str, version: u32, days_old: i64) -> ArtifactMeta {
        let finished = now() - chrono::Duration::days(days_old);
        let mut m = ArtifactMeta::new(
            ArtifactId::new(name, format!("1.{version:03}")),
            Sha256Digest::of(format!("{name}{version}").as_bytes()),
            1,
            "x",
        );
        m.metadata = BuildMetadata::new("c", "b", "s")
            .with_times(finished, finished)
            .to_map();
        m
    }

    #[test]
    fn keep_rules_beat_delete_rules_and_the_plan_explains() {
        let arts: Vec<_> = (0..6)
            .map(|v| meta("orders-api", v, 100 - i64::from(v) * 10))
            .collect();
        let policy = RetentionPolicy {
            keep_last: Some(2),
            keep_younger_than: Some(Duration::from_secs(30 * DAY)),
            keep_deployed_within: Some(Duration::from_secs(14 * DAY)),
            delete_older_than: Some(Duration::from_secs(45 * DAY)),
            ..RetentionPolicy::default()
        };
        let deployments = [
            Deployment::running("production", arts[0].id.clone()),
            Deployment::ran(
                "staging",
                arts[1].id.clone(),
                now() - chrono::Duration::days(3),
            ),
            Deployment::ran(
                "staging",
                arts[2].id.clone(),
                now() - chrono::Duration::days(60),
            ),
        ];
        let holds = [LegalHold::artifact(&arts[3].id, "case 7")];
        let p = plan(&policy, &arts, &deployments, &holds, now());
        let gone: Vec<_> = p.deletions().map(|d| d.artifact.version.clone()).collect();
        assert_eq!(gone, ["1.002"]);
        let text = p.render();
        assert!(
            text.contains("keep   orders-api@1.000 — keep: running in production"),
            "{text}"
        );
        assert!(text.contains("keep: legal hold (case 7)"), "{text}");
        assert!(
            text.contains("DELETE orders-api@1.002 — delete: 80.0 days old"),
            "{text}"
        );
        assert!(
            text.contains("keep   orders-api@1.005 — keep: #1 newest"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn apply_deletes_and_records() {
        let store = release_core::memory::InMemoryArtifactStore::new();
        let ledger = release_core::ledger::InMemoryLedger::new();
        let mut metas = Vec::new();
        for v in 0..3 {
            let m = meta("web", v, 100 - i64::from(v));
            let stored = store
                .put(&m.id, "x", &m.metadata, &mut format!("web{v}").as_bytes())
                .await
                .unwrap();
            metas.push(stored);
        }
        let policy = RetentionPolicy {
            keep_last: Some(1),
            delete_superseded_by: Some(1),
            ..RetentionPolicy::default()
        };
        let p = plan(&policy, &metas, &[], &[], now());
        let release = ReleaseId::new("retention");
        let deleted = apply(&p, &store, &ledger, &release, "janitor", now())
            .await
            .unwrap();
        assert_eq!(deleted.len(), 2);
        assert_eq!(store.list(None).await.unwrap().len(), 1);
        let records = ledger.events(&release, 0).await.unwrap();
        assert_eq!(records.len(), 2);
        assert!(
            matches!(&records[0].event, Event::EvidenceRecorded { kind, .. } if kind == "artifact_deleted")
        );
    }

    fn opt_days() -> impl Strategy<Value = Option<Duration>> {
        proptest::option::of((0u64..120).prop_map(|d| Duration::from_secs(d * DAY)))
    }

    proptest! {
        #[test]
        fn nothing_running_or_held_is_ever_planned_for_deletion(
            arts in proptest::collection::vec((0usize..3, 0u32..12, 0i64..200), 1..30),
            runs in proptest::collection::vec((0usize..30, proptest::option::of(0i64..100)), 0..12),
            holds in proptest::collection::vec((0usize..30, any::<bool>()), 0..4),
            keep_last in proptest::option::of(0usize..4),
            keep_younger_than in opt_days(),
            keep_deployed_within in opt_days(),
            delete_older_than in opt_days(),
            delete_superseded_by in proptest::option::of(0usize..4),
        ) {
            let names = ["orders-api", "web", "worker"];
            let mut metas: Vec<ArtifactMeta> = arts.iter().map(|(n, v, age)| meta(names[*n], *v, *age)).collect();
            metas.sort_by(|a, b| a.id.cmp(&b.id));
            metas.dedup_by(|a, b| a.id == b.id);
            let deployments: Vec<Deployment> = runs.iter().map(|(i, ended)| {
                let id = metas[i % metas.len()].id.clone();
                match ended {
                    None => Deployment::running("production", id),
                    Some(d) => Deployment::ran("staging", id, now() - chrono::Duration::days(*d)),
                }
            }).collect();
            let holds: Vec<LegalHold> = holds.iter().map(|(i, whole)| {
                let id = &metas[i % metas.len()].id;
                if *whole { LegalHold::component(id.name.clone(), "hold") } else { LegalHold::artifact(id, "hold") }
            }).collect();
            let policy = RetentionPolicy { keep_last, keep_younger_than, keep_deployed_within, delete_older_than, delete_superseded_by };
            let p = plan(&policy, &metas, &deployments, &holds, now());
            prop_assert_eq!(p.decisions.len(), metas.len());
            for d in p.deletions() {
                prop_assert!(!deployments.iter().any(|x| x.artifact == d.artifact && x.until.is_none()), "running {:?} planned for deletion", d.artifact);
                prop_assert!(!holds.iter().any(|h| h.covers(&d.artifact)), "held {:?} planned for deletion", d.artifact);
                if let Some(w) = keep_deployed_within {
                    prop_assert!(!deployments.iter().any(|x| x.artifact == d.artifact
                        && x.until.is_some_and(|u| within(now() - u, w))), "recently run {:?} planned", d.artifact);
                }
                let only_delete_reasons = d.reasons.iter().all(|r| matches!(r, Reason::DeleteOlderThan { .. } | Reason::DeleteSuperseded { .. }));
                prop_assert!(only_delete_reasons, "a deletion carries a keep reason");
            }
        }
    }
}
