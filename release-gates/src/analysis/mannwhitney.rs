//! The Mann-Whitney U test and the Hodges-Lehmann shift estimate: the statistics behind
//! the canary judge ([`super::judge`], M6.1).
//!
//! Decisions:
//! - **Written here, not taken from statrs**: statrs 0.19's exact p-values are wrong when the
//!   first sample is not the larger one. The results follow `scipy.stats.mannwhitneyu`
//!   (scipy 1.17): the statistic is U1, the U of the *first* sample; `greater` uses the
//!   survival function at U1, `less` at U2 = n1·n2 − U1, `two-sided` doubles it at
//!   max(U1, U2) and clips to 1. The fixtures in `tests/fixtures/mannwhitney/` hold scipy's
//!   answers; `tests/mannwhitney_scipy.rs` checks every one within 1e-9.
//! - **`Method::Auto` is scipy's rule**: exact when either sample has at most 8 values and
//!   there are no ties, asymptotic otherwise.
//! - **Exact distribution**: the counts of U are the coefficients of the Gaussian binomial
//!   coefficient `[n1+n2 choose n1]_q`, built exactly in `i128` as
//!   Π (1 − q^(L+i)) / (1 − q^i) over i = 1..=s (s the smaller size, L the larger) in
//!   O(s²·L) steps. When `C(n1+n2, s)` would not fit, [`AnalysisError::ExactTooLarge`] asks
//!   for the asymptotic method. As scipy, a forced exact test with ties truncates U.
//! - **Asymptotic**: the normal approximation with scipy's tie correction and (by default)
//!   continuity correction. When every value is tied the spread is zero and the p-value is 1
//!   (no evidence either way).
//! - **Ranking** sorts each sample once (O(n log n)) and merges them, so U and the tie term
//!   come out of one linear pass with no combined array.
//! - **Hodges-Lehmann** (median of all x_i − y_j) is selected without forming the n·m
//!   differences: a bisection on the value, each step counting the differences ≤ t in
//!   O(n + m) with two pointers over the sorted samples (float subtraction is monotone, so
//!   the counts are exact for the differences as computed), until few enough candidates
//!   remain to collect and select directly. Bisection falls back to halving the ordered bit
//!   patterns of the floats, so it ends in at most ~64 further steps whatever the data.
//!   The confidence interval is the distribution-free one: the k-th smallest and k-th
//!   largest differences, k from the lower α/2 quantile of U.

use statrs::distribution::{ContinuousCDF, Normal};

use super::error::{AnalysisError, check_sample};

/// The alternative hypothesis, as scipy names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// The distributions differ.
    #[default]
    TwoSided,
    /// The first sample's distribution is stochastically less than the second's.
    Less,
    /// The first sample's distribution is stochastically greater than the second's.
    Greater,
}

/// How the p-value is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// scipy's rule: exact when a sample has ≤ 8 values and there are no ties.
    #[default]
    Auto,
    /// The exact distribution of U.
    Exact,
    /// The normal approximation with tie correction.
    Asymptotic,
}

/// Options of a Mann-Whitney test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
#[serde(default)]
pub struct MannWhitneyOptions {
    /// The alternative hypothesis.
    pub alternative: Alternative,
    /// The method.
    pub method: Method,
    /// Apply the continuity correction in the normal approximation (scipy's default: yes).
    pub use_continuity: bool,
}

impl Default for MannWhitneyOptions {
    fn default() -> Self {
        Self {
            alternative: Alternative::TwoSided,
            method: Method::Auto,
            use_continuity: true,
        }
    }
}

impl MannWhitneyOptions {
    /// Sets the alternative.
    pub fn alternative(mut self, alternative: Alternative) -> Self {
        self.alternative = alternative;
        self
    }

    /// Sets the method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sets the continuity correction.
    pub fn use_continuity(mut self, use_continuity: bool) -> Self {
        self.use_continuity = use_continuity;
        self
    }
}

/// The outcome of a Mann-Whitney test.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct MannWhitney {
    /// U of the first sample (scipy's `statistic`).
    pub u1: f64,
    /// The p-value.
    pub p_value: f64,
    /// The method actually used (never `Auto`).
    pub method: Method,
    /// The alternative tested.
    pub alternative: Alternative,
    /// Size of the first sample.
    pub n1: usize,
    /// Size of the second sample.
    pub n2: usize,
    /// True when some values are tied.
    pub ties: bool,
}

