//! The Rust side of `benches/compare/mannwhitney.py`: the Mann-Whitney judgement on the
//! samples the script wrote (`RELEASE_COMPARE_SAMPLES`: little-endian `u64` n, `u64` m, then
//! n canary and m baseline `f64`s) and handed to scipy too.
//!
//! Prints U1 and the p-value with 17 significant digits for the script to compare, then
//! measures `compare_mannwhitney/u_p` (U and the two-sided asymptotic p-value: what
//! `scipy.stats.mannwhitneyu` computes) and `compare_mannwhitney/u_p_hl` (plus the
//! Hodges-Lehmann shift estimate, which scipy does not compute).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use release_gates::analysis::mannwhitney::{MannWhitneyOptions, SortedSamples};

fn read_samples() -> (Vec<f64>, Vec<f64>) {
    let path = std::env::var_os("RELEASE_COMPARE_SAMPLES")
        .expect("set RELEASE_COMPARE_SAMPLES (benches/compare/mannwhitney.py does)");
    let bytes = std::fs::read(&path).expect("RELEASE_COMPARE_SAMPLES is readable");
    let word = |at: usize| -> [u8; 8] {
        bytes
            .get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .expect("the samples file is truncated")
    };
    let n = u64::from_le_bytes(word(0)) as usize;
    let m = u64::from_le_bytes(word(8)) as usize;
    assert_eq!(
        bytes.len(),
        16 + 8 * (n + m),
        "the samples file has the wrong length"
    );
    let values: Vec<f64> = (0..n + m)
        .map(|i| f64::from_le_bytes(word(16 + 8 * i)))
        .collect();
    (values[..n].to_vec(), values[n..].to_vec())
}

fn bench(c: &mut Criterion) {
    let (canary, baseline) = read_samples();
    let options = MannWhitneyOptions::default();
    let s = SortedSamples::new(&canary, &baseline).expect("finite samples");
    let r = s.mann_whitney(&options).expect("asymptotic");
    println!(
        "rust: n {} m {} U1 {} p {:.17e} HL {:.17e}",
        canary.len(),
        baseline.len(),
        r.u1,
        r.p_value,
        s.hodges_lehmann()
    );
    let mut group = c.benchmark_group("compare_mannwhitney");
    group.sample_size(30);
    group.bench_function("u_p", |b| {
        b.iter(|| {
            let s = SortedSamples::new(black_box(&canary), black_box(&baseline))
                .expect("finite samples");
            black_box(s.mann_whitney(&options).expect("asymptotic").p_value)
        })
    });
    group.bench_function("u_p_hl", |b| {
        b.iter(|| {
            let s = SortedSamples::new(black_box(&canary), black_box(&baseline))
                .expect("finite samples");
            let r = s.mann_whitney(&options).expect("asymptotic");
            black_box((r.u1, r.p_value, s.hodges_lehmann()))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
