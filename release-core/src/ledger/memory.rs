//! The in-memory ledger: the reference implementation, always available.
//!
//! Memory (one engine holding 10,000 releases' journals, `engine-scale`): a record is kept
//! as the bytes its hash is computed over (its JSON without the hash, which sealing produces
//! anyway) behind its number and hash, instead of a tree of strings, vectors and, in
//! `release_started`, a whole platform and release; it is decoded when read. Records are
//! sealed into one buffer the ledger reuses and copied into an arena: blocks of 1 MiB,
//! appended to and never moved, normally mapped outside the heap (see [`BLOCK`]). An
//! append therefore allocates
//! nothing in the common case. Before, each record was its own heap allocation of a size
//! no other allocation shared: on a heap that earlier releases had fragmented, each one was
//! a search through glibc's bins, and thousands of long-lived records were left scattered
//! between the holes of the engine's short-lived data (issue #10, BENCHMARKS.md).
//!
//! A journal is not a vector either: each sealed record carries, in its header, where the
//! record before it is in the arena, and the journal's entry in the map holds only the
//! newest record's place, number and hash (see [`Journal`]). An append reads the entry and
//! writes it back; reading the records after `n` walks back from the newest one, so it costs
//! what it returns. A vector per journal was one more allocation per release, made while
//! the release ran, amid its short-lived data, and kept for the ledger's lifetime: with
//! 10,000 releases, 10,000 small chunks pinned between the holes that data left (issue #10:
//! every later round searched glibc's bins through those holes). The engine reads a journal
//! once per run (and only the records others appended after that), so decoding is rare.
//!
//! Journals and locks are hash maps: with 10,000 releases a B-tree lookup compared ~30
//! keys, each a string elsewhere on the heap, on every append (a cache miss apiece once the
//! ledger outgrows the cache), which made the per-release cost grow with the number of
//! releases. [`Ledger::releases`] sorts the ids when asked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use smol_str::SmolStr;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::id::ReleaseId;

use super::chain::{seal_into, unseal_json};
use super::{EventDraft, Fence, GENESIS, Lease, Ledger, Record, expiry};

/// A release's journal.
enum Journal {
    /// Every record sealed here, chained backwards through the arena: the newest record's
    /// place, number and hash (none yet for a journal being created). Records are numbered
    /// 1, 2, 3… in order, so the newest number is also the length.
    Chained(Option<Head>),
    /// Records put in whole by [`InMemoryLedger::overwrite`] (tamper tests), then any sealed
    /// after them, in order.
    Listed(Vec<Kept>),
}

/// The newest record of a chained journal.
#[derive(Clone, Copy)]
struct Head {
    at: Span,
    seq: u64,
    hash: Sha256Digest,
}

/// One record of a listed journal.
enum Kept {
    /// Sealed here: where its bytes are in the ledger's [`Arena`].
    Sealed(Span),
    /// Put in whole by [`InMemoryLedger::overwrite`]: kept as given.
    Given(Box<Record>),
}

/// Bytes in front of a sealed record's JSON: its number (8 bytes, little-endian), its hash
/// (32 bytes) and where the record before it in a chained journal is (block, start and
/// length, 4 bytes each; all ones for none).
const SEALED_HEADER: usize = 8 + 32 + 12;

/// The header's "no record before this one".
const NO_SPAN: [u8; 12] = [0xff; 12];

/// A sealed record's header and hashed bytes, as read from the arena.
struct Sealed<'a> {
    seq: u64,
    hash: Sha256Digest,
    before: Option<Span>,
    json: &'a [u8],
}

impl<'a> Sealed<'a> {
    /// Puts a record sealed here in the arena: its number, hash, the place of the record
    /// before it and its hashed bytes.
    fn put(
        arena: &mut Arena,
        seq: u64,
        hash: Sha256Digest,
        before: Option<Span>,
        json: &[u8],
    ) -> Result<Span> {
        let before = before.map_or(NO_SPAN, Span::to_bytes);
        arena.put([&seq.to_le_bytes(), hash.as_bytes(), &before, json])
    }

