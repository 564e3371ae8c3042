//! Provenance (M3.2): in-toto Statement v1 with a SLSA Provenance v1 predicate, in a DSSE
//! envelope signed with Ed25519, and the policy that verifies it.
//!
//! Decisions:
//! - The serde types are written here (the `in-toto` crate only knows v0.1); unknown fields
//!   are kept in `extra` maps, so a statement from another tool round-trips.
//! - The signature covers DSSE's PAE encoding of the payload type and the raw payload bytes;
//!   the payload is only parsed after a trusted signature verified (`verify_strict`, which
//!   refuses malleable signatures).
//! - A key id is `sha256:<hex>` of the 32-byte public key, so keys need no registry.
//! - Signature and payload changes are cryptographically the same failure; when a signed
//!   snapshot pins the payload digest ([`VerificationPolicy::verify_pinned`]) a changed
//!   payload is reported as [`ArtifactError::EnvelopeTampered`] and a changed signature as
//!   [`ArtifactError::SignatureInvalid`].

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use release_core::digest::Sha256Digest;
use release_core::plugin::ArtifactMeta;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, label};
use crate::error::{ArtifactError, Result};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA Provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// DSSE `payloadType` of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An in-toto resource descriptor (subjects, dependencies, byproducts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResourceDescriptor {
    /// Name (`orders-api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where it lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests by algorithm (`sha256`, `gitCommit`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl ResourceDescriptor {
    /// A subject: `name` with its SHA-256.
    pub fn subject(name: impl Into<String>, digest: &Sha256Digest) -> Self {
        Self {
            name: Some(name.into()),
            digest: BTreeMap::from([("sha256".to_owned(), digest.hex())]),
            ..Self::default()
        }
    }

    /// A source dependency: `uri` at `commit` (`digest.gitCommit`).
    pub fn git_commit(uri: impl Into<String>, commit: impl Into<String>) -> Self {
        Self {
            uri: Some(uri.into()),
            digest: BTreeMap::from([("gitCommit".to_owned(), commit.into())]),
            ..Self::default()
        }
    }
}

/// An in-toto Statement v1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Statement {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: serde_json::Value,
}

impl Statement {
    /// A statement of SLSA provenance about `subject`.
    pub fn slsa(subject: Vec<ResourceDescriptor>, provenance: &Provenance) -> Result<Self> {
        Ok(Self {
            type_: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: SLSA_PROVENANCE_V1.to_owned(),
            predicate: serde_json::to_value(provenance).map_err(|e| ArtifactError::Parse {
                file: "SLSA provenance".into(),
                problem: e.to_string(),
            })?,
        })
    }

    /// The predicate read as SLSA Provenance v1.
    pub fn provenance(&self) -> Result<Provenance> {
        serde_json::from_value(self.predicate.clone()).map_err(|e| {
            ArtifactError::EnvelopeMalformed {
                artifact: self.subject_names(),
                problem: format!("the predicate is not SLSA Provenance v1: {e}"),
            }
        })
    }

    fn subject_names(&self) -> String {
        self.subject
            .iter()
            .filter_map(|s| s.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// SLSA Provenance v1 predicate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Provenance {
    /// What was built and from what.
    pub build_definition: BuildDefinition,
    /// Who built it and when.
    pub run_details: RunDetails,
}

/// SLSA `buildDefinition`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BuildDefinition {
    /// The build type URI.
    pub build_type: String,
    /// Parameters under the caller's control.
    pub external_parameters: serde_json::Value,
    /// Parameters under the builder's control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<serde_json::Value>,
    /// Sources and dependencies; the commit is `digest.gitCommit` of the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// SLSA `runDetails`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RunDetails {
    /// The builder.
    pub builder: Builder,
    /// Invocation id and timestamps.
    #[serde(default)]
    pub metadata: BuildRun,
    /// Other outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// SLSA `runDetails.builder`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Builder {
    /// The builder's id (a URI).
    pub id: String,
    /// Versions of the builder's components.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// SLSA `runDetails.metadata`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BuildRun {
    /// The builder's id for this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// When the build started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<DateTime<Utc>>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<DateTime<Utc>>,
}

impl Provenance {
    /// Provenance of a build of `artifact`, from its build metadata.
    pub fn for_artifact(artifact: &Artifact, build_type: impl Into<String>) -> Self {
        let b = &artifact.build;
        let mut deps = Vec::new();
        if let (Some(uri), Some(commit)) = (&b.source_uri, &b.commit) {
            deps.push(ResourceDescriptor::git_commit(uri.clone(), commit.clone()));
        }
        if let Some(lock) = &b.lockfile_digest {
            deps.push(ResourceDescriptor {
                name: Some("lockfile".into()),
                digest: BTreeMap::from([("sha256".to_owned(), lock.hex())]),
                ..ResourceDescriptor::default()
            });
        }
        Self {
            build_definition: BuildDefinition {
                build_type: build_type.into(),
                external_parameters: serde_json::json!({ "artifact": label(&artifact.id) }),
                internal_parameters: None,
                resolved_dependencies: deps,
            },
            run_details: RunDetails {
                builder: Builder {
                    id: b.builder_id.clone().unwrap_or_default(),
                    version: BTreeMap::new(),
                },
                metadata: BuildRun {
                    invocation_id: None,
                    started_on: b.build_started,
                    finished_on: b.build_finished,
                },
                byproducts: Vec::new(),
            },
        }
    }