/// Two samples, each sorted once, ready for U, p-values and Hodges-Lehmann estimates.
#[derive(Clone, Debug, PartialEq)]
pub struct SortedSamples {
    x: Vec<f64>,
    y: Vec<f64>,
}

/// Sorts a finite sample; `-0.0` becomes `0.0` so that ties are found by `==` and order.
/// An LSD radix sort on order-preserving bit patterns (11-bit digits, passes whose digit
/// is the same for every value skipped): O(n), and several times faster than a comparison
/// sort on 100,000 values.
fn sorted(values: &[f64]) -> Vec<f64> {
    const BITS: usize = 11;
    const PASSES: usize = 64_usize.div_ceil(BITS);
    const RADIX: usize = 1 << BITS;
    if values.len() < 256 {
        let mut v: Vec<f64> = values.iter().map(|v| v + 0.0).collect();
        v.sort_unstable_by(f64::total_cmp);
        return v;
    }
    let mut keys: Vec<u64> = values.iter().map(|v| key(v + 0.0)).collect();
    let mut histograms = vec![[0u32; RADIX]; PASSES];
    for &k in &keys {
        for (pass, h) in histograms.iter_mut().enumerate() {
            h[((k >> (pass * BITS)) as usize) & (RADIX - 1)] += 1;
        }
    }
    let mut buffer = vec![0u64; keys.len()];
    let n = keys.len() as u32;
    for (pass, h) in histograms.iter_mut().enumerate() {
        if h.contains(&n) {
            continue; // every key has the same digit here
        }
        let mut sum = 0u32;
        for c in h.iter_mut() {
            let count = *c;
            *c = sum;
            sum += count;
        }
        let shift = pass * BITS;
        for &k in &keys {
            let d = ((k >> shift) as usize) & (RADIX - 1);
            buffer[h[d] as usize] = k;
            h[d] += 1;
        }
        std::mem::swap(&mut keys, &mut buffer);
    }
    keys.into_iter().map(from_key).collect()
}

impl SortedSamples {
    /// Checks and sorts both samples (`x` is the first, e.g. the canary).
    ///
    /// # Errors
    /// [`AnalysisError::EmptySample`] or [`AnalysisError::NotFinite`] naming the sample.
    pub fn new(x: &[f64], y: &[f64]) -> Result<Self, AnalysisError> {
        check_sample("first (x)", x)?;
        check_sample("second (y)", y)?;
        Ok(Self {
            x: sorted(x),
            y: sorted(y),
        })
    }

    /// The first sample, sorted.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// The second sample, sorted.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    /// Runs the Mann-Whitney U test.
    ///
    /// # Errors
    /// [`AnalysisError::ExactTooLarge`] when an exact test is forced on samples too large.
    pub fn mann_whitney(&self, options: &MannWhitneyOptions) -> Result<MannWhitney, AnalysisError> {
        let (n1, n2) = (self.x.len(), self.y.len());
        let ranks = rank_sums(&self.x, &self.y);
        let u1 = ranks.u1;
        let nn = n1 as f64 * n2 as f64;
        let u2 = nn - u1;
        let (u, factor) = match options.alternative {
            Alternative::Greater => (u1, 1.0),
            Alternative::Less => (u2, 1.0),
            Alternative::TwoSided => (u1.max(u2), 2.0),
        };
        let ties = ranks.tie_term > 0.0;
        let method = match options.method {
            Method::Auto if n1 > 8 && n2 > 8 => Method::Asymptotic,
            Method::Auto if ties => Method::Asymptotic,
            Method::Auto => Method::Exact,
            m => m,
        };
        let p = match method {
            Method::Exact => {
                let dist = UDistribution::new(n1, n2)?;
                // As scipy: U is cast to an integer (truncated) for the exact test.
                dist.sf(u.floor() as u64)
            }
            _ => {
                let n = (n1 + n2) as f64;
                let s = (nn / 12.0 * ((n + 1.0) - ranks.tie_term / (n * (n - 1.0)))).sqrt();
                let mut numerator = u - nn / 2.0;
                if options.use_continuity {
                    numerator -= 0.5;
                }
                if s > 0.0 {
                    Normal::standard().cdf(-(numerator / s))
                } else {
                    1.0
                }
            }
        };
        Ok(MannWhitney {
            u1,
            p_value: (p * factor).clamp(0.0, 1.0),
            method,
            alternative: options.alternative,
            n1,
            n2,
            ties,
        })
    }

