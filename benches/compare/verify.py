#!/usr/bin/env python3
"""Streaming artifact verification against `openssl dgst -sha256` on the same 1 GiB file.

The file (1 GiB from SplitMix64, seed 7, so not compressible) is written once to the compare
directory. The Rust bench (`cargo bench -p release-benches --bench compare_verify`) publishes
it into a FsArtifactStore and measures `verify` (the store's `get`: 1 MiB reads, SHA-256 in the
same pass as the copy). openssl runs on the same file 5 times before and 5 times after the
criterion run (median of the 10, so load drift hits it as it hits the bench); both digests
must agree. Both read from the page cache (the machine has RAM to spare).

Target (DESIGN.md): >= 0.95x openssl's throughput.

    python3 benches/compare/verify.py
"""

import statistics
import subprocess
import time

import common

SIZE = 1 << 30


def write_file(path):
    if path.exists() and path.stat().st_size == SIZE:
        return
    rng = common.SplitMix64(7)
    seed_block = b"".join(rng.next_u64().to_bytes(8, "little") for _ in range(1 << 17))  # 1 MiB
    with open(path, "wb") as f:
        for i in range(SIZE // len(seed_block)):
            # Vary every MiB so no block repeats (cheap: xor the block index into a prefix).
            f.write(i.to_bytes(8, "little") + seed_block[8:])


def openssl(path, runs):
    times, digest = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run(["openssl", "dgst", "-sha256", str(path)],
                             capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - t0)
        digest = out.strip().rsplit(" ", 1)[-1]
    return times, digest


def main():
    common.ensure_apt("openssl", "openssl")
    print(f"machine: {common.machine()}")
    path = common.work_dir() / "artifact-1GiB.bin"
    write_file(path)
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["openssl", "dgst", "-sha256", str(path)], capture_output=True, check=True)
    before, digest = openssl(path, 5)
    out = common.cargo_bench(
        "release-benches", "compare_verify", env={"RELEASE_COMPARE_ARTIFACT": str(path)}
    )
    after, _ = openssl(path, 5)
    ref = statistics.median(before + after)
    line = next(l for l in out.splitlines() if l.startswith("rust: sha256 "))
    ours_digest = line.split()[2]
    assert ours_digest == digest, f"digests differ: store {ours_digest}, openssl {digest}"
    ours = common.estimate("compare_verify", "store_verify")["median"]
    gib = SIZE / (1 << 30)
    print(f"{version}: median {ref:.3f} s ({gib / ref:.3f} GiB/s); store verify {ours:.3f} s "
          f"({gib / ours:.3f} GiB/s); same digest {digest}")
    common.report(
        "artifact verify (FsArtifactStore, 1 GiB) vs openssl dgst -sha256",
        f"{ours:.3f} s", f"{ref:.3f} s", f"{ref / ours:.3f}x openssl throughput",
        ">= 0.95x", ref / ours >= 0.95)


if __name__ == "__main__":
    main()
