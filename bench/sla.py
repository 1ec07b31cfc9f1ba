"""SLA search: the highest load (users or sessions/s) that meets the latency SLOs and the bar.

A probe is one load step. Its verdict compares the step's summary at one percentile (p90 by
default, or p99) with each SLO (`turn_ms` -> `turn_p90_ms`, `ttft_ms` -> `ttft_p90_ms`, ...),
its tool accuracy (ADK's EXACT trajectory score by default) with `--min-tool-accuracy`, and its
turn error rate with `--max-error-rate`. A probe with no measured turn fails.

The search (`MaxLoadSearch`, pure) assumes a passing load's lower loads pass too: it ramps up
from the lowest load, doubling, until a probe fails or the highest load passes, then bisects
between the best pass and the lowest failure (to 1 user, or to `rate_tolerance` of the rate).
All probes of one combination run as load steps in one server lifetime (`run_benchmark` with a
generator of steps); a resumed search replays the finished probes from their folders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench.errors import BenchError
from bench.schemas.tables import SLA_PROBE_ROWS, SLA_SUMMARY_ROWS
from bench.server.process import Endpoint
from bench.sweep import (
    SweepPlan,
    combo_config,
    dev_mode_env,
    finished_points,
    load_for,
    next_run_id,
    point_summary,
    reset_prefix_cache,
    typed,
    write_rows,
)

if TYPE_CHECKING:
    from bench.config import LoadConfig, RunConfig

PROBES_FILE = "sla_probes.parquet"
SLA_SUMMARY_FILE = "sla_summary.parquet"

ACCURACY_METRICS = ("tool_trajectory_exact", "tool_trajectory_in_order",
                    "tool_trajectory_any_order", "case_pass_rate", "tool_name_recall")  # fmt: skip
SLO_COLUMN = {"ttft_ms": "ttft", "tpot_ms": "tpot", "turn_ms": "turn", "session_ms": "session"}


@dataclass(frozen=True)
class SloCheck:
    slo: dict[str, float]
    percentile: Literal[90, 99] = 90
    min_tool_accuracy: float | None = None
    accuracy_metric: str = "tool_trajectory_exact"
    max_error_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.percentile not in (90, 99):
            raise BenchError("--slo-percentile: 90 or 99")
        if self.accuracy_metric not in ACCURACY_METRICS:
            raise BenchError(f"--accuracy-metric: one of {', '.join(ACCURACY_METRICS)}")
        if not self.slo and self.min_tool_accuracy is None:
            raise BenchError("--find-max-load: give --slo and/or --min-tool-accuracy")

    def column(self, key: str) -> str:
        return f"{SLO_COLUMN[key]}_p{self.percentile}_ms"

    def verdict(self, summary: dict[str, Any]) -> tuple[bool, list[str]]:
        """(passed, one reason per check, e.g. 'turn_p90_ms 480 <= 500')."""
        reasons: list[str] = []
        passed = True
        if not summary.get("turns"):
            return False, ["no measured turn"]
        for key, limit in sorted(self.slo.items()):
            col = self.column(key)
            value = summary.get(col)
            ok = value is not None and value <= limit
            shown = "-" if value is None else f"{value:.0f}"
            reasons.append(f"{col} {shown} {'<=' if ok else '>'} {limit:g}")
            passed &= ok
        if self.min_tool_accuracy is not None:
            value = summary.get(self.accuracy_metric)
            ok = value is not None and value >= self.min_tool_accuracy
            shown = "-" if value is None else f"{value:.3f}"
            reasons.append(f"{self.accuracy_metric} {shown} {'>=' if ok else '<'} "
                           f"{self.min_tool_accuracy:g}")  # fmt: skip
            passed &= ok
        error_rate = summary.get("error_rate") or 0.0
        ok = error_rate <= self.max_error_rate
        if not ok or self.max_error_rate > 0:
            reasons.append(f"error_rate {error_rate:.3f} {'<=' if ok else '>'} "
                           f"{self.max_error_rate:g}")  # fmt: skip
        passed &= ok
        return passed, reasons

    def as_dict(self) -> dict[str, Any]:
        return {"slo": dict(sorted(self.slo.items())), "percentile": self.percentile,
                "min_tool_accuracy": self.min_tool_accuracy,
                "accuracy_metric": self.accuracy_metric, "max_error_rate": self.max_error_rate}  # fmt: skip


@dataclass
class Probe:
    load: float
    phase: str  # ramp | bisect
    passed: bool
    replayed: bool = False  # taken from a finished folder of an earlier (interrupted) attempt


@dataclass
class MaxLoadSearch:
    """Ramp (x2) then bisect over [low, high]; integers for users, `rate_tolerance` for rates."""

    low: float
    high: float
    integer: bool = True
    rate_tolerance: float = 0.1
    probes: list[Probe] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high:
            raise BenchError("--find-max-load: the load range needs 0 < lowest <= highest")

    @property
    def best_pass(self) -> float | None:
        passes = [p.load for p in self.probes if p.passed]
        return max(passes) if passes else None

    @property
    def lowest_fail(self) -> float | None:
        fails = [p.load for p in self.probes if not p.passed]
        return min(fails) if fails else None

    def phase(self) -> str:
        return "ramp" if self.lowest_fail is None else "bisect"

    def next_load(self) -> float | None:
        """The next load to probe, or None when the answer is known."""
        if not self.probes:
            return self.low
        best, fail = self.best_pass, self.lowest_fail
        if best is None:  # the lowest load fails: nothing meets the SLOs
            return None
        if fail is None:
            if best >= self.high:
                return None
            grown = best * 2 if self.integer else best * 2.0
            return min(self.high, max(grown, best + 1) if self.integer else grown)
        if self.integer:
            if fail - best <= 1:
                return None
            return float(math.floor((best + fail) / 2))
        if (fail - best) <= self.rate_tolerance * best:
            return None
        return (best + fail) / 2

    def record(self, load: float, passed: bool, *, replayed: bool = False) -> None:
        self.probes.append(Probe(load, self.phase(), passed, replayed))

    def outcome(self) -> str:
        best, fail = self.best_pass, self.lowest_fail
        if best is None:
            return f"even the lowest load ({self.low:g}) misses the SLOs"
        if fail is None:
            return f"the highest load probed ({best:g}) meets the SLOs; the limit may be higher"
        return f"max {best:g} (fails at {fail:g})"


def load_key(load: float) -> str:
    return f"{load:.6g}"


def replay(search: MaxLoadSearch, cached: dict[str, bool]) -> None:
    """Advance the search through probes already measured (a resumed sweep)."""
    while (load := search.next_load()) is not None and load_key(load) in cached:
        search.record(load, cached[load_key(load)], replayed=True)


def probe_row(
    index: int, probe: Probe, check: SloCheck, summary: dict[str, Any], reasons: list[str],
    step_dir: Path | None,
) -> dict[str, Any]:  # fmt: skip
    keep = ["users", "session_rate", "sessions", "turns", "sessions_per_s", "turns_per_s",
            "error_rate", "client_saturated", check.accuracy_metric]  # fmt: skip
    keep += [check.column(k) for k in SLO_COLUMN]
    return {
        "probe": index,
        "phase": probe.phase,
        "load": probe.load,
        "passed": probe.passed,
        "replayed": probe.replayed,
        "reasons": "; ".join(reasons),
        "percentile": check.percentile,
        **{k: summary.get(k) for k in keep},
        "point_dir": str(step_dir) if step_dir else None,
    }


def probe_loads(
    search: MaxLoadSearch,
    check: SloCheck,
    make_load: Callable[[float], LoadConfig],
    current_step: list[Path],
    rows: list[dict[str, Any]],
) -> Iterator[LoadConfig]:
    """The generator `run_benchmark` pulls its steps from: each probe's verdict picks the next.

    `current_step` holds the folder of the step being run (set by the before_step hook).
    """
    from bench.results.build import build_results  # heavy: ADK's evaluators

    while (load := search.next_load()) is not None:
        yield make_load(load)
        step_dir = current_step[-1]
        summary = dict(build_results(step_dir).summary)
        passed, reasons = check.verdict(summary)
        search.record(load, passed)
        rows.append(probe_row(len(search.probes) - 1, search.probes[-1], check, summary,
                              reasons, step_dir))  # fmt: skip


@dataclass
class SlaResult:
    sweep_dir: Path
    status: str  # completed | interrupted | failed
    message: str = ""
    probes: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    exit_signal: str = ""


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
    from bench.pipeline import run_benchmark  # heavy: ADK, pyarrow

    result = SlaResult(sweep_dir, "completed")
    axis = plan.load_axis
    done = finished_points(sweep_dir)
    for combo in plan.combos:
        search = MaxLoadSearch(low, high, integer=axis == "users", rate_tolerance=rate_tolerance)
        rows: list[dict[str, Any]] = []
        cached: dict[str, bool] = {}
        measured: dict[str, tuple[dict[str, Any], list[str], Path]] = {}
        for point in done.values():
            if point.manifest.get("sweep_combo") == combo.combo_id:
                summary = point_summary(point.step_dir)
                passed, reasons = check.verdict(summary)
                key = load_key(float(point.manifest["sweep_load"]))
                cached[key], measured[key] = passed, (summary, reasons, point.step_dir)
        replay(search, cached)
        for i, probe in enumerate(search.probes):
            summary, reasons, step_dir = measured[load_key(probe.load)]
            rows.append(probe_row(i, probe, check, summary, reasons, step_dir))
        if search.next_load() is not None:
            current: list[Path] = []
            pending: list[float] = []

            def make_load(load: float, pending: list[float] = pending) -> LoadConfig:
                pending.append(load)
                return load_for(base.load, axis, load, plan.step_duration_s)

            def before_step(
                index: int, endpoint: Endpoint, step_dir: Path,
                current: list[Path] = current, pending: list[float] = pending,
                combo_id: str = combo.combo_id,
            ) -> dict[str, Any]:  # fmt: skip
                current.append(step_dir)
                load = pending[-1]
                return {
                    "sweep_id": plan.sweep_id,
                    "sweep_point": f"{combo_id}/{axis}-{load:g}",
                    "sweep_combo": combo_id,
                    "sweep_load": load,
                    "prefix_cache_reset": reset_prefix_cache(endpoint),
                }

            cfg = combo_config(base, combo, sweep_dir, next_run_id(sweep_dir, combo.combo_id))
            steps = _announcing(probe_loads(search, check, make_load, current, rows), rows,
                                on_probe)  # fmt: skip
            with dev_mode_env():
                run = run_benchmark(cfg, steps=steps, before_step=before_step)
            if run.status != "completed":
                result.status = "interrupted" if run.status == "interrupted" else "failed"
                result.message = f"{run.run_dir.name}: {run.status}: {run.message}"
                result.exit_signal = run.message
        for row in rows:
            row.update(sweep_id=plan.sweep_id, combo_id=combo.combo_id, model=combo.model,
                       **{k.replace("-", "_"): typed(v) for k, v in combo.flags.items()})  # fmt: skip
        result.probes += rows
        best = search.best_pass
        best_row = next((r for r in rows if r["passed"] and r["load"] == best), {})
        result.answers.append({
            "sweep_id": plan.sweep_id, "combo_id": combo.combo_id, "model": combo.model,
            **{k.replace("-", "_"): typed(v) for k, v in combo.flags.items()},
            "load_axis": axis, f"max_{axis}": best, f"first_failing_{axis}": search.lowest_fail,
            "searched_low": low, "searched_high": high, "probes": len(rows),
            "finished": search.next_load() is None, "outcome": search.outcome(),
            "percentile": check.percentile, "criteria": str(check.as_dict()),
            **{f"at_max_{k}": best_row.get(k) for k in ("sessions_per_s", "turns_per_s")},
        })  # fmt: skip
        if result.status != "completed":
            break
    meta = {"sweep_id": plan.sweep_id, "find_max_load": plan.find_max_load}
    write_rows(sweep_dir / PROBES_FILE, result.probes, meta, SLA_PROBE_ROWS, plan)
    write_rows(sweep_dir / SLA_SUMMARY_FILE, result.answers, meta, SLA_SUMMARY_ROWS, plan)
    return result


def _announcing(
    steps: Iterator[LoadConfig], rows: list[dict[str, Any]],
    on_probe: Callable[[dict[str, Any]], None] | None,
) -> Iterator[LoadConfig]:  # fmt: skip
    """Pass the steps through; tell `on_probe` about each verdict as it is made."""
    seen = len(rows)
    for step in steps:
        while on_probe and seen < len(rows):
            on_probe(rows[seen])
            seen += 1
        yield step
    while on_probe and seen < len(rows):
        on_probe(rows[seen])
        seen += 1