    /// The Hodges-Lehmann estimate of the shift x − y: the median of all pairwise
    /// differences, in O((n + m) log(n + m)) time and O(n + m) memory.
    pub fn hodges_lehmann(&self) -> f64 {
        let total = self.x.len() as u64 * self.y.len() as u64;
        if total % 2 == 1 {
            select_pair(&self.x, &self.y, total / 2 + 1, total / 2 + 1).0
        } else {
            let (a, b) = select_pair(&self.x, &self.y, total / 2, total / 2 + 1);
            a / 2.0 + b / 2.0
        }
    }

    /// The distribution-free confidence interval of the shift x − y at `confidence`
    /// (e.g. 0.95): the k-th smallest and k-th largest pairwise differences, k being the
    /// lower (1 − confidence)/2 quantile of U (exact when a sample has ≤ 8 values, normal
    /// otherwise). With too few values for the confidence asked, the interval is the
    /// full range of the differences.
    ///
    /// # Errors
    /// [`AnalysisError::OutOfRange`] when `confidence` is not strictly between 0 and 1.
    pub fn hodges_lehmann_interval(&self, confidence: f64) -> Result<(f64, f64), AnalysisError> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(AnalysisError::out_of_range(
                "confidence",
                confidence,
                "give a level strictly between 0 and 1, such as 0.95",
            ));
        }
        let (n1, n2) = (self.x.len(), self.y.len());
        let total = n1 as u64 * n2 as u64;
        let half_alpha = (1.0 - confidence) / 2.0;
        let k = if n1.min(n2) <= 8 {
            let dist = UDistribution::new(n1, n2)?;
            // Largest k with P(U <= k - 1) <= alpha/2.
            let mut k = 0u64;
            while k < total && dist.cdf(k) <= half_alpha {
                k += 1;
            }
            k
        } else {
            let z = Normal::standard().inverse_cdf(1.0 - half_alpha);
            let (a, b) = (n1 as f64, n2 as f64);
            let sd = (a * b * (a + b + 1.0) / 12.0).sqrt();
            (total as f64 / 2.0 - z * sd).round().max(0.0) as u64
        };
        let k = k.clamp(1, total.div_ceil(2));
        let lower = select_pair(&self.x, &self.y, k, k).0;
        let upper_rank = total + 1 - k;
        let upper = select_pair(&self.x, &self.y, upper_rank, upper_rank).0;
        Ok((lower, upper))
    }
}

/// Runs the Mann-Whitney U test on `x` (first) and `y` (second), as
/// `scipy.stats.mannwhitneyu(x, y, alternative=…, method=…, use_continuity=…)`.
///
/// ```
/// use release_gates::analysis::mannwhitney::{mann_whitney_u, MannWhitneyOptions};
/// let r = mann_whitney_u(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], &MannWhitneyOptions::default())
///     .unwrap();
/// assert_eq!(r.u1, 0.0);
/// assert!((r.p_value - 0.1).abs() < 1e-12);
/// ```
///
/// # Errors
/// Empty or non-finite samples, or an exact test forced on samples too large.
pub fn mann_whitney_u(
    x: &[f64],
    y: &[f64],
    options: &MannWhitneyOptions,
) -> Result<MannWhitney, AnalysisError> {
    SortedSamples::new(x, y)?.mann_whitney(options)
}

/// The Hodges-Lehmann shift estimate of x − y (median of all pairwise differences).
///
/// # Errors
/// Empty or non-finite samples.
pub fn hodges_lehmann(x: &[f64], y: &[f64]) -> Result<f64, AnalysisError> {
    Ok(SortedSamples::new(x, y)?.hodges_lehmann())
}

struct RankSums {
    u1: f64,
    tie_term: f64,
}

/// U1 and Σ(t³ − t) over tie groups, from one merge of the sorted samples.
fn rank_sums(x: &[f64], y: &[f64]) -> RankSums {
    let (n, m) = (x.len(), y.len());
    let (mut i, mut j) = (0usize, 0usize);
    // 2·U1 = Σ over x's tie groups of a·(2·(#y below) + b), exact in integers.
    let mut twice_u1: u128 = 0;
    let mut tie_term = 0.0f64;
    while i < n || j < m {
        let v = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        let (i0, j0) = (i, j);
        while i < n && x[i] == v {
            i += 1;
        }
        while j < m && y[j] == v {
            j += 1;
        }
        let (a, b) = (i - i0, j - j0);
        twice_u1 += a as u128 * (2 * j0 + b) as u128;
        let t = a + b;
        if t > 1 {
            let t = t as f64;
            tie_term += t * t * t - t;
        }
    }
    RankSums {
        u1: twice_u1 as f64 / 2.0,
        tie_term,
    }
}

