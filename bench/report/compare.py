"""`bench compare`: one row per run, headline metrics, change against a baseline, noise marks.

    runs = find_runs([Path("results")], model="tiny")
    table = compare_runs(runs, CompareOptions(metrics=["turns_per_s", "turn_p50_ms"]))
    print(to_markdown(table))

`compare_runs` returns a `Comparison`: a wide DataFrame (`frame`) with, per metric, the value
from `summary.parquet`, `<metric>_delta_pct` against the baseline and `<metric>_noise` (True
when the bootstrap interval of the change, resampling sessions, contains zero), plus the interval
itself. The
renderers turn it into a terminal table, Markdown, CSV, HTML or Parquet.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.report.metrics import DEFAULT_METRICS, METRICS, Metric, samples
from bench.report.runs import Run
from bench.report.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, difference_interval
from bench.report.under_load import notes as under_load_notes
from bench.schemas.run_dir import RunDir

NOISE_MARK = "≈"
FORMATS = ("table", "markdown", "csv", "html", "parquet")


@dataclass
class CompareOptions:
    metrics: Sequence[str] = DEFAULT_METRICS
    by: Sequence[str] = ()
    baseline: int = 0  # index into the runs
    resamples: int = DEFAULT_RESAMPLES
    confidence: float = DEFAULT_CONFIDENCE
    seed: int = 0


@dataclass
class Comparison:
    frame: pd.DataFrame
    metrics: list[Metric]
    by: list[str]
    baseline_run_id: str
    confidence: float
    notes: list[str] = field(default_factory=list)


def resolve_metrics(names: Sequence[str]) -> list[Metric]:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise BenchError(
            f"--metrics: unknown metric {', '.join(unknown)} (known: {', '.join(METRICS)})"
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


def _delta_pct(value: Any, base: Any) -> float | None:
    if not _is_num(value) or not _is_num(base) or base == 0:
        return None
    return (float(value) - float(base)) / abs(float(base)) * 100


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def compare_runs(runs: list[Run], options: CompareOptions) -> Comparison:
    metrics = resolve_metrics(options.metrics)
    by = list(options.by)
    base = runs[options.baseline]
    base_samples = {m.name: samples(base, m) for m in metrics}
    rows: list[dict[str, Any]] = []
    for run in runs:
        is_base = run is base
        row: dict[str, Any] = {"run_id": run.run_id, "baseline": is_base}
        for key in by:
            row[key] = run.key(key)
        for m in metrics:
            value = run.summary.get(m.name)
            row[m.name] = float(value) if value is not None and _is_num(value) else None
            row[f"{m.name}_bound"] = run.summary.get(f"{m.name}_bound")
            delta = noise = low = high = None
            if not is_base:
                delta = _delta_pct(value, base.summary.get(m.name))
                mine, theirs = samples(run, m), base_samples[m.name]
                interval = difference_interval(
                    m, theirs.data, mine.data, theirs.sessions, mine.sessions,
                    options.resamples, options.confidence, options.seed,
                )  # fmt: skip
                low, high = interval.low, interval.high
                noise = interval.contains(0.0)
            row[f"{m.name}_delta_pct"] = delta
            row[f"{m.name}_noise"] = noise
            row[f"{m.name}_diff_ci_low"] = low
            row[f"{m.name}_diff_ci_high"] = high
        rows.append(row)
    frame = pd.DataFrame(rows)
    if by:
        frame = frame.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)
    notes = [*_tool_choice_warning(runs), *under_load_notes(runs)]
    notes += [
        f"baseline: {base.run_id}",
        f"{NOISE_MARK} within noise: the {options.confidence:.0%} bootstrap interval of the change "
        f"contains 0 (sessions resampled, {options.resamples} resamples, seed {options.seed})",
    ]
    return Comparison(frame, metrics, by, base.run_id, options.confidence, notes)


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


# ---- rendering


def format_value(metric: Metric, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric.kind in ("percentile", "server"):
        return f"{value:.1f}"
    if metric.kind == "rate":
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.1f}"
    return f"{value:.3f}"


def format_cell(metric: Metric, row: dict[str, Any]) -> str:
    bound = row.get(f"{metric.name}_bound")
    if row.get(metric.name) is None and isinstance(bound, str) and bound:
        return bound  # outside the histogram's resolution: no number to compare
    text = format_value(metric, row.get(metric.name))
    delta = row.get(f"{metric.name}_delta_pct")
    if row.get("baseline") or delta is None or (isinstance(delta, float) and math.isnan(delta)):
        return text
    mark = f" {NOISE_MARK}" if row.get(f"{metric.name}_noise") is True else ""
    return f"{text} ({delta:+.1f}%{mark})"


def display_frame(comparison: Comparison) -> pd.DataFrame:
    """Strings for people: the run, the --by keys, then one column per metric."""
    out = []
    for row in comparison.frame.to_dict("records"):
        shown: dict[str, str] = {
            "run": f"{row['run_id']} (baseline)" if row["baseline"] else str(row["run_id"])
        }
        for key in comparison.by:
            value = row.get(key)
            shown[key] = "-" if value is None or value != value else str(value)
        for m in comparison.metrics:
            shown[m.label] = format_cell(m, row)
        out.append(shown)
    return pd.DataFrame(out)


def to_markdown(comparison: Comparison) -> str:
    frame = display_frame(comparison)
    headers = list(frame.columns)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---"] * len(comparison.by) + ["---"] + ["--:"] * len(comparison.metrics)
    lines = [line(headers), "| " + " | ".join(align) + " |"]
    lines += [line([str(v) for v in rec]) for rec in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n\n" + "\n".join(f"_{n}_" for n in comparison.notes) + "\n"


def to_csv(comparison: Comparison) -> str:
    buf = io.StringIO()
    comparison.frame.to_csv(buf, index=False)
    return buf.getvalue()


def to_html_table(comparison: Comparison) -> str:
    """The comparison as an HTML <table> (escaped), for pages and the report."""
    frame = display_frame(comparison)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for rec in frame.itertuples(index=False):
        cells = []
        for value in rec:
            cls = ' class="noise"' if NOISE_MARK in str(value) else ""
            cells.append(f"<td{cls}>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in comparison.notes)
    return (
        f"<table class='compare'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{notes}"
    )


def to_html_page(comparison: Comparison) -> str:
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}td.noise{color:#777}.note{color:#555}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>bench compare</title>"
        f"<style>{style}</style></head><body><h1>bench compare</h1>"
        f"{to_html_table(comparison)}</body></html>\n"
    )


def write_parquet(comparison: Comparison, path: Path) -> None:
    comparison.frame.to_parquet(path, index=False)
