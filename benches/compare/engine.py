#!/usr/bin/env python3
"""Engine memory and time with 10,000 concurrent releases in one process, on in-memory
plugins (`engine-scale`, a release_benches bin; see its docs for the workload: one canary
release per application, all started at once on one runtime thread, virtual time, one
in-memory target shared by every application).

Runs 1,000 and 10,000 applications in separate processes (peak RSS = VmHWM of each); the
10,000 run then does ten more rounds of 1,000 upgrades on the grown journal, to see whether
later rounds slow down. A third process runs 10,000 with one target per application
(`--target-shards 10000`), for comparison with the shared target.

Times are per release, wall and CPU (the CPU time of the one thread that runs every release:
on a machine shared with other work it leaves out time spent waiting for a core, so the
verdicts use it). Instruction counts, the reproducible evidence, come from valgrind's
callgrind (BENCHMARKS.md gives the commands); this script does not run it (minutes).

Reference: Argo Rollouts' controller is reported to degrade near 10,000 Rollouts at
11-14 GB of memory. That is a published figure about another system, not measured here.

Target (DESIGN.md): < 1 GB resident for 10,000 concurrent releases, no slowdown (the
verdict allows 1.5x for the noise of this shared machine; the ratio is printed).

    python3 benches/compare/engine.py
"""

import common


def run(releases, batches, shards=None):
    args = ["--releases", releases, "--batches", batches]
    if shards:
        args += ["--target-shards", shards]
    out = common.cargo_bin("release-benches", "engine-scale", args)
    return common.key_values(out)


def per_release_ms(result, key, releases):
    return float(result[key]) / releases * 1e3


def main():
    print(f"machine: {common.machine()}")
    small = run(1000, 0)
    big = run(10_000, 10)
    sharded = run(10_000, 0, shards=10_000)
    hwm = int(big["vm_hwm_kib"]) / 1024 / 1024
    wall_small = per_release_ms(small, "upgrade_round_s", 1000)
    wall_big = per_release_ms(big, "upgrade_round_s", 10_000)
    cpu_small = per_release_ms(small, "upgrade_round_cpu_s", 1000)
    cpu_big = per_release_ms(big, "upgrade_round_cpu_s", 10_000)
    later = [float(big[f"later_round_{b}_cpu_ms_per_release"]) for b in range(10)]
    common.report(
        "engine: 10,000 concurrent canary releases, peak RSS",
        f"{hwm * 1024:.0f} MiB", "Argo Rollouts 11-14 GB at ~10,000 (published, not measured)",
        f"{11 / hwm:.0f}-{14 / hwm:.0f}x less",
        "< 1 GB", hwm * (1 << 30) < 1e9,
        f"1,000 releases: {int(small['vm_hwm_kib']) / 1024:.0f} MiB; "
        f"10,000 on one target per application: {int(sharded['vm_hwm_kib']) / 1024:.0f} MiB")
    common.report(
        "engine: 10,000 concurrent canary upgrades, CPU per release",
        f"{cpu_big:.3f} ms/release (wall {wall_big:.3f})",
        f"1,000 concurrent: {cpu_small:.3f} ms/release (wall {wall_small:.3f})",
        f"{cpu_big / cpu_small:.2f}x per release (wall {wall_big / wall_small:.2f}x)",
        "no slowdown (per-release cost flat; 1.5x noise allowance)", cpu_big <= 1.5 * cpu_small,
        f"first deploys: {float(big['deploy_round_s']):.2f} s; one target per application: "
        f"{per_release_ms(sharded, 'upgrade_round_cpu_s', 10_000):.3f} ms/release CPU")
    common.report(
        "engine: later rounds of 1,000 upgrades on the grown journal, CPU",
        f"last round {later[-1]:.3f} ms/release", f"first round {later[0]:.3f} ms/release",
        f"{later[-1] / later[0]:.2f}x", "no slowdown over time (1.5x noise allowance)",
        later[-1] <= 1.5 * later[0],
        "rounds: " + ", ".join(f"{v:.3f}" for v in later))


if __name__ == "__main__":
    main()
