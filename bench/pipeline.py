"""run_benchmark(cfg): the whole run, stage by stage, top to bottom.

    validate -> run folder -> server (launch or attach) -> load (Locust child) -> stop
    -> Parquet (scored) -> summary

Everything that can be wrong with the input is checked before anything starts. Each completed
record is on disk (raw JSONL) the moment it completes, so a crash anywhere still leaves a run
folder that `bench results rebuild` turns into tables.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from bench import constants
from bench.agent.model_override import load_root_agent, tool_names
from bench.config import LoadConfig, RunConfig
from bench.errors import BenchError, RunFailed
from bench.evalset import LoadedEvalSet, load_evalset
from bench.load import distributed, webui
from bench.load.process import LocustProcess, count_records
from bench.load.spec import LoadSpec
from bench.results.build import build_results
from bench.results.manifest import read_manifest, update_manifest, write_manifest
from bench.results.provenance import host_info
from bench.results.raw import raw_dir, read_records
from bench.results.schemas import TABLES
from bench.results.writer import to_table, write_table
from bench.schemas.redact import redact_urls
from bench.schemas.settings import RUN_TOKEN_ENV
from bench.server.environment import detect_gpus, vllm_version
from bench.server.launch import plan_server, serving
from bench.server.metrics import MetricsScraper
from bench.server.process import Endpoint, ServerProcess, check_port_free

HEADERS_ENV = "BENCH_EXTRA_HEADERS"
LOAD_STOP_GRACE_S = 10.0  # per stop signal (SIGINT, then SIGTERM) before SIGKILL
LOAD_START_TIMEOUT_S = 180.0  # Locust's imports on a busy machine; no user by then = stuck
LOAD_EXIT_DEADLINE_S = 15.0  # after the duration and Locust's stop timeout: a hung Locust is killed


@dataclass
class RunResult:
    run_dir: Path
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)  # one summary row per load step


@dataclass
class Progress:
    elapsed_s: float
    duration_s: float | None
    sessions: int
    sessions_target: int | None
    turns: int
    phase: str


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def make_run_id(cfg: RunConfig, evalset: LoadedEvalSet) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    model = Path(cfg.server.model).name.replace("/", "_")
    return f"{stamp}-{model}-{evalset.eval_set_id}-{secrets.token_hex(2)}"


def prepare_run_dir(results_dir: Path, run_id: str) -> Path:
    """Create the run folder, or fail with one line before anything starts."""
    run_dir = results_dir / run_id
    try:
        (run_dir / "raw").mkdir(parents=True, exist_ok=False)
        probe = run_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except FileExistsError:
        raise BenchError(f"--run-id: {run_dir} already exists") from None
    except OSError as exc:
        raise BenchError(f"--results-dir: cannot write to {results_dir} ({exc.strerror})") from None
    free = shutil.disk_usage(run_dir).free
    if free < constants.MIN_FREE_BYTES:
        raise BenchError(f"--results-dir: {results_dir} is full ({free // 1024} KiB free)")
    return run_dir


def resolve_agent_dir(cfg: RunConfig, evalset: LoadedEvalSet) -> Path:
    agent_dir = cfg.agent or evalset.agent_dir
    if agent_dir is None:
        raise BenchError(
            f"--agent: no agent folder found beside {evalset.files[0]}; give --agent DIR"
        )
    if not agent_dir.is_dir():
        raise BenchError(f"--agent: {agent_dir} is not a folder")
    if not (agent_dir / "agent.py").exists() and not (agent_dir / "__init__.py").exists():
        raise BenchError(f"--agent: {agent_dir} has no agent.py or __init__.py exposing root_agent")
    return agent_dir.resolve()


def provenance_for(
    cfg: RunConfig, evalset: LoadedEvalSet, plan_info: dict[str, Any]
) -> dict[str, Any]:
    return {
        **host_info(),
        **plan_info,
        "model": cfg.server.model,
        "eval_set_id": evalset.eval_set_id,
        "eval_set_files": [str(f) for f in evalset.files],
        "eval_set_sha256": evalset.content_sha256,
        "load": cfg.load.model_dump(mode="json"),
    }


def run_benchmark(
    cfg: RunConfig,
    on_progress: Callable[[Progress], None] | None = None,
    *,
    steps: Iterable[LoadConfig] | None = None,
    before_step: Callable[[int, Endpoint, Path], dict[str, Any]] | None = None,
) -> RunResult:
    """`steps` (e.g. a generator deciding each load from the steps before it, as `bench sweep
    --find-max-load` does) replaces `cfg.load.steps()` and always gives the step layout;
    `before_step(index, endpoint, step_dir)` runs before each step's load (e.g. a prefix-cache
    reset) and its dict goes into the step's manifest."""
    # 1. Validate everything before anything starts.
    evalset = load_evalset(cfg.evalset)
    agent_dir = resolve_agent_dir(cfg, evalset)
    plan = None
    if not cfg.server.endpoint:
        plan = plan_server(cfg.server)  # model, vLLM env, GPUs, port
    if cfg.load.web:
        webui.check_web_host(cfg.load.web_host)
        check_port_free(cfg.load.web_port, cfg.load.web_host, what="--web-port")
    plan_info: dict[str, Any] = {"endpoint_attached": bool(cfg.server.endpoint)}
    if plan is not None:
        plan_info.update(
            served_model_name=plan.entry.served_model_name,
            model_source=plan.entry.hf_id or f"builder:{plan.entry.builder}",
            tool_parser=plan.entry.tool_parser,
            vllm_argv=plan.argv[3:],  # without the interpreter; holds no secret
            vllm_version=vllm_version(plan.python),
            gpus=[g.__dict__ for g in plan.gpus],
            engine_flags=plan.engine.model_dump(mode="json", exclude_none=True),
        )
    else:
        plan_info["gpus"] = [g.__dict__ for g in detect_gpus()]
    plan_info["weight_bytes"] = plan.entry.weight_bytes if plan is not None else None
    known_tools = sorted(tool_names(load_root_agent(agent_dir)))  # also proves the agent imports

    # 2. The run folder: resolved config and a manifest that says "running".
    run_id = cfg.run_id or make_run_id(cfg, evalset)
    run_dir = prepare_run_dir(cfg.results_dir, run_id)
    (run_dir / "config.resolved.toml").write_text(
        tomli_w.dumps(_toml_safe(redact_urls(cfg.model_dump(mode="json", exclude_none=True))))
    )
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "status": "running",
        "started_at": datetime.now(UTC).isoformat(),
        "provenance": provenance_for(cfg, evalset, plan_info),
        "criteria": evalset.criteria,
        "slo": cfg.slo,
        "known_tools": known_tools,
        "tool_parser": plan_info.get("tool_parser") or cfg.server.tool_parser,
        "skipped_cases": [{"case_id": c, "reason": r} for c, r in getattr(evalset, "skipped", [])],
        "summary_info": {
            "model": cfg.server.model,
            "served_model_name": plan_info.get("served_model_name"),
            "eval_set_id": evalset.eval_set_id,
            "users": cfg.load.users_effective,
            "session_rate": cfg.load.session_rate,
            "processes": cfg.load.processes,
            "stream": cfg.load.stream,
            "trials": cfg.load.trials,
        },
    }
    write_manifest(run_dir, manifest)

    status, message = "completed", ""
    step_results: list[Path] = []
    failure: RunFailed | None = None
    previous_handlers = _install_signal_handlers()
    try:
        try:
            # 3. The server, then 4. the load inside its lifetime.
            with serving(cfg.server, run_dir / "server.log", on_tick=_check_interrupt) as (
                endpoint,
                server,
            ):
                info = {**manifest["summary_info"], "served_model_name": endpoint.served_model_name}
                update_manifest(run_dir, summary_info=info)
                status, message, step_results = _run_steps(
                    cfg, run_dir, run_id, agent_dir, endpoint, server, on_progress,
                    steps, before_step, step_results,
                )  # fmt: skip
                if cfg.judge is not None and status == "completed":
                    # While the server is still up: it may be the judge.
                    run_judge(cfg, evalset.criteria, endpoint, step_results or [run_dir])
        except Interrupted as exc:
            status, message = "interrupted", f"stopped by {exc}"
        except RunFailed as exc:
            status, message, failure = exc.status, str(exc), exc
        # 5. Parquet from whatever raw records exist, whatever happened above.
        update_manifest(
            run_dir, status=status, message=message, ended_at=datetime.now(UTC).isoformat()
        )
        stepped = steps is not None or len(cfg.load.steps()) > 1
        try:
            built = _build_all(run_dir, step_results if stepped else [])
            update_manifest(run_dir, counts=built.counts, raw_bad_lines=built.bad_lines)
        except OSError as exc:  # the disk filled up: the raw records stay for `results rebuild`
            status = "disk_full"
            message = (
                f"cannot write the tables ({exc.strerror}); the raw records are kept: free space, "
                f"then run `bench results rebuild {run_dir}`"
            )
            built = _Built({}, 0, {}, [])
            with contextlib.suppress(OSError):
                update_manifest(run_dir, status=status, message=message)
    finally:
        _restore_signal_handlers(previous_handlers)
    result = RunResult(run_dir, status, built.summary, built.counts, message, built.step_summaries)
    if failure is not None:
        failure.result = result  # type: ignore[attr-defined]
        raise failure
    return result


