"""CPU per turn and per LLM call: a bench load process vs a bare ADK Runner loop.

Both play the weather_time eval cases one session at a time against `bench fake-server` at 0 ms
(its own process), so each side's own CPU is what is measured:

- bare:  a child process running ADK's Runner the way a plain script does: the same agent, the
         same model wrapper (TimedLiteLlm) and the same threading (the asyncio loop in its own
         thread, as in the load process), a new RunConfig per turn, no bench.load.lean_adk, no
         records;
- bench: a Locust load process (`LocustProcess`, one process, one user): records, Locust
         events, the bridge, plus the savings of bench.load.lean_adk.

Each side is measured in steady state: after its warm-up, process CPU (user + system, every
thread) over a window of `--seconds`, divided by the turns and LLM calls that ended in it. The
sides are interleaved (bare, bench, bare, bench, ...) `--repeats` times; the medians are printed,
with the ratio of turns per CPU-second (bench / bare; target >= 1.5): the median of the ratios of
each interleaved pair, so a drift in the machine's speed between pairs cancels out.

Both are measured under two bytecode conditions (`--bytecode`), because a plain ADK loop pays
for one of them every turn: ADK 2.13 imports `remote_a2a_agent` while building each turn and,
without the a2a package, that import fails and runs again next turn (bench.load.lean_adk).
- cached: the virtual environment's compiled bytecode, as `scripts/setup.sh` installs it;
- uncached: no compiled bytecode is read or written (PYTHONDONTWRITEBYTECODE=1 with an empty
  PYTHONPYCACHEPREFIX), as in container images that set PYTHONDONTWRITEBYTECODE and install
  without compiling; every failed a2a import then compiles the module again.

    .venv/bin/python benchmarks/load_overhead.py                 # both, 3 repeats of 15 s per side
    .venv/bin/python benchmarks/load_overhead.py --seconds 10 --repeats 5 --bytecode cached

Noisy on a shared machine: CPU time is less sensitive to other load than wall time, not immune.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

EVALSET = "weather_time"


def bare_child(api_base: str, seconds: float) -> dict[str, Any]:
    """In a fresh process: a plain ADK Runner loop; steady-state CPU per turn and per call."""
    import asyncio
    import itertools
    import logging
    import threading

    from google.adk.agents import RunConfig
    from google.adk.agents.run_config import StreamingMode

    from bench.agent.session import build_agent_bundle
    from bench.agent.timed_model import CALL_SCOPE, CallScope
    from bench.evalset import load_evalset

    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    es = load_evalset(EVALSET)
    assert es.agent_dir is not None
    bundle = build_agent_bundle(es.agent_dir, api_base=api_base, served_model_name="fake",
                                run_id="bare", eval_set_id="e")  # fmt: skip
    runner = bundle.runner_for(bundle.default_app_name)
    counts = {"turns": 0, "calls": 0}

    def count_call(_record: Any) -> None:
        counts["calls"] += 1

    async def session(case: Any) -> None:
        s = await bundle.session_service.create_session(app_name=bundle.default_app_name,
                                                        user_id="u")  # fmt: skip
        for turn in case.conversation:
            CALL_SCOPE.set(CallScope("bare", s.id, "t", False, count_call))
            async for _event in runner.run_async(
                user_id="u", session_id=s.id, new_message=turn.user_content,
                run_config=RunConfig(streaming_mode=StreamingMode.SSE),
            ):  # fmt: skip
                pass
            counts["turns"] += 1

    async def play() -> dict[str, Any]:
        for case in es.cases:  # warm-up: every code path once
            await session(case)
        counts.update(turns=0, calls=0)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for case in itertools.cycle(es.cases):
            await session(case)
            if time.perf_counter() - t0 >= seconds:
                break
        return {"cpu_s": time.process_time() - cpu0, **counts}

    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.update(asyncio.run(play())))
    thread.start()  # the loop in its own thread, as in the load process (bench.load.bridge)
    thread.join()
    return box


def run_bare(api_base: str, seconds: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child-bare", api_base,
                          "--seconds", str(seconds)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"bare loop failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_bench(base_url: str, seconds: float, run_dir: Path) -> dict[str, Any]:
    import psutil

    from bench.load.process import LocustProcess
    from bench.load.spec import LoadSpec
    from bench.schemas.raw import read_records

    spec = LoadSpec(run_id="overhead", run_dir=run_dir, evalset=EVALSET,
                    api_base=base_url + "/v1", served_model_name="fake")  # fmt: skip
    proc = LocustProcess(spec, users=1, spawn_rate=1, duration_s=None, stop_timeout_s=2)
    proc.start()

    def measured_turns() -> list[dict[str, Any]]:
        return [t for t in read_records(run_dir, "turns") if not t["warmup"]]

    try:
        deadline = time.monotonic() + 300
        while len(measured_turns()) < 3:  # past the warm-up session and the first measured turns
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"load process did not start; see {proc.log_path}")
            time.sleep(0.2)
        assert proc.pid is not None
        ps = psutil.Process(proc.pid)
        c0, w0 = sum(ps.cpu_times()[:2]), time.time()
        time.sleep(seconds)
        c1, w1 = sum(ps.cpu_times()[:2]), time.time()
    finally:
        proc.stop()
    turns = [t for t in measured_turns() if w0 <= t["ended_at"] <= w1]
    calls = [c for c in read_records(run_dir, "llm_calls")
             if not c["warmup"] and w0 <= c["started_at"] + c["e2e_ms"] / 1000 <= w1]  # fmt: skip
    return {"cpu_s": c1 - c0, "turns": len(turns), "calls": len(calls)}


def uncached_bytecode_env(pycache: Path) -> dict[str, str]:
    """Children started with this read and write no compiled bytecode: PYTHONPYCACHEPREFIX makes
    Python look for .pyc files only under `pycache` (empty), PYTHONDONTWRITEBYTECODE keeps it so."""
    return {"PYTHONPYCACHEPREFIX": str(pycache), "PYTHONDONTWRITEBYTECODE": "1"}


def measure(url: str, seconds: float, repeats: int) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"bare": [], "bench": []}
    for i in range(repeats):
        results["bare"].append(run_bare(url + "/v1", seconds))
        run_dir = Path(tempfile.mkdtemp(prefix="load_overhead_"))
        try:
            results["bench"].append(run_bench(url, seconds, run_dir))
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        for side in ("bare", "bench"):
            r = results[side][-1]
            print(f"  repeat {i + 1} {side:5s}: {r['turns']:4d} turns, {r['calls']:4d} calls, "
                  f"{r['cpu_s']:.2f} CPU-s")  # fmt: skip
    return results


def per(r: dict[str, Any], what: str) -> float:
    return float(r["cpu_s"]) * 1000 / max(1, int(r[what]))


def report(results: dict[str, list[dict[str, Any]]]) -> float:
    """Print the medians; return the median of the per-pair ratios (bare / bench CPU per turn)."""
    for side, label in (("bare", "bare ADK Runner loop"), ("bench", "bench load process")):
        turn_ms = statistics.median(per(r, "turns") for r in results[side])
        call_ms = statistics.median(per(r, "calls") for r in results[side])
        print(f"    {label:21s}: {turn_ms:5.1f} CPU-ms per turn, {call_ms:5.1f} per LLM call, "
              f"{1000 / turn_ms:5.1f} turns/s per core")  # fmt: skip
    ratios = [per(bare, "turns") / per(bench, "turns")
              for bare, bench in zip(results["bare"], results["bench"], strict=True)]  # fmt: skip
    ratio = statistics.median(ratios)
    print(f"    ratio (turns/s per core, bench / bare): {ratio:.2f} "
          f"(pairs: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 1.5)")  # fmt: skip
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bytecode", choices=("cached", "uncached", "both"), default="both")
    parser.add_argument("--child-bare", metavar="API_BASE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_bare:
        print(json.dumps(bare_child(args.child_bare, args.seconds)))
        return 0

    from bench.testing.fake_server import running_fake_server

    conditions = ("cached", "uncached") if args.bytecode == "both" else (args.bytecode,)
    measured: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with running_fake_server() as url:
        for condition in conditions:
            print(f"bytecode {condition}:")
            saved = dict(os.environ)
            pycache = Path(tempfile.mkdtemp(prefix="no_pycache_"))
            if condition == "uncached":  # both children inherit it (LocustProcess copies environ)
                os.environ.update(uncached_bytecode_env(pycache))
            try:
                measured[condition] = measure(url, args.seconds, args.repeats)
            finally:
                os.environ.clear()
                os.environ.update(saved)
                shutil.rmtree(pycache, ignore_errors=True)

    print(f"fake server at 0 ms, streaming, {EVALSET}, one session at a time, "
          f"{args.repeats} x {args.seconds:g} s per side, medians:")  # fmt: skip
    for condition, results in measured.items():
        print(f"  bytecode {condition}:")
        report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