/// The exact null distribution of U for sizes (n1, n2): counts of each U value.
struct UDistribution {
    counts: Vec<i128>,
    total: i128,
}

impl UDistribution {
    fn new(n1: usize, n2: usize) -> Result<Self, AnalysisError> {
        let (s, l) = (n1.min(n2), n1.max(n2));
        // C(s + l, s) must fit i128 with headroom for the signed intermediate steps.
        let mut log2_total = 0.0f64;
        for i in 1..=s {
            log2_total += ((l + i) as f64 / i as f64).log2();
        }
        if log2_total > 120.0 {
            return Err(AnalysisError::ExactTooLarge { n1, n2 });
        }
        let len = s * l + 1;
        let mut c = vec![0i128; len];
        c[0] = 1;
        let mut degree = 0usize;
        for i in 1..=s {
            // Multiply by (1 − q^(l+i)).
            let e = l + i;
            let new_degree = degree + e;
            for k in (e..=new_degree.min(len - 1)).rev() {
                c[k] -= c[k - e];
            }
            // Divide by (1 − q^i): the quotient's degree is new_degree − i.
            degree = new_degree - i;
            for k in i..=degree {
                c[k] += c[k - i];
            }
            // What lies above the quotient's degree is the (truncated) remainder.
            let top = new_degree.min(len - 1);
            c[degree + 1..=top].fill(0);
        }
        let total = c.iter().sum();
        Ok(Self { counts: c, total })
    }

    /// P(U >= k).
    fn sf(&self, k: u64) -> f64 {
        let k = k as usize;
        if k >= self.counts.len() {
            return 0.0;
        }
        let tail: i128 = self.counts[k..].iter().sum();
        tail as f64 / self.total as f64
    }

    /// P(U <= k).
    fn cdf(&self, k: u64) -> f64 {
        let k = (k as usize).min(self.counts.len() - 1);
        let head: i128 = self.counts[..=k].iter().sum();
        head as f64 / self.total as f64
    }
}

/// Number of differences x_i − y_j that are ≤ t (samples sorted ascending).
#[inline]
fn count_le(x: &[f64], y: &[f64], t: f64) -> u64 {
    let m = y.len();
    let mut p = 0usize;
    let mut count = 0u64;
    for &xi in x {
        while p < m && xi - y[p] > t {
            p += 1;
        }
        count += (m - p) as u64;
    }
    count
}