def _run_steps(
    cfg: RunConfig,
    run_dir: Path,
    run_id: str,
    agent_dir: Path,
    endpoint: Endpoint,
    server: ServerProcess | None,
    on_progress: Callable[[Progress], None] | None,
    planned: Iterable[LoadConfig] | None = None,
    before_step: Callable[[int, Endpoint, Path], dict[str, Any]] | None = None,
    step_dirs: list[Path] | None = None,
) -> tuple[str, str, list[Path]]:
    """Each load step in turn, in this one server lifetime; /metrics scraped throughout.

    A single-step run keeps the flat layout; with steps each gets `step-NN-.../`, a run folder of
    its own (raw records, tables, manifest), and the parent's summary has one row per step.
    """
    stepped = planned is not None or len(cfg.load.steps()) > 1
    # Filled as steps start, so an interrupted run still builds the steps it has.
    step_dirs = step_dirs if step_dirs is not None else []
    status, message = "completed", ""
    for index, load in enumerate(cfg.load.steps() if planned is None else planned):
        step_dir = run_dir
        if stepped:
            label = (
                f"users-{load.users}"
                if load.session_rate is None
                else f"rate-{load.session_rate:g}"
            )
            step_dir = run_dir / f"step-{index:02d}-{label}"
            (step_dir / "raw").mkdir(parents=True)
            parent = read_manifest(run_dir)
            info = {
                **parent["summary_info"],
                "users": load.users_effective,
                "session_rate": load.session_rate,
            }
            write_manifest(
                step_dir,
                {
                    **parent,
                    "run_id": f"{run_id}/{step_dir.name}",
                    "step": index,
                    "summary_info": info,
                },
            )
        step_dirs.append(step_dir)
        if before_step is not None:
            update_manifest(step_dir, **before_step(index, endpoint, step_dir))
        scraper = MetricsScraper(
            endpoint.base_url, step_dir, load.metrics_interval_s, endpoint.auth_headers()
        )
        scraper.start()
        try:
            status, message = _drive_load(
                cfg.model_copy(update={"load": load}),
                step_dir,
                run_id,
                agent_dir,
                endpoint,
                server,
                on_progress,
            )
        finally:
            scraper.stop()
        if stepped:
            update_manifest(step_dir, status=status, message=message)
        if status != "completed":
            break
    return status, message, step_dirs


