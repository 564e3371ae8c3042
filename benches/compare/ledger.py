#!/usr/bin/env python3
"""Ledger appends against raw inserts, SQLite and PostgreSQL, by the existing criterion bench
of release-adapters (`benches/ledger.rs`): it measures a raw INSERT per commit (SQLite: WAL,
synchronous=NORMAL; PostgreSQL: autocommit) and the ledger's append on the same database
file or server, sequentially and with concurrent appenders (group commit).

PostgreSQL comes from RELEASE_TEST_POSTGRES_URL, or is installed and started by
`.ci/run --postgres-only` (Debian's postgresql package; idempotent).

Target (DESIGN.md): the SQLite ledger at >= 0.5x the raw per-commit insert rate. PostgreSQL has
no ratio target; its figures are reported.

    python3 benches/compare/ledger.py
"""

import os
import subprocess

import common


def postgres_url():
    url = os.environ.get("RELEASE_TEST_POSTGRES_URL")
    if url:
        return url
    out = subprocess.run(["bash", str(common.ROOT / ".ci" / "run"), "--postgres-only"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("'")[1]


def est(group, name):
    for candidate in (name, name.replace("/", "_")):
        try:
            return common.estimate(group, candidate)["median"]
        except FileNotFoundError:
            continue
    raise SystemExit(f"no criterion estimate for {group}/{name}")


def main():
    print(f"machine: {common.machine()}")
    url = postgres_url()
    common.cargo_bench("release-adapters", "ledger", env={"RELEASE_TEST_POSTGRES_URL": url})
    for db, concurrent in (("sqlite", ("concurrent_8", "concurrent_64")),
                           ("postgres", ("concurrent_8",))):
        raw = est(db, "raw_insert_per_commit")
        target = ">= 0.5x raw (DESIGN.md)" if db == "sqlite" else "no DESIGN target"
        for variant in ("sequential", *concurrent):
            ours = est(db, f"ledger_append/{variant}")
            ratio = raw / ours
            common.report(
                f"{db} ledger append ({variant}) vs raw INSERT per commit",
                f"{1 / ours:,.0f}/s ({ours * 1e6:,.0f} us)",
                f"{1 / raw:,.0f}/s ({raw * 1e6:,.0f} us)",
                f"{ratio:.2f}x raw rate",
                target,
                ratio >= 0.5 if db == "sqlite" else None)


if __name__ == "__main__":
    main()
