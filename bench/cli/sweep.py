"""`bench sweep`: models x engine flags x loads, or the highest load meeting SLOs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import constants
from bench.cli import options as o
from bench.cli.console import console
from bench.cli.run import build_run_config, parse_duration, parse_number_list
from bench.errors import BenchError
from bench.scoring.goodput import parse_slo

SWEEP = "Sweep"
SEARCH = "SLA search (--find-max-load)"
LOAD = "Load"


def sweep(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model (repeatable: a model matrix, one server at a time).",
            rich_help_panel=SWEEP,
        ),
    ] = None,  # fmt: skip
    engine_arg: Annotated[
        list[str] | None,
        typer.Option(
            help="vLLM flag KEY=V1,V2,... is swept (Cartesian product); KEY=VALUE is "
            "fixed. Repeatable. Flags after -- are fixed too.",
            rich_help_panel=SWEEP,
        ),
    ] = None,  # fmt: skip
    users: Annotated[
        str | None,
        typer.Option(
            help="Users per point, e.g. 1,8,32 (with --find-max-load: the range "
            "LOW,HIGH searched).",
            rich_help_panel=SWEEP,
        ),
    ] = None,  # fmt: skip
    session_rate: Annotated[
        str | None,
        typer.Option(
            help="Open loop instead: sessions/s per point (or the range searched).",
            rich_help_panel=SWEEP,
        ),
    ] = None,  # fmt: skip
    step_duration: Annotated[
        str, typer.Option(help="Length of each point's load, e.g. 30s.", rich_help_panel=SWEEP)
    ] = "60s",
    trials: Annotated[
        int, typer.Option(help="Repeat each point this many times.", rich_help_panel=SWEEP)
    ] = 1,
    sweep_id: Annotated[
        str | None,
        typer.Option(help="Sweep folder name (default: sweep-<time>).", rich_help_panel=SWEEP),
    ] = None,  # fmt: skip
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the sweep --sweep-id, skipping finished "
            "points (give the original flags).",
            rich_help_panel=SWEEP,
        ),
    ] = False,  # fmt: skip
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and exit.", rich_help_panel=SWEEP)
    ] = False,
    find_max_load: Annotated[
        bool,
        typer.Option(
            "--find-max-load",
            help="Search the highest load meeting --slo and --min-tool-accuracy.",
            rich_help_panel=SEARCH,
        ),
    ] = False,  # fmt: skip
    slo: Annotated[
        str | None,
        typer.Option(
            help="Latency SLOs: turn_ms=..,ttft_ms=..,tpot_ms=..,session_ms=..",
            rich_help_panel=SEARCH,
        ),
    ] = None,  # fmt: skip
    slo_percentile: Annotated[
        int, typer.Option(help="Percentile the SLOs apply to: 90 or 99.", rich_help_panel=SEARCH)
    ] = 90,
    min_tool_accuracy: Annotated[
        float | None,
        typer.Option(help="Lowest acceptable tool accuracy (0-1).", rich_help_panel=SEARCH),
    ] = None,  # fmt: skip
    accuracy_metric: Annotated[
        str, typer.Option(help="Summary column used as tool accuracy.", rich_help_panel=SEARCH)
    ] = "tool_trajectory_exact",
    max_error_rate: Annotated[
        float, typer.Option(help="Highest acceptable turn error rate.", rich_help_panel=SEARCH)
    ] = 0.0,
    rate_tolerance: Annotated[
        float,
        typer.Option(
            help="Session-rate search stops within this fraction.", rich_help_panel=SEARCH
        ),
    ] = 0.1,  # fmt: skip
    evalset: Annotated[
        str, typer.Option(help="Eval set (as for bench run).", rich_help_panel=LOAD)
    ] = constants.DEFAULT_EVALSET,  # fmt: skip
    agent: Annotated[
        Path | None, typer.Option(help="ADK agent folder.", rich_help_panel=LOAD)
    ] = None,  # fmt: skip
    results_dir: Annotated[
        Path, typer.Option(help="Where the sweep folder goes.", rich_help_panel=LOAD)
    ] = constants.DEFAULT_RESULTS_DIR,  # fmt: skip
    spawn_rate: Annotated[
        float, typer.Option(help="Users started per second.", rich_help_panel=LOAD)
    ] = constants.DEFAULT_SPAWN_RATE,  # fmt: skip
    processes: Annotated[
        int | None, typer.Option(help="Locust load processes.", rich_help_panel=LOAD)
    ] = None,  # fmt: skip
    think_time: Annotated[
        str | None, typer.Option(help="Pause between turns.", rich_help_panel=LOAD)
    ] = None,  # fmt: skip
    seed: Annotated[
        int | None, typer.Option(help="Shuffle the cases.", rich_help_panel=LOAD)
    ] = None,  # fmt: skip
    warmup: Annotated[
        str | None, typer.Option(help="Warm-up span of each point.", rich_help_panel=LOAD)
    ] = None,  # fmt: skip
    stream: Annotated[
        bool,
        typer.Option(
            "--stream/--no-stream",
            help="Stream responses (TTFT is real only when streaming).",
            rich_help_panel=LOAD,
        ),
    ] = True,
    request_timeout: Annotated[
        str, typer.Option(help="Timeout of one LLM request.", rich_help_panel=LOAD)
    ] = "120s",  # fmt: skip
    arrival: Annotated[
        str, typer.Option(help="Open-loop arrivals.", rich_help_panel=LOAD)
    ] = "poisson",  # fmt: skip
    catalog: o.Catalog = None,
    tool_parser: o.ToolParser = None,
    chat_template: o.ChatTemplate = None,
    vllm_python: o.VllmPython = None,
    health_timeout_s: o.HealthTimeout = constants.HEALTH_TIMEOUT_S,
    gpus: o.Gpus = None,
    endpoint: o.Endpoint = None,
    api_key_env: o.ApiKeyEnv = None,
    header: o.Header = None,
) -> None:
    """Sweep engine flags x loads (x models), one vLLM server per flag combination; or find the max load.

    Example: bench sweep --model tiny --engine-arg max-num-seqs=8,16 --users 1,4 --step-duration 30s
    """
    from bench.sla import SloCheck
    from bench.sweep import make_sweep_id, parse_engine_axes, plan_sweep, save_or_check_plan

    if users and session_rate:
        raise BenchError("--users and --session-rate: sweep one of them")
    axis = "session_rate" if session_rate else "users"
    loads = parse_number_list(session_rate or users or "1", f"--{axis.replace('_', '-')}",
                              float if session_rate else int)  # fmt: skip
    step_s = parse_duration(step_duration, "--step-duration")
    axes, fixed = parse_engine_axes(list(engine_arg or []))
    models = list(model or ["tiny"])
    if resume and not sweep_id:
        raise BenchError("--resume: give the --sweep-id of the sweep to continue")
    search: dict[str, Any] | None = None
    check = None
    if find_max_load:
        if trials != 1:
            raise BenchError("--trials: not with --find-max-load")
        check = SloCheck(parse_slo(slo), slo_percentile, min_tool_accuracy,  # type: ignore[arg-type]
                         accuracy_metric, max_error_rate)  # fmt: skip
        search = {"low": min(loads), "high": max(loads), "rate_tolerance": rate_tolerance,
                  **check.as_dict()}  # fmt: skip
    elif slo or min_tool_accuracy is not None:
        raise BenchError("--slo / --min-tool-accuracy: only with --find-max-load "
                         "(plain sweeps report every point)")  # fmt: skip
    params = {
        "model": models[0], "evalset": evalset, "agent": agent, "results_dir": results_dir,
        "run_id": None, "users": str(int(loads[0])) if axis == "users" else "1",
        "spawn_rate": spawn_rate, "duration": step_duration, "sessions": None,
        "session_rate": str(loads[0]) if axis == "session_rate" else None,
        "step_duration": None, "slo": slo, "metrics_interval": "1s", "arrival": arrival,
        "max_sessions_in_flight": None, "processes": processes, "think_time": think_time,
        "seed": seed, "warmup": warmup, "trials": 1, "stream": stream,
        "request_timeout": request_timeout, "web": False, "web_port": constants.DEFAULT_WEB_PORT,
        "web_host": constants.LOOPBACK_HOST, "catalog": catalog, "tool_parser": tool_parser,
        "chat_template": chat_template, "vllm_python": vllm_python, "port": None,
        "health_timeout_s": health_timeout_s, "gpus": gpus, "tensor_parallel_size": None,
        "pipeline_parallel_size": None, "data_parallel_size": None,
        "gpu_memory_utilization": None, "max_model_len": None, "max_num_seqs": None,
        "max_num_batched_tokens": None, "enable_prefix_caching": None, "kv_cache_dtype": None,
        "quantization": None, "dtype": None, "enforce_eager": None, "speculative_config": None,
        "engine_arg": None, "endpoint": endpoint, "api_key_env": api_key_env, "header": header,
        "gcloud_identity_token": False,
    }  # fmt: skip
    base = build_run_config(params, passthrough=[*fixed, *ctx.args])
    if endpoint and axes:
        raise BenchError("--endpoint: a running server's engine flags cannot be swept")
    sweep_id = sweep_id or make_sweep_id()
    plan = plan_sweep(sweep_id, models, axes, axis, loads, step_duration_s=step_s,  # type: ignore[arg-type]
                      repeats=trials, endpoint_attached=bool(endpoint),
                      find_max_load=search)  # fmt: skip
    sweep_dir = results_dir / sweep_id
    if dry_run:
        _print_plan(plan, sweep_dir, search)
        fixed_flags = " ".join(base.server.engine.extra_args)
        console.print(f"fixed vLLM flags: {fixed_flags or 'none'}", markup=False)
        return
    save_or_check_plan(sweep_dir, plan, resume)
    if check is not None and search is not None:
        _search(plan, base, sweep_dir, check, search)
    else:
        _sweep(plan, base, sweep_dir)


def _print_plan(plan: Any, sweep_dir: Path, search: dict[str, Any] | None) -> None:
    from bench.sweep import describe_plan

    for line in describe_plan(plan, sweep_dir):
        console.print(line, markup=False)
    if search:
        console.print(f"search: highest {plan.load_axis} in [{search['low']:g}, {search['high']:g}] "
                      f"meeting p{search['percentile']} {search['slo']}, "
                      f"{search['accuracy_metric']} >= {search['min_tool_accuracy']}, "
                      f"error rate <= {search['max_error_rate']:g}; ramp x2 then bisect, "
                      f"each probe {plan.step_duration_s:g} s in one server lifetime per "
                      "combination", markup=False)  # fmt: skip


def _sweep(plan: Any, base: Any, sweep_dir: Path) -> None:
    from bench.sweep import SweepProgress, format_duration, run_sweep

    def show(p: SweepProgress) -> None:
        now = f"running {p.current}" if p.current else "finished"
        console.print(f"sweep: {p.done}/{p.total} points done, {now}, "
                      f"~{format_duration(p.left_s)} left", markup=False)  # fmt: skip

    started = time.monotonic()
    result = run_sweep(plan, base, sweep_dir, on_progress=show)
    _print_rows(result.rows, plan)
    console.print(f"sweep summary: {result.summary_path or '(no finished point)'} "
                  f"({len(result.rows)}/{len(plan.points)} points, "
                  f"{time.monotonic() - started:.0f} s)", markup=False)  # fmt: skip
    _exit(result.status, result.message, result.exit_signal, sweep_dir, plan.sweep_id)


def _search(plan: Any, base: Any, sweep_dir: Path, check: Any, search: dict[str, Any]) -> None:
    from bench.sla import PROBES_FILE, SLA_SUMMARY_FILE, run_max_load_search

    def show(row: dict[str, Any]) -> None:
        verdict = "PASS" if row["passed"] else "FAIL"
        console.print(f"probe {row['probe']} ({row['phase']}): {plan.load_axis}={row['load']:g} "
                      f"-> {verdict}: {row['reasons']}", markup=False)  # fmt: skip

    result = run_max_load_search(plan, base, sweep_dir, check, low=search["low"],
                                 high=search["high"], rate_tolerance=search["rate_tolerance"],
                                 on_probe=show)  # fmt: skip
    for answer in result.answers:
        console.print(f"{answer['combo_id']}: {answer['outcome']} "
                      f"(p{check.percentile} SLOs {check.slo}, {check.accuracy_metric} >= "
                      f"{check.min_tool_accuracy}) after {answer['probes']} probes", markup=False)  # fmt: skip
    console.print(f"probes: {sweep_dir / PROBES_FILE}; answers: {sweep_dir / SLA_SUMMARY_FILE}")
    _exit(result.status, result.message, result.exit_signal, sweep_dir, plan.sweep_id)


def _print_rows(rows: list[dict[str, Any]], plan: Any) -> None:
    from rich.table import Table

    if not rows:
        return
    flags = [a["name"].replace("-", "_") for a in plan.axes]
    table = Table(title=f"sweep {plan.sweep_id}")
    cols = ["model", *flags, plan.load_axis, "sessions_per_s", "turn_p90_ms", "ttft_p90_ms",
            "tool_trajectory_exact", "prefix_cache_reset"]  # fmt: skip
    for c in cols:
        table.add_column(c)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in cols))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _exit(status: str, message: str, signal_text: str, sweep_dir: Path, sweep_id: str) -> None:
    if status == "completed":
        return
    print(f"error ({status}): {message}", file=sys.stderr)
    print(f"continue with the same command plus --resume --sweep-id {sweep_id}", file=sys.stderr)
    raise typer.Exit(143 if "SIGTERM" in signal_text else 130 if status == "interrupted" else 1)
