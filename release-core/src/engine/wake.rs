//! Wakes a sleeping run of this engine when an operator acts on its release.
//!
//! A run sleeps through pauses, analysis intervals and watch windows. What an operator does
//! in the meantime (promote, abort, report a critical issue) is journaled by
//! [`Engine`](super::Engine) methods, and the run must see it. Before, a pause found out by
//! polling: it woke every `poll_interval` (5 s), whether or not anything was there to see,
//! which at 10,000 paused releases was most of the engine's work (issue #10). Now an action
//! taken through the same engine ends the run's current sleep slice at once — as Argo
//! Rollouts reacts to `promote` or `abort` on the watch event rather than at the next
//! resync — and a pause otherwise sleeps to its end, waking only for what it has to do:
//! background measurements, rollback triggers (when the release has any) and lease renewal.
//!
//! Actions taken by another process (a `releasectl abort` or `promote` against the same
//! ledger) cannot be signalled; the run sees them when it next reads the journal, at its
//! next lease-renewal slice (`lease_ttl / 3`, 20 s by default). In a pause of a release with
//! rollback triggers that is within `poll_interval`, as before; without triggers it is
//! slower than the 5 s it was.
//!
//! Correctness of the hand-off: [`Wake::bump`] is called after the action is appended, and
//! a run records the counter it has seen ([`Seen::mark`]) *before* it reads the ledger. So
//! an action either was appended before that read (and the read folds it), or it bumps the
//! counter after the mark, and the next sleep returns at once (or is woken while it waits).
//! The sleeper decides from the fold, not from the signal, whether to end its sleep
//! (`Run::nap`): a signal only makes it look.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::id::ReleaseId;

/// The wake signal of one release's runs in this engine.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    actions: AtomicU64,
    notify: Notify,
}

impl Wake {
    /// Signals that an action was journaled: wakes every sleeper of the release.
    fn bump(&self) {
        self.actions.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn current(&self) -> u64 {
        self.actions.load(Ordering::SeqCst)
    }

    /// Waits until an action newer than `seen` is signalled. Returns at once if one already
    /// was.
    pub(crate) async fn acted_since(&self, seen: &Seen) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // `notify_waiters` reaches a `Notified` from its creation on; enabling it as well
        // keeps that true should this ever move to `notify_one`.
        notified.as_mut().enable();
        if self.current() != seen.0.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

/// The action counter a run had seen at its last read of the ledger.
#[derive(Debug, Default)]
pub(crate) struct Seen(AtomicU64);

impl Seen {
    /// Records the counter; call right before reading the ledger.
    pub(crate) fn mark(&self, wake: &Wake) {
        self.0.store(wake.current(), Ordering::SeqCst);
    }
}

/// The engine's running releases and their wake signals.
#[derive(Debug, Default)]
pub(crate) struct Running {
    releases: Mutex<HashMap<ReleaseId, (Arc<Wake>, usize)>>,
}

impl Running {
    /// Registers a run of `release`; it stays registered while the guard lives.
    pub(crate) fn register(self: &Arc<Self>, release: &ReleaseId) -> Registration {
        let mut releases = self.releases.lock().unwrap_or_else(|p| p.into_inner());
        let entry = releases
            .entry(release.clone())
            .or_insert_with(|| (Arc::new(Wake::default()), 0));
        entry.1 += 1;
        Registration {
            running: Arc::clone(self),
            release: release.clone(),
            wake: Arc::clone(&entry.0),
        }
    }

    /// Wakes the runs of `release` in this engine, if any.
    pub(crate) fn signal(&self, release: &ReleaseId) {
        let wake = {
            let releases = self.releases.lock().unwrap_or_else(|p| p.into_inner());
            releases.get(release).map(|(wake, _)| Arc::clone(wake))
        };
        if let Some(wake) = wake {
            wake.bump();
        }
    }
}

/// A run's registration; unregisters on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    running: Arc<Running>,
    release: ReleaseId,
    wake: Arc<Wake>,
}

impl Registration {
    /// The release's wake signal.
    pub(crate) fn wake(&self) -> &Wake {
        &self.wake
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut releases = self
            .running
            .releases
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = releases.get_mut(&self.release) {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                releases.remove(&self.release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn a_signal_after_the_mark_ends_the_wait_and_one_before_does_not() {
        let running = Arc::new(Running::default());
        let id = ReleaseId::from("shop-1.0.0");
        let registration = running.register(&id);
        let seen = Seen::default();
        running.signal(&id);
        // Signalled before the mark: the read that follows the mark sees the action, so
        // the wait must not return for it.
        seen.mark(registration.wake());
        let wait = registration.wake().acted_since(&seen);
        tokio::pin!(wait);
        assert!(
            wait.as_mut().now_or_never().is_none(),
            "an action seen already must not wake the run"
        );
        running.signal(&id);
        assert!(wait.as_mut().now_or_never().is_some());
        // A signal between two waits (the run was busy) ends the next wait at once.
        running.signal(&id);
        assert!(
            registration
                .wake()
                .acted_since(&seen)
                .now_or_never()
                .is_some()
        );
    }

    #[tokio::test]
    async fn registrations_are_counted_and_removed_with_the_last() {
        let running = Arc::new(Running::default());
        let id = ReleaseId::from("shop-1.0.0");
        let first = running.register(&id);
        let second = running.register(&id);
        drop(first);
        let seen = Seen::default();
        seen.mark(second.wake());
        running.signal(&id);
        assert!(second.wake().acted_since(&seen).now_or_never().is_some());
        drop(second);
        assert!(
            running
                .releases
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
        );
        // Signalling a release no run has is a no-op.
        running.signal(&id);
    }
}
