"""`bench results`: work on run folders after the fact."""

from __future__ import annotations

import typer

from bench.cli.console import console
from bench.cli.options import RunFolder
from bench.cli.summary import print_results
from bench.errors import BenchError

app = typer.Typer(
    help="Work on run folders: rebuild Parquet from raw records.", no_args_is_help=True
)


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
