"""One load step: the Locust child against a ready endpoint, watched by the stop rules.

locust = start_locust(cfg, load, step_dir, run_id, agent_dir, endpoint)
every tick: gather a Tick (records counted incrementally, disk, server, Locust, signal)
            -> first_stop(rules, tick) -> stop Locust -> StepResult
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import constants
from bench.load import distributed, webui, worker_watch
from bench.load.process import LocustProcess
from bench.load.spec import LoadSpec
from bench.runner.progress import Progress
from bench.runner.record_counter import ErrorTally, RecordCounter
from bench.runner.signals import pending_signal
from bench.runner.stop_rules import StopRule, Tick, first_stop, stop_rules
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.manifest import update_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.settings import EXTRA_HEADERS_ENV, RUN_TOKEN_ENV
from bench.schemas.status import RunStatus, Stop, Stopped
from bench.server.process import Endpoint, ServerProcess

LOAD_STOP_GRACE_S = 10.0  # per stop signal (SIGINT, then SIGTERM) before SIGKILL
TICK_S = 0.5
# The load has started when a user wrote a record; the /metrics scraper's file does not count
# (its baseline is written before Locust even starts, and Locust's imports take a while).
LOAD_TABLES = ("llm_calls", "turns", "sessions")


@dataclass
class StepResult(Stopped):
    """How one load step ended; `summary` is filled once its tables are built."""

    run_dir: RunDir
    load: LoadConfig
    stop: Stop
    summary: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    bad_lines: int = 0


def start_locust(
    cfg: RunConfig, load: LoadConfig, step_dir: RunDir, run_id: str, agent_dir: Path,
    endpoint: Endpoint,
) -> LocustProcess:  # fmt: skip
    spec = LoadSpec(
        run_id=run_id,
        run_dir=step_dir.path.resolve(),
        evalset=cfg.evalset,
        agent_dir=agent_dir,
        api_base=endpoint.api_base,
        served_model_name=endpoint.served_model_name,
        load=load,
        extra_headers_env=EXTRA_HEADERS_ENV if endpoint.headers else None,
        user_simulator=cfg.user_simulator,
    )
    locust = LocustProcess(
        spec,
        users=load.users_effective,
        spawn_rate=load.spawn_rate,
        duration_s=load.duration_s,
        processes=1 if load.master else load.processes,
        web=load.web,
        web_host=load.web_host,
        web_port=load.web_port,
        # the login's user and password travel in the environment (webui.WEB_AUTH_ENV)
        extra_args=(["--web-login"] if load.web and webui.web_auth_configured() else [])
        + distributed.master_args(load),
        api_key=endpoint.api_key or "",
        extra_env=_load_env(endpoint),
        stop_timeout_s=load.drain_s,
    )
    locust.start()
    return locust


def _load_env(endpoint: Endpoint) -> dict[str, str]:
    env = {EXTRA_HEADERS_ENV: json.dumps(endpoint.headers)} if endpoint.headers else {}
    # Workers must show this token to the Locust master (bench.load.worker_token).
    env[RUN_TOKEN_ENV] = os.environ.get(RUN_TOKEN_ENV) or secrets.token_urlsafe(24)
    return env


def run_load_step(
    cfg: RunConfig, load: LoadConfig, step_dir: RunDir, run_id: str, agent_dir: Path,
    endpoint: Endpoint, server: ServerProcess | None,
    on_progress: Callable[[Progress], None] | None = None,
) -> StepResult:  # fmt: skip
    """Drive the load until a stop rule says so; Locust is stopped whatever happens."""
    locust = start_locust(cfg, load, step_dir, run_id, agent_dir, endpoint)
    rules = stop_rules(sessions=load.sessions, duration_s=load.duration_s, web=load.web,
                       stop_timeout_s=locust.stop_timeout_s,
                       extra_allowance_s=distributed.master_allowance_s(load),
                       min_free_bytes=constants.MIN_FREE_BYTES)  # fmt: skip
    stop: Stop | None = None
    try:
        stop = _watch(locust, rules, step_dir, server, load, on_progress)
    finally:
        # a Locust that hung or never started had its chance: no drain to wait for
        drain = stop is None or stop.status is not RunStatus.LOAD_FAILED
        done = stop is not None and stop.status is RunStatus.COMPLETED and load.sessions is not None
        locust.stop(grace_s=LOAD_STOP_GRACE_S
                    + distributed.master_stop_grace_s(load, locust.stop_timeout_s), drain=drain,
                    exiting_s=locust.self_quit_s() if done else 0.0)  # fmt: skip
    if load.master:
        stop = _no_turn_played(step_dir, _workers_lost(step_dir, stop))
    return StepResult(step_dir, load, stop)


def _workers_lost(step_dir: RunDir, stop: Stop) -> Stop:
    """A master run: workers that died go into the manifest; none left means the load failed."""
    lost, total = worker_watch.read_lost(step_dir)
    if not lost:
        return stop
    update_manifest(step_dir, lost_workers=lost)
    if stop.status is not RunStatus.COMPLETED:
        return stop
    if len(lost) >= total:
        return Stop(RunStatus.LOAD_FAILED, f"all {total} Locust workers died mid-run (no "
                    "heartbeat); the records they shipped are kept; see manifest lost_workers")  # fmt: skip
    return Stop(stop.status, f"{len(lost)} of {total} Locust workers died mid-run; the run went "
                "on with the rest; see manifest lost_workers")  # fmt: skip


def _no_turn_played(step_dir: RunDir, stop: Stop) -> Stop:
    """A master run whose workers all left before playing a turn measured nothing; it must not
    read as completed. A worker quits by itself (exit code 2) when the run needs a key it lacks,
    and Locust's master then ends the test with no user."""
    if stop.status is not RunStatus.COMPLETED:
        return stop
    if RecordCounter(step_dir, "turns", include_warmup=True).update() > 0:
        return stop
    return Stop(RunStatus.LOAD_FAILED, "no worker played a turn: each worker's own output says "
                "why (a worker quits with exit code 2 when it lacks a key the run needs)")  # fmt: skip


