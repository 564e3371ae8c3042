#!/usr/bin/env python3
"""Times scipy.stats.mannwhitneyu on the same 2 x 100,000 samples as benches/mannwhitney.rs
(SplitMix64 -> uniform -> Irwin-Hall(4) + shift, additions only, so the floats are
bit-identical) and prints U1 and the p-value for comparison with the Rust bench (M6.1).

Run: python3 release-gates/benches/compare_scipy.py
"""
import time
import numpy as np
import scipy
from scipy.stats import mannwhitneyu

M64 = (1 << 64) - 1


def splitmix64(seed, count):
    out = np.empty(count, dtype=np.uint64)
    s = seed
    for i in range(count):
        s = (s + 0x9E3779B97F4A7C15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        out[i] = z ^ (z >> 31)
    return out


def sample(seed, n, shift):
    u = (splitmix64(seed, 4 * n) >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    u = u.reshape(n, 4)
    return ((u[:, 0] + u[:, 1]) + (u[:, 2] + u[:, 3])) + shift


canary = sample(1, 100_000, 0.01)
baseline = sample(2, 100_000, 0.0)
r = mannwhitneyu(canary, baseline)
times = []
for _ in range(20):
    t0 = time.perf_counter()
    mannwhitneyu(canary, baseline)
    times.append(time.perf_counter() - t0)
times.sort()
print(f"scipy {scipy.__version__}, numpy {np.__version__}")
print(f"U1 = {r.statistic}, p = {r.pvalue:.17e}")
print(f"mannwhitneyu 2x100k: min {times[0]*1e3:.2f} ms, median {times[len(times)//2]*1e3:.2f} ms")
