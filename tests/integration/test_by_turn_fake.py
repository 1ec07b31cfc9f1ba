"""by_turn_index.parquet on a run with two load steps against the fake server (real Locust, ADK)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from bench.testing.fake_server import running_fake_server


def test_rows_per_step_and_turn_index_count_every_call(tmp_path: Path) -> None:
    with running_fake_server(itl_ms=2) as url:
        done = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--endpoint", f"{url}/v1", "--model", "fake",
             "--evalset", "research_notes", "--users", "1,2", "--step-duration", "20s",
             "--processes", "1", "--results-dir", str(tmp_path), "--run-id", "steps"],
            capture_output=True, text=True, timeout=300, env=dict(os.environ),
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = tmp_path / "steps"
    rows = pd.read_parquet(run / "by_turn_index.parquet")
    steps = sorted(run.glob("step-*"))
    assert len(steps) == 2 and sorted(rows["step"].unique()) == [0, 1]
    for step_dir in steps:
        calls = pd.read_parquet(step_dir / "llm_calls.parquet")
        turns = pd.read_parquet(step_dir / "turns.parquet")
        step = int(pd.read_parquet(step_dir / "summary.parquet")["step"].iloc[0])
        mine = rows[rows["step"] == step]
        own = pd.read_parquet(step_dir / "by_turn_index.parquet")
        assert own.drop(columns="run_id").equals(mine.drop(columns="run_id").reset_index(drop=True))
        measured_calls = calls[~calls["warmup"]]
        measured_turns = turns[~turns["warmup"]]
        assert mine["llm_calls"].sum() == len(measured_calls)
        assert mine["turns"].sum() == len(measured_turns) > 0
        per_index = measured_turns.groupby(measured_turns["invocation_index"] + 1).size()
        assert mine.set_index("turn_index")["turns"].to_dict() == per_index.to_dict()
