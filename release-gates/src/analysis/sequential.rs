//! An anytime-valid sequential test for error rates (M8.1): a mixture SPRT (mSPRT) that may
//! be checked after every new observation without inflating false alarms.
//!
//! Each observation is a Bernoulli trial (a request that failed or not; or, comparing a
//! canary with a baseline, an error event that came from the canary or not). Under the null
//! the success probability is `p0`: a fixed error rate, or the canary's share of traffic
//! when errors are attributed to canary or baseline (equal error rates put a share `w` of
//! the errors on a canary that serves a share `w` of the traffic, as in Netflix's sequential
//! canary tests).
//!
//! **Mixing distribution**: Beta(a, b) over the alternative's rate (default a = b = 1,
//! uniform). The statistic is the Bayes factor
//! Λₙ = B(a + S, b + F) / B(a, b) / (p0^S (1 − p0)^F), updated in O(1) per observation
//! in log space. Under the null Λₙ is a nonnegative martingale with mean 1, so by Ville's
//! inequality P(sup Λₙ ≥ 1/α) ≤ α: rejecting the first time Λₙ ≥ 1/α keeps the false-alarm
//! rate at most α however often it is checked. The test is one-sided: it rejects only when
//! the observed rate is above `p0` (a subset of the two-sided rejection event, so still ≤ α).

use serde::{Deserialize, Serialize};

use super::error::AnalysisError;

/// The state of a sequential test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SequentialDecision {
    /// Not enough evidence yet: keep observing.
    Continue,
    /// The rate is above the null rate (with false-alarm probability at most α).
    RateIncreased,
}

/// A mixture SPRT on Bernoulli observations with a Beta mixing distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorRateMsprt {
    p0: f64,
    alpha: f64,
    prior_a: f64,
    prior_b: f64,
    successes: u64,
    failures: u64,
    log_lambda: f64,
    max_log_lambda: f64,
    decided: bool,
}

impl ErrorRateMsprt {
    /// A test of "the rate is `p0`" at level `alpha`, with a uniform Beta(1, 1) mixture.
    ///
    /// # Errors
    /// `p0` or `alpha` not strictly between 0 and 1.
    pub fn new(p0: f64, alpha: f64) -> Result<Self, AnalysisError> {
        Self::with_prior(p0, alpha, 1.0, 1.0)
    }

    /// A test comparing a canary with a baseline: observations are error events, a success
    /// is an error seen on the canary, and `canary_share` is the canary's share of traffic.
    ///
    /// # Errors
    /// A share or `alpha` not strictly between 0 and 1.
    pub fn canary_vs_baseline(canary_share: f64, alpha: f64) -> Result<Self, AnalysisError> {
        Self::new(canary_share, alpha)
    }