def _answers(url: str) -> bool:
    """The web UI's page answers (a login page counts)."""
    try:
        return httpx.get(url, timeout=0.5).status_code < 500
    except httpx.HTTPError:
        return False


def _watch(
    locust: LocustProcess, rules: list[StopRule], step_dir: RunDir, server: ServerProcess | None,
    load: LoadConfig, on_progress: Callable[[Progress], None] | None,
) -> Stop:  # fmt: skip
    sessions = RecordCounter(step_dir, "sessions")  # measured: warm-up sessions take no ticket
    turns = ErrorTally(step_dir, "turns")
    started = time.monotonic()
    load_started: float | None = None  # when the first load record appeared
    web_url = f"http://{load.web_host}:{load.web_port}" if load.web else None
    while True:
        now = time.monotonic()
        if load_started is None and any(step_dir.raw_files(t) for t in LOAD_TABLES):
            load_started = now
        if web_url is not None and on_progress and _answers(web_url):
            on_progress(Progress.of_phase("web UI", now - started, note=(
                f"web UI: {web_url} (start the test there; stopping it ends the run and writes "
                "the results)")))  # fmt: skip
            web_url = None
        tick = Tick(
            run_dir=step_dir,
            since_start_s=now - started,
            elapsed_s=now - (load_started or started),
            load_started=load_started is not None,
            sessions=sessions.update(),
            turns=turns.update(),
            disk_free_bytes=shutil.disk_usage(step_dir.path).free,
            server_alive=server is None or server.alive(),
            server_code=server.proc.poll() if server is not None and server.proc else None,
            locust_code=locust.poll(),
            signum=pending_signal(),
        )
        if on_progress:
            # Until the first record the clock counts Locust's start-up, not the load: say so,
            # rather than show a load clock that jumps back when the load begins.
            phase = "load" if tick.load_started else "starting load processes"
            over = load.duration_s is not None and tick.elapsed_s > load.duration_s
            if tick.load_started and over:
                phase = "draining"  # no new session or turn; work in flight may finish
            on_progress(Progress(tick.elapsed_s, load.duration_s, tick.sessions, load.sessions,
                                 tick.turns, phase, errors=dict(turns.by_type),
                                 first_errors=dict(turns.first)))  # fmt: skip
        stop = first_stop(rules, tick)
        if stop is not None:
            return stop
        time.sleep(TICK_S)
