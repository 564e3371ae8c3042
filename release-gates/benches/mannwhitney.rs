//! Mann-Whitney judgement on 2 × 100,000 seeded samples: U, p-value and Hodges-Lehmann
//! estimate (DESIGN.md performance table: ≥ 3× faster than scipy.stats.mannwhitneyu, target
//! ≤ 30 ms; M6.1). `compare_scipy.py` times scipy on the same data (same SplitMix64 stream).
//!
//! Run: `CARGO_TARGET_DIR=/work/helper-target cargo bench -p release-gates --bench mannwhitney`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use release_gates::analysis::mannwhitney::{MannWhitneyOptions, SortedSamples};

/// SplitMix64, as in `compare_scipy.py`.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
}

/// Irwin-Hall(4) values plus a shift: only additions, so both languages agree bit for bit.
fn sample(seed: u64, n: usize, shift: f64) -> Vec<f64> {
    let mut rng = SplitMix64(seed);
    (0..n)
        .map(|_| {
            let a = rng.uniform();
            let b = rng.uniform();
            let c = rng.uniform();
            let d = rng.uniform();
            ((a + b) + (c + d)) + shift
        })
        .collect()
}

fn judgement(c: &mut Criterion) {
    let canary = sample(1, 100_000, 0.01);
    let baseline = sample(2, 100_000, 0.0);
    let options = MannWhitneyOptions::default();
    let s = SortedSamples::new(&canary, &baseline).expect("finite samples");
    let r = s.mann_whitney(&options).expect("asymptotic");
    eprintln!(
        "U1 = {}, p = {:.17e}, HL = {:.17e}",
        r.u1,
        r.p_value,
        s.hodges_lehmann()
    );
    c.bench_function("mann_whitney_u_p_hl_2x100k", |b| {
        b.iter(|| {
            let s = SortedSamples::new(black_box(&canary), black_box(&baseline))
                .expect("finite samples");
            let r = s.mann_whitney(&options).expect("asymptotic");
            black_box((r.u1, r.p_value, s.hodges_lehmann()))
        })
    });
    c.bench_function("mann_whitney_u_p_only_2x100k", |b| {
        b.iter(|| {
            let s = SortedSamples::new(black_box(&canary), black_box(&baseline))
                .expect("finite samples");
            black_box(s.mann_whitney(&options).expect("asymptotic").p_value)
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = judgement
}
criterion_main!(benches);
