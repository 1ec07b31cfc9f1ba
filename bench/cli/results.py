"""`bench results`: work on run folders after the fact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import console
from bench.cli.summary import print_summary
from bench.errors import BenchError

app = typer.Typer(
    help="Work on run folders: rebuild Parquet from raw records.", no_args_is_help=True
)


@app.command("rebuild")
def rebuild(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (results/<run_id>).")],
) -> None:
    """Rebuild the Parquet tables from the raw JSONL records (after a crash, or a scorer change)."""
    from bench.results.build import build_results  # heavy: ADK's evaluators

    if not run_dir.is_dir():
        raise BenchError(f"RUN: {run_dir} is not a folder")
    built = build_results(run_dir)
    print_summary(built.summary, built.counts)
    console.print(
        f"rebuilt {', '.join(f'{k}: {v}' for k, v in built.counts.items())}"
        + (f"; skipped {built.bad_lines} truncated line(s)" if built.bad_lines else "")
    )