    /// Reads one back.
    fn read(bytes: &'a [u8]) -> Result<Self> {
        let broken = || Error::Codec {
            what: "a record kept by the in-memory ledger".to_owned(),
            message: format!(
                "{} bytes, fewer than its {SEALED_HEADER}-byte header",
                bytes.len()
            ),
        };
        let (seq, rest) = bytes.split_first_chunk::<8>().ok_or_else(broken)?;
        let (hash, rest) = rest.split_first_chunk::<32>().ok_or_else(broken)?;
        let (before, json) = rest.split_first_chunk::<12>().ok_or_else(broken)?;
        Ok(Self {
            seq: u64::from_le_bytes(*seq),
            hash: Sha256Digest::from_bytes(*hash),
            before: (*before != NO_SPAN).then(|| Span::from_bytes(before)),
            json,
        })
    }

    fn record(&self) -> Result<Record> {
        unseal_json(self.json, self.hash)
    }
}

impl Kept {
    fn seq_and_hash(&self, arena: &Arena) -> Result<(u64, Sha256Digest)> {
        match self {
            Self::Sealed(span) => Sealed::read(arena.get(*span)?).map(|r| (r.seq, r.hash)),
            Self::Given(r) => Ok((r.seq, r.hash)),
        }
    }

    fn record(&self, arena: &Arena) -> Result<Record> {
        match self {
            Self::Sealed(span) => Sealed::read(arena.get(*span)?)?.record(),
            Self::Given(r) => Ok((**r).clone()),
        }
    }
}

impl Journal {
    /// The newest record's number and hash; `None` for an empty journal.
    fn head(&self, arena: &Arena) -> Result<Option<(u64, Sha256Digest)>> {
        match self {
            Self::Chained(head) => Ok(head.map(|h| (h.seq, h.hash))),
            Self::Listed(kept) => kept.last().map(|k| k.seq_and_hash(arena)).transpose(),
        }
    }

    /// The records of `release` numbered above `after`, in order.
    fn records(&self, release: &ReleaseId, arena: &Arena, after: u64) -> Result<Vec<Record>> {
        match self {
            Self::Chained(None) => Ok(Vec::new()),
            Self::Chained(Some(head)) => {
                if head.seq <= after {
                    return Ok(Vec::new());
                }
                let broken = |seq: u64, what: String| Error::Codec {
                    what: format!("the in-memory ledger's journal of {release}"),
                    message: format!(
                        "record {seq} {what}; the ledger's memory is damaged (a bug, please \
                         report it); read the release from a durable ledger (SQLite or \
                         PostgreSQL) instead"
                    ),
                };
                // Walks back from the newest record to the first one asked for, checking
                // that each is numbered one below the one after it (so a damaged chain is an
                // error, never a loop), then decodes them oldest first and checks that each
                // belongs to this release and follows the one before it (journals share the
                // arena, so a wrong link could land on another release's record).
                let wanted = usize::try_from(head.seq - after).unwrap_or(usize::MAX);
                let mut chain: Vec<Sealed<'_>> = Vec::with_capacity(wanted.min(1 << 16));
                let mut at = Some(head.at);
                let mut expected = head.seq;
                while expected > after {
                    let span =
                        at.ok_or_else(|| broken(expected, "is missing from its chain".into()))?;
                    let record = Sealed::read(arena.get(span)?)?;
                    if record.seq != expected {
                        return Err(broken(expected, format!("is numbered {}", record.seq)));
                    }
                    at = record.before;
                    chain.push(record);
                    expected -= 1;
                }
                let records = chain
                    .iter()
                    .rev()
                    .map(Sealed::record)
                    .collect::<Result<Vec<Record>>>()?;
                let mut prev: Option<&Record> = None;
                for record in &records {
                    if record.release != *release {
                        return Err(broken(record.seq, format!("belongs to {}", record.release)));
                    }
                    if let Some(prev) = prev
                        && record.prev != prev.hash
                    {
                        return Err(broken(
                            record.seq,
                            format!("does not follow record {}", prev.seq),
                        ));
                    }
                    prev = Some(record);
                }
                Ok(records)
            }
            Self::Listed(kept) => {
                let from = usize::try_from(after).unwrap_or(usize::MAX).min(kept.len());
                kept.get(from..)
                    .unwrap_or_default()
                    .iter()
                    .map(|k| k.record(arena))
                    .collect()
            }
        }
    }
}

/// The size of an arena block: above glibc's mmap threshold (128 KiB at start), so blocks are
/// normally mapped on their own, outside the heap the engine's short-lived data churns
/// through. glibc raises the threshold when a mapped chunk is freed (up to 32 MiB), after
/// which blocks come from the heap; they are still few and large, so records stay together.
const BLOCK: usize = 1 << 20;

