//! The RCA gate (`rca_closed`, M8.6): a component that was rolled back does not ship again
//! until the root-cause analysis of that rollback is closed.
//!
//! The engine opens an RCA (`rca_opened`) in the journal of the release whose stage rolled
//! back; a person closes it with `Engine::close_rca`. The gate must therefore read *other*
//! releases' journals, which `GateContext` does not carry: it is built with the
//! [`Ledger`](release_core::ledger::Ledger) (an `Arc<dyn Ledger>`). Journals are append-only,
//! so the gate keeps, per release, the RCA records it has seen and the sequence number and
//! hash it read up to, and each evaluation reads only the records appended since (one
//! `Ledger::events` query per release, from the last record read): the records it decodes
//! follow what changed, not the journals' length. A journal whose last read record no longer
//! has the hash the gate saw (restored from a backup, recreated) is read again from the start.
//! [`register`](super::register) builds it with the ledger already set on the
//! `EngineBuilder` — call `.ledger(...)` before `register`.
//!
//! Decisions: the gate checks the components the release ships; **every** open RCA naming one
//! of them blocks (the one of its last rollback and any older one still open, since each
//! rollback requires its RCA). Blocking is a *wait*, not a failure: closing the RCA and
//! resuming lets the release go on, as a CI job would expect. The release's own journal is
//! read too, so a retry after a rollback also waits for the RCA.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use release_core::closure::{Rca, rcas_by_component};
use release_core::id::ComponentId;
use release_core::id::ReleaseId;
use release_core::ledger::{Event, Ledger, Record};
use release_core::model::Release;
use release_core::plugin::{Gate, GateContext, GateVerdict, Reason};

/// The verdict for `release` given the journals of every release (the gate's pure core).
pub fn rca_verdict(release: &Release, journals: &[Vec<Record>]) -> GateVerdict {
    let by_component = rcas_by_component(journals);
    let mut open: Vec<(&ComponentId, &Rca)> = Vec::new();
    let mut closed = 0usize;
    for component in release.components.keys() {
        if let Some(rcas) = by_component.get(component) {
            open.extend(rcas.open.iter().map(|r| (component, r)));
            closed += rcas.closed.len();
        }
    }
    if open.is_empty() {
        return GateVerdict::Pass {
            reasons: vec![Reason::new(
                "rca.none_open",
                if closed == 0 {
                    "no component of the release has been rolled back".to_owned()
                } else {
                    format!(
                        "every root-cause analysis of the release's components is closed ({closed})"
                    )
                },
            )],
        };
    }
    GateVerdict::Wait {
        until: None,
        reasons: open
            .into_iter()
            .map(|(component, rca)| {
                Reason::new(
                    "rca.open",
                    format!(
                        "{component} was rolled back in {} by release {} ({}); root-cause analysis {} \
                         is open: close it with `Engine::close_rca` on release {}, then resume",
                        rca.environment, rca.release, rca.reason, rca.id, rca.release
                    ),
                )
            })
            .collect(),
    }
}

/// What the gate has read of one release's journal.
#[derive(Default)]
struct Seen {
    /// The last sequence number read.
    through: u64,
    /// The hash of that record: the next record must chain to it, or the journal was
    /// rewritten (restored from a backup, recreated) and is read again from the start.
    head: Option<release_core::digest::Sha256Digest>,
    /// The RCA records among them (`rca_opened`, `rca_closed`).
    rca_records: Vec<Record>,
}

/// The `rca_closed` gate: reads the RCA records of every release's journal from the ledger it
/// was built with, incrementally. Clones share what was read.
#[derive(Clone)]
pub struct RcaGate {
    ledger: Option<Arc<dyn Ledger>>,
    seen: Arc<Mutex<BTreeMap<ReleaseId, Seen>>>,
}

impl std::fmt::Debug for RcaGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RcaGate")
            .field("ledger", &self.ledger.is_some())
            .finish()
    }
}

impl RcaGate {
    /// A gate reading the journals of `ledger`.
    pub fn new(ledger: Arc<dyn Ledger>) -> Self {
        Self {
            ledger: Some(ledger),
            seen: Arc::default(),
        }
    }

    /// A gate without a ledger: every evaluation fails, saying how to fix the registration.
    pub fn without_ledger() -> Self {
        Self {
            ledger: None,
            seen: Arc::default(),
        }
    }

    /// Reads what every journal gained since the last evaluation and returns the RCA records
    /// of each release.
    async fn rca_journals(&self, ledger: &dyn Ledger) -> release_core::Result<Vec<Vec<Record>>> {
        let releases = ledger.releases().await?;
        let cursors: Vec<(ReleaseId, u64, Option<release_core::digest::Sha256Digest>)> = {
            let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            releases
                .iter()
                .map(|r| {
                    let s = seen.get(r);
                    (
                        r.clone(),
                        s.map_or(0, |s| s.through),
                        s.and_then(|s| s.head),
                    )
                })
                .collect()
        };
        let mut fresh = Vec::with_capacity(cursors.len());
        for (release, after, head) in cursors {
            // From one record back, so the chain shows whether the journal is the one read.
            let mut records = ledger.events(&release, after.saturating_sub(1)).await?;
            let continues = match (after, records.first()) {
                (0, _) => true,
                (_, Some(last_read)) => last_read.seq == after && Some(last_read.hash) == head,
                (_, None) => false,
            };
            if continues {
                if after > 0 {
                    records.remove(0);
                }
                fresh.push((release, records, false));
            } else {
                fresh.push((release.clone(), ledger.events(&release, 0).await?, true));
            }
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Releases no longer in the ledger are forgotten.
        seen.retain(|r, _| releases.contains(r));
        for (release, records, reread) in fresh {
            let entry = seen.entry(release).or_default();
            if reread {
                *entry = Seen::default();
            }
            // Another evaluation may have read some of them meanwhile: keep each once.
            for record in records {
                if record.seq <= entry.through {
                    continue;
                }
                entry.through = record.seq;
                entry.head = Some(record.hash);
                if matches!(record.event, Event::RcaOpened(_) | Event::RcaClosed(_)) {
                    entry.rca_records.push(record);
                }
            }
        }
        Ok(seen.values().map(|s| s.rca_records.clone()).collect())
    }
}

#[async_trait]
impl Gate for RcaGate {
    async fn evaluate(&self, context: &GateContext) -> release_core::Result<GateVerdict> {
        let Some(ledger) = &self.ledger else {
            return Ok(GateVerdict::Fail {
                reasons: vec![Reason::new(
                    "rca.no_ledger",
                    "the rca_closed gate was registered without a ledger: call \
                     `.ledger(...)` on the EngineBuilder before `release_gates::promotion::register`, \
                     or register `RcaGate::new(ledger)` yourself",
                )],
            });
        };
        let journals = self.rca_journals(ledger.as_ref()).await?;
        Ok(rca_verdict(&context.release, &journals))
    }
}
