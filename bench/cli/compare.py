"""`bench compare`: runs side by side, change against a baseline, noise marks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import console
from bench.cli.options import RunFolders
from bench.errors import BenchError

SELECT = "Which runs"


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def compare(
    runs: RunFolders,
    baseline: Annotated[
        str | None,
        typer.Option(help="Baseline run (run id among RUN, or a run folder); default: the first."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Columns naming each run, comma-separated: summary columns, engine flags or load "
            "options, e.g. model,max_num_seqs,users. Rows are sorted by them."
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(help="Summary metrics to show, comma-separated (default: the headline ones)."),
    ] = None,
    format: Annotated[
        str, typer.Option("--format", "-f", help="table, markdown, csv, html or parquet.")
    ] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file (parquet needs it).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Only runs of this model.", rich_help_panel=SELECT)
    ] = None,
    evalset: Annotated[
        str | None, typer.Option(help="Only runs of this eval set id.", rich_help_panel=SELECT)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only runs started on or after this date (2026-05-01).", rich_help_panel=SELECT
        ),
    ] = None,
    resamples: Annotated[
        int, typer.Option(min=100, help="Bootstrap resamples for the noise test.")
    ] = 1000,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="Confidence of the noise test's interval.")
    ] = 0.95,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
) -> None:
    """Compare runs: one row per run, each metric with its change against the baseline in %.

    A change marked ≈ is within noise: the bootstrap confidence interval of the change (from the
    per-call and per-turn records) contains zero.

    Example: bench compare results/ --model tiny --by users --format markdown
    """
    from bench.report import compare as c
    from bench.report.metrics import DEFAULT_METRICS
    from bench.report.runs import find_runs

    if format not in c.FORMATS:
        raise BenchError(f"--format: '{format}' is not one of {', '.join(c.FORMATS)}")
    if format == "parquet" and out is None:
        raise BenchError("--format parquet: give --out FILE.parquet")
    found = find_runs(runs, model=model, evalset=evalset, since=since)
    found, base_index = c.pick_baseline(found, baseline)
    options = c.CompareOptions(
        metrics=_split(metrics) or DEFAULT_METRICS,
        by=_split(by),
        baseline=base_index,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
    comparison = c.compare_runs(found, options)
    if format == "parquet":
        assert out is not None
        c.write_parquet(comparison, out)
        console.print(f"wrote {out}")
        return
    if format == "table":
        if out is not None:
            out.write_text(c.display_frame(comparison).to_string(index=False) + "\n")
            console.print(f"wrote {out}")
            return
        _print_table(comparison)
        return
    text = {"markdown": c.to_markdown, "csv": c.to_csv, "html": c.to_html_page}[format](comparison)
    if out is not None:
        out.write_text(text)
        console.print(f"wrote {out}")
    else:
        print(text, end="")


def _print_table(comparison) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from bench.report.compare import display_frame

    frame = display_frame(comparison)
    table = Table(show_header=True)
    for i, column in enumerate(frame.columns):
        table.add_column(
            column, justify="left" if i <= len(comparison.by) else "right", no_wrap=i == 0
        )
    for rec in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in rec])
    console.print(table)
    for note in comparison.notes:
        console.print(note, style="dim", markup=False)
