"""Shared helpers of the benches/compare scripts: installing references, running criterion
benches and reading their estimates, the SplitMix64 generator of release_benches, the machine
description, and the result rows `run-all` collects.

Every comparison prints both figures, the ratio and the target, and (when run by `run-all`)
appends one JSON object per row to the file named by RELEASE_COMPARE_RESULTS.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MASK = (1 << 64) - 1


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def work_dir():
    """Where generated inputs live (shared by both sides of a comparison)."""
    path = Path(os.environ.get("RELEASE_COMPARE_DIR", "/tmp/release-compare"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_python(module, package=None):
    """Imports `module`, installing `package` with pip --user first when it is missing."""
    try:
        return __import__(module)
    except ImportError:
        pip = [sys.executable, "-m", "pip", "install", "--user", "--quiet", package or module]
        print(f"installing {package or module}: {' '.join(pip)}", flush=True)
        if subprocess.run(pip).returncode != 0:
            # Debian's own python refuses --user installs without this flag (PEP 668).
            subprocess.run(pip + ["--break-system-packages"], check=True)
        import importlib
        import site

        importlib.reload(site)
        return __import__(module)


def ensure_apt(binary, package):
    """Installs the Debian `package` when `binary` is not on PATH (idempotent)."""
    if shutil.which(binary):
        return shutil.which(binary)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"installing Debian package {package} for {binary}", flush=True)
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", package], check=True, env=env)
    return shutil.which(binary)


def cargo(args, env=None, capture=True):
    """Runs cargo in the workspace; returns its stdout (stderr goes to the terminal)."""
    full_env = dict(os.environ, **(env or {}))
    print(f"$ cargo {' '.join(args)}", flush=True)
    proc = subprocess.run(
        ["cargo", *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE if capture else None,
        text=True,
    )
    if proc.returncode != 0:
        if capture:
            sys.stdout.write(proc.stdout)
        raise SystemExit(f"cargo {' '.join(args)} failed with status {proc.returncode}")
    return proc.stdout if capture else ""


def cargo_bench(package, bench, env=None, criterion_args=(), features=()):
    """Runs one criterion bench target; returns its stdout."""
    args = ["bench", "-p", package, "--bench", bench]
    if features:
        args += ["--features", ",".join(features)]
    args += ["--", "--noplot", *criterion_args]
    out = cargo(args, env=env)
    sys.stdout.write(out)
    return out


def cargo_bin(package, name, args, env=None):
    """Builds a release `[[bin]]` of `package` and runs it; returns its stdout."""
    cargo(["build", "--release", "-p", package, "--bin", name], capture=False)
    exe = target_dir() / "release" / name
    print(f"$ {exe} {' '.join(map(str, args))}", flush=True)
    proc = subprocess.run([exe, *map(str, args)], stdout=subprocess.PIPE, text=True, env=env)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed with status {proc.returncode}")
    return proc.stdout


def key_values(text):
    """`key value` lines of a bin's output as a dict of strings."""
    out = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[parts[0]] = parts[1].strip()
    return out


def estimate(group, name):
    """Criterion's estimates for `group/name` from its last run, in seconds:
    {'median', 'mean', 'median_low', 'median_high'}."""
    path = target_dir() / "criterion" / group / name / "new" / "estimates.json"
    data = json.loads(path.read_text())
    med = data["median"]
    return {
        "median": med["point_estimate"] / 1e9,
        "median_low": med["confidence_interval"]["lower_bound"] / 1e9,
        "median_high": med["confidence_interval"]["upper_bound"] / 1e9,
        "mean": data["mean"]["point_estimate"] / 1e9,
    }


def timed(fn, runs):
    """(min, median) seconds of `runs` calls of `fn`."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[0], times[len(times) // 2]


def load():
    return os.getloadavg()[0]


def machine():
    """One line describing the machine and its load now."""
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), {mem} RAM, load average {load():.2f}"


def ms(seconds):
    return f"{seconds * 1e3:,.1f} ms"


def report(comparison, ours, reference, ratio, target, met, note=""):
    """Prints one result row and records it for run-all."""
    status = "n/a" if met is None else ("met" if met else "NOT met")
    print(
        f"RESULT {comparison}: ours {ours}; reference {reference}; ratio {ratio}; "
        f"target {target}: {status}{'; ' + note if note else ''}",
        flush=True,
    )
    path = os.environ.get("RELEASE_COMPARE_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(
                json.dumps(
                    {
                        "comparison": comparison,
                        "ours": ours,
                        "reference": reference,
                        "ratio": ratio,
                        "target": target,
                        "met": met,
                        "note": note,
                        "load": round(load(), 2),
                    }
                )
                + "\n"
            )


class SplitMix64:
    """Bit-for-bit the generator of release_benches::SplitMix64."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        return self.next_u64() % bound
