"""Inputs found in the wild, run end to end against the fake server (issue 17)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.testing.fake_server import running_fake_server

ROOT = Path(__file__).resolve().parents[2]
V050 = ROOT / "tests" / "fixtures" / "evalsets" / "adk_v050"


@pytest.mark.bad_input
def test_legacy_null_reference_scores_the_trajectory_and_not_the_response(tmp_path: Path):
    agent = tmp_path / "weather_time"
    shutil.copytree(ROOT / "evalsets" / "weather_time", agent)
    (agent / "weather_time.evalset.json").unlink()
    for f in V050.iterdir():
        shutil.copy(f, agent / f.name)
    with running_fake_server() as url:
        out = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--endpoint", url, "--model", "fake",
             "--evalset", str(agent), "--sessions", "3", "--users", "1",
             "--results-dir", str(tmp_path), "--run-id", "r"],  # fmt: skip
            capture_output=True, text=True, timeout=240, env=dict(os.environ),
        )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    turns = pq.read_table(tmp_path / "r" / "turns.parquet").to_pandas()
    turns = turns[~turns["warmup"] & turns["error_type"].isna()]
    with_ref = turns[turns["expected_response"].notna()]
    without = turns[turns["expected_response"].isna()]
    assert len(with_ref) and len(without)
    # The null-reference turn is scored on its trajectory (the fake calls get_current_time as expected) ...
    assert (without["trajectory_score"] == 1.0).all()
    # ... and its response match is not applicable: null, not 0.
    assert without["response_match"].isna().all()
    assert with_ref["response_match"].notna().all()
    summary = pq.read_table(tmp_path / "r" / "summary.parquet").to_pylist()[0]
    assert summary["response_match"] == pytest.approx(with_ref["response_match"].mean())
    sessions = pq.read_table(tmp_path / "r" / "sessions.parquet").to_pandas()
    sessions = sessions[~sessions["warmup"]]
    assert sessions["response_match"].notna().all()  # the mean of the turns that have one