/// Where a sealed record's bytes are in the [`Arena`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    block: u32,
    start: u32,
    len: u32,
}

impl Span {
    fn to_bytes(self) -> [u8; 12] {
        let mut out = [0; 12];
        out[..4].copy_from_slice(&self.block.to_le_bytes());
        out[4..8].copy_from_slice(&self.start.to_le_bytes());
        out[8..].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    fn from_bytes(bytes: &[u8; 12]) -> Self {
        let word = |i: usize| {
            let mut w = [0; 4];
            w.copy_from_slice(&bytes[i..i + 4]);
            u32::from_le_bytes(w)
        };
        Self {
            block: word(0),
            start: word(4),
            len: word(8),
        }
    }
}

/// The bytes of every sealed record, appended to large blocks that are never moved or
/// freed while the ledger lives (a ledger never forgets a record). A record bigger than a
/// block gets a block of its own.
#[derive(Default)]
struct Arena {
    blocks: Vec<Vec<u8>>,
    /// The block being filled, if any.
    current: Option<usize>,
}

impl Arena {
    fn put<const N: usize>(&mut self, parts: [&[u8]; N]) -> Result<Span> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let too_big = |what: &str| {
            Error::Invalid(format!(
                "{what} exceeds what the in-memory ledger can address (4 GiB); use the SQLite or PostgreSQL ledger"
            ))
        };
        // Checked before anything is allocated, so a refused record leaves no trace.
        let len32 = u32::try_from(len).map_err(|_| too_big(&format!("a record of {len} bytes")))?;
        let fits = |b: &Vec<u8>| b.capacity() - b.len() >= len;
        let (index, block) = match self.current {
            Some(i) if self.blocks.get(i).is_some_and(fits) => (i, self.blocks.get_mut(i)),
            _ => {
                let index = self.blocks.len();
                u32::try_from(index).map_err(|_| too_big(&format!("block {index}")))?;
                self.blocks.push(Vec::with_capacity(len.max(BLOCK)));
                if len <= BLOCK {
                    self.current = Some(index);
                }
                (index, self.blocks.last_mut())
            }
        };
        let Some(block) = block else {
            return Err(Error::Invalid(format!(
                "the in-memory ledger lost block {index} of its arena"
            )));
        };
        let span = Span {
            block: u32::try_from(index).map_err(|_| too_big(&format!("block {index}")))?,
            // Below the block's capacity, itself at most `len.max(BLOCK)`, below 4 GiB.
            start: u32::try_from(block.len()).map_err(|_| too_big("a block"))?,
            len: len32,
        };
        // Within capacity (checked above): no reallocation moves earlier records.
        for part in parts {
            block.extend_from_slice(part);
        }
        Ok(span)
    }

    fn get(&self, span: Span) -> Result<&[u8]> {
        let start = span.start as usize;
        self.blocks
            .get(span.block as usize)
            .and_then(|b| b.get(start..)?.get(..span.len as usize))
            .ok_or_else(|| Error::Codec {
                what: "a record kept by the in-memory ledger".to_owned(),
                message: format!(
                    "its bytes ({} at {} of block {}) are not in the ledger's arena",
                    span.len, span.start, span.block
                ),
            })
    }
}

/// A sealing buffer larger than this is not kept between appends (one odd, huge record
/// should not pin its size for the ledger's lifetime).
const SCRATCH_KEPT: usize = 64 << 10;

#[derive(Default)]
struct State {
    journals: HashMap<ReleaseId, Journal>,
    /// lock → (current lease, last token issued). The key is a `SmolStr`, inline up to 23
    /// bytes (`env:production`): a lock's entry outlives its lease (the last token must),
    /// and a `String` key was a small allocation made amid a release's short-lived data and
    /// left there for good. Longer names still allocate.
    locks: HashMap<SmolStr, (Option<Lease>, u64)>,
    /// The buffer records are sealed into, reused by every append.
    scratch: Vec<u8>,
    /// The sealed records' bytes.
    arena: Arena,
}

/// A ledger in memory.
#[derive(Default)]
pub struct InMemoryLedger {
    state: Mutex<State>,
}

