"""The wheel works outside the checkout: build it with uv, install it into a fresh virtualenv in a
temporary folder, and run `bench` from there with a working directory outside the repo.

The dependencies come from uv.lock (from uv's cache, so this runs offline in seconds); the wheel
itself is installed on its own and `uv pip check` proves its declared requirements are met. What
the installed bench lists is checked against the checkout's own files, not against bench's output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.constants import CHECKOUT_ROOT

pytestmark = pytest.mark.skipif(CHECKOUT_ROOT is None, reason="builds the wheel from a checkout")


def _uv() -> list[str]:
    """uv as scripts/setup.sh finds it (on PATH, else `python3 -m uv`)."""
    if shutil.which("uv"):
        return ["uv"]
    for python in (sys.executable, "python3"):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    pytest.fail("uv not found; scripts/setup.sh installs it")


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _unboxed(text: str) -> str:
    return " ".join(text.translate({ord(c): " " for c in "│┃┏┓┗┛┡┩└┘┬┴┼━─╇┳┻╋"}).split())


def _shipped_case_counts(root: Path) -> dict[str, int]:
    """Each shipped eval set of the checkout and its number of cases, read from the JSON."""
    counts = {}
    for evalset in sorted(root.glob("evalsets/*/*.evalset.json")):
        counts[evalset.parent.name] = len(json.loads(evalset.read_text())["eval_cases"])
    return counts


def test_wheel_installed_outside_the_checkout(tmp_path: Path) -> None:
    assert CHECKOUT_ROOT is not None
    uv = _uv()
    # No trace of the checkout or of this test's virtualenv in the children.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(COLUMNS="300", BENCH_CACHE_DIR=str(tmp_path / "cache"))

    dist = tmp_path / "dist"
    _run([*uv, "build", "--wheel", "--out-dir", str(dist)], cwd=CHECKOUT_ROOT, env=env)
    (wheel,) = dist.glob("vllm_agent_bench-*.whl")

    venv = tmp_path / "venv"
    sync_env = {**env, "UV_PROJECT_ENVIRONMENT": str(venv)}
    sync = [*uv, "sync", "--frozen", "--no-dev", "--no-install-project", "--quiet"]
    _run(sync, cwd=CHECKOUT_ROOT, env=sync_env, timeout=300)
    python = venv / "bin" / "python"
    install = [*uv, "pip", "install", "--python", str(python), "--no-deps", str(wheel)]
    _run(install, cwd=tmp_path, env=env)
    _run([*uv, "pip", "check", "--python", str(python)], cwd=tmp_path, env=env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bench = str(venv / "bin" / "bench")

    # The installed package finds its eval sets in the wheel, and knows it is no checkout.
    # So are the chat template and the report template, found beside their modules.
    code = (
        "import bench.constants as c, bench.models.catalog as m, bench.report as r\n"
        "from pathlib import Path\n"
        "print(c.EVALSETS_DIR, c.CHECKOUT_ROOT)\n"
        "print(m.load_catalog()['gemma-3-4b-it'].chat_template_path())\n"
        "print(Path(r.__file__).parent / 'templates' / 'report.html.j2')\n"
    )
    where = _run([str(python), "-c", code], cwd=elsewhere, env=env).split()
    assert Path(where[0]).is_relative_to(venv) and where[0].endswith("bench/_evalsets"), where
    assert where[1] == "None"
    for data_file in where[2:]:
        assert Path(data_file).is_relative_to(venv) and Path(data_file).is_file(), data_file

    listed = _unboxed(_run([bench, "evalsets", "list"], cwd=elsewhere, env=env))
    shipped = _shipped_case_counts(CHECKOUT_ROOT)
    assert len(shipped) >= 5
    for name, cases in shipped.items():
        assert f" {name} evalset {cases} " in listed, (name, cases, listed)

    # An agent shipped as package data loads and its eval set checks out against its tools.
    validated = _run([bench, "evalsets", "validate", "weather_time"], cwd=elsewhere, env=env)
    assert "no problems" in validated

    models = _unboxed(_run([bench, "models", "list"], cwd=elsewhere, env=env))
    for name in ("tiny", "gemma-3-4b-it"):
        assert f" {name} " in f" {models} ", models
