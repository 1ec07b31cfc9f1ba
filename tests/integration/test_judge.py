"""--judge: ADK's final_response_match_v2 through a judge served over HTTP (the fake server's
deterministic judge answers "valid" exactly when the agent's text equals the reference)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.testing.fake_server import running_fake_server


def test_judge_scores_every_measured_turn_and_names_the_judge(tmp_path: Path):
    with running_fake_server(api_key="judge-key") as url:
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--endpoint", url, "--api-key-env", "K", "--model", "fake",
             "--sessions", "9", "--users", "3", "--judge", "--results-dir", str(tmp_path), "--run-id", "j"],
            capture_output=True, text=True, timeout=300, env={**os.environ, "K": "judge-key"},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    turns = pq.read_table(tmp_path / "j" / "turns.parquet").to_pandas()
    judged = turns[~turns["warmup"] & turns["expected_response"].notna()]
    assert len(judged) >= 9
    expected = (
        judged["final_response"].str.lower() == judged["expected_response"].str.lower()
    ).astype(float)
    assert list(judged["judge_final_response_match"]) == list(expected)
    assert 0 < expected.mean() < 1
    summary = pq.read_table(tmp_path / "j" / "summary.parquet").to_pandas().iloc[0]
    assert summary["judge_model"] == "fake"
    assert summary["judge_final_response_match"] == pytest.approx(expected.mean())
    assert "judge fake" in proc.stdout


def test_judge_flags_need_judge(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--judge-model", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--judge-model: needs --judge" in proc.stderr
