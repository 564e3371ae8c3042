//! Release-set snapshots (after TUF's snapshot role): a signed list of the artifacts of one
//! release, with a version that only increases and an expiry.
//!
//! Decisions:
//! - A snapshot is a DSSE [`Envelope`] with payload type [`SNAPSHOT_PAYLOAD_TYPE`], so it is
//!   signed and checked exactly like provenance.
//! - [`SnapshotVerifier`] remembers the newest version it accepted: an older version is a
//!   rollback, and so is the same version with other content; a snapshot past its expiry is
//!   refused (freeze). Each artifact of a release must match the one current snapshot
//!   (mix-and-match is refused by [`Snapshot::check_artifact`]).
//! - Entries pin the artifact digest and, when known, the digest of its provenance payload, so
//!   a changed provenance envelope is told apart from a changed signature.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use release_core::digest::Sha256Digest;
use release_core::plugin::ArtifactMeta;
use serde::{Deserialize, Serialize};

use crate::artifact::label;
use crate::error::{ArtifactError, Result};
use crate::provenance::{Envelope, key_id};

/// DSSE payload type of a release snapshot.
pub const SNAPSHOT_PAYLOAD_TYPE: &str = "application/vnd.release.snapshot.v1+json";

/// One artifact in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnapshotEntry {
    /// The artifact's version.
    pub version: String,
    /// Its digest.
    pub digest: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// SHA-256 of its provenance payload, if pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Sha256Digest>,
}

/// The artifacts of one release at one version of the set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// The release.
    pub release: String,
    /// Increases with every new snapshot.
    pub version: u64,
    /// After this the snapshot is refused.
    pub expires: DateTime<Utc>,
    /// Artifacts by name.
    pub artifacts: BTreeMap<String, SnapshotEntry>,
}

impl Snapshot {
    /// An empty snapshot.
    pub fn new(release: impl Into<String>, version: u64, expires: DateTime<Utc>) -> Self {
        Self {
            release: release.into(),
            version,
            expires,
            artifacts: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the artifact of `meta`'s name, pinning its provenance payload digest.
    pub fn with_artifact(mut self, meta: &ArtifactMeta, provenance: Option<Sha256Digest>) -> Self {
        self.artifacts.insert(
            meta.id.name.clone(),
            SnapshotEntry {
                version: meta.id.version.clone(),
                digest: meta.digest,
                size: meta.size,
                provenance,
            },
        );
        self
    }

    /// The canonical payload (struct fields in order, maps sorted).
    pub fn payload(&self) -> Vec<u8> {
        // Strings, integers, digests and sorted maps always serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Signs the snapshot.
    pub fn sign(&self, key: &SigningKey) -> Envelope {
        Envelope::sign(SNAPSHOT_PAYLOAD_TYPE, &self.payload(), key)
    }

    /// The entry for `meta`, refusing an artifact that is not the one listed (mix-and-match).
    pub fn check_artifact(&self, meta: &ArtifactMeta) -> Result<&SnapshotEntry> {
        let refuse = |listed: String| ArtifactError::NotInSnapshot {
            artifact: label(&meta.id),
            digest: meta.digest,
            snapshot: self.version,
            listed,
        };
        match self.artifacts.get(&meta.id.name) {
            None => Err(refuse("nothing of that name".into())),
            Some(e)
                if e.version != meta.id.version
                    || e.digest != meta.digest
                    || e.size != meta.size =>
            {
                Err(refuse(format!(
                    "{}@{} with digest {}",
                    meta.id.name, e.version, e.digest
                )))
            }
            Some(e) => Ok(e),
        }
    }

    /// Checks a whole set of artifacts against this snapshot.
    pub fn check_set<'m>(&self, metas: impl IntoIterator<Item = &'m ArtifactMeta>) -> Result<()> {
        for m in metas {
            self.check_artifact(m)?;
        }
        Ok(())
    }
}

/// Accepts signed snapshots: trusted keys, monotonic versions, expiry.
#[derive(Clone, Debug)]
pub struct SnapshotVerifier {
    trusted_keys: BTreeMap<String, VerifyingKey>,
    trusted: Option<(u64, Sha256Digest)>,
}

impl SnapshotVerifier {
    /// Trusts `keys`; no snapshot seen yet.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Self {
            trusted_keys: keys.into_iter().map(|k| (key_id(&k), k)).collect(),
            trusted: None,
        }
    }

    /// Starts from a version accepted earlier (persisted by the host); `payload_digest` is the
    /// SHA-256 of that snapshot's payload.
    pub fn with_trusted(mut self, version: u64, payload_digest: Sha256Digest) -> Self {
        self.trusted = Some((version, payload_digest));
        self
    }

    /// The newest accepted version and its payload digest.
    pub fn trusted(&self) -> Option<(u64, Sha256Digest)> {
        self.trusted
    }

