"""`bench export-trace`: a run's LLM calls as a trace for other benchmarks to replay."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import console
from bench.cli.options import RunFolder
from bench.results import export_trace as trace


def export_trace(
    run_dir: RunFolder,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="vllm-custom (vllm bench serve --dataset-name custom), mooncake (AIPerf and "
            "others: timestamps, lengths, prefix block hashes) or chat-jsonl (the whole calls).",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write (default: RUN/trace-<format>.jsonl)."),
    ] = None,
    block_size: Annotated[
        int, typer.Option("--block-size", help="mooncake: tokens per hash_ids block.")
    ] = trace.DEFAULT_BLOCK_SIZE,
) -> None:
    """Write the run's LLM calls as a replayable trace: vllm-custom, mooncake or chat-jsonl."""
    path, written, left_out = trace.export_trace(run_dir, fmt, out, block_size=block_size)
    note = f" ({left_out} warm-up or failed call(s) left out)" if left_out else ""
    console.print(f"wrote {written} call(s) to {path}{note}", markup=False)
