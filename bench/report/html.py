"""`bench report`: one self-contained HTML file (plots embedded as base64 PNG) per set of runs.

    path = write_report(find_runs([Path("results/RUN")]), Path("report.html"))

The page, top to bottom: the headline (the console summary's first figures in words with
units, one column per run, each figure's definition on hover and as a footnote:
`bench.report.headline`); with several runs the cross-run plots and the comparison; then each
run's plots, per-case and per-tool tables, errors and provenance; last, an appendix with every
summary column, its description (`bench.schemas.column_help`) and each run's value. Runs are
named by what differs between them (`bench.report.run_names`). Wide tables scroll inside their
box, never the page.

Beside the HTML, `<stem>_plots/` holds the same plots as PNG files for sharing. The page loads
nothing from the network: inline CSS, no scripts, images as data URIs.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from bench import __version__
from bench.report.compare import CompareOptions, compare_runs
from bench.report.compare_format import to_html_table
from bench.report.figure import Plot
from bench.report.headline import FIGURES, PERCENTILE_NOTE
from bench.report.metrics import failed_mask
from bench.report.plots import cross_run_plots, run_plots
from bench.report.run_names import run_names
from bench.report.runs import Run
from bench.report.turn_plots import turn_index_plot
from bench.report.under_load import html_section as under_load_section
from bench.schemas.column_help import summary_help
from bench.schemas.run_dir import RunDir
from bench.scoring.tally import board_from_turns

TEMPLATE = "report.html.j2"
PROVENANCE_KEYS = (
    "model", "served_model_name", "model_source", "tool_parser", "vllm_version", "vllm_argv",
    "engine_flags", "endpoint_attached", "gpus", "eval_set_id", "eval_set_sha256",
    "eval_set_files", "load", "bench_version", "git_sha", "hostname", "platform", "python",
    "cpu_count", "cpu_model",
)  # fmt: skip


@dataclass
class ReportResult:
    html_path: Path
    png_paths: list[Path]


def _env() -> jinja2.Environment:
    loader = jinja2.PackageLoader("bench.report", "templates")
    return jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["j2", "html"]))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _table(rows: list[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f"<p>{html.escape(empty)}</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def error_rows(run: Run) -> list[dict[str, Any]]:
    """Errors by table and type, with a count and the first message."""
    rows = []
    for name in ("llm_calls", "turns"):
        df = run.table(name)
        if df is None or df.empty or "error_type" not in df.columns:
            continue
        errs = df[failed_mask(df)]  # incomplete records are no errors (bench.scoring.outcome)
        for error_type, group in errs.groupby("error_type", sort=True):
            first = group["error"].dropna()
            rows.append({"table": name, "error_type": error_type, "count": len(group),
                         "warm-up": int(group["warmup"].fillna(False).astype(bool).sum()),
                         "example": (str(first.iloc[0])[:300] if len(first) else "")})  # fmt: skip
    return rows


def _appendix_value(summary: dict[str, Any], key: str) -> str:
    """A summary value for people: a percentile outside the histogram's buckets shows its bound."""
    value, bound = summary.get(key), summary.get(f"{key}_bound")
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return str(bound) if missing and isinstance(bound, str) else _fmt(value)


def appendix_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """Every summary column (bounds beside their percentile), its description and each run's
    value."""
    columns: dict[str, None] = {}
    for run in runs:
        columns.update(dict.fromkeys(k for k in run.summary if not k.endswith("_bound")))
    return [
        {"column": key, "description": summary_help(key),
         "values": [_appendix_value(run.summary, key) for run in runs]}
        for key in columns
    ]  # fmt: skip


def headline_rows(runs: list[Run]) -> list[dict[str, Any]]:
    return [
        {"anchor": f.anchor, "label": f.label, "definition": f.definition,
         "values": [f.text(run.summary) for run in runs]}
        for f in FIGURES
    ]  # fmt: skip


def _anchor(run_id: str) -> str:
    return "run-" + re.sub(r"[^A-Za-z0-9_-]", "-", run_id)