    /// The source commit (`resolvedDependencies[].digest.gitCommit`).
    pub fn commit(&self) -> Option<&str> {
        self.build_definition
            .resolved_dependencies
            .iter()
            .find_map(|d| d.digest.get("gitCommit").map(String::as_str))
    }
}

/// One DSSE signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnvelopeSignature {
    /// The key id.
    pub keyid: String,
    /// Base64 of the signature.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Envelope {
    /// Base64 of the payload.
    pub payload: String,
    /// The payload's type.
    pub payload_type: String,
    /// Signatures over PAE(payloadType, payload).
    pub signatures: Vec<EnvelopeSignature>,
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len> <type> <len> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The key id of a public key: `sha256:<hex>` of its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    Sha256Digest::of(key.as_bytes()).to_string()
}

impl Envelope {
    /// Signs `payload` of `payload_type` with `key`.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Self {
        let sig: Signature = key.sign(&pae(payload_type, payload));
        Self {
            payload: B64.encode(payload),
            payload_type: payload_type.to_owned(),
            signatures: vec![EnvelopeSignature {
                keyid: key_id(&key.verifying_key()),
                sig: B64.encode(sig.to_bytes()),
            }],
        }
    }

    /// Signs an in-toto statement.
    pub fn sign_statement(statement: &Statement, key: &SigningKey) -> Result<Self> {
        let payload = serde_json::to_vec(statement).map_err(|e| ArtifactError::Parse {
            file: "in-toto statement".into(),
            problem: e.to_string(),
        })?;
        Ok(Self::sign(IN_TOTO_PAYLOAD_TYPE, &payload, key))
    }

    /// Adds a signature by another key.
    pub fn add_signature(&mut self, key: &SigningKey) -> Result<()> {
        let payload = self.payload_bytes("envelope")?;
        let sig: Signature = key.sign(&pae(&self.payload_type, &payload));
        self.signatures.push(EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: B64.encode(sig.to_bytes()),
        });
        Ok(())
    }

    /// The decoded payload.
    pub fn payload_bytes(&self, what: &str) -> Result<Vec<u8>> {
        B64.decode(&self.payload)
            .map_err(|e| ArtifactError::EnvelopeMalformed {
                artifact: what.to_owned(),
                problem: format!("the payload is not base64: {e}"),
            })
    }

    /// Parses an envelope from JSON.
    pub fn from_json(what: &str, json: &[u8]) -> Result<Self> {
        serde_json::from_slice(json).map_err(|e| ArtifactError::EnvelopeMalformed {
            artifact: what.to_owned(),
            problem: format!("not a DSSE envelope: {e}"),
        })
    }

    /// The envelope as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing strings and a vector of string pairs cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Checks that a key in `trusted` signed the payload; returns the payload and the key id.
    pub(crate) fn verify_signature(
        &self,
        what: &str,
        trusted: &BTreeMap<String, VerifyingKey>,
        invalid: impl Fn(String) -> ArtifactError,
    ) -> Result<(Vec<u8>, String)> {
        let payload = self.payload_bytes(what)?;
        let message = pae(&self.payload_type, &payload);
        let mut failed = None;
        for s in &self.signatures {
            let Some(key) = trusted.get(&s.keyid) else {
                continue;
            };
            let ok = B64
                .decode(&s.sig)
                .ok()
                .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
                .map(|b| Signature::from_bytes(&b))
                .is_some_and(|sig| key.verify_strict(&message, &sig).is_ok());
            if ok {
                return Ok((payload, s.keyid.clone()));
            }
            failed.get_or_insert_with(|| s.keyid.clone());
        }
        match failed {
            Some(keyid) => Err(invalid(keyid)),
            None => Err(ArtifactError::UntrustedKey {
                what: what.to_owned(),
                keyids: self.signatures.iter().map(|s| s.keyid.clone()).collect(),
            }),
        }
    }
}