    /// Verifies a signed snapshot at `now` and, when accepted, trusts its version.
    pub fn verify(&mut self, envelope: &Envelope, now: DateTime<Utc>) -> Result<Snapshot> {
        if envelope.payload_type != SNAPSHOT_PAYLOAD_TYPE {
            return Err(ArtifactError::EnvelopeMalformed {
                artifact: "release snapshot".into(),
                problem: format!(
                    "payload type is {:?}, expected {SNAPSHOT_PAYLOAD_TYPE:?}",
                    envelope.payload_type
                ),
            });
        }
        let claimed = |payload: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(payload)
                .ok()
                .and_then(|v| v.get("version").map(|v| v.to_string()))
                .unwrap_or_else(|| "unreadable".into())
        };
        let raw = envelope.payload_bytes("release snapshot")?;
        let (payload, _) =
            envelope.verify_signature("release snapshot", &self.trusted_keys, |keyid| {
                ArtifactError::SnapshotSignatureInvalid {
                    version: claimed(&raw),
                    keyid,
                }
            })?;
        let snapshot: Snapshot =
            serde_json::from_slice(&payload).map_err(|e| ArtifactError::EnvelopeMalformed {
                artifact: "release snapshot".into(),
                problem: format!("the payload is not a snapshot: {e}"),
            })?;
        let digest = Sha256Digest::of(&payload);
        if let Some((version, trusted_digest)) = self.trusted
            && (snapshot.version < version
                || (snapshot.version == version && digest != trusted_digest))
        {
            return Err(ArtifactError::SnapshotRollback {
                trusted: version,
                offered: snapshot.version,
            });
        }
        if now >= snapshot.expires {
            return Err(ArtifactError::SnapshotExpired {
                version: snapshot.version,
                expires: snapshot.expires,
                now,
            });
        }
        self.trusted = Some((snapshot.version, digest));
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::tests::{artifact, key};
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 0, 0, 0).unwrap()
    }

    #[test]
    fn rollback_freeze_and_mix_and_match_are_refused() {
        let (meta, _) = artifact(b"v1");
        let s1 = Snapshot::new("shop-1", 1, at(10)).with_artifact(&meta, None);
        let s2 = Snapshot::new("shop-1", 2, at(20)).with_artifact(&meta, None);
        let mut v = SnapshotVerifier::new([key(9).verifying_key()]);
        v.verify(&s1.sign(&key(9)), at(1)).unwrap();
        v.verify(&s2.sign(&key(9)), at(2)).unwrap();
        let err = v.verify(&s1.sign(&key(9)), at(3)).unwrap_err();
        assert!(
            matches!(
                err,
                ArtifactError::SnapshotRollback {
                    trusted: 2,
                    offered: 1
                }
            ),
            "{err}"
        );
        // Same version, other content: also a rollback.
        let s2b = Snapshot::new("shop-1", 2, at(25));
        assert!(matches!(
            v.verify(&s2b.sign(&key(9)), at(3)),
            Err(ArtifactError::SnapshotRollback { .. })
        ));
        // The same snapshot again is fine; a stale one is not.
        v.verify(&s2.sign(&key(9)), at(3)).unwrap();
        let err = v.verify(&s2.sign(&key(9)), at(21)).unwrap_err();
        assert!(
            matches!(err, ArtifactError::SnapshotExpired { version: 2, .. }),
            "{err}"
        );
        // Mix-and-match: an artifact another snapshot listed.
        let (other, _) = artifact(b"v2");
        let err = s2.check_artifact(&other).unwrap_err();
        assert!(
            matches!(err, ArtifactError::NotInSnapshot { snapshot: 2, .. }),
            "{err}"
        );
        s2.check_set([&meta]).unwrap();
    }

    #[test]
    fn flipped_byte_in_the_snapshot_is_refused() {
        let (meta, _) = artifact(b"v1");
        let s = Snapshot::new("shop-1", 7, at(10)).with_artifact(&meta, None);
        let env = s.sign(&key(9));
        let mut payload = env.payload_bytes("s").unwrap();
        let pos = payload.iter().position(|b| *b == b'7').unwrap();
        payload[pos] = b'8';
        let mut tampered = env.clone();
        tampered.payload =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &payload);
        let mut v = SnapshotVerifier::new([key(9).verifying_key()]);
        let err = v.verify(&tampered, at(1)).unwrap_err();
        assert!(
            matches!(err, ArtifactError::SnapshotSignatureInvalid { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("version 8"), "{err}");
        let err = SnapshotVerifier::new([key(1).verifying_key()])
            .verify(&env, at(1))
            .unwrap_err();
        assert!(matches!(err, ArtifactError::UntrustedKey { .. }));
    }
}
