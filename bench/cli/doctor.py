"""`bench doctor`: what is installed, what hardware there is, and whether the tiny model serves."""

from __future__ import annotations

import platform
import time
from typing import Annotated

import typer

from bench import __version__, constants
from bench.cli.console import console
from bench.schemas.config import ServerConfig
from bench.schemas.errors import BenchError, RunFailed
from bench.schemas.run_dir import RunDir
from bench.schemas.settings import settings
from bench.server.environment import detect_gpus, find_vllm_python, vllm_version
from bench.server.launch import serving
from bench.server.probe import probe_tool_call


def doctor(
    serve_check: Annotated[
        bool,
        typer.Option("--serve/--no-serve", help="Also build and serve the tiny model (~1 min)."),
    ] = True,
) -> None:
    """Check the installation and say what to fix."""
    problems: list[str] = []
    console.print(
        f"bench {__version__} on Python {platform.python_version()} ({platform.machine()})"
    )
    gpus = detect_gpus()
    console.print(
        "GPUs: "
        + (", ".join(f"{g.index}: {g.name} ({g.memory_mib} MiB)" for g in gpus) or "none (CPU)")
    )
    try:
        python = find_vllm_python()
        version = vllm_version(python)
        console.print(f"vLLM environment: {python} (vLLM {version or 'not importable'})")
        if not version:
            problems.append(
                "vLLM is not installed in that environment: "
                f"run bench setup-vllm --venv {python.parent.parent}"
            )
    except BenchError as exc:
        console.print(f"vLLM environment: missing ({exc})")
        problems.append(str(exc))
    try:
        from bench.models.tiny import ensure_tiny_model

        t0 = time.monotonic()
        path = ensure_tiny_model(settings().cache_dir)
        console.print(f"tiny model: {path} ({time.monotonic() - t0:.1f} s)")
    except Exception as exc:  # doctor reports every failure instead of stopping at the first
        problems.append(f"the tiny model does not build: {type(exc).__name__}: {exc}")
    if serve_check and not problems:
        log = RunDir(constants.DEFAULT_RESULTS_DIR / "doctor").server_log
        try:
            t0 = time.monotonic()
            with (
                console.status("serving the tiny model ..."),
                serving(ServerConfig(model="tiny"), log) as (endpoint, _),
            ):
                ready_s = time.monotonic() - t0
                result = probe_tool_call(endpoint)
            console.print(
                f"tiny model served in {ready_s:.0f} s; tool call: {result.tool_calls or result.content!r}"
            )
            if not result.tool_calls:
                problems.append(f"the tiny model answered without a tool call; see {log}")
        except (RunFailed, BenchError) as exc:
            problems.append(f"serving the tiny model failed: {exc} (log: {log})")
    if problems:
        for p in problems:
            console.print(f"[red]fix[/]: {p}", markup=True)
        raise typer.Exit(1)
    console.print("[green]all good[/]")
