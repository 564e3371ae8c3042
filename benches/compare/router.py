#!/usr/bin/env python3
"""The HTTP router's added latency against direct requests, at a fixed request rate.

`router-load` (a release_benches bin) starts an in-process upstream and the release-adapters
HttpRouter in front of it (one slot at weight 100), and drives both with a wrk2-style
open-loop generator: 2,000 requests/s for 10 s per run, direct and routed runs alternating
twice, each latency measured from the request's scheduled send time (no coordinated
omission). Debian's `wrk` has no fixed-rate mode (`-R` is wrk2's), so it only serves as a
closed-loop throughput cross-check here: `router-load --serve` keeps both endpoints up while
`wrk -t1 -c16 -d5s` measures requests/s direct and through the router.

Target: DESIGN.md sets none for the data path (its 50 ms router target is the rollback
switch); the added latency is reported.

    python3 benches/compare/router.py
"""

import subprocess
import time

import common

RATE, SECONDS = 2000, 10


def wrk_rps(url):
    out = subprocess.run(["wrk", "-t1", "-c16", "-d5s", url],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("Requests/sec:"))
    return float(line.split()[1])


def main():
    common.ensure_apt("wrk", "wrk")
    print(f"machine: {common.machine()}")
    out = common.cargo_bin("release-benches", "router-load",
                           ["--rate", RATE, "--seconds", SECONDS, "--rounds", 2])
    kv = common.key_values(out)
    for q in ("p50", "p99", "p999"):
        d, r = int(kv[f"direct_{q}_us"]), int(kv[f"router_{q}_us"])
        common.report(
            f"router added latency {q} at {RATE} req/s open loop",
            f"{r} us via router", f"{d} us direct", f"{r - d:+d} us",
            "no DESIGN target (reported)", None,
            f"{kv['router_requests']} routed / {kv['direct_requests']} direct requests, "
            f"errors {kv['router_errors']}/{kv['direct_errors']}")

    # Closed-loop throughput with Debian's wrk against the same two endpoints.
    exe = common.target_dir() / "release" / "router-load"
    server = subprocess.Popen([exe, "--serve", "30"], stdout=subprocess.PIPE, text=True)
    try:
        urls = {}
        while len(urls) < 2:
            line = server.stdout.readline()
            if not line:
                raise SystemExit("router-load --serve ended early")
            key, _, value = line.strip().partition(" ")
            if key in ("direct_url", "router_url"):
                urls[key] = value
        time.sleep(0.5)
        direct, routed = wrk_rps(urls["direct_url"]), wrk_rps(urls["router_url"])
    finally:
        server.terminate()
        server.wait()
    common.report(
        "router throughput vs direct (wrk -t1 -c16, closed loop)",
        f"{routed:,.0f} req/s via router", f"{direct:,.0f} req/s direct",
        f"{routed / direct:.2f}x", "no DESIGN target (reported)", None)


if __name__ == "__main__":
    main()
