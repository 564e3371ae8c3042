#!/usr/bin/env python3
"""Mann-Whitney judgement against scipy.stats.mannwhitneyu on 2 x 100,000 samples, with a
check that both sides compute the same U and p-value.

The samples (SplitMix64 seeds 1 and 2 -> uniform from the top 53 bits -> Irwin-Hall(4) as
(a + b) + (c + d), canary shifted by +0.01) are generated here and written to one file both
sides read: little-endian u64 n, u64 m, then n canary and m baseline f64s.

- scipy: mannwhitneyu(canary, baseline) with its defaults (two-sided, asymptotic with tie and
  continuity correction at this size); min and median of 20 calls.
- Rust (criterion, `cargo bench -p release-benches --bench compare_mannwhitney`):
  `u_p` (what scipy computes) and `u_p_hl` (plus the Hodges-Lehmann estimate).

Targets (DESIGN.md): >= 3x faster than scipy, p-values within 1e-9 (absolute); issue #5:
<= 30 ms.

    python3 benches/compare/mannwhitney.py
"""

import statistics
import struct
import time

import common

N = 100_000
P_TOLERANCE = 1e-9


def uniforms(seed, count):
    rng = common.SplitMix64(seed)
    return [(rng.next_u64() >> 11) * (1.0 / 9007199254740992.0) for _ in range(count)]


def sample(seed, n, shift):
    u = uniforms(seed, 4 * n)
    return [((u[4 * i] + u[4 * i + 1]) + (u[4 * i + 2] + u[4 * i + 3])) + shift for i in range(n)]


def main():
    np = common.ensure_python("numpy")
    scipy = common.ensure_python("scipy")
    from scipy.stats import mannwhitneyu

    print(f"machine: {common.machine()}")
    path = common.work_dir() / "samples-2x100k.f64"
    canary, baseline = sample(1, N, 0.01), sample(2, N, 0.0)
    with open(path, "wb") as f:
        f.write(struct.pack("<QQ", N, N))
        f.write(struct.pack(f"<{2 * N}d", *canary, *baseline))
    print(f"samples: {path}")

    raw = np.fromfile(path, dtype="<u8", count=2)
    n, m = int(raw[0]), int(raw[1])
    values = np.fromfile(path, dtype="<f8", offset=16)
    x, y = values[:n], values[n:n + m]
    result = mannwhitneyu(x, y)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        mannwhitneyu(x, y)
        times.append(time.perf_counter() - t0)
    ref = statistics.median(times)
    print(f"scipy {scipy.__version__}: U1 {result.statistic:.0f}, p {result.pvalue:.17e}; "
          f"min {common.ms(min(times))}, median {common.ms(ref)}")

    out = common.cargo_bench(
        "release-benches", "compare_mannwhitney", env={"RELEASE_COMPARE_SAMPLES": str(path)}
    )
    line = next(l for l in out.splitlines() if l.startswith("rust: n "))
    fields = line.split()
    u1, p = float(fields[fields.index("U1") + 1]), float(fields[fields.index("p") + 1])
    dp = abs(p - result.pvalue)
    same_u = u1 == float(result.statistic)
    print(f"rust: U1 {u1:.0f} ({'same' if same_u else 'DIFFERENT'}), p {p:.17e}; "
          f"|dp| = {dp:.2e} (relative {dp / result.pvalue:.2e}), tolerance {P_TOLERANCE:g}")
    up = common.estimate("compare_mannwhitney", "u_p")["median"]
    hl = common.estimate("compare_mannwhitney", "u_p_hl")["median"]

    common.report(
        "Mann-Whitney U + p vs scipy mannwhitneyu (2x100k)",
        common.ms(up), common.ms(ref), f"{ref / up:.1f}x faster", ">= 3x", ref / up >= 3)
    common.report(
        "Mann-Whitney U + p + Hodges-Lehmann vs scipy (no HL)",
        common.ms(hl), common.ms(ref), f"{ref / hl:.1f}x faster",
        ">= 3x and <= 30 ms", ref / hl >= 3 and hl <= 0.030)
    common.report(
        "Mann-Whitney p-value agreement with scipy",
        f"p {p:.17e}", f"p {result.pvalue:.17e}", f"abs(dp) {dp:.1e}",
        f"abs(dp) <= {P_TOLERANCE:g}, same U", dp <= P_TOLERANCE and same_u)


if __name__ == "__main__":
    main()
