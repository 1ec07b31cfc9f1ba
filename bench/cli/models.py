"""`bench models`: the model catalog and the tiny scripted model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bench.cli.console import console
from bench.cli.options import Catalog
from bench.errors import BenchError
from bench.models.catalog import load_catalog

app = typer.Typer(
    help="The model catalog: names bench knows and how vLLM serves them.", no_args_is_help=True
)


@app.command("list")
def list_models(catalog: Catalog = None) -> None:
    """List catalog entries."""
    table = Table("name", "source", "tool parser", "max len", "dtype", "GPU GB")
    for entry in load_catalog(catalog).values():
        source = entry.hf_id or f"built locally ({entry.builder})"
        gb = f"{entry.gpu_memory_gb:g}" if entry.gpu_memory_gb else "-"
        table.add_row(
            entry.name,
            source,
            entry.tool_parser or "-",
            str(entry.max_model_len or "-"),
            entry.dtype,
            gb,
        )
    console.print(table)


@app.command("show")
def show_model(name: str, catalog: Catalog = None) -> None:
    """Show every field of one catalog entry."""
    entries = load_catalog(catalog)
    if name not in entries:
        raise BenchError(f"unknown model '{name}' (catalog: {', '.join(sorted(entries))})")
    entry = entries[name]
    for field, value in entry.model_dump().items():
        console.print(f"[bold]{field}[/]: {value}", markup=True)
    template = entry.chat_template_path()
    if template:
        console.print(f"[bold]chat_template_path[/]: {template}")


@app.command("build-tiny")
def build_tiny(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the model into.")],
    variant: Annotated[
        str,
        typer.Option(
            help="Which tool-call format: tiny (hermes), tiny-pythonic, tiny-llama3-json, "
            "tiny-mistral."
        ),
    ] = "tiny",
) -> None:
    """Build the tiny scripted model (seconds, no download) into OUT_DIR."""
    from bench.models.tiny import build_tiny_model
    from bench.models.tiny_variants import TINY_VARIANTS

    if variant not in TINY_VARIANTS:
        raise BenchError(
            f"--variant: unknown tiny variant '{variant}' (known: {', '.join(TINY_VARIANTS)})"
        )
    path = build_tiny_model(out_dir, TINY_VARIANTS[variant])
    size_kb = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024
    console.print(f"{variant} model written to {path} ({size_kb:.0f} KiB)")
