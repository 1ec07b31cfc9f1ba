"""`bench report`: a self-contained HTML report (with PNG copies of its plots) of one or more runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import console
from bench.cli.options import EvalsetFilter, ModelFilter, RunFolders, SinceFilter


def report(
    runs: RunFolders,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="The HTML file (default: RUN/report.html for one run, ./report.html for several).",
        ),
    ] = None,
    model: ModelFilter = None,
    evalset: EvalsetFilter = None,
    since: SinceFilter = None,
    seed: Annotated[int, typer.Option(help="Seed of the comparison's bootstrap.")] = 0,
) -> None:
    """Write one HTML file that opens without network: config and provenance, the summary, latency
    CDFs, throughput and concurrency over time, server state, tool accuracy per case and per tool,
    and errors; with several runs also latency against throughput and the Pareto front.

    Example: bench report results/20260501-120000-tiny-weather_time-ab12
    """
    from bench.report.html import write_report
    from bench.report.runs import find_runs

    found = find_runs(runs, model=model, evalset=evalset, since=since)
    result = write_report(found, out, seed=seed)
    console.print(f"report: {result.html_path}")
    console.print(
        f"plots: {result.html_path.with_name(result.html_path.stem + '_plots')} "
        f"({len(result.png_paths)} PNG)"
    )
