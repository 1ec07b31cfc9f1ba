"""A conversation_scenario eval set run to completion on the real vLLM (CPU) with the tiny model:
the tiny model plays the agent and, through ADK's own user simulator, the user (its script asks
for Tokyo's time after the starting prompt, then sends ADK's stop signal)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.models.tiny_script import case_by_name
from bench.server.process import Endpoint

pytestmark = pytest.mark.e2e


def test_scenario_evalset_runs_with_simulator_calls_flagged(
    tiny_endpoint: Endpoint, tmp_path: Path
):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--endpoint", tiny_endpoint.base_url, "--api-key-env",
         "TINY_KEY", "--model", "tiny", "--evalset", "weather_time_scenario", "--sessions", "2",
         "--users", "1", "--processes", "1", "--results-dir", str(tmp_path), "--run-id", "scen"],
        capture_output=True, text=True, timeout=400,
        env={**os.environ, "TINY_KEY": tiny_endpoint.api_key or ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "scen"
    sessions = pq.read_table(run / "sessions.parquet").to_pandas()
    turns = (
        pq.read_table(run / "turns.parquet")
        .to_pandas()
        .sort_values(["session_id", "invocation_index"])
    )
    calls = pq.read_table(run / "llm_calls.parquet").to_pandas()
    # every session (warm-up included) ran to the scripted stop signal in two turns
    assert set(sessions["user_simulator_status"]) == {"stop_signal_detected"}
    assert set(sessions["turns"]) == {2} and (sessions["errors"] == 0).all()
    assert set(turns.loc[turns["invocation_index"] == 1, "final_response"]) == {
        case_by_name("time_answer").content
    }
    sim = calls[calls["call_role"] == "user_simulator"]
    agent = calls[calls["call_role"] == "agent"]
    assert len(sim) == 2 * len(sessions) and sim["error_type"].isna().all()
    assert len(agent) == 4 * len(sessions)
    assert set(sim["agent_name"]) == {"user_simulator"}
    # trajectory metrics are not applicable to a scenario case: null, never 0
    assert turns["trajectory_score"].isna().all()
    summary = pq.read_table(run / "summary.parquet").to_pandas().iloc[0]
    assert summary["llm_calls"] == 4 * 2 and summary["user_simulator_calls"] == 2 * 2
    assert summary["tool_accuracy"] is None or summary["tool_accuracy"] != summary["tool_accuracy"]
    assert "not applicable" in proc.stdout
