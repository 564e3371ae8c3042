//! The ledger suite.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind};
use crate::id::ReleaseId;
use crate::ledger::{Event, EventDraft, Fence, Lease, Ledger, Record, hash_record, verify_chain};

use super::{ConformanceFailure, ConformanceReport, Context, Run, ensure};

const TTL: Duration = Duration::from_secs(30);
const CONCURRENT_APPENDS: usize = 50;

fn t0() -> DateTime<Utc> {
    // 2030-01-01T00:00:00Z; a constant, so the suite is deterministic.
    DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn release(check: &str) -> ReleaseId {
    ReleaseId::new(format!("conformance-ledger-{check}"))
}

fn lock_name(check: &str) -> String {
    format!("conformance-ledger-{check}")
}

fn draft(release: &ReleaseId, i: usize) -> EventDraft {
    EventDraft::new(
        release.clone(),
        at(i as i64),
        "conformance",
        Vec::new(),
        Event::Paused {
            environment: None,
            reason: format!("conformance event {i}"),
        },
    )
}

async fn append(
    ledger: &dyn Ledger,
    d: EventDraft,
    fence: Option<&Fence>,
) -> Result<Record, String> {
    let what = format!("append to {}", d.release);
    ledger.append(d, fence).await.context(&what)
}

async fn all(ledger: &dyn Ledger, r: &ReleaseId) -> Result<Vec<Record>, String> {
    ledger.events(r, 0).await.context(&format!("reading {r}"))
}

async fn acquire(ledger: &dyn Ledger, lock: &str, holder: &str, now: i64) -> Result<Lease, String> {
    ledger
        .acquire(lock, holder, TTL, at(now))
        .await
        .context(&format!("{holder} acquiring `{lock}` at t0+{now}s"))
}

fn expect_kind<T: std::fmt::Debug>(
    got: crate::Result<T>,
    kind: ErrorKind,
    what: &str,
) -> Result<Error, String> {
    match got {
        Err(e) if e.kind() == kind => Ok(e),
        Err(e) => Err(format!("{what}: expected a {kind:?} error, got: {e}")),
        Ok(v) => Err(format!("{what}: expected a {kind:?} error, got Ok({v:?})")),
    }
}

/// Polls every future on the current task until all are done: concurrency (interleaving)
/// without needing `'static` futures.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Appends `n` events and checks they continue the release's numbering without gaps.
async fn append_n(ledger: &dyn Ledger, r: &ReleaseId, n: usize) -> Result<Vec<Record>, String> {
    let base = all(ledger, r).await?.len() as u64;
    let mut out = Vec::new();
    for i in 0..n {
        let record = append(ledger, draft(r, i), None).await?;
        let expected = base + i as u64 + 1;
        ensure!(
            record.seq == expected,
            "append number {} to {r} got seq {}, expected {expected}",
            i + 1,
            record.seq
        );
        let hash = hash_record(&record).context("hashing the returned record")?;
        ensure!(
            hash == record.hash,
            "the record returned for seq {} carries hash {} but its content hashes to {hash}",
            record.seq,
            record.hash
        );
        out.push(record);
    }
    Ok(out)
}

/// Runs the ledger suite.
///
/// Checks: `append_numbers_from_one` (seq 1..n, each record's hash matches its content, the
/// stored journal equals what was returned and passes [`verify_chain`]), `events_after_filters`,
/// `unknown_release_is_empty`, `releases_sorted`, `lease_exclusive`,
/// `lease_reacquire_renews_same_token`, `lease_taken_after_expiry`,
/// `fencing_tokens_increase`, `renew_after_loss_is_stale`, `stale_fence_append_refused`
/// (refused with [`Error::StaleFence`] and nothing written), `release_frees_lock` (and
/// releasing a lost lease is harmless), `concurrent_appends` (50 interleaved appends give a
/// gap-free chain that verifies).
///
/// Lease times are passed explicitly from a fixed instant, as the engine passes its clock's.
/// Run it against a fresh backend: journals and locks are named `conformance-ledger-*`.
pub async fn ledger_conformance(
    ledger: &dyn Ledger,
) -> Result<ConformanceReport, ConformanceFailure> {
    let mut run = Run::new("ledger");

    run.check("append_numbers_from_one", async {
        let r = release("append");
        let returned = append_n(ledger, &r, 5).await?;
        let stored = all(ledger, &r).await?;
        ensure!(
            stored.len() >= 5 && stored[stored.len() - 5..] == returned[..],
            "the stored journal of {r} does not end with the 5 records append returned"
        );
        ensure!(
            stored.first().is_some_and(|f| f.seq == 1),
            "the journal of {r} does not start at seq 1"
        );
        verify_chain(&stored).map_err(|e| format!("the stored journal does not verify: {e}"))
    })
    .await;

    run.check("events_after_filters", async {
        let r = release("events-after");
        let records = append_n(ledger, &r, 5).await?;
        let last = records.last().map_or(0, |l| l.seq);
        let after = ledger.events(&r, last - 2).await.context("events after")?;
        let seqs: Vec<u64> = after.iter().map(|r| r.seq).collect();
        ensure!(
            seqs == [last - 1, last],
            "events({r}, after {}) returned seqs {seqs:?}, expected [{}, {last}]",
            last - 2,
            last - 1
        );
        let none = ledger
            .events(&r, last)
            .await
            .context("events after the last")?;
        ensure!(
            none.is_empty(),
            "events after the last seq should be empty, got {} records",
            none.len()
        );
        Ok(())
    })
    .await;

    run.check("unknown_release_is_empty", async {
        let got = all(ledger, &release("never-written")).await?;
        ensure!(
            got.is_empty(),
            "a release never written should have no records, got {}",
            got.len()
        );
        Ok(())
    })
    .await;

    run.check("releases_sorted", async {
        let b = release("releases-b");
        let a = release("releases-a");
        append(ledger, draft(&b, 0), None).await?;
        append(ledger, draft(&a, 0), None).await?;
        let got = ledger.releases().await.context("listing releases")?;
        ensure!(
            got.contains(&a) && got.contains(&b),
            "releases() does not list {a} and {b}: {got:?}"
        );
        ensure!(
            got.windows(2).all(|p| p[0] < p[1]),
            "releases() is not sorted without duplicates: {got:?}"
        );
        Ok(())
    })
    .await;

    run.check("lease_exclusive", async {
        let lock = lock_name("exclusive");
        let a = acquire(ledger, &lock, "holder-a", 0).await?;
        let e = expect_kind(
            ledger.acquire(&lock, "holder-b", TTL, at(10)).await,
            ErrorKind::LockHeld,
            "holder-b acquiring a lock holder-a holds",
        )?;
        if let Error::LockHeld { holder, .. } = &e {
            ensure!(
                holder == "holder-a",
                "LockHeld names holder `{holder}`, expected `holder-a`"
            );
        }
        ledger.release(&a).await.context("releasing")?;
        Ok(())
    })
    .await;

    run.check("lease_reacquire_renews_same_token", async {
        let lock = lock_name("reacquire");
        let first = acquire(ledger, &lock, "holder-a", 0).await?;
        let again = acquire(ledger, &lock, "holder-a", 5).await?;
        ensure!(
            again.token == first.token,
            "the holder re-acquiring its live lease got token {}, expected the same token {}",
            again.token,
            first.token
        );
        ensure!(
            again.expires_at == at(35),
            "re-acquiring at t0+5s with ttl 30s should expire at {}, got {}",
            at(35),
            again.expires_at
        );
        let renewed = ledger
            .renew(&again, TTL, at(20))
            .await
            .context("renewing a live lease")?;
        ensure!(
            renewed.token == first.token && renewed.expires_at == at(50),
            "renew at t0+20s should keep token {} and expire at {}, got token {} expiring {}",
            first.token,
            at(50),
            renewed.token,
            renewed.expires_at
        );
        ledger.release(&renewed).await.context("releasing")?;
        Ok(())
    })
    .await;

    run.check("lease_taken_after_expiry", async {
        let lock = lock_name("expiry");
        let a = acquire(ledger, &lock, "holder-a", 0).await?;
        let b = acquire(ledger, &lock, "holder-b", 31).await?;
        ensure!(
            b.token > a.token,
            "the lease taken after expiry has token {}, not greater than the expired one's {}",
            b.token,
            a.token
        );
        ledger.release(&b).await.context("releasing")?;
        Ok(())
    })
    .await;

    run.check("fencing_tokens_increase", async {
        let lock = lock_name("tokens");
        let mut last: Option<u64> = None;
        for i in 0..5i64 {
            let holder = format!("holder-{}", i % 2);
            let lease = acquire(ledger, &lock, &holder, i * 60).await?;
            if let Some(prev) = last {
                ensure!(
                    lease.token > prev,
                    "acquisition {} got token {}, not greater than the previous {prev}",
                    i + 1,
                    lease.token
                );
            }
            last = Some(lease.token);
            if i % 2 == 1 {
                ledger.release(&lease).await.context("releasing")?;
            }
        }
        Ok(())
    })
    .await;

    run.check("renew_after_loss_is_stale", async {
        let lock = lock_name("renew-lost");
        let a = acquire(ledger, &lock, "holder-a", 0).await?;
        let b = acquire(ledger, &lock, "holder-b", 40).await?;
        expect_kind(
            ledger.renew(&a, TTL, at(41)).await,
            ErrorKind::StaleFence,
            "holder-a renewing a lease holder-b has since taken",
        )?;
        ledger.release(&b).await.context("releasing")?;
        Ok(())
    })
    .await;

    run.check("stale_fence_append_refused", async {
        let lock = lock_name("stale-append");
        let r = release("stale-append");
        let a = acquire(ledger, &lock, "holder-a", 0).await?;
        append(ledger, draft(&r, 0), Some(&a.fence())).await?;
        let b = acquire(ledger, &lock, "holder-b", 40).await?;
        let before = all(ledger, &r).await?;
        expect_kind(
            ledger.append(draft(&r, 1), Some(&a.fence())).await,
            ErrorKind::StaleFence,
            "appending with the fence of a lost lease",
        )?;
        let after = all(ledger, &r).await?;
        ensure!(
            before == after,
            "the refused append wrote something: {} records before, {} after",
            before.len(),
            after.len()
        );
        append(ledger, draft(&r, 2), Some(&b.fence())).await?;
        verify_chain(&all(ledger, &r).await?)
            .map_err(|e| format!("the journal does not verify: {e}"))?;
        ledger.release(&b).await.context("releasing")?;
        Ok(())
    })
    .await;

    run.check("release_frees_lock", async {
        let lock = lock_name("release");
        let a = acquire(ledger, &lock, "holder-a", 0).await?;
        ledger.release(&a).await.context("releasing a live lease")?;
        let b = acquire(ledger, &lock, "holder-b", 1).await?;
        ensure!(
            b.token > a.token,
            "the lease taken after a release has token {}, not greater than {}",
            b.token,
            a.token
        );
        ledger
            .release(&a)
            .await
            .context("releasing a lease that was already given back")?;
        expect_kind(
            ledger.acquire(&lock, "holder-c", TTL, at(2)).await,
            ErrorKind::LockHeld,
            "releasing a stale lease must not free the current holder's lock; holder-c acquiring",
        )?;
        ledger.release(&b).await.context("releasing")?;
        Ok(())
    })
    .await;

    run.check("concurrent_appends", async {
        let r = release("concurrent");
        let base = all(ledger, &r).await?.len() as u64;
        let futures: Vec<_> = (0..CONCURRENT_APPENDS)
            .map(|i| ledger.append(draft(&r, i), None))
            .collect();
        for result in join_all(futures).await {
            result.context("a concurrent append")?;
        }
        let stored = all(ledger, &r).await?;
        let seqs: Vec<u64> = stored.iter().map(|r| r.seq).collect();
        let expected: Vec<u64> = (1..=base + CONCURRENT_APPENDS as u64).collect();
        ensure!(
            seqs == expected,
            "{CONCURRENT_APPENDS} concurrent appends left seqs {seqs:?}; expected 1..={}",
            base + CONCURRENT_APPENDS as u64
        );
        verify_chain(&stored).map_err(|e| format!("after concurrent appends: {e}"))
    })
    .await;

    run.finish()
}

/// Runs the ledger's parallel checks with spawned tasks (on a multi-threaded runtime they
/// run on several threads at once), which a `&dyn Ledger` cannot do.
///
/// Checks: `parallel_appends` (50 tasks append to one release: a gap-free chain that
/// verifies), `parallel_acquire` (50 holders race for one lock at the same instant: exactly
/// one wins, every other gets [`Error::LockHeld`]).
///
/// ```
/// # #[cfg(feature = "testkit")]
/// # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use release_core::ledger::InMemoryLedger;
/// use release_core::testkit::conformance::ledger_parallel_conformance;
///
/// ledger_parallel_conformance(Arc::new(InMemoryLedger::new())).await.unwrap();
/// # });
/// ```
pub async fn ledger_parallel_conformance(
    ledger: Arc<dyn Ledger>,
) -> Result<ConformanceReport, ConformanceFailure> {
    let mut run = Run::new("ledger_parallel");

    run.check("parallel_appends", async {
        let r = release("parallel");
        let base = all(ledger.as_ref(), &r).await?.len() as u64;
        let tasks: Vec<_> = (0..CONCURRENT_APPENDS)
            .map(|i| {
                let ledger = ledger.clone();
                let d = draft(&r, i);
                tokio::spawn(async move { ledger.append(d, None).await })
            })
            .collect();
        for task in tasks {
            task.await
                .map_err(|e| format!("an append task panicked: {e}"))?
                .context("a parallel append")?;
        }
        let stored = all(ledger.as_ref(), &r).await?;
        let seqs: Vec<u64> = stored.iter().map(|r| r.seq).collect();
        let expected: Vec<u64> = (1..=base + CONCURRENT_APPENDS as u64).collect();
        ensure!(
            seqs == expected,
            "{CONCURRENT_APPENDS} parallel appends left seqs {seqs:?}; expected 1..={}",
            base + CONCURRENT_APPENDS as u64
        );
        verify_chain(&stored).map_err(|e| format!("after parallel appends: {e}"))
    })
    .await;

    run.check("parallel_acquire", async {
        let lock = lock_name("parallel-acquire");
        let tasks: Vec<_> = (0..CONCURRENT_APPENDS)
            .map(|i| {
                let ledger = ledger.clone();
                let lock = lock.clone();
                tokio::spawn(async move {
                    ledger
                        .acquire(&lock, &format!("holder-{i}"), TTL, at(0))
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task
                .await
                .map_err(|e| format!("an acquire task panicked: {e}"))?
            {
                Ok(lease) => winners.push(lease),
                Err(e) if e.kind() == ErrorKind::LockHeld => {}
                Err(e) => return Err(format!("a racing acquire failed with {e}, not LockHeld")),
            }
        }
        ensure!(
            winners.len() == 1,
            "{} of {CONCURRENT_APPENDS} racing holders got the lock: {:?}",
            winners.len(),
            winners.iter().map(|l| &l.holder).collect::<Vec<_>>()
        );
        for lease in &winners {
            ledger.release(lease).await.context("releasing")?;
        }
        Ok(())
    })
    .await;

    run.finish()
}
