//! Promotion between stages (M3.2): every time an artifact moves to a new environment its
//! bytes are re-hashed, its provenance re-verified (and, with a snapshot, checked against the
//! release set), and the check is appended to the ledger as evidence — pass or fail.
//!
//! Decisions:
//! - The digest is recomputed here, on the bytes the store hands out, rather than trusting
//!   the store's own check: a third-party store that forgets to verify is still caught.
//! - Evidence is `EvidenceRecorded { kind: "artifact_verification" }` for the target
//!   environment; a refusal is recorded before the error is returned, so the audit trail
//!   shows every attempt.
//! - Access (`promote to <tier>`) is asked first, through any [`Authorize`].

use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use release_core::digest::{Sha256, Sha256Digest};
use release_core::id::{EnvironmentName, ReleaseId};
use release_core::ledger::{Event, EventDraft, Ledger};
use release_core::model::Tier;
use release_core::plugin::{ArtifactId, ArtifactMeta, ArtifactStore};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tokio::io::AsyncWrite;

use crate::artifact::{label, recover};
use crate::error::{ArtifactError, Result};
use crate::provenance::{Envelope, VerificationPolicy};
use crate::rbac::{Authorize, Permission};
use crate::snapshot::Snapshot;

/// A sink that hashes and counts what it is given and keeps nothing.
#[derive(Default)]
pub struct HashingSink {
    hasher: Sha256,
    size: u64,
}

impl HashingSink {
    /// The digest and size of everything written.
    pub fn finish(self) -> (Sha256Digest, u64) {
        (Sha256Digest::from_hasher(self.hasher), self.size)
    }
}

impl AsyncWrite for HashingSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.hasher.update(buf);
        self.size += buf.len() as u64;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// One move of an artifact into an environment.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PromotionRequest {
    /// The release whose ledger gets the evidence.
    pub release: ReleaseId,
    /// The artifact.
    pub artifact: ArtifactId,
    /// Its provenance.
    pub envelope: Envelope,
    /// Where it comes from, if anywhere.
    pub from: Option<EnvironmentName>,
    /// Where it goes.
    pub to: EnvironmentName,
    /// The target environment's tier (for access control).
    pub tier: Tier,
    /// Who asks.
    pub actor: String,
    /// When (the engine's clock).
    pub at: DateTime<Utc>,
}

impl PromotionRequest {
    /// A request to move `artifact` with `envelope` into `to` (of `tier`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        release: ReleaseId,
        artifact: ArtifactId,
        envelope: Envelope,
        to: EnvironmentName,
        tier: Tier,
        actor: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            release,
            artifact,
            envelope,
            from: None,
            to,
            tier,
            actor: actor.into(),
            at,
        }
    }

    /// The environment it leaves.
    pub fn from_environment(mut self, from: EnvironmentName) -> Self {
        self.from = Some(from);
        self
    }
}

/// What a passed check recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PromotionEvidence {
    /// `name@version`.
    pub artifact: String,
    /// The digest recomputed.
    pub digest: Sha256Digest,
    /// The size.
    pub size: u64,
    /// Source environment.
    pub from: Option<EnvironmentName>,
    /// Target environment.
    pub to: EnvironmentName,
    /// The key that signed the provenance.
    pub keyid: String,
    /// The builder.
    pub builder: String,
    /// The source commit.
    pub commit: Option<String>,
    /// The snapshot version checked against, if any.
    pub snapshot: Option<u64>,
    /// The ledger sequence number of the evidence.
    pub seq: u64,
}

/// Verifies and records promotions.
pub struct Promoter<'a> {
    store: &'a dyn ArtifactStore,
    policy: &'a VerificationPolicy,
    ledger: &'a dyn Ledger,
    snapshot: Option<&'a Snapshot>,
    access: Option<&'a dyn Authorize>,
}

impl std::fmt::Debug for Promoter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Promoter")
            .field("policy", self.policy)
            .finish_non_exhaustive()
    }
}

impl<'a> Promoter<'a> {
    /// Promotes from `store`, verifying with `policy`, recording in `ledger`.
    pub fn new(
        store: &'a dyn ArtifactStore,
        policy: &'a VerificationPolicy,
        ledger: &'a dyn Ledger,
    ) -> Self {
        Self {
            store,
            policy,
            ledger,
            snapshot: None,
            access: None,
        }
    }

    /// Requires every artifact to be the one this (already verified) snapshot lists.
    pub fn with_snapshot(mut self, snapshot: &'a Snapshot) -> Self {
        self.snapshot = Some(snapshot);
        self
    }

    /// Asks `access` for `promote to <tier>` first.
    pub fn with_access(mut self, access: &'a dyn Authorize) -> Self {
        self.access = Some(access);
        self
    }

    /// Verifies the artifact for `request` and records the outcome; `Ok` only when every
    /// check passed.
    pub async fn promote(&self, request: &PromotionRequest) -> Result<PromotionEvidence> {
        let artifact = label(&request.artifact);
        if let Some(access) = self.access {
            access
                .authorize(Permission::Promote(request.tier), &artifact)
                .await?;
        }
        let checked = self.check(request).await;
        let payload = match &checked {
            Ok(e) => serde_json::json!({
                "artifact": artifact,
                "verified": true,
                "digest": e.digest,
                "size": e.size,
                "from": request.from,
                "to": request.to,
                "keyid": e.keyid,
                "builder": e.builder,
                "commit": e.commit,
                "snapshot": e.snapshot,
            }),
            Err(err) => serde_json::json!({
                "artifact": artifact,
                "verified": false,
                "from": request.from,
                "to": request.to,
                "problem": err.to_string(),
            }),
        };
        let draft = EventDraft::new(
            request.release.clone(),
            request.at,
            request.actor.clone(),
            Vec::new(),
            Event::EvidenceRecorded {
                kind: "artifact_verification".into(),
                environment: Some(request.to.clone()),
                payload,
            },
        );
        let record =
            self.ledger
                .append(draft, None)
                .await
                .map_err(|source| ArtifactError::Ledger {
                    what: format!("the verification of {artifact} for {}", request.to),
                    source,
                })?;
        let mut evidence = checked?;
        evidence.seq = record.seq;
        Ok(evidence)
    }

    async fn check(&self, request: &PromotionRequest) -> Result<PromotionEvidence> {
        let id = &request.artifact;
        let mut sink = HashingSink::default();
        let meta: ArtifactMeta = self
            .store
            .get(id, &mut sink)
            .await
            .map_err(|e| recover(id, e))?;
        let (actual, size) = sink.finish();
        if actual != meta.digest || size != meta.size {
            return Err(ArtifactError::DigestMismatch {
                artifact: label(id),
                expected: meta.digest,
                actual,
            });
        }
        let verified = match self.snapshot {
            Some(snapshot) => {
                let entry = snapshot.check_artifact(&meta)?;
                match &entry.provenance {
                    Some(pinned) => self
                        .policy
                        .verify_pinned(&request.envelope, &meta, pinned)?,
                    None => self.policy.verify(&request.envelope, &meta)?,
                }
            }
            None => self.policy.verify(&request.envelope, &meta)?,
        };
        Ok(PromotionEvidence {
            artifact: label(id),
            digest: actual,
            size,
            from: request.from.clone(),
            to: request.to.clone(),
            keyid: verified.keyid,
            builder: verified.provenance.run_details.builder.id.clone(),
            commit: verified.provenance.commit().map(str::to_owned),
            snapshot: self.snapshot.map(|s| s.version),
            seq: 0,
        })
    }
}
