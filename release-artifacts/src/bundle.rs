//! Evidence bundles (M7.2): one signed tar archive per release holding its audit export, the
//! approvals and gate verdicts, test reports, logs, and the release summary and review, so an
//! auditor can check a release years later without the ledger.
//!
//! Layout (every path relative, `/`-separated):
//!
//! ```text
//! MANIFEST.json              format, release, chain head, SHA-256 and size of every member
//! MANIFEST.sig.json          DSSE envelope (Ed25519) whose payload is MANIFEST.json's bytes
//! approvals/approvals.json   approvals, sign-offs and every gate verdict, from the journal
//! audit/ledger.jsonl         the journal (release-core's export), verifiable on its own
//! logs/…                     logs the host adds
//! review/review.{md,json}    the post-implementation review (release_core::closure)
//! summary/summary.{md,json}  the release summary
//! test-reports/…             reports the host adds, and every junit/sarif evidence payload
//! ```
//!
//! Decisions:
//! - **Deterministic bytes.** Members are sorted by path after the two manifest files, every
//!   header is ustar with mode 0644, uid/gid 0, no user names, and the mtime of the journal's
//!   last record; the same journal and files give the same archive, byte for byte.
//! - **The chain head is signed.** The manifest names the last record's sequence number and
//!   hash: a bundle whose audit export was cut short (and re-digested) fails the signature,
//!   one cut short without re-digesting fails the digest *and* the chain head, and
//!   [`check_ledger_head`] tells whether a live ledger still holds what the bundle signed.
//! - **Every problem is reported.** [`verify_bundle`] checks the signature, each member's
//!   digest, missing and unexpected members, and the embedded journal's chain, and returns all
//!   problems at once in [`ArtifactError::BundleInvalid`].
//! - Signing reuses the provenance [`Envelope`] (DSSE, `verify_strict`), so bundle keys are
//!   the same Ed25519 key types as provenance and snapshot keys.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;

use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use release_core::closure::{post_implementation_review, release_summary};
use release_core::digest::Sha256Digest;
use release_core::id::ReleaseId;
use release_core::ledger::{Event, Record, export_jsonl, import_jsonl, verify_chain};
use serde::{Deserialize, Serialize};

use crate::error::{ArtifactError, Result};
use crate::provenance::{Envelope, key_id};

/// The manifest's path in the archive.
pub const MANIFEST: &str = "MANIFEST.json";
/// The signature's path in the archive.
pub const SIGNATURE: &str = "MANIFEST.sig.json";
/// The audit export's path in the archive.
pub const AUDIT_EXPORT: &str = "audit/ledger.jsonl";
/// DSSE payload type of a bundle manifest.
pub const MANIFEST_PAYLOAD_TYPE: &str = "application/vnd.release.evidence-manifest.v1+json";
/// The manifest's `format`.
pub const FORMAT: &str = "release.evidence-bundle/v1";

/// The last record of the journal a bundle was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChainHead {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: Sha256Digest,
}

/// One member of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemberDigest {
    /// Its path in the archive.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// `MANIFEST.json`: what the bundle holds, signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BundleManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The release.
    pub release: ReleaseId,
    /// The journal's last record.
    pub chain_head: ChainHead,
    /// When that record was written (the bundle's timestamp; no wall clock is read).
    pub journal_ends_at: DateTime<Utc>,
    /// Every member but the manifest and its signature, sorted by path.
    pub members: Vec<MemberDigest>,
}

/// An evidence bundle being assembled from a release's journal.
#[derive(Clone, Debug)]
pub struct EvidenceBundle {
    release: ReleaseId,
    head: ChainHead,
    ends_at: DateTime<Utc>,
    members: BTreeMap<String, Vec<u8>>,
}

