"""Where bench finds the vLLM environment: --vllm-python, BENCH_VLLM_PYTHON, the checkout's
.venv-vllm, then the user cache's venv-vllm (`bench setup-vllm`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import constants
from bench.schemas.errors import BenchError
from bench.server.environment import find_vllm_python


def _venv(path: Path) -> Path:
    python = path / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.touch()
    return python


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A checkout venv and a cache venv that do not exist yet, and no BENCH_VLLM_PYTHON."""
    monkeypatch.delenv("BENCH_VLLM_PYTHON", raising=False)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "CHECKOUT_ROOT", tmp_path / "checkout")
    monkeypatch.setattr(constants, "DEFAULT_VLLM_VENV", tmp_path / "checkout" / ".venv-vllm")
    return {
        "checkout": tmp_path / "checkout" / ".venv-vllm",
        "cache": tmp_path / "cache" / "venv-vllm",
        "explicit": tmp_path / "explicit",
        "env": tmp_path / "env",
    }


def test_order(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _venv(places["cache"])
    assert find_vllm_python() == cache
    checkout = _venv(places["checkout"])
    assert find_vllm_python() == checkout
    from_env = _venv(places["env"])
    monkeypatch.setenv("BENCH_VLLM_PYTHON", str(from_env))
    assert find_vllm_python() == from_env
    explicit = _venv(places["explicit"])
    assert find_vllm_python(explicit) == explicit


def test_installed_wheel_ignores_the_folder_beside_site_packages(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _venv(places["checkout"])
    cache = _venv(places["cache"])
    monkeypatch.setattr(constants, "CHECKOUT_ROOT", None)
    assert find_vllm_python() == cache


def test_given_paths_must_exist(places: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _venv(places["cache"])
    with pytest.raises(BenchError, match=r"^--vllm-python: .*missing does not exist"):
        find_vllm_python(places["explicit"] / "missing")
    monkeypatch.setenv("BENCH_VLLM_PYTHON", str(places["env"] / "missing"))
    with pytest.raises(BenchError, match=r"^BENCH_VLLM_PYTHON: .*missing does not exist"):
        find_vllm_python()


def test_none_found_names_all_four_ways(places: dict[str, Path]) -> None:
    with pytest.raises(BenchError) as caught:
        find_vllm_python()
    message = str(caught.value)
    assert "\n" not in message
    ways = ["--vllm-python", "BENCH_VLLM_PYTHON", "scripts/setup.sh", ".venv-vllm"]
    ways += ["bench setup-vllm", str(places["cache"])]
    for way in ways:
        assert way in message, (way, message)
