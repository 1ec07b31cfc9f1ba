"""How many load processes a run needs (`--processes auto`), and what the client can drive.

A load process runs ADK and LiteLLM in Python: every LLM call costs it CPU (`cpu_per_call_s`,
~25-35 ms on this project's 2-core machines). One process uses at most one core, and above
~70% of it the client's own queueing starts to show in the latencies, so one process drives
about `PROCESS_CORE_SHARE / cpu_per_call_s` LLM calls/s.

The per-call CPU is measured at start-up (`calibrate`), in the orchestrator's process (ADK and
LiteLLM are imported there anyway): with the load process's savings applied for the while
(bench.load.lean_adk.applied) and its responses read on an arrival reader
(bench.agent.wire_arrival.reading), it plays the shipped weather_time agent against a fake server at
0 ms (its own process: its CPU is not counted) for about a second after one warm-up session,
and divides its process CPU time (threads included: LiteLLM works in executor threads) by the
LLM calls made. 11 s of wall time on the loaded 2-core test machine (most of it the fake
server's start and the first session), once a day, and only for `--processes auto` (a given
count uses the cached figure or the fallback, for the capacity line only). The result is cached for a day per machine and library
versions (the cache folder's `client_cpu.json`); it falls back to `FALLBACK_CPU_PER_CALL_S`
when the measurement fails. `BENCH_CLIENT_CPU_MS` (bench.schemas.settings) sets it (tests, or a known value).

The load asked for, in LLM calls/s:
- open loop: session rate x LLM calls per session;
- closed loop: each user has one call in flight; assuming the server answers a call in
  `ASSUMED_CALL_LATENCY_S` (a fast GPU server with a small model; slower servers need fewer
  processes), a user makes calls_per_session / (calls x (latency + CPU) + think time) calls/s.
LLM calls per session are counted from the eval set: one per turn, plus one per turn that
expects tool calls (ADK calls the model again with the tool results).

Cores left for a server on the same machine: half of them for a CPU vLLM that bench launches,
one for a GPU server (its API server and scheduler), none when attached (`--endpoint`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.schemas.config import RunConfig
from bench.schemas.errors import BenchError
from bench.schemas.settings import CLIENT_CPU_MS_ENV, settings

FALLBACK_CPU_PER_CALL_S = 0.030  # weather_time, streaming, lean load process (README)
PROCESS_CORE_SHARE = 0.70  # of one core, before the client's queueing shows in latencies
ASSUMED_CALL_LATENCY_S = 0.25
CACHE_NAME = "client_cpu.json"
CACHE_TTL_S = 24 * 3600.0
CALIBRATION_MEASURE_S = 1.0  # measured window after the warm-up session


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def reserved_cores(n_cores: int, *, attached: bool, gpu: bool) -> int:
    if attached:
        return 0
    return 1 if gpu else n_cores // 2


def calls_per_session(cases: list[Any]) -> float:
    """Mean LLM calls a session makes: a call per turn, one more per turn expecting tool calls."""
    from google.adk.evaluation.eval_case import get_all_tool_calls

    totals = []
    for case in cases:
        turns = list(case.conversation or [])
        totals.append(sum(1 + bool(get_all_tool_calls(t.intermediate_data)) for t in turns))
    return max(1.0, sum(totals) / len(totals)) if totals else 1.0


def turns_per_session(cases: list[Any]) -> float:
    counts = [len(case.conversation or []) for case in cases]
    return max(1.0, sum(counts) / len(counts)) if counts else 1.0


@dataclass(frozen=True)
class Capacity:
    processes: int
    cpu_per_call_s: float
    source: str  # "measured", "cached", "BENCH_CLIENT_CPU_MS" or "fallback"
    cores: int
    reserved: int
    calls_per_session: float
    turns_per_session: float
    think_time_s: float

    @property
    def calls_per_s(self) -> float:
        """LLM calls/s the load processes drive before their CPU is the bottleneck."""
        return self.processes * PROCESS_CORE_SHARE / self.cpu_per_call_s

    @property
    def user_calls_per_s(self) -> float:
        """LLM calls/s one closed-loop user asks for at ASSUMED_CALL_LATENCY_S."""
        busy = self.calls_per_session * (ASSUMED_CALL_LATENCY_S + self.cpu_per_call_s)
        return self.calls_per_session / (busy + self.think_time_s * (self.turns_per_session - 1))

    @property
    def users(self) -> float:
        return self.calls_per_s / self.user_calls_per_s

    @property
    def sessions_per_s(self) -> float:
        return self.calls_per_s / self.calls_per_session

    def line(self) -> str:
        return (f"client capacity: ~{self.calls_per_s:.0f} LLM calls/s with {self.processes} "
                f"load process(es) ({self.cpu_per_call_s * 1000:.0f} ms CPU per call, "
                f"{self.source}; {self.cores} cores, {self.reserved} left for the server): "
                f"~{self.sessions_per_s:.2g} sessions/s open loop, ~{self.users:.0f} users at "
                f"{ASSUMED_CALL_LATENCY_S * 1000:.0f} ms per call")  # fmt: skip

    def warnings(self, *, users: int, session_rate: float | None) -> list[str]:
        """The requested load above the capacity: its latencies would include client queueing."""
        if session_rate is not None:
            if session_rate <= self.sessions_per_s:
                return []
            return [f"warning: {session_rate:g} sessions/s is above the client capacity "
                    f"(~{self.sessions_per_s:.2g}/s): add --processes or `bench worker` "
                    "machines, or the client's queueing is what gets measured"]  # fmt: skip
        if users <= self.users:
            return []
        return [f"warning: {users} users may be above the client capacity (~{self.users:.0f} "
                f"users at {ASSUMED_CALL_LATENCY_S * 1000:.0f} ms per call): add --processes "
                "or `bench worker` machines, or the client's queueing is what gets measured"]  # fmt: skip


def auto_processes(demand_calls_per_s: float, cpu_per_call_s: float, usable_cores: int) -> int:
    """Processes for the demand, one per usable core at most, at least one."""
    per_process = PROCESS_CORE_SHARE / cpu_per_call_s
    return max(1, min(usable_cores, math.ceil(demand_calls_per_s / per_process)))


def plan(
    *,
    requested: int | None,
    users: int,
    session_rate: float | None,
    think_time_s: float,
    cases: list[Any],
    attached: bool,
    gpu: bool,
    cpu_per_call: tuple[float, str],
    n_cores: int | None = None,
    master: bool = False,
) -> Capacity:
    """The processes to start (`requested`, or auto when None) and the capacity they give."""
    n = n_cores or cores()
    reserved = reserved_cores(n, attached=attached, gpu=gpu)
    cpu_s, source = cpu_per_call
    cap = Capacity(1, cpu_s, source, n, reserved, calls_per_session(cases),
                   turns_per_session(cases), think_time_s)  # fmt: skip
    if master:
        processes = 1  # the users run in `bench worker` processes
    elif requested is not None:
        processes = requested
    else:
        demand = (session_rate * cap.calls_per_session if session_rate is not None
                  else users * cap.user_calls_per_s)  # fmt: skip
        processes = auto_processes(demand, cpu_s, max(1, n - reserved))
    return Capacity(processes, cpu_s, source, n, reserved, cap.calls_per_session,
                    cap.turns_per_session, think_time_s)  # fmt: skip


def size_run(
    cfg: RunConfig, *, users: list[int], rates: list[float]
) -> tuple[RunConfig, Capacity, list[str]]:
    """Resolve `--processes auto` for the largest load of the run (users or session rates) and
    say what the client can drive; returns the config to run, the capacity and any warnings."""
    from bench.evalset import load_evalset
    from bench.server.environment import detect_gpus

    load = cfg.load
    attached = bool(cfg.server.endpoint)
    gpu = not attached and bool(cfg.server.gpus or detect_gpus())
    rate = max(rates) if rates else None
    top_users = max(users) if users else load.users
    cap = plan(requested=None if load.processes_auto else load.processes, users=top_users,
               session_rate=rate, think_time_s=load.think_time_s,
               cases=list(load_evalset(cfg.evalset).cases), attached=attached, gpu=gpu,
               cpu_per_call=cpu_per_call_s(measure=load.processes_auto),
               master=load.master)  # fmt: skip
    if load.processes_auto and not load.master:
        cfg = cfg.model_copy(update={"load": load.model_copy(update={"processes": cap.processes})})
    warnings = [] if load.master else cap.warnings(users=top_users, session_rate=rate)
    return cfg, cap, warnings


def _cache_key() -> dict[str, Any]:
    from importlib.metadata import version

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "adk": version("google-adk"),
            "litellm": version("litellm"), "python": sys.version.split()[0]}  # fmt: skip


def cpu_per_call_s(cache_dir: Path | None = None, *, measure: bool = True) -> tuple[float, str]:
    """The per-call CPU of a load process: env override, a fresh cache, a measurement (unless
    `measure` is False: the count of load processes was given, so the figure only informs),
    or the fallback constant (in that order); with where it came from."""
    given = os.environ.get(CLIENT_CPU_MS_ENV)
    if given:
        try:
            ms = float(given)
        except ValueError:
            ms = 0.0
        if not ms > 0:
            raise BenchError(
                f"{CLIENT_CPU_MS_ENV}: give milliseconds of CPU per LLM call, not {given!r}"
            )
        return ms / 1000.0, CLIENT_CPU_MS_ENV
    cache = (cache_dir or settings().cache_dir) / CACHE_NAME
    key = _cache_key()
    try:
        cached = json.loads(cache.read_text())
        if cached["key"] == key and time.time() - cached["at"] < CACHE_TTL_S:
            return float(cached["cpu_per_call_s"]), "cached"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    measured = calibrate() if measure else None
    if measured is None:
        return FALLBACK_CPU_PER_CALL_S, "fallback"
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "at": time.time(), "cpu_per_call_s": measured}))
    except OSError:
        pass
    return measured, "measured"


def calibrate() -> float | None:
    """Measure in this process (see the module docstring); None when it fails."""
    try:
        return _measure()
    except Exception:  # any failure: the documented constant instead
        return None


def _measure() -> float:
    """Process CPU per LLM call of the lean load-process stack, in this process."""
    import asyncio
    import itertools
    import logging

    from bench.testing.fake_server import running_fake_server

    with running_fake_server() as url:  # its own process: its CPU is not counted here
        from bench.agent import wire_arrival
        from bench.agent.session import build_agent_bundle, run_session
        from bench.evalset import load_evalset
        from bench.load import lean_adk

        logging.getLogger("LiteLLM").setLevel(logging.WARNING)
        es = load_evalset("weather_time")
        agent_dir = es.agent_dir
        assert agent_dir is not None

        async def play() -> float:
            bundle = build_agent_bundle(agent_dir, api_base=url + "/v1",
                                        served_model_name="fake", run_id="calibration",
                                        eval_set_id=es.eval_set_id,
                                        telemetry=lean_adk.telemetry_config())  # fmt: skip
            await run_session(bundle, es.cases[0])  # warm-up: first-call costs
            calls = [0]

            def count(_record: Any) -> None:
                calls[0] += 1

            cpu0, t0 = time.process_time(), time.perf_counter()
            for case in itertools.cycle(es.cases):
                await run_session(bundle, case, on_llm_call=count)
                if time.perf_counter() - t0 >= CALIBRATION_MEASURE_S and calls[0] >= 4:
                    break
            await bundle.close()
            return (time.process_time() - cpu0) / calls[0]

        with lean_adk.applied(), wire_arrival.reading():
            return asyncio.run(play())
