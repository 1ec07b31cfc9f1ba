"""What each saving of bench.load.lean_adk is worth, and what reading the responses on an
arrival reader costs (bench.agent.wire_arrival): CPU per turn and per LLM call.

Each configuration runs in a fresh process (the savings are process-wide): the weather_time
cases one session at a time against `bench fake-server` at 0 ms (its own process), streaming;
after one warm-up pass, process CPU (every thread) over `--turns` turns. Configurations are
interleaved `--repeats` times and the medians printed, with how many streamed replies took the
lean path (bench.compat.lean_stream) and LiteLLM's own wrapper.

    .venv/bin/python benchmarks/client_cpu.py                  # none, each saving, all
    .venv/bin/python benchmarks/client_cpu.py --turns 200 --repeats 5
    .venv/bin/python benchmarks/client_cpu.py --only "all savings,all (load process)"

Noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIGS = {
    "none": set(),
    "a2a import cached": {"a2a"},
    "success logging off": {"logging"},
    "telemetry content off": {"telemetry"},
    "cost off": {"cost"},
    "stream not rebuilt": {"stream"},
    "all savings": {"a2a", "logging", "telemetry", "cost", "stream"},
    # the arrival reader at CPython's default 5 ms switch interval, then as the load process
    "all + arrival reader at 5 ms switch": {
        "a2a",
        "logging",
        "telemetry",
        "cost",
        "stream",
        "arrival",
        "switch5",
    },  # fmt: skip
    "all (load process)": {"a2a", "logging", "telemetry", "cost", "stream", "arrival"},
}


def child(api_base: str, savings: set[str], turns: int) -> dict[str, Any]:
    import asyncio
    import itertools
    import logging

    from bench.agent import wire_arrival
    from bench.agent.session import build_agent_bundle, run_session
    from bench.compat import a2a_import, lean_stream, litellm_logging
    from bench.evalset import load_evalset
    from bench.load import lean_adk

    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    if "arrival" in savings:
        wire_arrival.enable()
    if "switch5" in savings:
        sys.setswitchinterval(0.005)
    if "a2a" in savings:
        a2a_import.skip_missing_a2a()
    if "logging" in savings:
        litellm_logging.skip_unread_success_logging()
    if "cost" in savings:
        litellm_logging.skip_unread_cost()
    if "stream" in savings:
        lean_stream.enable()
    telemetry = lean_adk.telemetry_config() if "telemetry" in savings else None
    es = load_evalset("weather_time")
    assert es.agent_dir is not None

    async def play() -> dict[str, Any]:
        bundle = build_agent_bundle(es.agent_dir, api_base=api_base, served_model_name="fake",
                                    run_id="cpu", eval_set_id="e", telemetry=telemetry)  # fmt: skip
        for case in es.cases:
            await run_session(bundle, case)
        calls = [0]

        def count(_record: Any) -> None:
            calls[0] += 1

        done, cpu0 = 0, time.process_time()
        for case in itertools.cycle(es.cases):
            done += (await run_session(bundle, case, on_llm_call=count))["turns"]
            if done >= turns:
                break
        return {"cpu_s": time.process_time() - cpu0, "turns": done, "calls": calls[0],
                "streams_lean": lean_stream.streams_lean,
                "streams_plain": lean_stream.streams_plain}  # fmt: skip

    return asyncio.run(play())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated configuration names (default: all)")
    parser.add_argument("--child", nargs=2, metavar=("API_BASE", "SAVINGS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        savings = set(filter(None, args.child[1].split(",")))
        print(json.dumps(child(args.child[0], savings, args.turns)))
        return 0

    from bench.testing.fake_server import running_fake_server

    names = [n.strip() for n in args.only.split(",")] if args.only else list(CONFIGS)
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"--only: unknown configuration {unknown[0]!r}; known: {', '.join(CONFIGS)}")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with running_fake_server() as url:
        for _ in range(args.repeats):
            for name in names:
                savings = CONFIGS[name]
                out = subprocess.run([sys.executable, __file__, "--turns", str(args.turns),
                                      "--child", url + "/v1", ",".join(sorted(savings))],
                                     capture_output=True, text=True, timeout=900, cwd=REPO,
                                     check=True)  # fmt: skip
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"weather_time, streaming, fake server at 0 ms, {args.turns} turns x {args.repeats}, "
        "medians:"
    )
    for name, runs in results.items():
        turn = statistics.median(r["cpu_s"] * 1000 / r["turns"] for r in runs)
        call = statistics.median(r["cpu_s"] * 1000 / r["calls"] for r in runs)
        lean = sum(r["streams_lean"] for r in runs)
        plain = sum(r["streams_plain"] for r in runs)
        print(f"  {name:36s}: {turn:5.1f} CPU-ms per turn, {call:5.1f} per LLM call "
              f"(streams lean/plain: {lean}/{plain})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