impl std::fmt::Debug for InMemoryLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryLedger").finish_non_exhaustive()
    }
}

impl InMemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written record: records are
        // pushed whole. So a poisoned lock is still consistent.
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Replaces a release's journal wholesale (for tamper tests of verifiers). The bytes of
    /// the records it replaces stay in the ledger's arena until the ledger is dropped.
    pub fn overwrite(&self, release: &ReleaseId, records: Vec<Record>) {
        let kept = records
            .into_iter()
            .map(|r| Kept::Given(Box::new(r)))
            .collect();
        self.lock()
            .journals
            .insert(release.clone(), Journal::Listed(kept));
    }
}

fn check_fence(state: &State, fence: &Fence) -> Result<()> {
    let current = state
        .locks
        .get(fence.lock.as_str())
        .map_or(0, |(_, last)| *last);
    if fence.token != current {
        return Err(Error::StaleFence {
            lock: fence.lock.clone(),
            token: fence.token,
            current,
        });
    }
    Ok(())
}

#[async_trait]
impl Ledger for InMemoryLedger {
    async fn append(&self, draft: EventDraft, fence: Option<&Fence>) -> Result<Record> {
        let mut state = self.lock();
        if let Some(fence) = fence {
            check_fence(&state, fence)?;
        }
        let State {
            journals,
            scratch,
            arena,
            ..
        } = &mut *state;
        // The journal's entry is created only once its first record is sealed: a record
        // that fails to seal leaves the ledger as it was (no release without records).
        let (seq, prev, before) = match journals.get(&draft.release) {
            Some(journal) => {
                let before = match journal {
                    Journal::Chained(head) => head.map(|h| h.at),
                    Journal::Listed(_) => None,
                };
                match journal.head(arena)? {
                    Some((seq, hash)) => {
                        let next = seq.checked_add(1).ok_or_else(|| {
                            Error::Invalid(format!(
                                "the journal of {} is full: its last record is numbered {seq}; \
                                 start a new release",
                                draft.release
                            ))
                        })?;
                        (next, hash, before)
                    }
                    None => (1, GENESIS, before),
                }
            }
            None => (1, GENESIS, None),
        };
        let release = draft.release.clone();
        let sealed = seal_into(draft, seq, prev, scratch).and_then(|record| {
            Ok((
                Sealed::put(arena, seq, record.hash, before, scratch)?,
                record,
            ))
        });
        if scratch.capacity() > SCRATCH_KEPT {
            *scratch = Vec::new();
        }
        let (at, record) = sealed?;
        let head = Head {
            at,
            seq,
            hash: record.hash,
        };
        match journals.get_mut(&release) {
            Some(Journal::Chained(last)) => *last = Some(head),
            Some(Journal::Listed(kept)) => kept.push(Kept::Sealed(at)),
            None => {
                journals.insert(release, Journal::Chained(Some(head)));
            }
        }
        Ok(record)
    }

    async fn events(&self, release: &ReleaseId, after: u64) -> Result<Vec<Record>> {
        let state = self.lock();
        match state.journals.get(release) {
            Some(journal) => journal.records(release, &state.arena, after),
            None => Ok(Vec::new()),
        }
    }

    async fn releases(&self) -> Result<Vec<ReleaseId>> {
        let mut releases: Vec<ReleaseId> = self.lock().journals.keys().cloned().collect();
        releases.sort_unstable();
        Ok(releases)
    }

