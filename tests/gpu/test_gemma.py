"""GPU-only: CUDA vLLM serving gemma-3-4b-it with the shipped pythonic tool template.

Skipped without an NVIDIA GPU (tests/conftest.py). Needs HF_TOKEN with access to the gated model
and network access to download it; the argv these runs use is unit-tested in tests/unit/server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def needs_token() -> None:
    if not (os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        pytest.skip("gemma-3-4b-it is gated: set HF_TOKEN")


def test_gemma_serves_a_pythonic_tool_call(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "serve", "--model", "gemma-3-4b-it", "--check", "--log-file", str(tmp_path / "s.log")],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "--tool-call-parser pythonic" in proc.stdout and '"name": "get_weather"' in proc.stdout


def test_gemma_run_reports_the_roofline_at_one_user(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--model", "gemma-3-4b-it", "--evalset", "weather_time", "--users", "1",
         "--duration", "60s", "--results-dir", str(tmp_path), "--run-id", "g"],
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = pq.read_table(tmp_path / "g" / "summary.parquet").to_pandas().iloc[0]
    assert summary["roofline_bound_tokens_per_s"] > 0
    assert 0 < summary["roofline_efficiency_pct"] <= 100
    assert summary["tool_trajectory_exact"] is not None
