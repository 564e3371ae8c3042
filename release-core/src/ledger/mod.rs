//! The ledger: an append-only, hash-chained journal per release — the single source of truth.
//!
//! Every transition the engine makes is an [`Event`] appended here *before* the engine acts
//! on it; status, resume, reports and the audit trail are folds over the records. Each
//! [`Record`] carries the SHA-256 of its predecessor (M5.3), so [`verify_chain`] finds the
//! first record that was changed, removed or reordered.
//!
//! Decisions:
//! - One chain per release, numbered from 1. Releases do not contend with each other, and a
//!   release's export verifies on its own.
//! - The hashed bytes are `release.ledger.v1\n` followed by the record's JSON without its own
//!   hash (fields in declaration order, maps sorted), so any store that keeps the fields keeps
//!   the hash checkable.
//! - Leases take the time from the caller (the engine's clock), so expiry is testable in
//!   virtual time. A fencing token increases with every acquisition of a lock; an append that
//!   presents an older token than the lock's current one is refused ([`Error::StaleFence`]).

mod chain;
mod event;
mod memory;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use chain::{GENESIS, export_jsonl, hash_record, import_jsonl, seal, verify_chain};
pub use event::{
    AnalysisOutcome, Decision, Event, EventDraft, Feedback, IssueReport, MetricSample,
    MetricSamples, OperatorAction, Outcome, Program, RcaClosure, RcaOpening, Record, RollbackEntry,
    Sentiment, StepKey,
};
pub use memory::InMemoryLedger;

use crate::error::{Error, Result};
use crate::id::ReleaseId;

/// A time-limited, exclusive hold on a named lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The lock (`env:production`, `resource:orders-postgres`).
    pub lock: String,
    /// Who holds it.
    pub holder: String,
    /// Fencing token: increases with every acquisition of this lock.
    pub token: u64,
    /// When it runs out unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// The fence to present with writes made under this lease.
    pub fn fence(&self) -> Fence {
        Fence {
            lock: self.lock.clone(),
            token: self.token,
        }
    }
}

/// Proof of holding a lock, checked by the ledger on append.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The lock.
    pub lock: String,
    /// The token of the lease.
    pub token: u64,
}

/// The journal store: hash-chained appends, reads, and leases with fencing tokens.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Appends an event atomically and returns its record. With a fence, refuses the append
    /// when the lock has since been acquired by someone else.
    async fn append(&self, draft: EventDraft, fence: Option<&Fence>) -> Result<Record>;

    /// The release's records with `seq > after`, in order.
    async fn events(&self, release: &ReleaseId, after: u64) -> Result<Vec<Record>>;

    /// Every release that has records, sorted.
    async fn releases(&self) -> Result<Vec<ReleaseId>>;

    /// Takes a lock for `ttl`, or fails with [`Error::LockHeld`] while another holder's
    /// lease has not expired. The holder's own live lease is renewed with the same token.
    async fn acquire(
        &self,
        lock: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease>;

    /// Extends a lease still held; fails with [`Error::StaleFence`] when it was lost.
    async fn renew(&self, lease: &Lease, ttl: Duration, now: DateTime<Utc>) -> Result<Lease>;

    /// Gives a lock back; releasing a lease that was lost is not an error.
    async fn release(&self, lease: &Lease) -> Result<()>;
}

fn _assert_object_safe(_: &dyn Ledger) {}

/// Reads a release's whole journal.
pub async fn read_all(ledger: &dyn Ledger, release: &ReleaseId) -> Result<Vec<Record>> {
    ledger.events(release, 0).await
}

/// Expiry of a lease of `ttl` taken at `now`.
pub(crate) fn expiry(now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| Error::Invalid(format!("lease ttl {ttl:?} is out of range")))
}
