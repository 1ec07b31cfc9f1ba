"""`bench compare`: one row per run, headline metrics, change against a baseline, noise marks.

    runs = find_runs([Path("results")], model="tiny")
    comparison = compare_runs(runs, CompareOptions(metrics=["turns_per_s", "turn_p50_ms"]))
    print(to_markdown(comparison))          # bench.report.compare_format

`compare_runs` returns a `Comparison`:
- `differences`: the settings the runs do not share (`bench.report.comparability`), and
  `warnings`: runs that did not finish cleanly, accuracy left blank, a saturated client, mixed
  tool choice. Both are shown above the table.
- `frame`: a wide DataFrame with, per metric, the value from `summary.parquet`, `<m>_delta_pct`
  and `<m>_diff` against the baseline, `<m>_noise` (True within noise, False a real change, None
  when it cannot be told: `<m>_why` says why) and the bootstrap interval of the change.

The noise verdict (docs/metrics.md): a run with fewer than MIN_SESSIONS measured
sessions with a result gets none ("too few sessions": a bootstrap of 2 or 3 sessions calls
chance differences real in a fifth to a third of A/A trials); otherwise the change is within
noise when the bootstrap interval of the change contains 0 (`bench.report.stats`), or, when some
configuration was run more than once, the interval from the run-to-run spread does
(`bench.report.repeats`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from bench.report import comparability
from bench.report.metrics import (
    ACCURACY_METRICS,
    DEFAULT_METRICS,
    METRICS,
    Metric,
    Samples,
    samples,
    sessions_with_result,
)
from bench.report.noise import (
    MIN_SESSIONS,
    NOISE_MARK,
    TOO_FEW_SESSIONS,
    UNDECIDED_MARK,
    noise_verdict,
)
from bench.report.repeats import Spread, spread
from bench.report.runs import Run
from bench.report.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES
from bench.report.under_load import notes as under_load_notes
from bench.report.unfinished import Unfinished, unfinished
from bench.schemas.errors import BenchError
from bench.schemas.run_dir import RunDir

OTHER_EVALSET = "other eval set"
FORMATS = ("table", "markdown", "csv", "html", "json", "parquet")


@dataclass
class CompareOptions:
    metrics: Sequence[str] = DEFAULT_METRICS
    by: Sequence[str] = ()
    baseline: int = 0  # index into the runs
    resamples: int = DEFAULT_RESAMPLES
    confidence: float = DEFAULT_CONFIDENCE
    seed: int = 0
    allow_different_evalsets: bool = False
    min_sessions: int = MIN_SESSIONS


@dataclass
class Comparison:
    frame: pd.DataFrame
    metrics: list[Metric]
    by: list[str]
    baseline_run_id: str
    confidence: float
    differences: list[comparability.Difference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unfinished: dict[str, Unfinished] = field(default_factory=dict)


def resolve_metrics(names: Sequence[str], flag: str = "--columns (--metrics)") -> list[Metric]:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise BenchError(
            f"{flag}: unknown metric {', '.join(unknown)} (known: {', '.join(METRICS)})"
        )
    return [METRICS[n] for n in names]


def pick_baseline(runs: list[Run], baseline: Path | str | None) -> tuple[list[Run], int]:
    """The runs with the baseline among them, and its index (default: the first run)."""
    if baseline is None:
        return runs, 0
    text = str(baseline)
    for i, run in enumerate(runs):
        if text in (run.run_id, str(run.path)) or Path(text).resolve() == run.path.resolve():
            return runs, i
    path = Path(text)
    if path.is_dir():
        from bench.report.runs import check_schema_versions, is_run_dir

        if not is_run_dir(path):
            missing = RunDir(path).summary.name
            raise BenchError(f"--baseline: {path} is not a run folder (no {missing})")
        runs = [Run(path), *runs]
        check_schema_versions(runs)
        return runs, 0
    raise BenchError(f"--baseline: '{text}' is neither one of the runs nor a run folder")


def is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _delta_pct(value: Any, base: Any) -> float | None:
    if not is_number(value) or not is_number(base) or base == 0:
        return None
    return (float(value) - float(base)) / abs(float(base)) * 100


def _value(run: Run, metric: Metric) -> float | None:
    value = run.summary.get(metric.name)
    return float(value) if is_number(value) else None


@dataclass
class _Context:
    options: CompareOptions
    base: Run
    sessions: dict[str, int]
    blanked: set[str]  # run ids whose accuracy is not comparable with the baseline's
    repeats: list[tuple[Run, str]]  # runs with enough sessions, with their configuration
    spread_used: set[str] = field(default_factory=set)  # rows whose mark used a spread

    def spread(self, metric: Metric, run: Run) -> Spread | None:
        """The run-to-run spread from the repeats, leaving out the two runs compared: a spread
        taken from them would be their own difference, which then always looks like noise."""
        others = [(r, key) for r, key in self.repeats if r is not run and r is not self.base]
        return spread([_value(r, metric) for r, _ in others], [key for _, key in others])


def _cells(ctx: _Context, run: Run, m: Metric, base_samples: Samples | None) -> dict[str, Any]:
    """The columns of one metric in one run's row."""
    value, base_value = _value(run, m), _value(ctx.base, m)
    cells: dict[str, Any] = {
        m.name: value,
        f"{m.name}_bound": run.summary.get(f"{m.name}_bound"),
        f"{m.name}_delta_pct": None,
        f"{m.name}_diff": None,
        f"{m.name}_noise": None,
        f"{m.name}_why": None,
        f"{m.name}_diff_ci_low": None,
        f"{m.name}_diff_ci_high": None,
    }
    if m.name in ACCURACY_METRICS and run.run_id in ctx.blanked:
        cells.update({m.name: None, f"{m.name}_why": OTHER_EVALSET})
        return cells
    if run is ctx.base:
        return cells
    cells[f"{m.name}_delta_pct"] = _delta_pct(value, base_value)
    diff = value - base_value if value is not None and base_value is not None else None
    cells[f"{m.name}_diff"] = diff
    o = ctx.options
    run_to_run = ctx.spread(m, run)
    none = Samples(np.array([]))
    mine = none if base_samples is None else samples(run, m)  # a server metric has no records
    verdict = noise_verdict(
        m, base_samples or none, mine, ctx.sessions[ctx.base.run_id], ctx.sessions[run.run_id], o.resamples, o.confidence,
        o.seed, o.min_sessions, run_to_run, diff,
    )  # fmt: skip
    if run_to_run is not None and verdict.noise is not None:
        ctx.spread_used.add(run.run_id)
    cells.update({
        f"{m.name}_noise": verdict.noise,
        f"{m.name}_why": verdict.why,
        f"{m.name}_diff_ci_low": verdict.low,
        f"{m.name}_diff_ci_high": verdict.high,
    })  # fmt: skip
    return cells


