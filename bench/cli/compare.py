"""`bench compare`: runs side by side, change against a baseline, noise marks, CI gates."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bench.cli.console import console, err_console
from bench.cli.options import EvalsetFilter, ModelFilter, RunFolders, SinceFilter
from bench.schemas.errors import BenchError

if TYPE_CHECKING:
    from bench.report.compare import Comparison
    from bench.report.gates import Gate, GateReport

GATES = "CI gates"


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


# The options of `bench compare`, declared apart so the command reads as its steps.
Baseline = Annotated[
    str | None,
    typer.Option(help="Baseline run (run id among RUN, or a run folder); default: the first."),
]
By = Annotated[
    str | None,
    typer.Option(
        help="Columns naming each run, comma-separated: summary columns, engine flags or load "
        "options, e.g. model,max_num_seqs,users. Rows are sorted by them."
    ),
]
Columns = Annotated[
    str | None,
    typer.Option(
        "--columns",
        "--metrics",
        help="Metrics to show, comma-separated, or 'all' (default: the headline ones; the "
        "terminal table shows those that fit its width). Named ones are all shown.",
    ),
]
Format = Annotated[
    str, typer.Option("--format", "-f", help="table, markdown, csv, html, json or parquet.")
]
Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write to this file (parquet needs it).")
]
FailOn = Annotated[
    str | None,
    typer.Option(
        help="Exit 1 when a change beyond noise crosses a gate, e.g. "
        "'task_success_rate<-0.02,turn_p90_ms>+10%' (units of the metric, or % of the "
        "baseline); also when a run did not finish cleanly or a crossing cannot be told "
        "from noise.",
        rich_help_panel=GATES,
    ),
]
AllowDifferentEvalsets = Annotated[
    bool,
    typer.Option(
        "--allow-different-evalsets",
        help="Show accuracy of runs on other eval-set content or criteria than the baseline "
        "(left blank by default: it measures something else).",
    ),
]
History = Annotated[
    str | None,
    typer.Option(
        metavar="METRIC",
        help="Show METRIC over the runs of one configuration (that of --baseline, else of the "
        "newest run), oldest first, each against the run before.",
    ),
]
Resamples = Annotated[int, typer.Option(min=100, help="Bootstrap resamples for the noise test.")]
Confidence = Annotated[
    float, typer.Option(min=0.5, max=0.999, help="Confidence of the noise test's interval.")
]
Seed = Annotated[int, typer.Option(help="Seed of the bootstrap.")]


def compare(
    runs: RunFolders,
    baseline: Baseline = None,
    by: By = None,
    columns: Columns = None,
    format: Format = "table",
    out: Out = None,
    fail_on: FailOn = None,
    allow_different_evalsets: AllowDifferentEvalsets = False,
    history: History = None,
    model: ModelFilter = None,
    evalset: EvalsetFilter = None,
    since: SinceFilter = None,
    resamples: Resamples = 1000,
    confidence: Confidence = 0.95,
    seed: Seed = 0,
) -> None:
    """Compare runs: one row per run, each metric with its change against the baseline in %.

    First it lists what makes the runs not like for like (eval set, criteria, model, weights,
    engine flags, stream, tool choice, versions, hardware, a saturated client, runs that did not
    finish cleanly). A change marked ≈ is within noise: the bootstrap interval of the change
    (sessions resampled; rates in blocks of time) contains zero; ? means too few sessions to tell.

    Example: bench compare results/ --baseline nightly-0501 --fail-on 'turn_p90_ms>+10%' -f markdown
    """
    from bench.report import compare as c
    from bench.report.metrics import DEFAULT_METRICS, METRICS
    from bench.report.runs import find_runs

    gates = _checked_gates(format, out, fail_on, history)
    found = find_runs(runs, model=model, evalset=evalset, since=since)
    found, base_index = c.pick_baseline(found, baseline)
    if history:
        _history(found, history, found[base_index] if baseline else None, format, out,
                 resamples, confidence, seed)  # fmt: skip
        return
    named = list(METRICS) if columns == "all" else _split(columns)
    metrics = named or list(DEFAULT_METRICS)
    metrics += [g.metric for g in gates if g.metric not in metrics]
    options = c.CompareOptions(
        metrics=metrics,
        by=_split(by),
        baseline=base_index,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        allow_different_evalsets=allow_different_evalsets,
    )
    comparison = c.compare_runs(found, options)
    report = None
    if gates:
        from bench.report.gates import check_gates

        report = check_gates(comparison, gates)
    _emit(comparison, report, format, out, every_column=bool(named))
    if report is not None and report.failed:
        raise typer.Exit(1)


def _checked_gates(
    format: str, out: Path | None, fail_on: str | None, history: str | None
) -> list[Gate]:
    """The --fail-on gates, once the output options are known to fit together."""
    from bench.report.compare import FORMATS
    from bench.report.gates import parse_gates

    if format not in FORMATS:
        raise BenchError(f"--format: '{format}' is not one of {', '.join(FORMATS)}")
    if format == "parquet" and out is None:
        raise BenchError("--format parquet: give --out FILE.parquet")
    gates = parse_gates(fail_on) if fail_on is not None else []
    if history and gates:
        raise BenchError("--history: gates (--fail-on) apply to a comparison, not a history")
    return gates


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text)
    console.print(f"wrote {out}", markup=False)


def _emit(
    comparison: Comparison,
    report: GateReport | None,
    format: str,
    out: Path | None,
    every_column: bool,
) -> None:
    from bench.report import compare_format as f

    if format == "table":
        _print_table(comparison, every_column, out)
    elif format == "parquet":
        assert out is not None
        f.write_parquet(comparison, out)
        console.print(f"wrote {out}", markup=False)
    elif format == "markdown":
        _write(f.to_markdown(comparison, report), out)
    elif format == "json":
        _write(f.to_json(comparison, report), out)
    else:
        _write({"csv": f.to_csv, "html": f.to_html_page}[format](comparison), out)
    if report is None:
        return
    embedded = format in ("markdown", "json") and out is None
    if not embedded:  # the verdict goes where people and CI logs see it
        target = console if format == "table" and out is None else err_console
        for line in report.lines():
            target.print(line, markup=False, style="bold red" if report.failed else None)


def terminal_width() -> int:
    """COLUMNS when set (CI logs, tests), else the terminal's (150 when not a terminal)."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else console.width


