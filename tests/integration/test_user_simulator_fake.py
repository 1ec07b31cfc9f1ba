"""`bench run` on a scenario eval set against the fake server (which plays the tiny model's
script, the user-simulator rows included), with the simulator on a second, slower fake server.

Truth: the simulator's server needs its own key and serves only its own model name, and answers
300 ms later than the agent's; so a run that completes proves the flags reached the simulator,
and an agent latency figure under 300 ms proves the simulator's calls stayed out of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.testing.fake_server import running_fake_server
from tests.integration.test_faults import finish, start_run, table

SIM_KEY = "sk-simulator-key-0123456789"
SIM_DELAY_MS = 300


@pytest.fixture(scope="module")
def agent_url():
    with running_fake_server(latency_ms=1) as url:
        yield url


@pytest.fixture(scope="module")
def simulator_url():
    with running_fake_server(
        api_key=SIM_KEY, served_model_name="simfake", latency_ms=SIM_DELAY_MS
    ) as url:
        yield url


def test_scenario_run_with_a_separate_simulator(
    agent_url: str, simulator_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_KEY", SIM_KEY)
    proc = start_run(
        agent_url, tmp_path, "scen", "--evalset", "weather_time_scenario", "--users", "1",
        "--sessions", "2", "--processes", "1",
        "--user-simulator-endpoint", simulator_url, "--user-simulator-model", "simfake",
        "--user-simulator-api-key-env", "SIM_KEY",
    )  # fmt: skip
    code, out, err = finish(proc)
    assert code == 0, err[-2000:]
    run = tmp_path / "scen"
    calls, sessions, turns = table(run, "llm_calls"), table(run, "sessions"), table(run, "turns")
    measured = sessions[~sessions["warmup"]]
    assert len(measured) == 2
    assert set(measured["user_simulator_status"]) == {"stop_signal_detected"}
    assert set(measured["turns"]) == {2} and set(measured["outcome"]) == {"unscored"}
    sim = calls[calls["call_role"] == "user_simulator"]
    agent = calls[calls["call_role"] == "agent"]
    assert len(sim) == 2 * len(sessions) and sim["error_type"].isna().all()
    assert (sim["e2e_ms"] >= SIM_DELAY_MS).all()
    assert len(agent) == 4 * len(sessions)
    assert turns["trajectory_score"].isna().all()  # not applicable, never 0
    summary = table(run, "summary").iloc[0]
    assert summary["llm_calls"] == 4 * 2  # measured agent calls only
    assert summary["llm_e2e_p99_ms"] < SIM_DELAY_MS
    assert summary["user_simulator_calls"] == 2 * 2 and summary["scenario_sessions"] == 2
    assert "not applicable" in out
    for text in (
        out,
        err,
        *(
            p.read_text(errors="replace")
            for p in run.rglob("*")
            if p.is_file() and p.suffix in (".json", ".jsonl", ".toml", ".log")
        ),
    ):
        assert SIM_KEY not in text


@pytest.mark.parametrize("command", ["run", "sweep"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-turns", "0"], "--max-turns"),
        (["--user-simulator-api-key-env", "SIM_KEY"], "--user-simulator-api-key-env"),
        (["--user-simulator-endpoint", "localhost:1"], "--user-simulator-endpoint"),
        (["--user-simulator-endpoint", "http://127.0.0.1:9", "--user-simulator-api-key-env",
          "UNSET_SIM_KEY_VAR"], "UNSET_SIM_KEY_VAR"),
    ],
)  # fmt: skip
def test_bad_simulator_flags_are_one_line(command: str, args: list[str], message: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "UNSET_SIM_KEY_VAR"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", command, "--endpoint", "http://127.0.0.1:9", "--model",
         "fake", "--evalset", "weather_time_scenario", *args],
        capture_output=True, text=True, timeout=120, env={**env, "SIM_KEY": "x"},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], lines
    assert "Traceback" not in proc.stderr