impl EvidenceBundle {
    /// A bundle of the release whose whole journal `records` is: the audit export, the
    /// approvals and gate verdicts, junit/sarif evidence, the summary and the review. Refuses
    /// an empty journal or one whose chain does not verify.
    pub fn new(records: &[Record]) -> Result<Self> {
        let invalid = |problem: String, fix: &str| ArtifactError::BundleInput {
            what: "the journal".to_owned(),
            problem,
            fix: fix.to_owned(),
        };
        let Some(last) = records.last() else {
            return Err(invalid(
                "it is empty".to_owned(),
                "read the release's journal with `ledger::read_all` after it started",
            ));
        };
        verify_chain(records).map_err(|e| {
            invalid(
                e.to_string(),
                "bundle the journal as the ledger holds it, from record 1",
            )
        })?;
        let core = |e: release_core::Error| {
            invalid(e.to_string(), "bundle the journal of a started release")
        };
        let mut members = BTreeMap::new();
        members.insert(
            AUDIT_EXPORT.to_owned(),
            export_jsonl(records).map_err(core)?.into_bytes(),
        );
        members.insert(
            "approvals/approvals.json".to_owned(),
            approvals(records).into_bytes(),
        );
        for (path, bytes) in evidence_reports(records) {
            members.insert(path, bytes);
        }
        let summary = release_summary(records).map_err(core)?;
        members.insert(
            "summary/summary.md".to_owned(),
            summary.to_markdown().into_bytes(),
        );
        members.insert(
            "summary/summary.json".to_owned(),
            summary.to_json().map_err(core)?.into_bytes(),
        );
        let review = post_implementation_review(records).map_err(core)?;
        members.insert(
            "review/review.md".to_owned(),
            review.to_markdown().into_bytes(),
        );
        members.insert(
            "review/review.json".to_owned(),
            review.to_json().map_err(core)?.into_bytes(),
        );
        Ok(Self {
            release: last.release.clone(),
            head: ChainHead {
                seq: last.seq,
                hash: last.hash,
            },
            ends_at: last.at,
            members,
        })
    }

    /// Adds a log under `logs/<name>`.
    pub fn with_log(self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<Self> {
        self.with_file(&format!("logs/{name}"), bytes)
    }

    /// Adds a test report under `test-reports/<name>`.
    pub fn with_test_report(self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<Self> {
        self.with_file(&format!("test-reports/{name}"), bytes)
    }

    /// Adds a file at a relative path (at most 100 bytes, `/`-separated, no `..`), refusing a
    /// path already taken.
    pub fn with_file(mut self, path: &str, bytes: impl Into<Vec<u8>>) -> Result<Self> {
        check_path(path)?;
        if path == MANIFEST || path == SIGNATURE || self.members.contains_key(path) {
            return Err(ArtifactError::BundleInput {
                what: format!("member {path:?}"),
                problem: "the bundle already holds a file at that path".to_owned(),
                fix: "give the file another name".to_owned(),
            });
        }
        self.members.insert(path.to_owned(), bytes.into());
        Ok(self)
    }

    /// The paths of the members added so far (without the manifest and its signature).
    pub fn paths(&self) -> Vec<&str> {
        self.members.keys().map(String::as_str).collect()
    }

    /// The manifest the bundle will carry.
    pub fn manifest(&self) -> BundleManifest {
        BundleManifest {
            format: FORMAT.to_owned(),
            release: self.release.clone(),
            chain_head: self.head,
            journal_ends_at: self.ends_at,
            members: self
                .members
                .iter()
                .map(|(path, bytes)| MemberDigest {
                    path: path.clone(),
                    sha256: Sha256Digest::of(bytes),
                    size: bytes.len() as u64,
                })
                .collect(),
        }
    }

    /// Writes the archive, signing the manifest with `key`.
    pub fn write(&self, key: &SigningKey) -> Result<Vec<u8>> {
        let manifest = manifest_bytes(&self.manifest());
        let signature = Envelope::sign(MANIFEST_PAYLOAD_TYPE, &manifest, key).to_json();
        let mtime = u64::try_from(self.ends_at.timestamp()).unwrap_or(0);
        let mut builder = tar::Builder::new(Vec::new());
        let mut append = |path: &str, bytes: &[u8]| -> Result<()> {
            let mut header = tar::Header::new_ustar();
            let io = |source: std::io::Error| ArtifactError::Io {
                artifact: format!("evidence bundle of {} ({path})", self.release),
                doing: "writing",
                source,
            };
            header.set_path(path).map_err(io)?;
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(mtime);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, bytes).map_err(io)
        };
        append(MANIFEST, &manifest)?;
        append(SIGNATURE, &signature)?;
        for (path, bytes) in &self.members {
            append(path, bytes)?;
        }
        builder.into_inner().map_err(|source| ArtifactError::Io {
            artifact: format!("evidence bundle of {}", self.release),
            doing: "writing",
            source,
        })
    }
}

fn manifest_bytes(manifest: &BundleManifest) -> Vec<u8> {
    // Strings, integers, digests and times always serialize.
    let mut bytes = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

fn check_path(path: &str) -> Result<()> {
    let problem = if path.is_empty() {
        Some("it is empty")
    } else if path.len() > 100 {
        Some("it is longer than 100 bytes (the ustar limit)")
    } else if path.starts_with('/') || path.contains('\\') {
        Some("it is not a relative `/`-separated path")
    } else if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        Some("it has an empty, `.` or `..` component")
    } else if path.chars().any(|c| c.is_control()) {
        Some("it holds a control character")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ArtifactError::BundleInput {
            what: format!("member path {path:?}"),
            problem: problem.to_owned(),
            fix: "use a short relative path such as `logs/deploy.log`".to_owned(),
        }),
        None => Ok(()),
    }
}

