"""How much does the Locust load process cost compared with a bare ADK Runner loop?

Both drive the same agent (evalsets/weather_time) against the fake server at zero latency, with
the same concurrency, so the client CPU is the bottleneck and any harness overhead shows:

- bare:   this process, asyncio only: N tasks running the same sessions (`run_session`, same
          Runner set-up and timed model) with no Locust, no gevent, no bridge, no records;
- locust: `LocustProcess` with 1 Locust process and N users (timing, raw JSONL, Locust events).

Prints ADK turns/s of each and the ratio locust/bare (target >= 0.85).

    .venv/bin/python benchmarks/load_overhead.py --duration 20            # one user vs a sequential loop

With more than one user the bare asyncio side has been seen to lose throughput as tasks are
added (1 task 20 turns/s, 8 tasks 3.4 turns/s on 2 cores), which makes the ratio meaningless;
the default compares one Locust user with one sequential Runner loop.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load.process import LocustProcess  # noqa: E402
from bench.load.spec import LoadSpec  # noqa: E402
from bench.schemas.raw import read_records  # noqa: E402
from bench.testing.fake_server import running_fake_server  # noqa: E402

EVALSET = "evalsets/weather_time"


async def bare_loop(
    api_base: str, users: int, duration_s: float, stream: bool
) -> tuple[int, float]:
    """Turns completed and seconds taken by `users` asyncio tasks running the same sessions
    (same agent, same ADK Runner set-up and timed model as the load process), without Locust,
    gevent or the bridge, and without writing records."""
    import logging

    import litellm  # noqa: F401  (the load process imports it up front too)

    from bench.agent.session import build_agent_bundle, run_session
    from bench.evalset import load_evalset

    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    es = load_evalset(EVALSET)
    bundle = build_agent_bundle(
        es.agent_dir,
        api_base=api_base,
        served_model_name="fake",
        run_id="bare",
        eval_set_id="e",
        stream=stream,
    )
    order = itertools.cycle(es.cases)
    for case in es.cases:  # warm-up: every code path once, outside the measured window
        await run_session(bundle, case)
    deadline = time.perf_counter() + duration_s
    turns = 0

    async def user() -> None:
        nonlocal turns
        while time.perf_counter() < deadline:
            turns += (await run_session(bundle, next(order)))["turns"]

    t0 = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(users)))
    return turns, time.perf_counter() - t0


def locust_run(
    base_url: str, users: int, duration_s: float, stream: bool, run_dir: Path
) -> tuple[int, float]:
    spec = LoadSpec(
        run_id="overhead",
        run_dir=run_dir,
        evalset=EVALSET,
        api_base=base_url + "/v1",
        served_model_name="fake",
        stream=stream,
    )
    proc = LocustProcess(
        spec, users=users, spawn_rate=users, duration_s=duration_s, stop_timeout_s=5
    )
    code = proc.run(timeout_s=duration_s + 120)
    if code != 0:
        raise SystemExit(f"locust exited with {code}; see {run_dir / 'locust.log'}")
    turns = [
        t for t in read_records(run_dir, "turns") if not t["warmup"] and t["error_type"] is None
    ]
    if not turns:
        raise SystemExit(f"no turns recorded; see {run_dir / 'locust.log'}")
    window = max(t["ended_at"] for t in turns) - min(t["started_at"] for t in turns)
    return len(turns), window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--users",
        type=int,
        default=1,
        help="concurrency of both sides (1 = a bare sequential Runner loop)",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measurement")
    parser.add_argument("--no-stream", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the Locust run folder")
    args = parser.parse_args(argv)
    stream = not args.no_stream
    run_dir = Path(tempfile.mkdtemp(prefix="load_overhead_"))
    try:
        with running_fake_server() as url:
            bare_turns, bare_s = asyncio.run(
                bare_loop(url + "/v1", args.users, args.duration, stream)
            )
            load_turns, load_s = locust_run(url, args.users, args.duration, stream, run_dir)
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    bare_rate, load_rate = bare_turns / bare_s, load_turns / load_s
    print(
        f"mode: {'stream' if stream else 'no-stream'}, users: {args.users}, duration: {args.duration:.0f} s, cpus: {os.cpu_count()}"
    )
    print(
        f"bare ADK Runner loop : {bare_turns:6d} turns in {bare_s:6.1f} s = {bare_rate:7.1f} turns/s"
    )
    print(
        f"Locust load process  : {load_turns:6d} turns in {load_s:6.1f} s = {load_rate:7.1f} turns/s"
    )
    print(f"ratio locust/bare    : {load_rate / bare_rate:.2f} (target >= 0.85)")
    if args.keep:
        print(f"run folder: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
