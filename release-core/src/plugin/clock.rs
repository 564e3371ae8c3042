//! Time, injected: the engine never reads the system clock directly, so windows, pauses and
//! watch periods are testable in virtual time.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// Where the engine gets the time from.
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// Waits for `duration` of this clock's time.
    async fn sleep(&self, duration: Duration);
}

fn _assert_object_safe(_: &dyn Clock) {}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A clock that moves only when told to: `advance` wakes every sleeper whose time has come.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: watch::Sender::new(start),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.now
            .send_modify(|t| *t = t.checked_add_signed(by).unwrap_or(*t));
    }

    /// Sets the clock (never backwards).
    pub fn set(&self, to: DateTime<Utc>) {
        self.now.send_modify(|t| {
            if to > *t {
                *t = to;
            }
        });
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    async fn sleep(&self, duration: Duration) {
        let by = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        let Some(deadline) = self.now().checked_add_signed(by) else {
            return;
        };
        let mut rx = self.now.subscribe();
        // Sender lives as long as self, so wait_for only fails if self is dropped mid-sleep.
        let _ = rx.wait_for(|t| *t >= deadline).await;
    }
}

/// Virtual time on tokio's clock: with a paused runtime (`tokio::time::pause`, or
/// `#[tokio::test(start_paused = true)]`), time jumps to the next timer whenever every task
/// waits, so a release with hours of pauses simulates in milliseconds — deterministically.
#[derive(Debug)]
pub struct TokioClock {
    origin: Mutex<Option<(tokio::time::Instant, DateTime<Utc>)>>,
    start: DateTime<Utc>,
}

impl TokioClock {
    /// A clock whose time starts at `start` when first read.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            origin: Mutex::new(None),
            start,
        }
    }
}

#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let mut origin = match self.origin.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (instant, start) = *origin.get_or_insert((tokio::time::Instant::now(), self.start));
        let elapsed =
            chrono::Duration::from_std(instant.elapsed()).unwrap_or(chrono::Duration::MAX);
        start.checked_add_signed(elapsed).unwrap_or(start)
    }

    async fn sleep(&self, duration: Duration) {
        let _ = self.now();
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_when_advanced() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Arc::new(ManualClock::new(start));
        let c = clock.clone();
        let sleeper = tokio::spawn(async move {
            c.sleep(Duration::from_secs(60)).await;
            c.now()
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(30));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(30));
        let woke = sleeper.await.unwrap();
        assert_eq!(woke, start + chrono::Duration::seconds(60));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_runs_in_virtual_time() {
        let start = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .unwrap()
            .to_utc();
        let clock = TokioClock::new(start);
        assert_eq!(clock.now(), start);
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), start + chrono::Duration::hours(1));
    }
}
