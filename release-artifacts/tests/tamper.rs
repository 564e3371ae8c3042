//! Tamper tests: a flipped byte in the artifact, the provenance envelope, its signature or the
//! release snapshot is refused — each with its own error — and every attempt is recorded.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{TimeZone, Utc};
use ed25519_dalek::SigningKey;
use release_artifacts::promotion::{Promoter, PromotionRequest};
use release_artifacts::rbac::{AccessPolicy, Guarded, Permission};
use release_artifacts::snapshot::{Snapshot, SnapshotVerifier};
use release_artifacts::{
    ArtifactError, BuildMetadata, Envelope, FsArtifactStore, VerificationPolicy, attest, publish,
};
use release_core::id::{EnvironmentName, ReleaseId};
use release_core::ledger::{Event, InMemoryLedger, Ledger};
use release_core::model::Tier;
use release_core::plugin::ArtifactId;

const BUILDER: &str = "https://ci.example/builders/release@v1";

fn flip(b64: &str, at: usize) -> String {
    let mut bytes = B64.decode(b64).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    B64.encode(bytes)
}

struct World {
    _dir: tempfile::TempDir,
    store: FsArtifactStore,
    id: ArtifactId,
    envelope: Envelope,
    snapshot_envelope: Envelope,
    policy: VerificationPolicy,
    ledger: InMemoryLedger,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = FsArtifactStore::open(dir.path()).await.unwrap();
    let builder_key = SigningKey::from_bytes(&[7; 32]);
    let release_key = SigningKey::from_bytes(&[9; 32]);
    let id = ArtifactId::new("orders-api", "1.2.0");
    let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
    let build = BuildMetadata::new(
        "0123456789abcdef0123456789abcdef01234567",
        BUILDER,
        "git+https://example/shop.git",
    )
    .with_times(t0, t0 + chrono::Duration::minutes(4));
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let artifact = publish(&store, &id, "application/gzip", &build, &mut &bytes[..])
        .await
        .unwrap();
    let envelope = attest(&artifact, "https://example/build/v1", &builder_key).unwrap();
    let payload_digest =
        release_core::digest::Sha256Digest::of(&envelope.payload_bytes("x").unwrap());
    let meta = release_core::plugin::ArtifactStore::stat(&store, &id)
        .await
        .unwrap()
        .unwrap();
    let snapshot = Snapshot::new(
        "shop-1.2",
        3,
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    )
    .with_artifact(&meta, Some(payload_digest));
    World {
        _dir: dir,
        store,
        id,
        envelope,
        snapshot_envelope: snapshot.sign(&release_key),
        policy: VerificationPolicy::new([builder_key.verifying_key()]).with_builder(BUILDER),
        ledger: InMemoryLedger::new(),
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
}

async fn promote(w: &World, envelope: Envelope, snapshot: &Envelope) -> Result<u64, ArtifactError> {
    let mut verifier = SnapshotVerifier::new([SigningKey::from_bytes(&[9; 32]).verifying_key()]);
    let snapshot = verifier.verify(snapshot, now())?;
    let request = PromotionRequest::new(
        ReleaseId::new("shop-1.2"),
        w.id.clone(),
        envelope,
        EnvironmentName::new("production"),
        Tier::Production,
        "release-manager",
        now(),
    )
    .from_environment(EnvironmentName::new("staging"));
    Promoter::new(&w.store, &w.policy, &w.ledger)
        .with_snapshot(&snapshot)
        .promote(&request)
        .await
        .map(|e| e.seq)
}

#[tokio::test]
async fn untouched_promotion_passes_and_is_recorded() {
    let w = world().await;
    let seq = promote(&w, w.envelope.clone(), &w.snapshot_envelope)
        .await
        .unwrap();
    let records = w
        .ledger
        .events(&ReleaseId::new("shop-1.2"), 0)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].seq, seq);
    let Event::EvidenceRecorded {
        kind,
        environment,
        payload,
    } = &records[0].event
    else {
        panic!("not evidence")
    };
    assert_eq!(kind, "artifact_verification");
    assert_eq!(environment.as_ref().map(|e| e.as_str()), Some("production"));
    assert_eq!(payload["verified"], true);
    assert_eq!(payload["builder"], BUILDER);
    assert_eq!(
        payload["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
}

#[tokio::test]
async fn flipped_byte_in_the_artifact() {
    let w = world().await;
    let meta = release_core::plugin::ArtifactStore::stat(&w.store, &w.id)
        .await
        .unwrap()
        .unwrap();
    let blob = w.store.blob_path(&meta.digest);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[2_000_000] ^= 0x80;
    std::fs::write(&blob, bytes).unwrap();
    let err = promote(&w, w.envelope.clone(), &w.snapshot_envelope)
        .await
        .unwrap_err();
    assert!(matches!(err, ArtifactError::DigestMismatch { .. }), "{err}");
    let records = w
        .ledger
        .events(&ReleaseId::new("shop-1.2"), 0)
        .await
        .unwrap();
    let Event::EvidenceRecorded { payload, .. } = &records[0].event else {
        panic!("not evidence")
    };
    assert_eq!(payload["verified"], false);
    assert!(
        payload["problem"]
            .as_str()
            .unwrap()
            .contains("corrupt or tampered")
    );
}

#[tokio::test]
async fn flipped_byte_in_the_envelope() {
    let w = world().await;
    let mut env = w.envelope.clone();
    env.payload = flip(&env.payload, 40);
    let err = promote(&w, env.clone(), &w.snapshot_envelope)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ArtifactError::EnvelopeTampered { .. }),
        "{err}"
    );
    // Without a snapshot pin the payload change surfaces as a failed signature.
    let meta = release_core::plugin::ArtifactStore::stat(&w.store, &w.id)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        w.policy.verify(&env, &meta),
        Err(ArtifactError::SignatureInvalid { .. })
    ));
}

#[tokio::test]
async fn flipped_byte_in_the_signature() {
    let w = world().await;
    let mut env = w.envelope.clone();
    env.signatures[0].sig = flip(&env.signatures[0].sig, 40);
    let err = promote(&w, env, &w.snapshot_envelope).await.unwrap_err();
    assert!(
        matches!(err, ArtifactError::SignatureInvalid { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("orders-api@1.2.0"));
}

#[tokio::test]
async fn flipped_byte_in_the_snapshot() {
    let w = world().await;
    let mut snap = w.snapshot_envelope.clone();
    snap.payload = flip(&snap.payload, 20);
    let err = promote(&w, w.envelope.clone(), &snap).await.unwrap_err();
    assert!(
        matches!(err, ArtifactError::SnapshotSignatureInvalid { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn promotion_needs_the_tier_permission() {
    let w = world().await;
    let store = Arc::new(FsArtifactStore::open(w._dir.path()).await.unwrap());
    let policy = Arc::new(
        AccessPolicy::new()
            .role("ci", [Permission::Read, Permission::Promote(Tier::Staging)])
            .grant("ci-bot", "ci"),
    );
    let guarded = Guarded::new(store, policy, "ci-bot");
    let request = PromotionRequest::new(
        ReleaseId::new("shop-1.2"),
        w.id.clone(),
        w.envelope.clone(),
        EnvironmentName::new("production"),
        Tier::Production,
        "ci-bot",
        now(),
    );
    let err = Promoter::new(&guarded, &w.policy, &w.ledger)
        .with_access(&guarded)
        .promote(&request)
        .await
        .unwrap_err();
    assert!(matches!(err, ArtifactError::AccessDenied { .. }), "{err}");
    assert_eq!(guarded.denials().len(), 1);
}
