"""How long does `bench` take to start? Target: under 1 s for `bench --help` and `bench models list`.

Runs each command N times as a fresh process (after one unmeasured warm-up run that fills the OS
file cache) and prints wall-clock median, min and max, and the median CPU time (user + system of
the child), which moves less than wall time on a shared machine. `python -c pass` is the floor.

    .venv/bin/python benchmarks/cli_startup.py            # 10 runs of each command
    .venv/bin/python benchmarks/cli_startup.py --runs 20 --check   # exit 1 when a median >= 1 s
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.0
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "bench --help": ["-m", "bench", "--help"],
    "bench models list": ["-m", "bench", "models", "list"],
    "bench run --help": ["-m", "bench", "run", "--help"],
}
TARGETED = ("bench --help", "bench models list")


def _bench_argv(args: list[str]) -> list[str]:
    """The `bench` console script beside this interpreter when there is one (what users run)."""
    script = Path(sys.executable).with_name("bench")
    if args[:2] == ["-m", "bench"] and script.exists():
        return [str(script), *args[2:]]
    return [sys.executable, *args]


def measure(args: list[str], runs: int) -> tuple[list[float], list[float]]:
    argv = _bench_argv(args)
    env = {**os.environ, "COLUMNS": "120"}
    subprocess.run(argv, capture_output=True, env=env, check=True)  # warm-up
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when a median >= {TARGET_S} s"
    )
    opts = parser.parse_args()

    print(
        f"{'command':<20} {'median s':>9} {'min s':>7} {'max s':>7} {'cpu s':>7}  ({opts.runs} runs)"
    )
    slow = []
    for name, args in COMMANDS.items():
        walls, cpus = measure(args, opts.runs)
        median = statistics.median(walls)
        print(
            f"{name:<20} {median:>9.3f} {min(walls):>7.3f} {max(walls):>7.3f} "
            f"{statistics.median(cpus):>7.3f}"
        )
        if name in TARGETED and median >= TARGET_S:
            slow.append(name)
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores (numbers are noisy when it is high)")
    if slow:
        print(f"over {TARGET_S} s: {', '.join(slow)}")
    return 1 if opts.check and slow else 0


if __name__ == "__main__":
    sys.exit(main())
