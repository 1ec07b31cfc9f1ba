"""`bench sweep`: models x engine flags x loads, or the highest load meeting SLOs."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer

from bench.cli import options as o
from bench.cli.config_flags import run_config_from_flags, sweep_config_from_flags
from bench.cli.console import console
from bench.schemas.errors import BenchError
from bench.schemas.run_dir import RunDir
from bench.schemas.setting import declared
from bench.schemas.status import RunStatus
from bench.schemas.sweep_config import MaxLoadSearch, SweepConfig

SWEEP_OPTIONS = o.options_of(SweepConfig, "sweep")


@o.with_options(
    SWEEP_OPTIONS,
    o.RESULTS_OPTIONS,
    o.USER_SIMULATOR_OPTIONS,
    o.pick(o.LOAD_SHAPE_OPTIONS, "spawn_rate", "processes", "think_time", "seed", "warmup",
           "stream", "request_timeout", "drain", "arrival", "thinking", "thinking_budget"),
    o.pick(o.SERVER_OPTIONS, "catalog", "tool_parser", "reasoning_parser", "chat_template",
           "vllm_python", "health_timeout_s"),
    (o.GPUS,),
    o.pick(o.ATTACH_OPTIONS, "endpoint", "api_key_env", "header"),
)  # fmt: skip
def sweep(ctx: typer.Context, **flags: Any) -> None:
    """Sweep engine flags x loads (x models), one vLLM server per flag combination; or find the max load.

    Example: bench sweep --model tiny --engine-arg max-num-seqs=8,16 --users 1,4 --step-duration 30s
    """
    from bench.runner.sla_search import SloCheck
    from bench.runner.sweep_plan import (
        make_sweep_id,
        parse_engine_axes,
        parse_option_axes,
        plan_sweep,
        workload_of,
    )

    sc = sweep_config_from_flags({d.option_name(): flags.pop(d.option_name())
                                  for d in declared(SweepConfig)})  # fmt: skip
    axes, fixed = parse_engine_axes(sc.engine_arg)
    options, fixed_options = parse_option_axes(flags)  # --thinking on,off: one server, both
    flags.update({name: fixed_options.get(name) for name in ("thinking", "thinking_budget")})
    search = sc.search()
    check = None
    if search is not None:
        check = SloCheck(search.slo, search.percentile, search.min_tool_accuracy,
                         search.accuracy_metric, search.max_error_rate)  # fmt: skip
    if flags.get("endpoint") and axes:
        raise BenchError("--endpoint: a running server's engine flags cannot be swept")
    # The base of every point: the first model and load; each point sets its own.
    base = run_config_from_flags({**flags, **sc.first_load(), "model": sc.model[0],
                                  "duration": sc.step_duration_s, "slo": sc.slo or None},
                                 passthrough=[*fixed, *ctx.args])  # fmt: skip
    sweep_id = sc.sweep_id or make_sweep_id()
    plan = plan_sweep(sweep_id, sc.model, axes, sc.load_axis, sc.loads,
                      step_duration_s=sc.step_duration_s, repeats=sc.trials,
                      endpoint_attached=bool(base.server.endpoint),
                      find_max_load=search.model_dump() if search else None,
                      workload=workload_of(base), options=options)  # fmt: skip
    sweep_dir = base.results_dir / sweep_id
    if sc.dry_run:
        _print_plan(plan, sweep_dir, search)
        fixed_flags = " ".join(base.server.engine.extra_args)
        console.print(f"fixed vLLM flags: {fixed_flags or 'none'}", markup=False)
        return
    from bench.cli.run import size_load
    from bench.runner.sweep_folder import save_or_check_plan

    save_or_check_plan(sweep_dir, plan, sc.resume)
    users = [int(x) for x in sc.loads] if sc.load_axis == "users" else [1]
    base = size_load(base, users=users, rates=sc.loads if sc.load_axis == "session_rate" else [])
    if check is not None and search is not None:
        _search(plan, base, sweep_dir, check, search)
    else:
        _sweep(plan, base, sweep_dir)


def _print_plan(plan: Any, sweep_dir: Path, search: MaxLoadSearch | None) -> None:
    from bench.runner.sweep_folder import describe_plan

    for line in describe_plan(plan, sweep_dir):
        console.print(line, markup=False)
    if search:
        console.print(f"search: highest {plan.load_axis} in [{search.low:g}, {search.high:g}] "
                      f"meeting p{search.percentile} {search.slo}, "
                      f"{search.accuracy_metric} >= {search.min_tool_accuracy}, "
                      f"error rate <= {search.max_error_rate:g}; ramp x2 then bisect, "
                      f"each probe {plan.step_duration_s:g} s in one server lifetime per "
                      "combination", markup=False)  # fmt: skip


def _sweep(plan: Any, base: Any, sweep_dir: Path) -> None:
    from bench.runner.sweep import SweepProgress, run_sweep
    from bench.runner.sweep_plan import format_duration

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
    _exit(result.status, result.message, result.exit_code, plan.sweep_id)


def _search(plan: Any, base: Any, sweep_dir: Path, check: Any, search: MaxLoadSearch) -> None:
    from bench.runner.sla import run_max_load_search

    def show(row: dict[str, Any]) -> None:
        verdict = "PASS" if row["passed"] else "FAIL"
        console.print(f"probe {row['probe']} ({row['phase']}): {plan.load_axis}={row['load']:g} "
                      f"-> {verdict}: {row['reasons']}", markup=False)  # fmt: skip

    result = run_max_load_search(plan, base, sweep_dir, check, low=search.low,
                                 high=search.high, rate_tolerance=search.rate_tolerance,
                                 on_probe=show)  # fmt: skip
    for answer in result.answers:
        console.print(f"{answer['combo_id']}: {answer['outcome']} "
                      f"(p{check.percentile} SLOs {check.slo}, {check.accuracy_metric} >= "
                      f"{check.min_tool_accuracy}) after {answer['probes']} probes", markup=False)  # fmt: skip
    folder = RunDir(sweep_dir)
    console.print(f"probes: {folder.sla_probes}; answers: {folder.sla_summary}")
    _exit(result.status, result.message, result.exit_code, plan.sweep_id)


def _print_rows(rows: list[dict[str, Any]], plan: Any) -> None:
    from rich.table import Table

    from bench.results.reasoning import thought

    if not rows:
        return
    flags = [a["name"].replace("-", "_") for a in [*plan.axes, *plan.options]]
    table = Table(title=f"sweep {plan.sweep_id}")
    cols = ["model", *flags, plan.load_axis, "sessions_per_s", "failed_sessions_per_s",
            "turn_p90_ms", "ttft_p90_ms", "task_success_rate", "tool_accuracy",
            "prefix_cache_reset"]  # fmt: skip
    if any(thought(row) for row in rows):  # what thinking cost, beside what it bought
        cols[cols.index("ttft_p90_ms") + 1 : -3] = ["ttfo_p90_ms", "reasoning_tokens_per_turn",
                                                    "thinking_share"]  # fmt: skip
    for c in cols:
        table.add_column(c, overflow="fold")  # long names wrap, never cut
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in cols))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _exit(status: RunStatus, message: str, code: int, sweep_id: str) -> None:
    if status is RunStatus.COMPLETED:
        return
    print(f"error ({status}): {message}", file=sys.stderr)
    print(f"continue with the same command plus --resume --sweep-id {sweep_id}", file=sys.stderr)
    raise typer.Exit(code)