def _b64(plot: Plot) -> dict[str, Any]:
    return {"name": plot.name, "title": plot.title, "series": plot.series,
            "b64": base64.b64encode(plot.png).decode()}  # fmt: skip


def _run_context(run: Run, name: str) -> tuple[dict[str, Any], list[Plot]]:
    plots = run_plots(run)
    if (by_turn := turn_index_plot(run)) is not None:
        plots.append(by_turn)
    turns, sessions = run.measured("turns"), run.measured("sessions")
    board = board_from_turns(
        turns.to_dict("records") if not turns.empty else [],
        sessions.to_dict("records") if not sessions.empty else [],
    )
    prov, manifest = run.provenance, run.manifest
    context = {
        "run_id": run.run_id,
        "name": name,
        "anchor": _anchor(run.run_id),
        "status": run.summary.get("status") or (manifest.status if manifest else "?"),
        "message": manifest.message if manifest else "",
        "provenance": [
            ("started_at", manifest.started_at if manifest else None),
            ("ended_at", manifest.ended_at if manifest else None),
            *[(k, _fmt(prov[k])) for k in PROVENANCE_KEYS if k in prov],
            ("schema_version", run.schema_version),
        ],
        "config": run.config_text,
        "plots": [_b64(p) for p in plots],
        "has_server_metrics": any(p.name == "server_state" for p in plots),
        "case_table": _table(board.case_rows(), "No measured turns."),
        "tool_table": _table(board.tool_rows(), "No tool calls expected or made."),
        "errors": _table(error_rows(run), "") if error_rows(run) else "",
    }
    return context, plots


def default_out(runs: list[Run]) -> Path:
    return (runs[0].dir if len(runs) == 1 else RunDir(Path("."))).report


def render_report(runs: list[Run], seed: int = 0) -> tuple[str, dict[str, list[Plot]]]:
    """The HTML text and the plots by run id ("" for the cross-run ones)."""
    names = run_names(runs)
    contexts, plots_by_run = [], {}
    for run in runs:
        context, plots = _run_context(run, names[run.run_id])
        contexts.append(context)
        plots_by_run[run.run_id] = plots
    comparison_html, cross = "", []
    if len(runs) > 1:
        comparison_html = to_html_table(compare_runs(runs, CompareOptions(seed=seed)))
        cross = cross_run_plots(runs, names)
        plots_by_run[""] = cross
    title = (
        f"bench report: {runs[0].run_id}" if len(runs) == 1 else f"bench report: {len(runs)} runs"
    )
    text = (
        _env()
        .get_template(TEMPLATE)
        .render(
            title=title,
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            bench_version=__version__,
            runs=contexts,
            headline=headline_rows(runs),
            percentile_note=PERCENTILE_NOTE,
            appendix=appendix_rows(runs),
            comparison_html=comparison_html,
            under_load_html=under_load_section(runs),
            cross_plots=[_b64(p) for p in cross],
        )
    )
    return text, plots_by_run


def write_report(runs: list[Run], out: Path | None = None, seed: int = 0) -> ReportResult:
    out = out or default_out(runs)
    out.parent.mkdir(parents=True, exist_ok=True)
    text, plots_by_run = render_report(runs, seed=seed)
    png_dir = out.with_name(out.stem + "_plots")
    png_dir.mkdir(exist_ok=True)
    pngs = []
    for run_id, plots in plots_by_run.items():
        prefix = re.sub(r"[^A-Za-z0-9_.-]", "-", run_id) if run_id else "all-runs"
        for plot in plots:
            path = png_dir / f"{prefix}-{plot.name}.png"
            path.write_bytes(plot.png)
            pngs.append(path)
    out.write_text(text)
    return ReportResult(out, pngs)


def summary_frame(runs: list[Run]) -> pd.DataFrame:
    """The summary rows of several runs, one per run (for scripts)."""
    return pd.DataFrame([run.summary for run in runs])
