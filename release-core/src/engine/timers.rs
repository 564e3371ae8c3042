//! One clock sleep per deadline, shared by every run that waits for it.
//!
//! Releases started together sleep together: 10,000 canaries started by one call on a
//! virtual clock pause for the same minute, renew their leases at the same instant and poll
//! their targets on the same beat. Each run asking the clock for its own sleep put 10,000
//! entries into Tokio's timer wheel, each inside its run's own future somewhere in the
//! heap, and every expiry walked them one cache miss at a time: the largest part of the
//! engine's extra cost per release at 10,000 releases in the profile (issue #10,
//! BENCHMARKS.md). Here the first run to wait for a deadline makes the clock sleep and the
//! others wait on the same sleep ([`futures_util::future::Shared`]); expiry wakes them from
//! one contiguous list.
//!
//! Deadlines are rounded up to the next whole millisecond of the clock's time, the
//! resolution of Tokio's timers, so a run wakes at most a millisecond later than it asked
//! (never earlier). What groups in practice: runs on a virtual clock, and on a real clock
//! runs whose deadlines fall in the same millisecond — few, unless releases are started in
//! a burst. Where nothing groups, a sleep costs about what it did (a map insert instead of a
//! timer-wheel insert, both behind a lock). An engine runs on one Tokio runtime: a sleep
//! made on one runtime is shared only with runs of the same engine, and an engine whose
//! runtime shut down cannot be driven from another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use crate::plugin::Clock;

/// A sleep until one deadline, awaited by any number of runs.
pub(crate) type Tick = Shared<BoxFuture<'static, ()>>;

/// The engine's pending deadlines.
#[derive(Default)]
pub(crate) struct Timers {
    pending: Mutex<BTreeMap<DateTime<Utc>, Tick>>,
}

impl Timers {
    /// A sleep of `duration` from `now` on `clock`, shared with every other wait for the
    /// same deadline.
    pub(crate) fn after(
        &self,
        clock: &Arc<dyn Clock>,
        now: DateTime<Utc>,
        duration: Duration,
    ) -> Tick {
        let Some(deadline) = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .and_then(whole_millisecond)
        else {
            // Beyond the calendar: a sleep of its own, never grouped.
            let clock = Arc::clone(clock);
            return async move { clock.sleep(duration).await }.boxed().shared();
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tick) = pending.get(&deadline) {
            return tick.clone();
        }
        // Deadlines already passed have woken their waiters (or lost them): forget them.
        while let Some(entry) = pending.first_entry() {
            if *entry.key() < now {
                drop(entry.remove());
            } else {
                break;
            }
        }
        let clock = Arc::clone(clock);
        let tick = async move {
            let left = (deadline - clock.now()).to_std().unwrap_or(Duration::ZERO);
            clock.sleep(left).await;
        }
        .boxed()
        .shared();
        pending.insert(deadline, tick.clone());
        tick
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// `at`, rounded up to the next whole millisecond.
fn whole_millisecond(at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let below = i64::from(at.timestamp_subsec_nanos() % 1_000_000);
    if below == 0 {
        Some(at)
    } else {
        at.checked_add_signed(chrono::Duration::nanoseconds(1_000_000 - below))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::ManualClock;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn equal_deadlines_share_one_sleep_and_each_wakes_at_its_own() {
        let manual = Arc::new(ManualClock::new(at("2026-12-01T09:00:00Z")));
        let clock: Arc<dyn Clock> = manual.clone();
        let timers = Timers::default();
        let now = clock.now();
        let a = timers.after(&clock, now, Duration::from_secs(60));
        let b = timers.after(&clock, now, Duration::from_secs(60));
        let c = timers.after(&clock, now, Duration::from_secs(30));
        assert_eq!(timers.len(), 2, "one sleep per distinct deadline");
        tokio::pin!(a, b, c);
        assert!(a.as_mut().now_or_never().is_none());
        assert!(b.as_mut().now_or_never().is_none());
        assert!(c.as_mut().now_or_never().is_none());
        manual.advance(Duration::from_secs(30));
        tokio::task::yield_now().await;
        assert!(
            c.as_mut().now_or_never().is_some(),
            "30 s: the earlier deadline"
        );
        assert!(
            a.as_mut().now_or_never().is_none(),
            "30 s: not yet the later one"
        );
        manual.advance(Duration::from_secs(30));
        tokio::task::yield_now().await;
        assert!(a.as_mut().now_or_never().is_some());
        assert!(b.as_mut().now_or_never().is_some());
        // A later wait forgets the deadlines that have passed.
        let _d = timers.after(&clock, clock.now(), Duration::from_secs(1));
        assert_eq!(
            timers.len(),
            2,
            "the 60 s deadline is now, kept; 30 s forgotten"
        );
    }

    #[tokio::test]
    async fn deadlines_in_the_same_millisecond_share_a_sleep_that_ends_on_its_boundary() {
        let manual = Arc::new(ManualClock::new(at("2026-12-01T09:00:00.000100Z")));
        let clock: Arc<dyn Clock> = manual.clone();
        let timers = Timers::default();
        let a = timers.after(&clock, clock.now(), Duration::from_micros(200));
        let b = timers.after(&clock, clock.now(), Duration::from_micros(500));
        assert_eq!(timers.len(), 1, "both end within 09:00:00.001");
        tokio::pin!(a, b);
        manual.advance(Duration::from_micros(500));
        assert!(
            a.as_mut().now_or_never().is_none(),
            "never before the boundary"
        );
        manual.advance(Duration::from_micros(400));
        assert!(a.as_mut().now_or_never().is_some());
        assert!(b.as_mut().now_or_never().is_some());
        assert_eq!(
            whole_millisecond(at("2026-12-01T09:00:00Z")),
            Some(at("2026-12-01T09:00:00Z")),
            "whole milliseconds stay"
        );
    }

    #[tokio::test]
    async fn a_deadline_beyond_the_calendar_gets_a_sleep_of_its_own() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(at("2026-12-01T09:00:00Z")));
        let timers = Timers::default();
        let _tick = timers.after(&clock, clock.now(), Duration::MAX);
        assert_eq!(timers.len(), 0, "not grouped, not kept");
    }
}
