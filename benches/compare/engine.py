#!/usr/bin/env python3
"""Engine memory and time with 10,000 concurrent releases in one process, on in-memory
plugins (`engine-scale`, a release_benches bin; see its docs for the workload: one canary
release per application, all started at once on one runtime thread, virtual time).

Runs 1,000 and 10,000 applications in separate processes (peak RSS = VmHWM of each), and in
the 10,000 run ten more rounds of 1,000 upgrades on the grown journal, to see whether later
rounds slow down.

Reference: Argo Rollouts' controller is reported to degrade near 10,000 Rollouts at
11-14 GB of memory. That is a published figure about another system, not measured here.

Target (DESIGN.md): < 1 GB resident for 10,000 concurrent releases, no slowdown over time.

    python3 benches/compare/engine.py
"""

import common


def run(releases, batches):
    out = common.cargo_bin("release-benches", "engine-scale",
                           ["--releases", releases, "--batches", batches])
    return common.key_values(out)


def main():
    print(f"machine: {common.machine()}")
    small = run(1000, 0)
    big = run(10_000, 10)
    hwm = int(big["vm_hwm_kib"]) / 1024 / 1024
    per_small = float(small["upgrade_round_s"]) / 1000 * 1e3
    per_big = float(big["upgrade_round_s"]) / 10_000 * 1e3
    later = [float(v) for k, v in sorted(big.items()) if k.startswith("later_round_")]
    common.report(
        "engine: 10,000 concurrent canary releases, peak RSS",
        f"{hwm:.2f} GiB", "Argo Rollouts 11-14 GB at ~10,000 (published, not measured)",
        f"{11 / hwm:.0f}-{14 / hwm:.0f}x less",
        "< 1 GB", hwm * (1 << 30) < 1e9,
        f"1,000 releases: {int(small['vm_hwm_kib']) / 1024:.0f} MiB")
    common.report(
        "engine: time to finish 10,000 concurrent canary upgrades",
        f"{float(big['upgrade_round_s']):.2f} s ({per_big:.3f} ms/release)",
        f"1,000 concurrent: {float(small['upgrade_round_s']):.2f} s ({per_small:.3f} ms/release)",
        f"{per_big / per_small:.2f}x per release",
        "no slowdown (per-release cost flat)", per_big <= 1.5 * per_small,
        f"first deploys: {float(big['deploy_round_s']):.2f} s")
    common.report(
        "engine: later rounds of 1,000 upgrades on the grown journal",
        f"last round {later[-1]:.3f} ms/release", f"first round {later[0]:.3f} ms/release",
        f"{later[-1] / later[0]:.2f}x", "no slowdown over time", later[-1] <= 1.5 * later[0],
        "rounds: " + ", ".join(f"{v:.3f}" for v in later))


if __name__ == "__main__":
    main()
