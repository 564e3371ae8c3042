//! The hash chain: sealing drafts into records, verifying, exporting as JSON Lines.

use serde::{Deserialize, Serialize};

use crate::digest::{Sha256, Sha256Digest};
use crate::error::{Error, Result};
use crate::id::{ChangeId, ReleaseId};

use super::{Event, EventDraft, Record};

/// The `prev` of a release's first record.
pub const GENESIS: Sha256Digest = Sha256Digest::from_bytes([0; 32]);

#[derive(Serialize)]
struct Hashed<'a> {
    release: &'a ReleaseId,
    seq: u64,
    at: &'a chrono::DateTime<chrono::Utc>,
    actor: &'a str,
    changes: &'a [ChangeId],
    event: &'a Event,
    prev: &'a Sha256Digest,
}

/// The hash a record with these fields must carry.
pub fn hash_record(record: &Record) -> Result<Sha256Digest> {
    Ok(hash_json(&hashed_json(record)?))
}

/// The bytes [`hash_record`] hashes after its domain prefix: the record's JSON without its
/// own hash (fields in declaration order). The in-memory ledger stores records as these bytes.
pub(crate) fn hashed_json(record: &Record) -> Result<Vec<u8>> {
    let mut json = Vec::with_capacity(128);
    write_hashed_json(record, &mut json)?;
    Ok(json)
}

/// Appends [`hashed_json`]'s bytes to `out` (the in-memory ledger reuses one buffer, so that
/// sealing a record does not grow a fresh vector through several reallocations).
fn write_hashed_json(record: &Record, out: &mut Vec<u8>) -> Result<()> {
    let hashed = Hashed {
        release: &record.release,
        seq: record.seq,
        at: &record.at,
        actor: &record.actor,
        changes: &record.changes,
        event: &record.event,
        prev: &record.prev,
    };
    serde_json::to_writer(out, &hashed).map_err(|e| Error::Codec {
        what: format!("record {} of {}", record.seq, record.release),
        message: e.to_string(),
    })
}

fn hash_json(json: &[u8]) -> Sha256Digest {
    let mut h = <Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut h, b"release.ledger.v1\n");
    sha2::Digest::update(&mut h, json);
    Sha256Digest::from_hasher(h)
}

/// Turns a draft into the record that follows `prev` (the ledger calls this under its lock).
pub fn seal(draft: EventDraft, seq: u64, prev: Sha256Digest) -> Result<Record> {
    seal_into(draft, seq, prev, &mut Vec::with_capacity(128))
}

/// [`seal`] into a caller's buffer: `json` is cleared, then holds the hashed bytes
/// ([`hashed_json`]; the in-memory ledger copies them into its arena and reuses the buffer).
pub(crate) fn seal_into(
    draft: EventDraft,
    seq: u64,
    prev: Sha256Digest,
    json: &mut Vec<u8>,
) -> Result<Record> {
    let mut record = Record {
        release: draft.release,
        seq,
        at: draft.at,
        actor: draft.actor,
        changes: draft.changes,
        event: draft.event,
        prev,
        hash: GENESIS,
    };
    json.clear();
    write_hashed_json(&record, json)?;
    record.hash = hash_json(json);
    Ok(record)
}

/// The owned twin of `Hashed`, to read back what [`hashed_json`] wrote.
#[derive(Deserialize)]
struct Unsealed {
    release: ReleaseId,
    seq: u64,
    at: chrono::DateTime<chrono::Utc>,
    actor: String,
    changes: Vec<ChangeId>,
    event: Event,
    prev: Sha256Digest,
}

/// Reads bytes written by [`hashed_json`] back into the record, with the hash kept beside them.
pub(crate) fn unseal_json(json: &[u8], hash: Sha256Digest) -> Result<Record> {
    let u: Unsealed = serde_json::from_slice(json).map_err(|e| Error::Codec {
        what: "a record kept by the in-memory ledger".to_owned(),
        message: e.to_string(),
    })?;
    Ok(Record {
        release: u.release,
        seq: u.seq,
        at: u.at,
        actor: u.actor,
        changes: u.changes,
        event: u.event,
        prev: u.prev,
        hash,
    })
}

/// Checks a release's records: numbered 1, 2, 3…, each linked to its predecessor's hash,
/// each hash matching its content. Returns the first record that breaks the chain.
pub fn verify_chain(records: &[Record]) -> Result<()> {
    let mut prev = GENESIS;
    let release = records.first().map(|r| r.release.clone());
    for (i, record) in records.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        let tampered = |problem: String| Error::Tampered {
            release: record.release.clone(),
            seq: expected_seq,
            problem,
        };
        if Some(&record.release) != release.as_ref() {
            return Err(tampered(format!(
                "record belongs to release {}, not to this journal",
                record.release
            )));
        }
        if record.seq != expected_seq {
            return Err(tampered(format!(
                "found record {} where record {expected_seq} belongs: a record was removed, inserted or reordered",
                record.seq
            )));
        }
        if record.prev != prev {
            return Err(tampered(
                "it does not link to the hash of the record before it: a record was removed or reordered"
                    .to_owned(),
            ));
        }
        let actual = hash_record(record)?;
        if actual != record.hash {
            return Err(tampered(format!(
                "its content does not match its hash (stored {}, computed {actual}): the record was changed",
                record.hash
            )));
        }
        prev = record.hash;
    }
    Ok(())
}

/// Writes records as JSON Lines, one record per line.
pub fn export_jsonl(records: &[Record]) -> Result<String> {
    let mut out = String::new();
    for r in records {
        let line = serde_json::to_string(r).map_err(|e| Error::Codec {
            what: format!("record {} of {}", r.seq, r.release),
            message: e.to_string(),
        })?;
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// Reads JSON Lines written by [`export_jsonl`]; a bad line is named by its number.
pub fn import_jsonl(text: &str) -> Result<Vec<Record>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::Codec {
                what: format!("line {} of the audit export", i + 1),
                message: e.to_string(),
            })
        })
        .collect()
}
