"""Soak: a long run on CPU with the tiny model; the load process's memory must stay flat, no errors.

    .venv/bin/python benchmarks/soak.py --duration 600 --users 4

Runs `bench run` as a child, samples the resident memory of the Locust process tree every
`--sample-s` seconds, and prints RSS at the start and end of the measured part, the growth in
MiB and per minute, and the run's error count from summary.parquet. Exit code 1 when memory grew
by more than `--max-growth-pct` or any error was recorded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq


def locust_rss_mib(root: psutil.Process) -> float | None:
    total, found = 0, False
    for proc in root.children(recursive=True):
        try:
            if "locust" in " ".join(proc.cmdline()):
                total += proc.memory_info().rss
                found = True
        except psutil.NoSuchProcess:
            continue
    return total / 2**20 if found else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=600)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--max-growth-pct", type=float, default=10)
    args = parser.parse_args()
    results = Path(tempfile.mkdtemp(prefix="soak-"))
    cmd = [sys.executable, "-m", "bench", "run", "--model", "tiny", "--users", str(args.users),
           "--duration", f"{args.duration}s", "--results-dir", str(results), "--run-id", "soak"]  # fmt: skip
    print("soak:", " ".join(cmd), flush=True)
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(child.pid)
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    while child.poll() is None:
        rss = locust_rss_mib(root)
        if rss is not None:
            samples.append((time.monotonic() - started, rss))
            print(f"  t={samples[-1][0]:6.0f} s  load-process RSS {rss:7.1f} MiB", flush=True)
        time.sleep(args.sample_s)
    output = child.stdout.read() if child.stdout else ""
    print(output[-2500:])
    summary = pq.read_table(results / "soak" / "summary.parquet").to_pylist()[0]
    # Skip the first minute: imports, caches and the first sessions grow memory legitimately.
    steady = [s for s in samples if s[0] >= 60] or samples
    first, last = steady[0], steady[-1]
    growth = last[1] - first[1]
    minutes = max((last[0] - first[0]) / 60, 1e-9)
    pct = 100 * growth / first[1]
    print(f"load-process RSS: {first[1]:.1f} MiB at {first[0]:.0f} s -> {last[1]:.1f} MiB at {last[0]:.0f} s "
          f"({growth:+.1f} MiB, {pct:+.1f} %, {growth / minutes:+.2f} MiB/min)")  # fmt: skip
    print(f"sessions {summary['sessions']}, turns {summary['turns']}, errors {summary['errors']}, "
          f"turns/s {summary['turns_per_s']:.2f}, exit code {child.returncode}")  # fmt: skip
    ok = child.returncode == 0 and summary["errors"] == 0 and pct <= args.max_growth_pct
    print("soak:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