@dataclass
class _Built:
    counts: dict[str, int]
    bad_lines: int
    summary: dict[str, Any]
    step_summaries: list[dict[str, Any]]


def _build_all(run_dir: Path, step_dirs: list[Path]) -> _Built:
    """Tables of a flat run; or of each step, with the parent's summary one row per step."""
    if not step_dirs:
        built = build_results(run_dir)
        return _Built(built.counts, built.bad_lines, built.summary, [built.summary])
    builds = [build_results(d) for d in step_dirs]
    summaries = [b.summary for b in builds]
    provenance = read_manifest(run_dir).get("provenance", {})
    write_table(run_dir / "summary.parquet", to_table(summaries, TABLES["summary"]), provenance)
    counts = {k: sum(b.counts.get(k, 0) for b in builds) for k in builds[0].counts}
    return _Built(counts, sum(b.bad_lines for b in builds), summaries[-1], summaries)


def run_judge(
    cfg: RunConfig, criteria: dict[str, Any], endpoint: Endpoint, run_dirs: list[Path]
) -> None:
    """ADK's judge metrics on every measured turn; records to raw/judge.jsonl for the build."""
    from bench.scoring.judge import JUDGE_API_BASE_ENV, JUDGE_API_KEY_ENV

    judge = cfg.judge
    assert judge is not None
    if judge.endpoint:
        api_base = judge.endpoint.rstrip("/").removesuffix("/v1") + "/v1"
        key = os.environ.get(judge.api_key_env) if judge.api_key_env else None
    else:
        api_base, key = endpoint.api_base, endpoint.api_key
    os.environ[JUDGE_API_BASE_ENV] = api_base
    os.environ[JUDGE_API_KEY_ENV] = key or ""
    try:
        _judge_run_dirs(judge, criteria, judge.model or endpoint.served_model_name, run_dirs)
    finally:  # the key must not outlive the judge: later child processes would inherit it
        os.environ.pop(JUDGE_API_KEY_ENV, None)
        os.environ.pop(JUDGE_API_BASE_ENV, None)


def _judge_run_dirs(
    judge: Any, criteria: dict[str, Any], served: str, run_dirs: list[Path]
) -> None:
    import asyncio

    from bench.scoring.judge import judge_turns

    for run_dir in run_dirs:
        turns = [
            t
            for t in read_records(run_dir, "turns")
            if not t.get("warmup") and not t.get("error_type")
        ]
        records = asyncio.run(
            judge_turns(turns, served_name=served, criteria=criteria, num_samples=judge.samples)
        )
        with (raw_dir(run_dir) / "judge.main.jsonl").open("a") as fh:
            for record in records:
                fh.write(json.dumps(record) + "\n")
        update_manifest(run_dir, judge_model=served)


