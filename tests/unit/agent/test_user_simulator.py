"""Scenario cases with ADK's own user simulator against the fake server (which plays the tiny
model's script, simulator rows included): turns, flagged simulator calls, limits, errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.agent.session import build_agent_bundle, run_session
from bench.agent.user_simulator import (
    SimulatorEndpoint,
    simulator_config,
    simulator_model,
    with_max_turns,
)
from bench.evalset import load_evalset
from bench.models.tiny_script import case_by_name
from bench.schemas.errors import BenchError
from bench.schemas.records import AGENT_ROLE, USER_SIMULATOR_ROLE
from bench.testing.fake_server import running_fake_server

SCENARIO = "evalsets/weather_time_scenario"


@pytest.fixture(scope="module")
def fake_url():
    with running_fake_server() as url:
        yield url


def _play(fake_url: str, max_turns: int | None = None, sim_url: str | None = None) -> dict:
    es = load_evalset(SCENARIO)
    bundle = build_agent_bundle(
        es.agent_dir,
        api_base=fake_url + "/v1",
        served_model_name="fake",
        run_id="r",
        eval_set_id=es.eval_set_id,
    )
    config = with_max_turns(simulator_config(es.user_simulator_config, "test_config"), max_turns)
    bundle.user_simulator_config = config
    bundle.user_simulator_model = simulator_model(
        SimulatorEndpoint(api_base=(sim_url or fake_url) + "/v1", served_model_name="fake")
    )
    records: dict[str, list] = {"llm_calls": [], "turns": [], "sessions": []}

    async def go() -> None:
        await run_session(
            bundle,
            es.cases[0],
            on_llm_call=records["llm_calls"].append,
            on_turn=records["turns"].append,
            on_session=records["sessions"].append,
        )
        await bundle.close()

    asyncio.run(go())
    json.dumps(records)
    return records


def test_scenario_runs_to_the_stop_signal(fake_url: str) -> None:
    rec = _play(fake_url)
    turns, (session,) = rec["turns"], rec["sessions"]
    # starting prompt (no simulator call), then the scripted user asks for Tokyo, then stops
    asked = case_by_name("usersim_ask_time").content
    assert [t["tool_calls"] for t in turns] == [
        [{"name": "get_weather", "args": {"city": "London"}}],
        [{"name": "get_current_time", "args": {"city": "Tokyo"}}],
    ]
    assert (
        json.loads(json.dumps(turns[1]["actual_invocation"]))["user_content"]["parts"][0]["text"]
        == asked
    )
    assert session["turns"] == session["turns_expected"] == 2
    assert session["user_simulator_status"] == "stop_signal_detected"
    assert 0 < session["user_simulator_ms"] < session["duration_ms"]
    assert session["errors"] == 0
    sim = [c for c in rec["llm_calls"] if c["call_role"] == USER_SIMULATOR_ROLE]
    agent = [c for c in rec["llm_calls"] if c["call_role"] == AGENT_ROLE]
    assert len(sim) == 2  # before turn 2, and the one that returned the stop signal
    assert len(agent) == 4 and len(agent) + len(sim) == len(rec["llm_calls"])
    # the turn's call count and indexes are the agent's only
    assert [t["llm_calls"] for t in turns] == [2, 2]
    assert all(t["expected_tool_calls"] is None and t["expected_invocation"] is None for t in turns)
    assert {c["turn_id"] for c in sim} == {turns[1]["turn_id"], f"{session['session_id']}:2"}


def test_max_turns_caps_the_conversation(fake_url: str) -> None:
    rec = _play(fake_url, max_turns=1)
    (session,) = rec["sessions"]
    assert session["turns"] == 1 and session["user_simulator_status"] == "turn_limit_reached"
    assert not [c for c in rec["llm_calls"] if c["call_role"] == USER_SIMULATOR_ROLE]


def test_simulator_server_down_cuts_the_session_short(fake_url: str) -> None:
    rec = _play(fake_url, sim_url="http://127.0.0.1:9")  # nothing listens on the discard port
    (session,) = rec["sessions"]
    assert session["turns"] == 1 and session["errors"] == 1
    assert session["user_simulator_status"].startswith("error")
    (failed,) = [c for c in rec["llm_calls"] if c["call_role"] == USER_SIMULATOR_ROLE]
    assert failed["error_type"] is not None


def test_config_is_adks_with_its_defaults() -> None:
    config = simulator_config(None, "x")
    assert config.max_allowed_invocations == 20  # ADK's default
    assert config.model_configuration.thinking_config is None  # no Gemini thinking budget
    given = simulator_config({"max_allowed_invocations": 3, "include_function_calls": True}, "x")
    assert given.max_allowed_invocations == 3 and given.include_function_calls
    assert with_max_turns(given, 7).max_allowed_invocations == 7


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_allowed_invocations": "many"}, "max_allowed_invocations"),
        ({"custom_instructions": "no placeholders"}, "custom_instructions"),
        ({"type": "llm_audio"}, "not supported"),
    ],
)
def test_bad_config_is_one_line(raw: dict, message: str) -> None:
    with pytest.raises(BenchError) as info:
        simulator_config(raw, "evalsets/x/test_config.json")
    text = str(info.value)
    assert "\n" not in text and "test_config.json" in text and message in text


def test_scenario_case_without_simulator_is_refused(fake_url: str) -> None:
    es = load_evalset(SCENARIO)
    bundle = build_agent_bundle(
        es.agent_dir, api_base=fake_url + "/v1", served_model_name="fake", run_id="r",
        eval_set_id=es.eval_set_id,
    )  # fmt: skip
    with pytest.raises(BenchError, match="needs a user simulator"):
        asyncio.run(run_session(bundle, es.cases[0]))