/// Approvals, sign-offs and acknowledgements, and every gate verdict, in journal order.
fn approvals(records: &[Record]) -> String {
    let mut approvals = Vec::new();
    let mut sign_offs = Vec::new();
    let mut gates = Vec::new();
    for r in records {
        match &r.event {
            Event::ApprovalRecorded {
                environment,
                decision,
                comment,
            } => approvals.push(serde_json::json!({
                "seq": r.seq, "at": r.at, "by": r.actor, "environment": environment,
                "decision": decision, "comment": comment,
            })),
            Event::EvidenceRecorded {
                kind,
                environment,
                payload,
            } if !matches!(kind.as_str(), "junit" | "sarif") => sign_offs.push(serde_json::json!({
                "seq": r.seq, "at": r.at, "by": r.actor, "kind": kind,
                "environment": environment, "payload": payload,
            })),
            Event::GateEvaluated {
                environment,
                position,
                gate,
                verdict,
                ..
            } => gates.push(serde_json::json!({
                "seq": r.seq, "at": r.at, "environment": environment, "position": position,
                "gate": gate, "verdict": verdict,
            })),
            _ => {}
        }
    }
    let doc = serde_json::json!({
        "approvals": approvals, "evidence": sign_offs, "gate_verdicts": gates,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// JUnit and SARIF evidence recorded in the journal, one file each.
fn evidence_reports(records: &[Record]) -> Vec<(String, Vec<u8>)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::EvidenceRecorded { kind, payload, .. }
                if matches!(kind.as_str(), "junit" | "sarif") =>
            {
                let mut bytes = serde_json::to_vec_pretty(payload).unwrap_or_default();
                bytes.push(b'\n');
                Some((
                    format!("test-reports/evidence-{:06}-{kind}.json", r.seq),
                    bytes,
                ))
            }
            _ => None,
        })
        .collect()
}

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleProblem {
    /// A signature by a trusted key does not verify over the manifest.
    SignatureInvalid {
        /// The key id.
        keyid: String,
    },
    /// No signature is by a trusted key.
    UntrustedKey {
        /// The key ids found.
        keyids: Vec<String>,
    },
    /// `MANIFEST.json` differs from the payload that was signed.
    ManifestChanged,
    /// A member's bytes do not match the manifest.
    MemberChanged {
        /// The path.
        path: String,
        /// The digest the manifest lists.
        expected: Sha256Digest,
        /// The digest of the bytes found.
        actual: Sha256Digest,
    },
    /// A member the manifest lists is not in the archive.
    MemberMissing {
        /// The path.
        path: String,
    },
    /// A member the manifest does not list.
    MemberUnexpected {
        /// The path.
        path: String,
    },
    /// The embedded audit export does not verify.
    ChainBroken {
        /// What the chain check found.
        problem: String,
    },
    /// The embedded audit export ends elsewhere than the signed chain head.
    ChainHeadMismatch {
        /// The signed head.
        expected: ChainHead,
        /// Where the export ends (`None` when it is empty).
        found: Option<ChainHead>,
    },
    /// The embedded audit export belongs to another release than the manifest names.
    WrongRelease {
        /// The manifest's release.
        expected: ReleaseId,
        /// The export's release.
        found: ReleaseId,
    },
}