/// Maps a float to an integer with the same order (for bisection on bit patterns).
fn key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn from_key(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// The `k_lo`-th and `k_hi`-th smallest differences x_i − y_j (1-based,
/// `k_lo <= k_hi <= k_lo + 1`), by a safeguarded search on the value with linear counting:
/// probes interpolate the count linearly (aiming alternately just below `k_lo` and just
/// above `k_hi`, so both ends of the bracket close in); a probe that does not halve the
/// candidates is followed by a bisection, and after 64 probes only bit-pattern bisection is
/// used, which ends in at most 64 more.
fn select_pair(x: &[f64], y: &[f64], k_lo: u64, k_hi: u64) -> (f64, f64) {
    let (n, m) = (x.len(), y.len());
    // Invariant: count_le(lo) < k_lo and count_le(hi) >= k_hi.
    let mut lo = (x[0] - y[m - 1]).next_down();
    let mut c_lo = 0u64;
    let mut hi = x[n - 1] - y[0];
    let mut c_hi = n as u64 * m as u64;
    let budget = (n + m) as u64;
    let mut steps = 0u32;
    let mut aim_low = true;
    let mut bisect = false;
    loop {
        let width = c_hi - c_lo;
        if width <= budget {
            return collect_and_select(x, y, lo, hi, k_lo - c_lo, k_hi - c_lo);
        }
        let mut mid = if steps >= 64 {
            f64::NAN
        } else if bisect {
            lo / 2.0 + hi / 2.0
        } else {
            let margin = (budget / 4) as f64;
            let target = if aim_low {
                k_lo as f64 - margin
            } else {
                k_hi as f64 + margin
            };
            aim_low = !aim_low;
            let frac = ((target - c_lo as f64) / width as f64).clamp(0.0, 1.0);
            lo + (hi - lo) * frac
        };
        if !(lo < mid && mid < hi) {
            mid = lo / 2.0 + hi / 2.0;
        }
        if steps >= 64 || !(lo < mid && mid < hi) {
            mid = from_key(key(lo) / 2 + key(hi) / 2 + (key(lo) & key(hi) & 1));
            if !(lo < mid && mid < hi) {
                // hi is the next float after lo: every candidate equals hi.
                return (hi, hi);
            }
        }
        steps += 1;
        let c = count_le(x, y, mid);
        if c >= k_hi {
            hi = mid;
            c_hi = c;
        } else if c < k_lo {
            lo = mid;
            c_lo = c;
        } else {
            // k_lo <= c < k_hi = k_lo + 1: the answers straddle mid.
            return straddle(x, y, mid);
        }
        bisect = !bisect && (c_hi - c_lo) * 2 > width;
    }
}

/// The largest difference ≤ t and the smallest one > t.
fn straddle(x: &[f64], y: &[f64], t: f64) -> (f64, f64) {
    let m = y.len();
    let mut p = 0usize;
    let (mut below, mut above) = (f64::NEG_INFINITY, f64::INFINITY);
    for &xi in x {
        while p < m && xi - y[p] > t {
            p += 1;
        }
        if p < m {
            below = below.max(xi - y[p]);
        }
        if p > 0 {
            above = above.min(xi - y[p - 1]);
        }
    }
    (below, above)
}

/// Collects the differences in (lo, hi] and selects the r_lo-th and r_hi-th (1-based).
fn collect_and_select(x: &[f64], y: &[f64], lo: f64, hi: f64, r_lo: u64, r_hi: u64) -> (f64, f64) {
    let m = y.len();
    let mut candidates = Vec::new();
    let (mut p_hi, mut p_lo) = (0usize, 0usize);
    for &xi in x {
        while p_hi < m && xi - y[p_hi] > hi {
            p_hi += 1;
        }
        while p_lo < m && xi - y[p_lo] > lo {
            p_lo += 1;
        }
        candidates.extend(y[p_hi..p_lo].iter().map(|&yj| xi - yj));
    }
    let a = (r_lo - 1) as usize;
    let b = (r_hi - 1) as usize;
    // The invariant guarantees r_lo >= 1 and r_hi <= candidates.len().
    let (_, &mut first, rest) = candidates.select_nth_unstable_by(a, f64::total_cmp);
    let second = if b == a {
        first
    } else {
        rest.iter().copied().fold(f64::INFINITY, f64::min)
    };
    (first, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example_matches_scipy() {
        // scipy.stats.mannwhitneyu([19,22,16,29,24],[20,11,17,12]) -> U=17, p=0.11111...
        let r = mann_whitney_u(
            &[19., 22., 16., 29., 24.],
            &[20., 11., 17., 12.],
            &MannWhitneyOptions::default(),
        )
        .unwrap();
        assert_eq!(r.u1, 17.0);
        assert_eq!(r.method, Method::Exact);
        assert!((r.p_value - 0.1111111111111111).abs() < 1e-12);
    }

    #[test]
    fn empty_and_nan_samples_get_typed_errors() {
        let o = MannWhitneyOptions::default();
        assert!(matches!(
            mann_whitney_u(&[], &[1.0], &o),
            Err(AnalysisError::EmptySample { .. })
        ));
        let e = mann_whitney_u(&[1.0, f64::NAN], &[1.0], &o).unwrap_err();
        assert!(matches!(e, AnalysisError::NotFinite { index: 1, .. }));
        assert!(e.to_string().contains("first (x)"));
    }

    #[test]
    fn all_tied_gives_p_one() {
        let r = mann_whitney_u(&[1.0; 20], &[1.0; 20], &MannWhitneyOptions::default()).unwrap();
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn exact_too_large_is_an_error() {
        let x: Vec<f64> = (0..200).map(f64::from).collect();
        let o = MannWhitneyOptions::default().method(Method::Exact);
        assert!(matches!(
            mann_whitney_u(&x, &x, &o),
            Err(AnalysisError::ExactTooLarge { .. })
        ));
    }

    #[test]
    fn hl_interval_contains_estimate() {
        let x: Vec<f64> = (0..50).map(|i| f64::from(i) * 0.37 % 5.0 + 1.0).collect();
        let y: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.53 % 5.0).collect();
        let s = SortedSamples::new(&x, &y).unwrap();
        let hl = s.hodges_lehmann();
        let (lo, hi) = s.hodges_lehmann_interval(0.95).unwrap();
        assert!(lo <= hl && hl <= hi, "{lo} <= {hl} <= {hi}");
        assert!(s.hodges_lehmann_interval(1.0).is_err());
    }
}
