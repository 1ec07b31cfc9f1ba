"""`bench results`: work on run folders after the fact."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bench import constants
from bench.cli.console import console
from bench.cli.options import EvalsetFilter, ModelFilter, RunFolder, SinceFilter
from bench.cli.summary import print_results
from bench.schemas.errors import BenchError

app = typer.Typer(
    help="Work on run folders: list them, rebuild Parquet from raw records.", no_args_is_help=True
)


@app.command("list")
def list_(
    roots: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Results folders (or run folders); default: ./results.",
            show_default=False,
            metavar="RESULTS",
        ),
    ] = None,
    model: ModelFilter = None,
    evalset: EvalsetFilter = None,
    since: SinceFilter = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
) -> None:
    """One line per run, oldest first: id, start (UTC), status, model, eval set, load and the
    headline figures, from each run's manifest and summary (a run that failed early is listed
    with its status). `completed, unclean` marks a run whose requests hung.

    Example: bench results list --model gemma-3-4b-it --since 2026-05-01
    """
    from bench.report.run_list import list_runs, to_text

    if format not in ("table", "csv", "json"):
        raise BenchError(f"--format: '{format}' is not one of table, csv, json")
    frame = list_runs(roots or [constants.DEFAULT_RESULTS_DIR], model, evalset, since)
    if frame.empty:
        console.print("no runs match", markup=False)
        return
    if format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso", indent=2) + "\n")
    else:
        sys.stdout.write(to_text(frame))


@app.command("rebuild")
def rebuild(
    run_dir: RunFolder,
) -> None:
    """Rebuild the Parquet tables from the raw JSONL records (after a crash, or a scorer change).

    A run with load steps: each step's tables, then the run's own (a summary row per step, by
    turn index, each case per step)."""
    from bench.runner.tables import rebuild_tables  # heavy: ADK's evaluators
    from bench.schemas.run_dir import RunDir

    if not run_dir.is_dir():
        raise BenchError(f"RUN: {run_dir} is not a folder")
    built = rebuild_tables(RunDir(run_dir))
    print_results(built.summary, built.counts, built.step_summaries, run_dir)
    console.print(
        f"rebuilt {', '.join(f'{k}: {v}' for k, v in built.counts.items())}"
        + (f"; skipped {built.bad_lines} truncated line(s)" if built.bad_lines else "")
    )
