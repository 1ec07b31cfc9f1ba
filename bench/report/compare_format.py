"""A `Comparison` as Markdown (a CI job summary), CSV, JSON, HTML or Parquet.

Every format puts what makes runs not comparable first: the settings they differ in and the
warnings (`bench.report.compare`), then the table, then the notes; with `--fail-on`, the gates.
A cell reads `value (change mark)`: `+12.4%` against the baseline (or the difference itself
when the baseline is 0), `≈` within noise, `?` undecided (too few sessions), no mark for a real
change; `n/a` where accuracy is not comparable (another eval set). The terminal table is in
`bench.report.compare_table`.
"""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.compare import OTHER_EVALSET, Comparison
from bench.report.gates import GateReport
from bench.report.metrics import Metric
from bench.report.noise import NOISE_MARK, UNDECIDED_MARK, undecided


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(metric: Metric, value: Any) -> str:
    if _missing(value):
        return "-"
    if metric.kind in ("percentile", "server"):
        return f"{value:.1f}"
    if metric.kind == "rate":
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.1f}"
    if metric.name.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def cell_parts(metric: Metric, row: dict[str, Any]) -> tuple[str, str]:
    """The value as shown, and its change against the baseline with the noise mark ("" for the
    baseline and where there is no change to show)."""
    name = metric.name
    why = row.get(f"{name}_why")
    bound = row.get(f"{name}_bound")
    if why == OTHER_EVALSET:
        return "n/a", ""
    if _missing(row.get(name)) and isinstance(bound, str) and bound:
        return bound, ""  # outside the histogram's resolution: no number to compare
    text = format_value(metric, row.get(name))
    if row.get("baseline"):
        return text, ""
    delta, diff = row.get(f"{name}_delta_pct"), row.get(f"{name}_diff")
    if not _missing(delta):
        change = f"{delta:+.1f}%"
    elif diff is not None and not _missing(diff):
        # against a baseline of 0 there is no percentage: the difference itself
        change = ("+" if diff >= 0 else "") + format_value(metric, diff)
    else:
        return text, ""
    noise = row.get(f"{name}_noise")
    if noise is True:
        change += f" {NOISE_MARK}"
    elif undecided(why):
        change += f" {UNDECIDED_MARK}"
    return text, change


def format_cell(metric: Metric, row: dict[str, Any]) -> str:
    text, change = cell_parts(metric, row)
    return f"{text} ({change})" if change else text


def run_label(comparison: Comparison, row: dict[str, Any]) -> str:
    label = str(row["run_id"])
    finished = comparison.unfinished.get(label)
    if finished is not None and not finished.clean:
        label += " [unclean]"
    return f"{label} (baseline)" if row["baseline"] else label


def display_frame(comparison: Comparison) -> pd.DataFrame:
    """Strings for people: the run, the --by keys, then one column per metric."""
    out = []
    for row in comparison.frame.to_dict("records"):
        shown: dict[str, str] = {"run": run_label(comparison, row)}
        for key in comparison.by:
            value = row.get(key)
            shown[key] = "-" if _missing(value) else str(value)
        for m in comparison.metrics:
            shown[m.label] = format_cell(m, row)
        out.append(shown)
    return pd.DataFrame(out)


def preamble(comparison: Comparison) -> list[str]:
    """The lines shown above the table: differences, then warnings."""
    lines = []
    if comparison.differences:
        lines.append("not like for like: these runs differ in")
        lines += [f"  {d.text()}" for d in comparison.differences]
    return lines + comparison.warnings


def to_markdown(comparison: Comparison, gates: GateReport | None = None) -> str:
    frame = display_frame(comparison)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    parts = []
    if gates is not None:
        parts.append(gates.markdown() + "\n")
    if comparison.differences:
        parts.append("**Not like for like**: these runs differ in\n")
        parts.append("\n".join(f"- {d.text()}" for d in comparison.differences) + "\n")
    if comparison.warnings:
        parts.append("\n".join(f"> **{w}**" if w.startswith("WARNING") else f"> {w}"
                               for w in comparison.warnings) + "\n")  # fmt: skip
    align = ["---"] * (len(comparison.by) + 1) + ["--:"] * len(comparison.metrics)
    table = [line(list(frame.columns)), "| " + " | ".join(align) + " |"]
    table += [line([str(v) for v in rec]) for rec in frame.itertuples(index=False)]
    parts.append("\n".join(table) + "\n")
    parts.append("\n".join(f"_{n}_" for n in comparison.notes) + "\n")
    return "\n".join(parts)


def to_csv(comparison: Comparison) -> str:
    buf = io.StringIO()
    comparison.frame.to_csv(buf, index=False)
    return buf.getvalue()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def to_json(comparison: Comparison, gates: GateReport | None = None) -> str:
    """Machine-readable: the differences, warnings, every run's metrics and the gates."""
    suffixes = ("bound", "delta_pct", "diff", "noise", "why", "diff_ci_low", "diff_ci_high")
    runs = []
    for row in comparison.frame.to_dict("records"):
        entry: dict[str, Any] = {
            k: _clean(row[k]) for k in ("run_id", "baseline", "sessions_measured")
        }
        entry.update({key: _clean(row.get(key)) for key in comparison.by})
        entry["metrics"] = {
            m.name: {"value": _clean(row.get(m.name)),
                     **{s: _clean(row.get(f"{m.name}_{s}")) for s in suffixes}}
            for m in comparison.metrics
        }  # fmt: skip
        finished = comparison.unfinished.get(str(row["run_id"]))
        if finished is not None:
            entry["clean"] = finished.clean
            entry["unclean_reasons"] = finished.reasons()
            entry["counts"] = finished.counts
        runs.append(entry)
    data: dict[str, Any] = {
        "baseline": comparison.baseline_run_id,
        "confidence": comparison.confidence,
        "differences": [
            {"setting": d.setting, "values": [{"value": v, "runs": r} for v, r in d.values]}
            for d in comparison.differences
        ],
        "warnings": comparison.warnings,
        "notes": comparison.notes,
        "runs": runs,
    }
    if gates is not None:
        data["gates"] = gates.as_dict()
    return json.dumps(data, indent=2) + "\n"


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
    before = "".join(f"<p class='warning'>{html.escape(n)}</p>" for n in preamble(comparison))
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in comparison.notes)
    return (
        f"{before}<table class='compare'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{notes}"
    )


def to_html_page(comparison: Comparison) -> str:
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}td.noise{color:#777}.note{color:#555}"
        ".warning{color:#a40}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>bench compare</title>"
        f"<style>{style}</style></head><body><h1>bench compare</h1>"
        f"{to_html_table(comparison)}</body></html>\n"
    )


def write_parquet(comparison: Comparison, path: Path) -> None:
    comparison.frame.to_parquet(path, index=False)
