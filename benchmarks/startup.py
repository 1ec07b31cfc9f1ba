"""Where the seconds go from `bench run` to the first session, and how soon a mistake is said.

Runs `bench run` as a user does and timestamps every line it prints (stdout and stderr, read as
they come), then reports when each phase first showed up:

- first line:      bench's first line (a user must hear from it within a second);
- inputs checked:  the eval set, agent, model and flags (before any wait);
- sizing:          `--processes auto` (measures the load process's CPU once a day);
- server ready:    vLLM started (launched runs), or nothing to wait for (attached);
- preflight:       up to three tool-calling sessions in bench's own process;
- load processes:  the Locust children importing Locust, LiteLLM and ADK, loading the agent;
- first session:   the first measured session's record (the load clock starts);
- summary:         the tables built and the summary printed.

and the longest silence between two lines (target: at most 5 s). Against `bench fake-server` by
default (no vLLM start), or `--model tiny` for the README's first command with a real vLLM.
Then the mistakes that need no server: a misspelt eval set and model must fail in under 2 s.

    .venv/bin/python benchmarks/startup.py                   # fake server, 3 repeats
    .venv/bin/python benchmarks/startup.py --model tiny --repeats 1

Wall time on a shared 2-core machine: read the medians, not single runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.testing.fake_server import running_fake_server  # noqa: E402

BENCH = [sys.executable, "-m", "bench"]
# (phase, text of the line that first shows it)
MARKS = (
    ("first line", ""),
    ("inputs checked", "sizing the load processes"),
    ("server ready", "preflight:"),
    ("load processes", "starting load processes"),
    ("first session", "load:"),
    ("summary", "results:"),
)


def timed_lines(argv: list[str]) -> tuple[int, list[tuple[float, str]]]:
    """Run `argv`; every line of its output with the seconds since the start."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            bufsize=1, cwd=ROOT)  # fmt: skip
    lines: list[tuple[float, str]] = []
    lock = threading.Lock()

    def read(stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with lock:
                lines.append((time.monotonic() - t0, line.rstrip()))

    readers = [threading.Thread(target=read, args=(s,)) for s in (proc.stdout, proc.stderr)]
    for r in readers:
        r.start()
    code = proc.wait()
    for r in readers:
        r.join()
    return code, sorted(lines)


def phases(lines: list[tuple[float, str]]) -> dict[str, float]:
    found: dict[str, float] = {"first line": lines[0][0]} if lines else {}
    for name, text in MARKS:
        hit = next((t for t, line in lines if line.startswith(text)), None)
        if hit is not None:
            found[name] = hit
    # "load:" lines appear from the first one on; the first session is the first with sessions > 0
    first = next((t for t, line in lines if line.startswith("load:") and " sessions 0" not in line),
                 None)  # fmt: skip
    if first is not None:
        found["first session"] = first
    return found


def longest_silence(lines: list[tuple[float, str]]) -> float:
    stamps = [0.0, *(t for t, _ in lines)]
    return max((b - a for a, b in zip(stamps, stamps[1:], strict=False)), default=0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="serve this catalog model (default: fake)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=4)
    args = parser.parse_args()

    results: list[dict[str, float]] = []
    silences: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            run = [*BENCH, "run", "--sessions", str(args.sessions), "--users", "2",
                   "--results-dir", tmp, "--run-id", f"startup-{i}"]  # fmt: skip
            if args.model:
                code, lines = timed_lines([*run, "--model", args.model])
            else:
                with running_fake_server() as url:
                    code, lines = timed_lines([*run, "--endpoint", url, "--model", "fake"])
            if code != 0:
                print(f"run {i}: exit {code}\n" + "\n".join(line for _, line in lines[-20:]))
                return 1
            results.append(phases(lines))
            silences.append(longest_silence(lines))
    print(
        f"bench run to the summary ({args.model or 'fake server'}, {args.repeats} runs, "
        "median seconds since the start):"
    )
    for name, _ in MARKS:
        values = [r[name] for r in results if name in r]
        if values:
            print(f"  {name:<16} {statistics.median(values):6.1f}")
    print(f"  longest silence  {statistics.median(silences):6.1f}  (target <= 5)")

    print("mistakes that need no server (target < 2 s):")
    for label, extra in (("misspelt eval set", ["--evalset", "weather_tme"]),
                         ("misspelt model", ["--model", "tiny-typo"])):  # fmt: skip
        t0 = time.monotonic()
        code, lines = timed_lines([*BENCH, "run", *extra])
        print(f"  {label:<18} {time.monotonic() - t0:5.2f} s, exit {code}: {lines[-1][1][:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