impl fmt::Display for BundleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignatureInvalid { keyid } => write!(
                f,
                "the signature by key {keyid} over {MANIFEST} does not verify: the manifest or the signature was changed"
            ),
            Self::UntrustedKey { keyids } => write!(
                f,
                "{SIGNATURE} is signed only by untrusted keys {keyids:?}: add the signer's public key to the trusted keys"
            ),
            Self::ManifestChanged => write!(
                f,
                "{MANIFEST} differs from the manifest that was signed: it was changed after signing"
            ),
            Self::MemberChanged {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{path} has digest {actual}, the signed manifest lists {expected}: it was changed"
            ),
            Self::MemberMissing { path } => {
                write!(
                    f,
                    "{path} is listed in the manifest but missing from the archive"
                )
            }
            Self::MemberUnexpected { path } => {
                write!(
                    f,
                    "{path} is in the archive but not in the signed manifest: it was added"
                )
            }
            Self::ChainBroken { problem } => {
                write!(f, "the audit export does not verify: {problem}")
            }
            Self::ChainHeadMismatch { expected, found } => match found {
                Some(found) => write!(
                    f,
                    "the audit export ends at record {} ({}), but the signed chain head is record {} ({}): the journal was truncated or extended",
                    found.seq, found.hash, expected.seq, expected.hash
                ),
                None => write!(
                    f,
                    "the audit export is empty, but the signed chain head is record {} ({}): the journal was truncated",
                    expected.seq, expected.hash
                ),
            },
            Self::WrongRelease { expected, found } => write!(
                f,
                "the audit export is the journal of release {found}, the manifest names {expected}"
            ),
        }
    }
}

/// A bundle that verified.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct VerifiedBundle {
    /// Its signed manifest.
    pub manifest: BundleManifest,
    /// The key that signed it.
    pub keyid: String,
    /// The embedded journal.
    pub records: Vec<Record>,
    /// Every member's bytes by path (the manifest and its signature included).
    pub members: BTreeMap<String, Vec<u8>>,
}