/// What a provenance must satisfy for an artifact to be accepted.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerificationPolicy {
    /// Trusted public keys by key id.
    pub trusted_keys: BTreeMap<String, VerifyingKey>,
    /// The required predicate type.
    pub predicate_type: String,
    /// The builder id the provenance must name, if any.
    pub builder_id: Option<String>,
}

/// A provenance that passed the policy.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct VerifiedProvenance {
    /// The statement.
    pub statement: Statement,
    /// Its SLSA predicate.
    pub provenance: Provenance,
    /// The key that signed it.
    pub keyid: String,
    /// SHA-256 of the payload bytes (what a snapshot pins).
    pub payload_digest: Sha256Digest,
}

impl VerificationPolicy {
    /// Trusts `keys`, requires SLSA Provenance v1, any builder.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        Self {
            trusted_keys: keys.into_iter().map(|k| (key_id(&k), k)).collect(),
            predicate_type: SLSA_PROVENANCE_V1.to_owned(),
            builder_id: None,
        }
    }

    /// Requires this builder.
    pub fn with_builder(mut self, builder_id: impl Into<String>) -> Self {
        self.builder_id = Some(builder_id.into());
        self
    }

    /// Requires this predicate type.
    pub fn with_predicate_type(mut self, predicate_type: impl Into<String>) -> Self {
        self.predicate_type = predicate_type.into();
        self
    }

    /// Verifies `envelope` as provenance of the artifact described by `meta`.
    pub fn verify(&self, envelope: &Envelope, meta: &ArtifactMeta) -> Result<VerifiedProvenance> {
        self.verify_inner(envelope, meta, None)
    }

    /// As [`Self::verify`], with the payload digest a signed snapshot pinned: a payload with
    /// another digest is [`ArtifactError::EnvelopeTampered`] before any signature is checked.
    pub fn verify_pinned(
        &self,
        envelope: &Envelope,
        meta: &ArtifactMeta,
        payload_digest: &Sha256Digest,
    ) -> Result<VerifiedProvenance> {
        self.verify_inner(envelope, meta, Some(payload_digest))
    }

    fn verify_inner(
        &self,
        envelope: &Envelope,
        meta: &ArtifactMeta,
        pinned: Option<&Sha256Digest>,
    ) -> Result<VerifiedProvenance> {
        let artifact = label(&meta.id);
        if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
            return Err(ArtifactError::EnvelopeMalformed {
                artifact,
                problem: format!(
                    "payload type is {:?}, expected {IN_TOTO_PAYLOAD_TYPE:?}",
                    envelope.payload_type
                ),
            });
        }
        if let Some(expected) = pinned {
            let actual = Sha256Digest::of(&envelope.payload_bytes(&artifact)?);
            if actual != *expected {
                return Err(ArtifactError::EnvelopeTampered {
                    artifact,
                    expected: *expected,
                    actual,
                });
            }
        }
        let (payload, keyid) =
            envelope.verify_signature(&artifact, &self.trusted_keys, |keyid| {
                ArtifactError::SignatureInvalid {
                    artifact: artifact.clone(),
                    keyid,
                }
            })?;
        let statement: Statement =
            serde_json::from_slice(&payload).map_err(|e| ArtifactError::EnvelopeMalformed {
                artifact: artifact.clone(),
                problem: format!("the payload is not an in-toto statement: {e}"),
            })?;
        if statement.type_ != STATEMENT_TYPE {
            return Err(ArtifactError::EnvelopeMalformed {
                artifact,
                problem: format!(
                    "statement type is {:?}, expected {STATEMENT_TYPE:?}",
                    statement.type_
                ),
            });
        }
        if statement.predicate_type != self.predicate_type {
            return Err(ArtifactError::PredicateType {
                artifact,
                expected: self.predicate_type.clone(),
                found: statement.predicate_type.clone(),
            });
        }
        let hex = meta.digest.hex();
        if !statement.subject.iter().any(|s| {
            s.digest
                .get("sha256")
                .is_some_and(|d| d.eq_ignore_ascii_case(&hex))
        }) {
            return Err(ArtifactError::SubjectMismatch {
                artifact,
                digest: meta.digest,
                subjects: statement
                    .subject
                    .iter()
                    .filter_map(|s| s.digest.get("sha256").cloned())
                    .collect(),
            });
        }
        let provenance = statement.provenance()?;
        if let Some(expected) = &self.builder_id
            && provenance.run_details.builder.id != *expected
        {
            return Err(ArtifactError::BuilderMismatch {
                artifact,
                expected: expected.clone(),
                found: provenance.run_details.builder.id.clone(),
            });
        }
        Ok(VerifiedProvenance {
            statement,
            provenance,
            keyid,
            payload_digest: Sha256Digest::of(&payload),
        })
    }
}

