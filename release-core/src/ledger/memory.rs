//! The in-memory ledger: the reference implementation, always available.
//!
//! Memory (one engine holding 10,000 releases' journals, `engine-scale`): a record is kept
//! as the bytes its hash is computed over (its JSON without the hash, which sealing produces
//! anyway) plus the hash — one allocation per record instead of a tree of strings, vectors
//! and, in `release_started`, a whole platform and release — and decoded when read. Records
//! are sealed into one buffer the ledger reuses and copied out at their exact size, so an
//! append does not grow and shrink a fresh vector (allocator work that gets slower as the
//! heap fragments, issue #10). The
//! engine reads a journal once per run (and only the records others appended after that), so
//! decoding is rare. A journal grows by a quarter of its length at a time instead of
//! doubling, and is shrunk to its length when its release finishes (`release_finished`; a
//! later append, such as an RCA closure, grows it again); growth stays geometric, so
//! appends stay amortised O(1).
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

/// One record as kept.
enum Kept {
    /// Sealed here: the hashed bytes and the hash.
    Sealed {
        json: Box<[u8]>,
        seq: u64,
        hash: Sha256Digest,
    },
    /// Put in whole by [`InMemoryLedger::overwrite`] (tamper tests): kept as given.
    Given(Box<Record>),
}

impl Kept {
    fn seq_and_hash(&self) -> (u64, Sha256Digest) {
        match self {
            Self::Sealed { seq, hash, .. } => (*seq, *hash),
            Self::Given(r) => (r.seq, r.hash),
        }
    }

    fn record(&self) -> Result<Record> {
        match self {
            Self::Sealed { json, hash, .. } => unseal_json(json, *hash),
            Self::Given(r) => Ok((**r).clone()),
        }
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

    /// Replaces a release's journal wholesale (for tamper tests of verifiers).
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
            journals, scratch, ..
        } = &mut *state;
        let journal = match journals.get_mut(&draft.release) {
            Some(journal) => journal,
            None => journals.entry(draft.release.clone()).or_default(),
        };
        let (seq, prev) = journal.last().map_or((1, GENESIS), |k| {
            let (seq, hash) = k.seq_and_hash();
            (seq + 1, hash)
        });
        let record = seal_into(draft, seq, prev, scratch)?;
        if journal.len() == journal.capacity() {
            journal.reserve_exact((journal.len() / 4).max(8));
        }
        journal.push(Kept::Sealed {
            // One allocation of the exact size (growing a fresh vector reallocated it about
            // four times and its final shrink split a chunk: allocator work that grows with
            // the heap's fragmentation, issue #10).
            json: Box::from(scratch.as_slice()),
            seq,
            hash: record.hash,
        });
        if scratch.capacity() > SCRATCH_KEPT {
            *scratch = Vec::new();
        }
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
                j[from..].iter().map(Kept::record).collect()
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
        match &entry.0 {
            Some(current)
                if current.token == lease.token
                    && current.holder == lease.holder
                    && current.expires_at > now =>
            {
                let renewed = Lease {
                    expires_at,
                    ..current.clone()
                };
                entry.0 = Some(renewed.clone());
                Ok(renewed)
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
