"""SLA search: the highest load (users or sessions/s) that meets the latency SLOs and the bar.

Per combination, one server lifetime whose load steps are the search's probes:

    with open_run(combo's config) as run:
        while (load := search.next_load()) is not None:
            step = run.step(load)  -> its tables -> verdict -> search.record(load, passed)

A resumed search first replays the probes finished in earlier attempts from their folders.
The verdict and the ramp-then-bisect logic are in `sla_search` (pure, unit-tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.runner.run import open_run
from bench.runner.sla_search import MaxLoadSearch, SloCheck, load_key, probe_row, replay
from bench.runner.sweep import dev_mode_env, point_fields, run_stopped
from bench.runner.sweep_folder import finished_points, next_run_id, point_summary, write_rows
from bench.runner.sweep_plan import Combo, SweepPlan, combo_config, load_for, typed
from bench.runner.tables import build_step
from bench.schemas.config import RunConfig
from bench.schemas.run_dir import RunDir
from bench.schemas.status import COMPLETED, Stop, Stopped
from bench.schemas.tables import SLA_PROBE_ROWS, SLA_SUMMARY_ROWS


@dataclass
class SlaResult(Stopped):
    sweep_dir: Path
    stop: Stop = COMPLETED  # completed | interrupted | failed
    probes: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)


def run_max_load_search(
    plan: SweepPlan,
    base: RunConfig,
    sweep_dir: Path,
    check: SloCheck,
    *,
    low: float,
    high: float,
    rate_tolerance: float = 0.1,
    on_probe: Callable[[dict[str, Any]], None] | None = None,
) -> SlaResult:
    """Per combination: one server lifetime whose load steps are the search's probes."""
    result = SlaResult(sweep_dir)
    axis = plan.load_axis
    for combo in plan.combos:
        search = MaxLoadSearch(low, high, integer=axis == "users", rate_tolerance=rate_tolerance)
        rows = _replayed(search, check, combo, sweep_dir)
        if search.next_load() is not None:
            cfg = combo_config(base, combo, sweep_dir, next_run_id(sweep_dir, combo.combo_id))
            with dev_mode_env(), open_run(cfg, stepped=True) as run:
                while (load := search.next_load()) is not None:
                    point_id = f"{combo.combo_id}/{axis}-{load:g}"
                    step_load = load_for(base.load, axis, load, plan.step_duration_s)
                    step = run.step(step_load, **point_fields(plan, combo, point_id, load, run))
                    if not step.ok:
                        break
                    summary = build_step(step)
                    passed, reasons = check.verdict(summary)
                    search.record(load, passed)
                    rows.append(probe_row(len(search.probes) - 1, search.probes[-1], check,
                                          summary, reasons, step.run_dir))  # fmt: skip
                    if on_probe:
                        on_probe(rows[-1])
            assert run.result is not None
            if not run.result.ok:
                result.stop = run_stopped(run.result)
        flags = {k.replace("-", "_"): typed(v) for k, v in combo.flags.items()}
        for row in rows:
            row.update(sweep_id=plan.sweep_id, combo_id=combo.combo_id, model=combo.model, **flags)
        result.probes += rows
        result.answers.append(_answer(plan, combo, search, check, rows, low, high, flags))
        if not result.status.ok:
            break
    meta = {"sweep_id": plan.sweep_id, "find_max_load": plan.find_max_load}
    sweep = RunDir(sweep_dir)
    write_rows(sweep.sla_probes, result.probes, meta, SLA_PROBE_ROWS, plan)
    write_rows(sweep.sla_summary, result.answers, meta, SLA_SUMMARY_ROWS, plan)
    return result


def _replayed(
    search: MaxLoadSearch, check: SloCheck, combo: Combo, sweep_dir: Path
) -> list[dict[str, Any]]:
    """Advance the search through this combination's probes finished in earlier attempts."""
    cached: dict[str, bool] = {}
    measured: dict[str, tuple[dict[str, Any], list[str], RunDir]] = {}
    for point in finished_points(sweep_dir).values():
        if point.manifest.sweep_combo == combo.combo_id and point.manifest.sweep_load is not None:
            summary = point_summary(point.step_dir)
            passed, reasons = check.verdict(summary)
            key = load_key(point.manifest.sweep_load)
            cached[key], measured[key] = passed, (summary, reasons, point.step_dir)
    replay(search, cached)
    rows = []
    for i, probe in enumerate(search.probes):
        summary, reasons, step_dir = measured[load_key(probe.load)]
        rows.append(probe_row(i, probe, check, summary, reasons, step_dir))
    return rows


def _answer(
    plan: SweepPlan, combo: Combo, search: MaxLoadSearch, check: SloCheck,
    rows: list[dict[str, Any]], low: float, high: float, flags: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """The combination's row of sla_summary.parquet."""
    axis = plan.load_axis
    best = search.best_pass
    best_row = next((r for r in rows if r["passed"] and r["load"] == best), {})
    return {
        "sweep_id": plan.sweep_id, "combo_id": combo.combo_id, "model": combo.model, **flags,
        "load_axis": axis, f"max_{axis}": best, f"first_failing_{axis}": search.lowest_fail,
        "searched_low": low, "searched_high": high, "probes": len(rows),
        "finished": search.next_load() is None, "outcome": search.outcome(),
        "percentile": check.percentile, "criteria": str(check.as_dict()),
        **{f"at_max_{k}": best_row.get(k) for k in ("sessions_per_s", "turns_per_s")},
    }  # fmt: skip
