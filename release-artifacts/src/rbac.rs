//! Access control (M3.5): roles grant permissions (read, publish, promote to a tier, delete);
//! [`Guarded`] wraps any [`ArtifactStore`] and refuses what the caller's roles do not grant.
//!
//! Decisions:
//! - A decorator, not a flag inside each store (STYLE practice 12): the same check guards the
//!   filesystem store, the in-memory one and any third-party store.
//! - Every denial is a typed [`ArtifactError::AccessDenied`] (kept as the `source` of the
//!   core error the trait returns), kept in [`Guarded::denials`], and — when an audit ledger
//!   is configured — appended as `EvidenceRecorded { kind: "access_denied" }` before the call
//!   returns.
//! - Promotion is not a store call: [`Authorize::authorize`] lets the promotion flow ask for
//!   `promote to <tier>` through the same policy.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use release_core::id::ReleaseId;
use release_core::ledger::{Event, EventDraft, Ledger};
use release_core::model::Tier;
use release_core::plugin::{ArtifactId, ArtifactMeta, ArtifactStore, Clock};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::artifact::label;
use crate::error::{ArtifactError, Result};

/// What a role may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// get, stat, list.
    Read,
    /// put.
    Publish,
    /// Move an artifact into an environment of this tier.
    Promote(Tier),
    /// delete.
    Delete,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read => f.write_str("read"),
            Self::Publish => f.write_str("publish"),
            Self::Promote(t) => write!(f, "promote to {}", format!("{t:?}").to_lowercase()),
            Self::Delete => f.write_str("delete"),
        }
    }
}

/// Roles and who holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AccessPolicy {
    /// Permissions by role name.
    pub roles: BTreeMap<String, BTreeSet<Permission>>,
    /// Role names by principal.
    pub grants: BTreeMap<String, BTreeSet<String>>,
}

impl AccessPolicy {
    /// No roles, nobody may do anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines a role.
    pub fn role(
        mut self,
        name: impl Into<String>,
        permissions: impl IntoIterator<Item = Permission>,
    ) -> Self {
        self.roles
            .insert(name.into(), permissions.into_iter().collect());
        self
    }

    /// Grants a role to a principal.
    pub fn grant(mut self, principal: impl Into<String>, role: impl Into<String>) -> Self {
        self.grants
            .entry(principal.into())
            .or_default()
            .insert(role.into());
        self
    }

    /// True when one of the principal's roles grants `permission`.
    pub fn allows(&self, principal: &str, permission: Permission) -> bool {
        self.grants.get(principal).is_some_and(|roles| {
            roles
                .iter()
                .filter_map(|r| self.roles.get(r))
                .any(|perms| perms.contains(&permission))
        })
    }
}

/// A refused call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Denial {
    /// Who.
    pub principal: String,
    /// What was refused.
    pub permission: Permission,
    /// On what.
    pub artifact: String,
}

/// Where denials are recorded.
#[derive(Clone)]
pub struct Audit {
    ledger: Arc<dyn Ledger>,
    release: ReleaseId,
    clock: Arc<dyn Clock>,
}

impl Audit {
    /// Records into `ledger` under `release`, stamped by `clock`.
    pub fn new(ledger: Arc<dyn Ledger>, release: ReleaseId, clock: Arc<dyn Clock>) -> Self {
        Self {
            ledger,
            release,
            clock,
        }
    }
}

impl fmt::Debug for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audit")
            .field("release", &self.release)
            .finish_non_exhaustive()
    }
}

/// Asks whether the caller may do something; used by promotion.
#[async_trait]
pub trait Authorize: Send + Sync {
    /// `Ok` when allowed; a recorded [`ArtifactError::AccessDenied`] otherwise.
    async fn authorize(&self, permission: Permission, artifact: &str) -> Result<()>;
}

/// An [`ArtifactStore`] that checks the principal's permissions before each call.
#[derive(Debug)]
pub struct Guarded<S: ?Sized> {
    inner: Arc<S>,
    policy: Arc<AccessPolicy>,
    principal: String,
    audit: Option<Audit>,
    denials: Mutex<Vec<Denial>>,
}

impl<S: ?Sized> Guarded<S> {
    /// Wraps `inner` (shared, so several principals can guard one store) for `principal`
    /// under `policy`.
    pub fn new(inner: Arc<S>, policy: Arc<AccessPolicy>, principal: impl Into<String>) -> Self {
        Self {
            inner,
            policy,
            principal: principal.into(),
            audit: None,
            denials: Mutex::new(Vec::new()),
        }
    }

