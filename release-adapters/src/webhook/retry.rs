//! The backoff schedule (seeded jitter) and `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RetryPolicy;

/// SplitMix64: a tiny, well-mixed generator; seeded, so schedules are reproducible.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// FNV-1a, to fold a delivery's identity into the seed.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl RetryPolicy {
    /// The waits before attempts 2, 3, … `max_attempts` of the delivery identified by
    /// `key` (the notifier uses `<endpoint>/<release>/<seq>`), when no `Retry-After` says
    /// otherwise. The same policy and key always give the same schedule.
    ///
    /// ```
    /// use release_adapters::webhook::RetryPolicy;
    /// let policy = RetryPolicy::default().with_max_attempts(4).with_jitter_percent(0);
    /// let waits: Vec<u64> = policy.schedule("ops/shop-1.0.0/7").iter().map(|d| d.as_millis() as u64).collect();
    /// assert_eq!(waits, [500, 1000, 2000]);
    /// ```
    pub fn schedule(&self, key: &str) -> Vec<Duration> {
        let mut rng = SplitMix64(self.seed ^ fnv1a(key));
        let jitter = f64::from(self.jitter_percent.min(100)) / 100.0;
        let mut base = self.initial_backoff_ms as f64;
        (1..self.max_attempts)
            .map(|_| {
                let capped = base.min(self.max_backoff_ms as f64);
                let factor = 1.0 + jitter * (2.0 * rng.unit() - 1.0);
                base *= f64::from(self.multiplier.max(1));
                Duration::from_millis((capped * factor).round().max(0.0) as u64)
            })
            .collect()
    }
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP date (RFC 9110).
pub(crate) fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.to_utc();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_seeded_bounded_and_capped() {
        let policy = RetryPolicy::default()
            .with_max_attempts(10)
            .with_backoff(Duration::from_millis(100), Duration::from_millis(2_000))
            .with_jitter_percent(20)
            .with_seed(7);
        let a = policy.schedule("ops/r/1");
        assert_eq!(a, policy.schedule("ops/r/1"), "same key, same schedule");
        assert_ne!(
            a,
            policy.schedule("ops/r/2"),
            "deliveries do not retry in lockstep"
        );
        assert_ne!(a, policy.clone().with_seed(8).schedule("ops/r/1"));
        assert_eq!(a.len(), 9);
        for (i, d) in a.iter().enumerate() {
            let base = (100u64 << i).min(2_000) as f64;
            let ms = d.as_millis() as f64;
            assert!(
                ms >= base * 0.8 - 1.0 && ms <= base * 1.2 + 1.0,
                "wait {i}: {ms} vs {base}"
            );
        }
        assert!(policy.clone().with_max_attempts(1).schedule("x").is_empty());
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }
}