/// Builds and signs the SLSA provenance of a stored artifact from its build metadata.
pub fn attest(artifact: &Artifact, build_type: &str, key: &SigningKey) -> Result<Envelope> {
    let statement = Statement::slsa(
        vec![ResourceDescriptor::subject(
            artifact.id.name.clone(),
            &artifact.digest,
        )],
        &Provenance::for_artifact(artifact, build_type),
    )?;
    Envelope::sign_statement(&statement, key)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::artifact::BuildMetadata;
    use chrono::TimeZone;
    use release_core::plugin::ArtifactId;

    pub(crate) const BUILDER: &str = "https://ci.example/builders/release@v1";

    pub(crate) fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    pub(crate) fn artifact(bytes: &[u8]) -> (ArtifactMeta, Artifact) {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap();
        let build = BuildMetadata::new("0123456789abcdef", BUILDER, "git+https://example/shop.git")
            .with_times(t0, t0 + chrono::Duration::minutes(5));
        let mut meta = ArtifactMeta::new(
            ArtifactId::new("orders-api", "1.2.0"),
            Sha256Digest::of(bytes),
            bytes.len() as u64,
            "application/gzip",
        );
        meta.metadata = build.to_map();
        let a = Artifact::from_meta(&meta).unwrap();
        (meta, a)
    }

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn sign_and_verify_slsa_provenance() {
        let (meta, a) = artifact(b"bytes");
        let env = attest(&a, "https://example/build/v1", &key(7)).unwrap();
        let policy = VerificationPolicy::new([key(7).verifying_key()]).with_builder(BUILDER);
        let v = policy.verify(&env, &meta).unwrap();
        assert_eq!(v.provenance.commit(), Some("0123456789abcdef"));
        assert_eq!(v.provenance.run_details.builder.id, BUILDER);
        assert_eq!(
            v.provenance.run_details.metadata.started_on,
            a.build.build_started
        );
        // Round trip through JSON keeps it verifiable.
        let env2 = Envelope::from_json("x", &env.to_json()).unwrap();
        policy.verify(&env2, &meta).unwrap();
        // The JSON has the field names of the specs.
        let statement: serde_json::Value =
            serde_json::from_slice(&env.payload_bytes("x").unwrap()).unwrap();
        assert_eq!(statement["_type"], STATEMENT_TYPE);
        assert_eq!(statement["predicateType"], SLSA_PROVENANCE_V1);
        assert_eq!(
            statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"],
            "0123456789abcdef"
        );
        assert_eq!(
            statement["predicate"]["runDetails"]["builder"]["id"],
            BUILDER
        );
        assert!(statement["predicate"]["runDetails"]["metadata"]["startedOn"].is_string());
    }

    #[test]
    fn policy_refusals_are_typed() {
        let (meta, a) = artifact(b"bytes");
        let env = attest(&a, "t", &key(7)).unwrap();
        let untrusted = VerificationPolicy::new([key(8).verifying_key()]);
        assert!(matches!(
            untrusted.verify(&env, &meta),
            Err(ArtifactError::UntrustedKey { .. })
        ));
        let other_builder =
            VerificationPolicy::new([key(7).verifying_key()]).with_builder("https://evil");
        assert!(matches!(
            other_builder.verify(&env, &meta),
            Err(ArtifactError::BuilderMismatch { .. })
        ));
        let other_type =
            VerificationPolicy::new([key(7).verifying_key()]).with_predicate_type("https://x/v2");
        assert!(matches!(
            other_type.verify(&env, &meta),
            Err(ArtifactError::PredicateType { .. })
        ));
        let (other_meta, _) = artifact(b"other bytes");
        let err = VerificationPolicy::new([key(7).verifying_key()])
            .verify(&env, &other_meta)
            .unwrap_err();
        assert!(
            matches!(err, ArtifactError::SubjectMismatch { .. }),
            "{err}"
        );
        // A second signature by a trusted key is enough.
        let mut env2 = env.clone();
        env2.add_signature(&key(8)).unwrap();
        untrusted.verify(&env2, &meta).unwrap();
        // Garbage never panics.
        for junk in [
            &b""[..],
            b"{}",
            b"{\"payload\":\"!!\",\"payloadType\":\"x\",\"signatures\":[]}",
        ] {
            if let Ok(e) = Envelope::from_json("junk", junk) {
                assert!(untrusted.verify(&e, &meta).is_err());
            }
        }
    }
}