    /// Records denials in a ledger.
    pub fn with_audit(mut self, audit: Audit) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Every denial so far, oldest first.
    pub fn denials(&self) -> Vec<Denial> {
        self.denials
            .lock()
            .map(|d| d.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    async fn check(&self, permission: Permission, artifact: &str) -> Result<()> {
        if self.policy.allows(&self.principal, permission) {
            return Ok(());
        }
        let denial = Denial {
            principal: self.principal.clone(),
            permission,
            artifact: artifact.to_owned(),
        };
        match self.denials.lock() {
            Ok(mut d) => d.push(denial.clone()),
            Err(p) => p.into_inner().push(denial.clone()),
        }
        if let Some(audit) = &self.audit {
            let draft = EventDraft::new(
                audit.release.clone(),
                audit.clock.now(),
                self.principal.clone(),
                Vec::new(),
                Event::EvidenceRecorded {
                    kind: "access_denied".into(),
                    environment: None,
                    payload: serde_json::json!({
                        "principal": denial.principal,
                        "permission": permission.to_string(),
                        "artifact": denial.artifact,
                    }),
                },
            );
            audit
                .ledger
                .append(draft, None)
                .await
                .map_err(|source| ArtifactError::Ledger {
                    what: format!(
                        "the denial of {permission} on {artifact} to {}",
                        self.principal
                    ),
                    source,
                })?;
        }
        Err(ArtifactError::AccessDenied {
            principal: self.principal.clone(),
            permission: permission.to_string(),
            artifact: artifact.to_owned(),
        })
    }
}

#[async_trait]
impl<S: ?Sized + Send + Sync> Authorize for Guarded<S> {
    async fn authorize(&self, permission: Permission, artifact: &str) -> Result<()> {
        self.check(permission, artifact).await
    }
}

#[async_trait]
impl<S: ArtifactStore + ?Sized> ArtifactStore for Guarded<S> {
    async fn put(
        &self,
        id: &ArtifactId,
        media_type: &str,
        metadata: &BTreeMap<String, String>,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> release_core::Result<ArtifactMeta> {
        self.check(Permission::Publish, &label(id)).await?;
        self.inner.put(id, media_type, metadata, data).await
    }

    async fn get(
        &self,
        id: &ArtifactId,
        sink: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> release_core::Result<ArtifactMeta> {
        self.check(Permission::Read, &label(id)).await?;
        self.inner.get(id, sink).await
    }

    async fn stat(&self, id: &ArtifactId) -> release_core::Result<Option<ArtifactMeta>> {
        self.check(Permission::Read, &label(id)).await?;
        self.inner.stat(id).await
    }

    async fn list(&self, name: Option<&str>) -> release_core::Result<Vec<ArtifactMeta>> {
        self.check(Permission::Read, name.unwrap_or("every artifact"))
            .await?;
        self.inner.list(name).await
    }

    async fn delete(&self, id: &ArtifactId) -> release_core::Result<bool> {
        self.check(Permission::Delete, &label(id)).await?;
        self.inner.delete(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use release_core::ledger::InMemoryLedger;
    use release_core::memory::InMemoryArtifactStore;
    use release_core::plugin::ManualClock;

    fn policy() -> Arc<AccessPolicy> {
        Arc::new(
            AccessPolicy::new()
                .role("reader", [Permission::Read])
                .role(
                    "ci",
                    [
                        Permission::Read,
                        Permission::Publish,
                        Permission::Promote(Tier::Staging),
                    ],
                )
                .role(
                    "admin",
                    [
                        Permission::Read,
                        Permission::Publish,
                        Permission::Delete,
                        Permission::Promote(Tier::Production),
                    ],
                )
                .grant("ci-bot", "ci")
                .grant("alice", "reader")
                .grant("root", "admin"),
        )
    }

    #[tokio::test]
    async fn denials_are_typed_and_recorded() {
        let ledger = Arc::new(InMemoryLedger::new());
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
        ));
        let audit = Audit::new(ledger.clone(), ReleaseId::new("artifact-audit"), clock);
        let store = Arc::new(InMemoryArtifactStore::new());
        let ci = Guarded::new(store.clone(), policy(), "ci-bot").with_audit(audit.clone());
        let alice = Guarded::new(store.clone(), policy(), "alice").with_audit(audit);
        let id = ArtifactId::new("orders-api", "1.0.0");
        ci.put(&id, "x", &BTreeMap::new(), &mut &b"bytes"[..])
            .await
            .unwrap();
        let mut out = Vec::new();
        alice.get(&id, &mut out).await.unwrap();

        let err = alice
            .put(&id, "x", &BTreeMap::new(), &mut &b"bytes"[..])
            .await
            .unwrap_err();
        assert!(
            matches!(
                ArtifactError::find(&err),
                Some(ArtifactError::AccessDenied { .. })
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("alice may not publish orders-api@1.0.0"),
            "{err}"
        );
        assert!(ci.delete(&id).await.is_err());
        assert!(
            store.stat(&id).await.unwrap().is_some(),
            "a denied delete deleted"
        );
        ci.authorize(Permission::Promote(Tier::Staging), "orders-api@1.0.0")
            .await
            .unwrap();
        let err = ci
            .authorize(Permission::Promote(Tier::Production), "orders-api@1.0.0")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("promote to production"), "{err}");

        assert_eq!(alice.denials().len(), 1);
        assert_eq!(ci.denials().len(), 2);
        let records = ledger
            .events(&ReleaseId::new("artifact-audit"), 0)
            .await
            .unwrap();
        assert_eq!(records.len(), 3);
        assert!(records.iter().all(
            |r| matches!(&r.event, Event::EvidenceRecorded { kind, .. } if kind == "access_denied")
        ));
    }
}