def _print_table(comparison: Comparison, every_column: bool, out: Path | None) -> None:
    from rich.console import Console

    from bench.report.compare_format import preamble
    from bench.report.compare_table import fit_tables, hidden_note

    width = terminal_width()
    file = None if out is None else out.open("w")
    target = Console(file=file, width=width, highlight=False, color_system=None if file else "auto")
    for line in preamble(comparison):
        target.print(line, markup=False, style="yellow" if line.startswith("WARNING") else None)
    tables, hidden = fit_tables(comparison, width, every_column)
    for table in tables:
        target.print(table)
    if hidden:
        target.print(hidden_note(hidden, len(comparison.metrics) - len(hidden)), markup=False)
    for note in comparison.notes:
        target.print(note, style="dim", markup=False)
    if file is not None:
        file.close()
        console.print(f"wrote {out}", markup=False)


def _history(runs, metric, followed, format, out, resamples, confidence, seed) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from bench.report import history as h

    if format not in ("table", "markdown", "csv", "json"):
        raise BenchError(f"--history: --format {format} is not one of table, markdown, csv, json")
    hist = h.metric_history(runs, metric, followed, resamples, confidence, seed)
    if format == "markdown":
        _write(h.to_markdown(hist), out)
    elif format == "json":
        _write(h.to_json(hist), out)
    elif format == "csv":
        _write(hist.frame.to_csv(index=False), out)
    else:
        rows = h.display_rows(hist)
        table = Table(show_header=True, box=None, pad_edge=False)
        for i, name in enumerate(rows[0] if rows else []):
            table.add_column(name, justify="right" if i in (2, 3) else "left", no_wrap=i < 4)
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
        for note in hist.notes():
            console.print(note, style="dim", markup=False)