    async fn acquire(
        &self,
        lock: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease> {
        let expires_at = expiry(now, ttl)?;
        let mut state = self.lock();
        let entry = match state.locks.get_mut(lock) {
            Some(entry) => entry,
            None => state.locks.entry(SmolStr::new(lock)).or_insert((None, 0)),
        };
        if let Some(current) = &entry.0
            && current.expires_at > now
        {
            if current.holder == holder {
                let renewed = Lease {
                    expires_at,
                    ..current.clone()
                };
                entry.0 = Some(renewed.clone());
                return Ok(renewed);
            }
            return Err(Error::LockHeld {
                lock: lock.to_owned(),
                holder: current.holder.clone(),
                until: current.expires_at,
            });
        }
        entry.1 += 1;
        let lease = Lease {
            lock: lock.to_owned(),
            holder: holder.to_owned(),
            token: entry.1,
            expires_at,
        };
        entry.0 = Some(lease.clone());
        Ok(lease)
    }

    async fn renew(&self, lease: &Lease, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        let expires_at = expiry(now, ttl)?;
        let mut state = self.lock();
        let entry = match state.locks.get_mut(lease.lock.as_str()) {
            Some(entry) => entry,
            None => state
                .locks
                .entry(SmolStr::new(&lease.lock))
                .or_insert((None, 0)),
        };
        match &mut entry.0 {
            Some(current)
                if current.token == lease.token
                    && current.holder == lease.holder
                    && current.expires_at > now =>
            {
                // Renewed in place: one copy, for the caller.
                current.expires_at = expires_at;
                Ok(current.clone())
            }
            _ => Err(Error::StaleFence {
                lock: lease.lock.clone(),
                token: lease.token,
                current: entry.1,
            }),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let mut state = self.lock();
        if let Some(entry) = state.locks.get_mut(lease.lock.as_str())
            && entry.0.as_ref().is_some_and(|c| c.token == lease.token)
        {
            entry.0 = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Event;

    #[test]
    fn sealed_records_share_blocks_and_keep_their_number_hash_and_predecessor() {
        let mut arena = Arena::default();
        let hash = Sha256Digest::of(b"x");
        let sa = Sealed::put(&mut arena, 7, hash, None, b"{}").unwrap();
        let sb = Sealed::put(&mut arena, 8, hash, Some(sa), b"[1]").unwrap();
        let a = Sealed::read(arena.get(sa).unwrap()).unwrap();
        let b = Sealed::read(arena.get(sb).unwrap()).unwrap();
        assert_eq!(
            (a.seq, a.hash, a.before, a.json),
            (7, hash, None, &b"{}"[..])
        );
        assert_eq!(
            (b.seq, b.hash, b.before, b.json),
            (8, hash, Some(sa), &b"[1]"[..])
        );
        assert_eq!((sa.block, sb.block), (0, 0));
        assert_eq!(sb.start as usize, SEALED_HEADER + 2);
        // A header cut short, or a span outside the arena, is an error, not a panic.
        assert!(Sealed::read(&arena.get(sa).unwrap()[..SEALED_HEADER - 1]).is_err());
        assert!(
            arena
                .get(Span {
                    block: 0,
                    start: u32::MAX,
                    len: 1
                })
                .is_err()
        );
        assert!(
            arena
                .get(Span {
                    block: 9,
                    start: 0,
                    len: 1
                })
                .is_err()
        );
    }

    // covers M8.6: a journal whose records fill more than one arena block reads back whole
    // and verifies; a tamper-test overwrite and a later append keep the chain rules.
    #[tokio::test]
    async fn records_across_blocks_read_back_and_verify() {
        let ledger = InMemoryLedger::new();
        let id = ReleaseId::from("shop-1.0.0");
        let note = "x".repeat(100_000);
        let at = chrono::DateTime::UNIX_EPOCH;
        for _ in 0..25 {
            let event = Event::Paused {
                environment: None,
                reason: note.clone(),
            };
            ledger
                .append(EventDraft::new(id.clone(), at, "ops", vec![], event), None)
                .await
                .unwrap();
        }
        assert!(ledger.lock().arena.blocks.len() >= 3);
        let records = ledger.events(&id, 0).await.unwrap();
        assert_eq!(records.len(), 25);
        super::super::verify_chain(&records).unwrap();
        assert_eq!(ledger.events(&id, 20).await.unwrap()[0].seq, 21);
        // Overwritten (tamper tests), then appended to: the next record follows the last
        // one given.
        ledger.overwrite(&id, records[..3].to_vec());
        let next = ledger
            .append(
                EventDraft::new(
                    id.clone(),
                    at,
                    "ops",
                    vec![],
                    Event::Paused {
                        environment: None,
                        reason: "y".into(),
                    },
                ),
                None,
            )
            .await
            .unwrap();
        assert_eq!((next.seq, next.prev), (4, records[2].hash));
        super::super::verify_chain(&ledger.events(&id, 0).await.unwrap()).unwrap();
    }

    // covers M8.6: a journal is read back through its chain from any point, and a chain
    // that loops or skips a number is an error, not a hang or a panic.
    #[tokio::test]
    async fn a_chained_journal_reads_from_any_point_and_refuses_a_damaged_chain() {
        let ledger = InMemoryLedger::new();
        let id = ReleaseId::from("shop-1.0.0");
        let other = ReleaseId::from("shop-1.1.0");
        let at = chrono::DateTime::UNIX_EPOCH;
        let paused = |reason: &str| Event::Paused {
            environment: None,
            reason: reason.to_owned(),
        };
        for i in 0..10 {
            // Two journals interleaved in the arena, as concurrent releases write them.
            for release in [&id, &other] {
                ledger
                    .append(
                        EventDraft::new(
                            release.clone(),
                            at,
                            "ops",
                            vec![],
                            paused(&format!("{i}")),
                        ),
                        None,
                    )
                    .await
                    .unwrap();
            }
        }
        for after in [0, 1, 5, 9, 10, 11, u64::MAX] {
            let records = ledger.events(&id, after).await.unwrap();
            let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
            let expected: Vec<u64> = (after.saturating_add(1)..=10).collect();
            assert_eq!(seqs, expected, "after {after}");
            assert!(records.iter().all(|r| r.release == id));
        }
        super::super::verify_chain(&ledger.events(&other, 0).await.unwrap()).unwrap();
        assert!(
            ledger
                .events(&ReleaseId::from("none"), 0)
                .await
                .unwrap()
                .is_empty()
        );

        // A head whose number disagrees with its record, then a chain that ends early.
        let (head, tail) = {
            let mut state = ledger.lock();
            let head = match state.journals.get(&id) {
                Some(Journal::Chained(Some(head))) => *head,
                _ => panic!("a chained journal"),
            };
            let bytes = Sealed::read(state.arena.get(head.at).unwrap())
                .unwrap()
                .json
                .to_vec();
            let first = Sealed::put(&mut state.arena, 11, head.hash, None, &bytes).unwrap();
            let tail = Sealed::put(&mut state.arena, 12, head.hash, Some(first), &bytes).unwrap();
            (head, tail)
        };
        let point = |seq| {
            ledger.lock().journals.insert(
                id.clone(),
                Journal::Chained(Some(Head {
                    at: tail,
                    seq,
                    hash: head.hash,
                })),
            );
        };
        point(13);
        let err = ledger.events(&id, 0).await.unwrap_err();
        assert!(
            err.to_string().contains("record 13 is numbered 12"),
            "{err}"
        );
        point(12);
        let err = ledger.events(&id, 0).await.unwrap_err();
        assert!(err.to_string().contains("record 10 is missing"), "{err}");
        assert!(
            err.to_string()
                .contains("journal of shop-1.0.0: record 10 is missing from its chain; the ledger's memory is damaged"),
            "{err}"
        );

        // A head that lands on another release's record with the expected number.
        let foreign = {
            let state = ledger.lock();
            match state.journals.get(&other) {
                Some(Journal::Chained(Some(head))) => *head,
                _ => panic!("a chained journal"),
            }
        };
        ledger
            .lock()
            .journals
            .insert(id.clone(), Journal::Chained(Some(foreign)));
        let err = ledger.events(&id, 0).await.unwrap_err();
        assert!(
            err.to_string().contains("record 1 belongs to shop-1.1.0"),
            "{err}"
        );
        // The other release's journal is untouched.
        assert_eq!(ledger.events(&other, 9).await.unwrap().len(), 1);
    }

    #[test]
    fn a_record_bigger_than_a_block_gets_its_own_and_filling_goes_on() {
        let mut arena = Arena::default();
        let small = arena.put([b"abc".as_slice()]).unwrap();
        let big = vec![7u8; BLOCK + 1];
        let huge = arena.put([big.as_slice()]).unwrap();
        let after = arena.put([b"de".as_slice()]).unwrap();
        assert_eq!((small.block, huge.block, after.block), (0, 1, 0));
        assert_eq!(after.start, 3);
        assert_eq!(arena.get(huge).unwrap().len(), BLOCK + 1);
        assert_eq!(arena.get(after).unwrap(), b"de");
        // A full block is left for a new one; earlier records stay where they are.
        let fill = vec![1u8; BLOCK - 5];
        let last = arena.put([fill.as_slice()]).unwrap();
        assert_eq!(last.block, 0);
        let next = arena.put([b"xyz".as_slice()]).unwrap();
        assert_eq!(next.block, 2);
        assert_eq!(arena.get(small).unwrap(), b"abc");
    }
}
