"""`bench sweep` over a scenario eval set with ADK's user simulator on a second fake server.

Truth: both fake servers record every request body. The simulator's server needs its own key
and serves only "simfake", so an agent call sent there would be refused, never recorded; the
simulator's prompts carry the scenario's plan ("tiny scenario") and no tools, the agent's calls
carry the agent's tools. Uncapped, the scripted simulator asks one question and then sends
ADK's stop signal (2 simulator calls, "stop_signal_detected"); `--max-turns 2` ends every
session at the turn limit after 2 turns, before the second simulator call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from bench.models.tiny_script import SCENARIO_KEYWORD
from bench.testing.fake_server import running_fake_server

SIM_KEY = "sk-sweep-simulator-key-0123456789"


def _bodies(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _text(body: dict) -> str:
    return json.dumps(body["messages"]).lower()


def test_sweep_points_send_the_simulator_to_its_own_server(tmp_path: Path) -> None:
    agent_log, sim_log = tmp_path / "agent.jsonl", tmp_path / "sim.jsonl"
    with (
        running_fake_server(latency_ms=1, record_bodies=str(agent_log)) as agent_url,
        running_fake_server(api_key=SIM_KEY, served_model_name="simfake", latency_ms=1,
                            record_bodies=str(sim_log)) as sim_url,
    ):  # fmt: skip
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "sweep", "--endpoint", agent_url, "--model", "fake",
             "--evalset", "weather_time_scenario", "--users", "1,2", "--step-duration", "3s",
             "--processes", "1", "--results-dir", str(tmp_path / "results"), "--sweep-id", "s",
             "--user-simulator-endpoint", sim_url, "--user-simulator-model", "simfake",
             "--user-simulator-api-key-env", "SIM_KEY", "--max-turns", "2"],
            capture_output=True, text=True, timeout=600, env={**os.environ, "SIM_KEY": SIM_KEY},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sim_bodies, agent_bodies = _bodies(sim_log), _bodies(agent_log)
    assert sim_bodies and agent_bodies
    assert all(SCENARIO_KEYWORD in _text(b) and not b.get("tools") for b in sim_bodies)
    assert all(b.get("tools") and SCENARIO_KEYWORD not in _text(b) for b in agent_bodies)

    sweep_dir = tmp_path / "results" / "s"
    summary = pq.read_table(sweep_dir / "sweep_summary.parquet").to_pandas()
    assert list(summary["users"]) == [1, 2] and (summary["status"] == "completed").all()
    simulator_calls = 0
    for point_dir in summary["point_dir"]:
        sessions = pq.read_table(sweep_dir / point_dir / "sessions.parquet").to_pandas()
        done = sessions[sessions["user_simulator_status"].notna()]
        assert len(done) > 0, point_dir
        assert set(done["user_simulator_status"]) == {"turn_limit_reached"}, point_dir
        assert set(done["turns"]) == {2}, point_dir
        calls = pq.read_table(sweep_dir / point_dir / "llm_calls.parquet").to_pandas()
        sim = calls[calls["call_role"] == "user_simulator"]
        assert sim["error_type"].isna().all()
        # one simulator call per session: the capped sessions never asked for the stop signal
        assert len(sim) == len(set(sim["session_id"])), point_dir
        simulator_calls += len(sim)
    assert simulator_calls <= len(sim_bodies)
    for path in [p for p in (tmp_path / "results").rglob("*") if p.is_file()]:
        if path.suffix in (".json", ".jsonl", ".toml", ".log"):
            assert SIM_KEY not in path.read_text(errors="replace")
    assert SIM_KEY not in proc.stdout + proc.stderr
