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
//! between the holes of the engine's short-lived data (issue #10, BENCHMARKS.md). A journal
//! is a vector of two-word handles, so a journal of a few dozen records stays below glibc's
//! large-bin size (see [`Kept`]); it grows by a quarter of its length at a time instead of
//! doubling, and is shrunk to its length when its release finishes (`release_finished`; a
//! later append, such as an RCA closure, grows it again); growth stays geometric, so appends
//! stay amortised O(1). The engine reads a journal once per run (and only the records others
//! appended after that), so decoding is rare.
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

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::id::ReleaseId;

use super::chain::{seal_into, unseal_json};
use super::{Event, EventDraft, Fence, GENESIS, Lease, Ledger, Record, expiry};

/// One record as kept: two words, so that the journal vector stays below glibc's large-bin
/// size (1,024 bytes) for a few dozen records. Growing a vector past it asks for a large-bin
/// chunk, and every such request first consolidates the allocator's fast bins, which on a
/// heap many releases have been through costs a cache miss per chunk merged; the journal's
/// growth caused half of those consolidations in `engine-scale` (issue #10).
enum Kept {
    /// Sealed here: where its bytes are in the ledger's [`Arena`] — the record's number (8
    /// bytes, little-endian), its hash (32 bytes), then the hashed JSON.
    Sealed(Span),
    /// Put in whole by [`InMemoryLedger::overwrite`] (tamper tests): kept as given.
    Given(Box<Record>),
}

/// Bytes in front of a sealed record's JSON: its number and its hash.
const SEALED_HEADER: usize = 8 + 32;

impl Kept {
    /// Keeps a record sealed here: its number, hash and hashed bytes go in the arena.
    fn sealed(arena: &mut Arena, seq: u64, hash: Sha256Digest, json: &[u8]) -> Result<Self> {
        arena
            .put([&seq.to_le_bytes(), hash.as_bytes(), json])
            .map(Self::Sealed)
    }

    /// A sealed record's number, hash and hashed bytes.
    fn parts(bytes: &[u8]) -> Result<(u64, Sha256Digest, &[u8])> {
        let broken = || Error::Codec {
            what: "a record kept by the in-memory ledger".to_owned(),
            message: format!(
                "{} bytes, fewer than its {SEALED_HEADER}-byte header",
                bytes.len()
            ),
        };
        let (seq, rest) = bytes.split_first_chunk::<8>().ok_or_else(broken)?;
        let (hash, json) = rest.split_first_chunk::<32>().ok_or_else(broken)?;
        Ok((
            u64::from_le_bytes(*seq),
            Sha256Digest::from_bytes(*hash),
            json,
        ))
    }

    fn seq_and_hash(&self, arena: &Arena) -> Result<(u64, Sha256Digest)> {
        match self {
            Self::Sealed(span) => Self::parts(arena.get(*span)?).map(|(seq, hash, _)| (seq, hash)),
            Self::Given(r) => Ok((r.seq, r.hash)),
        }
    }

    fn record(&self, arena: &Arena) -> Result<Record> {
        match self {
            Self::Sealed(span) => {
                let (_, hash, json) = Self::parts(arena.get(*span)?)?;
                unseal_json(json, hash)
            }
            Self::Given(r) => Ok((**r).clone()),
        }
    }
}

/// The size of an arena block: above glibc's mmap threshold (128 KiB at start), so blocks are
/// normally mapped on their own, outside the heap the engine's short-lived data churns
/// through. glibc raises the threshold when a mapped chunk is freed (up to 32 MiB), after
/// which blocks come from the heap; they are still few and large, so records stay together.
const BLOCK: usize = 1 << 20;

/// Where a sealed record's bytes are in the [`Arena`].
#[derive(Clone, Copy)]
struct Span {
    block: u32,
    start: u32,
    len: u32,
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
    journals: HashMap<ReleaseId, Vec<Kept>>,
    /// lock → (current lease, last token issued)
    locks: HashMap<String, (Option<Lease>, u64)>,
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
        self.lock().journals.insert(release.clone(), kept);
    }
}

fn check_fence(state: &State, fence: &Fence) -> Result<()> {
    let current = state.locks.get(&fence.lock).map_or(0, |(_, last)| *last);
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
        let journal = match journals.get_mut(&draft.release) {
            Some(journal) => journal,
            None => journals.entry(draft.release.clone()).or_default(),
        };
        let (seq, prev) = match journal.last() {
            Some(kept) => {
                let (seq, hash) = kept.seq_and_hash(arena)?;
                (seq + 1, hash)
            }
            None => (1, GENESIS),
        };
        let sealed = seal_into(draft, seq, prev, scratch)
            .and_then(|record| Ok((Kept::sealed(arena, seq, record.hash, scratch)?, record)));
        if scratch.capacity() > SCRATCH_KEPT {
            *scratch = Vec::new();
        }
        let (kept, record) = sealed?;
        if journal.len() == journal.capacity() {
            journal.reserve_exact((journal.len() / 4).max(8));
        }
        journal.push(kept);
        if matches!(record.event, Event::ReleaseFinished { .. }) {
            journal.shrink_to_fit();
        }
        Ok(record)
    }

    async fn events(&self, release: &ReleaseId, after: u64) -> Result<Vec<Record>> {
        let state = self.lock();
        Ok(state
            .journals
            .get(release)
            // Records are numbered 1, 2, 3… in order, so `after` is also an index.
            .map(|j| {
                let from = usize::try_from(after).unwrap_or(usize::MAX).min(j.len());
                j[from..].iter().map(|k| k.record(&state.arena)).collect()
            })
            .transpose()?
            .unwrap_or_default())
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
            None => state.locks.entry(lock.to_owned()).or_insert((None, 0)),
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
        let entry = match state.locks.get_mut(&lease.lock) {
            Some(entry) => entry,
            None => state.locks.entry(lease.lock.clone()).or_insert((None, 0)),
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
        if let Some(entry) = state.locks.get_mut(&lease.lock)
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

    #[test]
    fn a_journal_of_sixty_records_stays_below_the_large_bin_size() {
        // Two words per record (issue #10: see `Kept`).
        assert_eq!(std::mem::size_of::<Kept>(), 16);
        assert!(60 * std::mem::size_of::<Kept>() < 1024);
    }

    #[test]
    fn sealed_records_share_blocks_and_keep_their_number_and_hash() {
        let mut arena = Arena::default();
        let hash = Sha256Digest::of(b"x");
        let a = Kept::sealed(&mut arena, 7, hash, b"{}").unwrap();
        let b = Kept::sealed(&mut arena, 8, hash, b"[1]").unwrap();
        assert_eq!(a.seq_and_hash(&arena).unwrap(), (7, hash));
        assert_eq!(b.seq_and_hash(&arena).unwrap(), (8, hash));
        let (Kept::Sealed(sa), Kept::Sealed(sb)) = (&a, &b) else {
            panic!("sealed")
        };
        assert_eq!((sa.block, sb.block), (0, 0));
        assert_eq!(sb.start as usize, SEALED_HEADER + 2);
        assert_eq!(Kept::parts(arena.get(*sb).unwrap()).unwrap().2, b"[1]");
        // A header cut short, or a span outside the arena, is an error, not a panic.
        assert!(Kept::parts(&arena.get(*sa).unwrap()[..SEALED_HEADER - 1]).is_err());
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