def compare_runs(runs: list[Run], options: CompareOptions) -> Comparison:
    metrics = resolve_metrics(options.metrics)
    by = list(options.by)
    base = runs[options.baseline]
    blanked = set()
    if not options.allow_different_evalsets:
        blanked = {r.run_id for r in runs if comparability.evalset_differs(r, base)}
    sessions = {r.run_id: sessions_with_result(r) for r in runs}
    # the run-to-run spread comes from the runs that have enough sessions to be told apart
    repeats = [
        (r, comparability.configuration(r))
        for r in runs
        if sessions[r.run_id] >= options.min_sessions
    ]
    ctx = _Context(options, base, sessions, blanked, repeats)
    base_samples = {m.name: samples(base, m) for m in metrics if m.kind != "server"}
    rows: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.run_id,
            "baseline": run is base,
            "sessions_measured": ctx.sessions[run.run_id],
        }
        for key in by:
            row[key] = run.key(key)
        for m in metrics:
            row.update(_cells(ctx, run, m, base_samples.get(m.name)))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if by:
        frame = frame.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)
    finished = {r.run_id: unfinished(r) for r in runs}
    return Comparison(
        frame,
        metrics,
        by,
        base.run_id,
        options.confidence,
        differences=comparability.differences(runs),
        warnings=_warnings(runs, ctx, finished, metrics),
        notes=_notes(runs, ctx, finished, metrics),
        unfinished=finished,
    )


def _warnings(
    runs: list[Run], ctx: _Context, finished: dict[str, Unfinished], metrics: list[Metric]
) -> list[str]:
    out = [f.warning() for f in finished.values() if not f.clean]
    if ctx.blanked and any(m.name in ACCURACY_METRICS for m in metrics):
        out.append(
            f"accuracy left blank for {', '.join(sorted(ctx.blanked))}: another eval-set content "
            f"or other criteria than the baseline ({ctx.base.run_id}), so its task success and "
            "tool accuracy measure something else; latency and throughput still compare "
            "(--allow-different-evalsets shows them anyway)"
        )
    saturated = comparability.saturated(runs)
    if saturated:
        out.append(
            f"client saturated in {', '.join(saturated)}: the load generator was the bottleneck, "
            "so those client latencies include its own queueing"
        )
    return out + _tool_choice_warning(runs)


def _notes(
    runs: list[Run], ctx: _Context, finished: dict[str, Unfinished], metrics: list[Metric]
) -> list[str]:
    o = ctx.options
    notes = [f"counts of {f.run_id}: {f.counts_text()}" for f in finished.values() if f.counts]
    notes += under_load_notes(runs)
    notes += [
        f"baseline: {ctx.base.run_id}",
        f"{NOISE_MARK} within noise: the {o.confidence:.0%} bootstrap interval of the change "
        f"contains 0 (sessions resampled, rates in moving blocks of time bins, {o.resamples} "
        f"resamples, seed {o.seed}); no mark: a real change",
    ]
    few = sorted(r for r, n in ctx.sessions.items() if n < o.min_sessions)
    if few:
        counts = ", ".join(f"{r} {ctx.sessions[r]}" for r in few)
        notes.append(
            f"{UNDECIDED_MARK} {TOO_FEW_SESSIONS}: noise is told only with at least "
            f"{o.min_sessions} measured sessions with a result in each run ({counts})"
        )
    if ctx.spread_used:
        notes.append(
            f"repeats: for {', '.join(sorted(ctx.spread_used))}, other runs of a same "
            "configuration gave a run-to-run spread; a change there is real only beyond both the "
            "bootstrap interval and that spread (pooled over the repeats, t interval)"
        )
    return notes


def _tool_choice_warning(runs: list[Run]) -> list[str]:
    """Forced tool use (`bench run --force-tools`) inflates tool accuracy: say so when mixed."""
    choices = {r.run_id: r.summary.get("tool_choice") or "auto" for r in runs}
    if len(set(choices.values())) < 2:
        return []
    forced = [run_id for run_id, c in choices.items() if c != "auto"]
    return [
        "WARNING: these runs mix free and forced tool use (tool_choice); their tool accuracy "
        f"is not comparable. Forced: {', '.join(forced)}"
    ]