    /// A test with a Beta(`a`, `b`) mixing distribution.
    ///
    /// # Errors
    /// Parameters out of range.
    pub fn with_prior(p0: f64, alpha: f64, a: f64, b: f64) -> Result<Self, AnalysisError> {
        if !(p0 > 0.0 && p0 < 1.0) {
            return Err(AnalysisError::out_of_range(
                "p0",
                p0,
                "give the null rate strictly between 0 and 1",
            ));
        }
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(AnalysisError::out_of_range(
                "alpha",
                alpha,
                "give the false-alarm rate strictly between 0 and 1, such as 0.05",
            ));
        }
        if !(a.is_finite() && a > 0.0 && b.is_finite() && b > 0.0) {
            return Err(AnalysisError::out_of_range(
                "prior",
                format!("Beta({a}, {b})"),
                "give finite Beta parameters above 0, such as Beta(1, 1)",
            ));
        }
        Ok(Self {
            p0,
            alpha,
            prior_a: a,
            prior_b: b,
            successes: 0,
            failures: 0,
            log_lambda: 0.0,
            max_log_lambda: 0.0,
            decided: false,
        })
    }

    /// Adds one observation (`true`: an error, or an error on the canary) and returns the
    /// decision. Once the rate is found increased the decision stays.
    pub fn observe(&mut self, success: bool) -> SequentialDecision {
        let n = (self.successes + self.failures) as f64;
        let denom = self.prior_a + self.prior_b + n;
        if success {
            self.log_lambda += ((self.prior_a + self.successes as f64) / denom).ln() - self.p0.ln();
            self.successes += 1;
        } else {
            self.log_lambda +=
                ((self.prior_b + self.failures as f64) / denom).ln() - (1.0 - self.p0).ln();
            self.failures += 1;
        }
        self.max_log_lambda = self.max_log_lambda.max(self.log_lambda);
        let observed = self.successes as f64 / (self.successes + self.failures) as f64;
        if self.log_lambda >= -self.alpha.ln() && observed > self.p0 {
            self.decided = true;
        }
        self.decision()
    }

    /// Adds `successes` and `failures` observations at once (a scrape of counters).
    pub fn observe_counts(&mut self, successes: u64, failures: u64) -> SequentialDecision {
        // Order within a batch does not change Λ; the check is made once per batch.
        for _ in 0..successes {
            self.observe_quiet(true);
        }
        for _ in 0..failures {
            self.observe_quiet(false);
        }
        let n = self.successes + self.failures;
        if n > 0 {
            let observed = self.successes as f64 / n as f64;
            if self.log_lambda >= -self.alpha.ln() && observed > self.p0 {
                self.decided = true;
            }
        }
        self.decision()
    }

    fn observe_quiet(&mut self, success: bool) {
        let decided = self.decided;
        self.observe(success);
        // Decisions inside a batch are made at its end.
        self.decided = decided;
    }

    /// The current decision.
    pub fn decision(&self) -> SequentialDecision {
        if self.decided {
            SequentialDecision::RateIncreased
        } else {
            SequentialDecision::Continue
        }
    }

    /// ln Λₙ, the log mixture likelihood ratio.
    pub fn log_likelihood_ratio(&self) -> f64 {
        self.log_lambda
    }

    /// The always-valid p-value min(1, 1 / max Λ so far): at any stopping time,
    /// P(p ≤ α) ≤ α under the null (two-sided in the rate).
    pub fn p_value(&self) -> f64 {
        (-self.max_log_lambda).exp().min(1.0)
    }

    /// Observations so far (successes, failures).
    pub fn counts(&self) -> (u64, u64) {
        (self.successes, self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64: a seeded, deterministic stream.
    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / 9_007_199_254_740_992.0
        }
    }

    #[test]
    fn false_alarms_stay_below_alpha_when_checked_after_every_observation() {
        // M8.1: 2,000 null streams of 2,000 requests at a 5 % error rate, checked each time.
        let alpha = 0.05;
        let mut rng = Rng(7);
        let streams = 2000;
        let mut alarms = 0;
        for _ in 0..streams {
            let mut t = ErrorRateMsprt::new(0.05, alpha).unwrap();
            for _ in 0..2000 {
                if t.observe(rng.uniform() < 0.05) == SequentialDecision::RateIncreased {
                    alarms += 1;
                    break;
                }
            }
        }
        let rate = alarms as f64 / streams as f64;
        assert!(rate <= alpha, "false-alarm rate {rate} > {alpha}");
    }

    #[test]
    fn detects_a_doubled_error_rate() {
        let mut rng = Rng(11);
        let mut detected = 0;
        let mut stopped_at = Vec::new();
        for _ in 0..200 {
            let mut t = ErrorRateMsprt::new(0.05, 0.05).unwrap();
            for i in 0..3000 {
                if t.observe(rng.uniform() < 0.10) == SequentialDecision::RateIncreased {
                    detected += 1;
                    stopped_at.push(i);
                    break;
                }
            }
        }
        assert!(detected >= 190, "detected only {detected} of 200");
    }

    #[test]
    fn canary_share_of_errors_detects_a_bad_canary() {
        // Canary serves 10 % of traffic but gets 30 % of the errors.
        let mut rng = Rng(3);
        let mut t = ErrorRateMsprt::canary_vs_baseline(0.10, 0.01).unwrap();
        let mut decision = SequentialDecision::Continue;
        for _ in 0..500 {
            decision = t.observe(rng.uniform() < 0.30);
        }
        assert_eq!(decision, SequentialDecision::RateIncreased);
    }

    #[test]
    fn counts_and_bad_parameters() {
        let mut t = ErrorRateMsprt::new(0.01, 0.05).unwrap();
        assert_eq!(t.observe_counts(0, 1000), SequentialDecision::Continue);
        assert_eq!(
            t.observe_counts(60, 1000),
            SequentialDecision::RateIncreased
        );
        assert!(t.p_value() < 0.05);
        assert!(ErrorRateMsprt::new(0.0, 0.05).is_err());
        assert!(ErrorRateMsprt::new(0.1, 1.5).is_err());
    }
}
