"""Shared test setup: a clean environment, the tiers (integration, e2e) and the `gpu` marker."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

# Inputs tried by the property-based tests (tests/integration/test_fuzz_evalsets.py).
FUZZED_INPUTS = pytest.StashKey[int]()


def _has_nvidia_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.startswith("GPU")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-realmodel", action="store_true", help="run the real-weights (SmolLM2) CPU tests"
    )


# The tier of a test is its folder: `pytest -m "not integration and not e2e"` is the fast tier
# (tests/unit, in-process, under 2 minutes; docs/development.md).
TIER_OF_FOLDER = {"integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = os.path.dirname(__file__)
    for item in items:
        folder = os.path.relpath(str(item.path), tests_dir).split(os.sep)[0]
        if folder in TIER_OF_FOLDER:
            item.add_marker(TIER_OF_FOLDER[folder])
    # Opt-in, like inspect_ai's slow tests: minutes of CPU per run (download, dequantize, serve).
    if not (config.getoption("--run-realmodel") or os.environ.get("BENCH_RUN_REALMODEL") == "1"):
        skip_real = pytest.mark.skip(
            reason="real-weights test: --run-realmodel or BENCH_RUN_REALMODEL=1"
        )
        for item in items:
            if item.get_closest_marker("realmodel") is not None:
                item.add_marker(skip_real)
    if _has_nvidia_gpu():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def clean_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests never depend on the developer's BENCH_* settings; built models go to a shared temp cache."""
    for key in list(os.environ):
        if key.startswith("BENCH_") and key not in ("BENCH_CACHE_DIR", "BENCH_VLLM_PYTHON"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # --processes auto sizes from this instead of a start-up measurement: the same processes on
    # every machine (tests that need another cost set their own).
    monkeypatch.setenv("BENCH_CLIENT_CPU_MS", "30")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """How many faults and bad inputs the suite tried (issue: reliability and security)."""
    counts = {"fault": 0, "bad_input": 0}
    for reports in terminalreporter.stats.values():
        for report in reports:
            keywords = getattr(report, "keywords", {})
            if getattr(report, "when", None) == "call":
                for marker in counts:
                    if marker in keywords:
                        counts[marker] += 1
    fuzzed = config.stash.get(FUZZED_INPUTS, 0)
    if any(counts.values()) or fuzzed:
        terminalreporter.write_line(
            f"tried {counts['fault']} faults and {counts['bad_input']} bad inputs"
            + (f", plus {fuzzed} fuzzed eval-set inputs" if fuzzed else "")
        )