def _drive_load(
    cfg: RunConfig,
    run_dir: Path,
    run_id: str,
    agent_dir: Path,
    endpoint: Endpoint,
    server: ServerProcess | None,
    on_progress: Callable[[Progress], None] | None,
) -> tuple[str, str]:
    load = cfg.load
    extra_env = {HEADERS_ENV: json.dumps(endpoint.headers)} if endpoint.headers else {}
    # Workers must show this token to the Locust master (bench.load.worker_token).
    extra_env[RUN_TOKEN_ENV] = os.environ.get(RUN_TOKEN_ENV) or secrets.token_urlsafe(24)
    spec = LoadSpec(
        run_id=run_id,
        run_dir=run_dir.resolve(),
        evalset=cfg.evalset,
        agent_dir=agent_dir,
        api_base=endpoint.api_base,
        served_model_name=endpoint.served_model_name,
        stream=load.stream,
        think_time_s=load.think_time_s,
        seed=load.seed,
        trials=load.trials,
        warmup_sessions_per_process=load.warmup_sessions,
        warmup_s=load.warmup_s,
        max_sessions=load.sessions,
        session_rate=load.session_rate,
        arrival=load.arrival,
        request_timeout_s=load.request_timeout_s,
        extra_headers_env=HEADERS_ENV if endpoint.headers else None,
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
        extra_env=extra_env,
    )
    started = time.monotonic()
    load_started: float | None = None  # when the first user ran: Locust's imports take a while
    locust.start()
    status, message = "completed", ""
    # A session target with trials but no --sessions still ends by itself (tickets run out).
    target = load.sessions
    try:
        while True:
            _check_interrupt()
            # The load's own records, not the /metrics scraper's (it writes from the start, and a
            # slow Locust start-up would then count against the duration and look hung).
            if load_started is None and any(
                not p.name.startswith("server_metrics") for p in raw_dir(run_dir).glob("*.jsonl")
            ):
                load_started = time.monotonic()
            elapsed = time.monotonic() - (load_started or started)
            sessions_done = count_records(
                run_dir, "sessions"
            )  # measured: warm-up sessions take no ticket
            if on_progress:
                on_progress(
                    Progress(
                        elapsed,
                        load.duration_s,
                        sessions_done,
                        target,
                        count_records(run_dir, "turns"),
                        "load",
                    )
                )
            if shutil.disk_usage(run_dir).free < constants.MIN_FREE_BYTES:
                status, message = (
                    "disk_full",
                    f"the results folder {run_dir} is full; the raw records written so far are kept",
                )
                break
            if server is not None and not server.alive():
                status, message = (
                    "server_failed",
                    f"the vLLM server exited (code {server.proc.poll() if server.proc else '?'}); see {run_dir / 'server.log'}",
                )
                break
            code = locust.poll()
            if code is not None:
                if code not in (
                    0,
                    1,
                ):  # Locust exits 1 when any request failed; that is data, not a crash
                    status, message = (
                        "load_failed",
                        f"the Locust process exited with code {code}; see {run_dir / 'locust.log'}",
                    )
                break
            if target is not None and sessions_done >= target:
                break
            if (
                load_started is None
                and time.monotonic() - started > LOAD_START_TIMEOUT_S
                and not load.web
            ):
                status, message = (
                    "load_failed",
                    f"the Locust process ran no user in {LOAD_START_TIMEOUT_S:.0f} s; killed it",
                )
                break
            if (
                not load.web
                and load_started is not None
                and load.duration_s is not None
                and elapsed
                > load.duration_s
                + locust.stop_timeout_s
                + LOAD_EXIT_DEADLINE_S
                + distributed.master_allowance_s(load)
            ):
                status, message = (
                    "load_failed",
                    "the Locust process did not stop after the duration (hung); killed it",
                )
                break
            time.sleep(0.5)
    finally:
        locust.stop(grace_s=LOAD_STOP_GRACE_S)
    return status, message


def _toml_safe(value: Any) -> Any:
    """TOML has no null: drop None values recursively."""
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_toml_safe(v) for v in value if v is not None]
    return value


_pending_signal: list[int] = []


def _on_signal(signum: int, _frame: object) -> None:
    if _pending_signal:  # a second Ctrl-C forces
        raise KeyboardInterrupt
    _pending_signal.append(signum)


def _check_interrupt() -> None:
    if _pending_signal:
        raise Interrupted(_pending_signal[0])


def _install_signal_handlers() -> dict[int, Any]:
    _pending_signal.clear()
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _on_signal)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def interrupted_exit_code(result: RunResult) -> int:
    """130 for SIGINT, 143 for SIGTERM, as shells report them."""
    return 143 if "SIGTERM" in result.message else 130