/// Verifies a bundle against trusted keys: signature, every member's digest, missing and
/// unexpected members, and the embedded journal's chain up to the signed head.
pub fn verify_bundle(bytes: &[u8], trusted: &[VerifyingKey]) -> Result<VerifiedBundle> {
    let members = read_members(bytes)?;
    let raw_manifest = members
        .get(MANIFEST)
        .ok_or_else(|| malformed(format!("it has no {MANIFEST}")))?;
    let signature = members
        .get(SIGNATURE)
        .ok_or_else(|| malformed(format!("it has no {SIGNATURE}")))?;
    let envelope = Envelope::from_json(SIGNATURE, signature)
        .map_err(|e| malformed(format!("{SIGNATURE} is not a DSSE envelope: {e}")))?;
    if envelope.payload_type != MANIFEST_PAYLOAD_TYPE {
        return Err(malformed(format!(
            "{SIGNATURE} has payload type {:?}, expected {MANIFEST_PAYLOAD_TYPE:?}",
            envelope.payload_type
        )));
    }
    let keys: BTreeMap<String, VerifyingKey> = trusted.iter().map(|k| (key_id(k), *k)).collect();
    let mut problems = Vec::new();
    let signed = envelope.verify_signature("evidence bundle manifest", &keys, |keyid| {
        ArtifactError::SignatureInvalid {
            artifact: "evidence bundle manifest".to_owned(),
            keyid,
        }
    });
    let (manifest_bytes, keyid) = match signed {
        Ok((payload, keyid)) => {
            if &payload != raw_manifest {
                problems.push(BundleProblem::ManifestChanged);
            }
            (payload, keyid)
        }
        Err(ArtifactError::SignatureInvalid { keyid, .. }) => {
            problems.push(BundleProblem::SignatureInvalid {
                keyid: keyid.clone(),
            });
            (raw_manifest.clone(), keyid)
        }
        Err(ArtifactError::UntrustedKey { keyids, .. }) => {
            problems.push(BundleProblem::UntrustedKey { keyids });
            (raw_manifest.clone(), String::new())
        }
        Err(other) => return Err(other),
    };
    let manifest: BundleManifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| malformed(format!("{MANIFEST} is not a bundle manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(malformed(format!(
            "{MANIFEST} has format {:?}, expected {FORMAT:?}",
            manifest.format
        )));
    }
    for m in &manifest.members {
        match members.get(&m.path) {
            None => problems.push(BundleProblem::MemberMissing {
                path: m.path.clone(),
            }),
            Some(bytes) => {
                let actual = Sha256Digest::of(bytes);
                if actual != m.sha256 {
                    problems.push(BundleProblem::MemberChanged {
                        path: m.path.clone(),
                        expected: m.sha256,
                        actual,
                    });
                }
            }
        }
    }
    for path in members.keys() {
        if path != MANIFEST
            && path != SIGNATURE
            && !manifest.members.iter().any(|m| &m.path == path)
        {
            problems.push(BundleProblem::MemberUnexpected { path: path.clone() });
        }
    }
    let records = match members.get(AUDIT_EXPORT) {
        None => Vec::new(),
        Some(bytes) => {
            let parsed = std::str::from_utf8(bytes)
                .map_err(|e| format!("it is not UTF-8: {e}"))
                .and_then(|text| import_jsonl(text).map_err(|e| e.to_string()));
            match parsed {
                Ok(records) => records,
                Err(problem) => {
                    problems.push(BundleProblem::ChainBroken { problem });
                    Vec::new()
                }
            }
        }
    };
    if members.contains_key(AUDIT_EXPORT) {
        if let Err(e) = verify_chain(&records) {
            problems.push(BundleProblem::ChainBroken {
                problem: e.to_string(),
            });
        }
        if let Some(first) = records.first()
            && first.release != manifest.release
        {
            problems.push(BundleProblem::WrongRelease {
                expected: manifest.release.clone(),
                found: first.release.clone(),
            });
        }
        let found = records.last().map(|r| ChainHead {
            seq: r.seq,
            hash: r.hash,
        });
        if found != Some(manifest.chain_head) {
            problems.push(BundleProblem::ChainHeadMismatch {
                expected: manifest.chain_head,
                found,
            });
        }
    }
    if !problems.is_empty() {
        return Err(ArtifactError::BundleInvalid {
            release: manifest.release.to_string(),
            problems,
        });
    }
    Ok(VerifiedBundle {
        manifest,
        keyid,
        records,
        members,
    })
}

/// Checks that a live journal still holds the record a bundle signed as its chain head (a
/// journal truncated or rewritten since the bundle was made fails).
pub fn check_ledger_head(manifest: &BundleManifest, records: &[Record]) -> Result<()> {
    let found = records
        .iter()
        .find(|r| r.seq == manifest.chain_head.seq)
        .map(|r| ChainHead {
            seq: r.seq,
            hash: r.hash,
        });
    if found == Some(manifest.chain_head) {
        return Ok(());
    }
    Err(ArtifactError::BundleInvalid {
        release: manifest.release.to_string(),
        problems: vec![BundleProblem::ChainHeadMismatch {
            expected: manifest.chain_head,
            found: records.last().map(|r| ChainHead {
                seq: r.seq,
                hash: r.hash,
            }),
        }],
    })
}

fn malformed(problem: String) -> ArtifactError {
    ArtifactError::BundleMalformed { problem }
}

/// Every regular file of the archive by path; anything else is malformed.
fn read_members(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut archive = tar::Archive::new(bytes);
    let entries = archive
        .entries()
        .map_err(|e| malformed(format!("it is not a tar archive: {e}")))?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| malformed(format!("it is not a tar archive: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| malformed(format!("a member has an unreadable path: {e}")))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(malformed(format!("member {path} is not a regular file")));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| malformed(format!("member {path} cannot be read: {e}")))?;
        if out.insert(path.clone(), data).is_some() {
            return Err(malformed(format!("member {path} appears twice")));
        }
    }
    Ok(out)
}
