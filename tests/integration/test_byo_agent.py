"""Bring your own agent: a folder outside evalsets/ with sub-agents, an AgentTool, callbacks and
session state, run by the Locust load process against a fake server scripted for it."""

from __future__ import annotations

from pathlib import Path

from bench.load.process import LocustProcess
from bench.load.spec import LoadSpec
from bench.schemas.config import LoadConfig
from bench.schemas.raw import read_records
from tests.fixtures.scripted_fake import concierge_policy, scripted_fake_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
AGENT = FIXTURES / "agents" / "byo_concierge"
EVALSET = FIXTURES / "evalsets" / "byo" / "byo.evalset.json"


def test_byo_agent_under_load(tmp_path: Path) -> None:
    run_dir = tmp_path / "byo_run"
    with scripted_fake_server(concierge_policy, served_model_name="byo-model") as url:
        spec = LoadSpec(
            run_id=run_dir.name,
            run_dir=run_dir,
            evalset=str(EVALSET),
            agent_dir=AGENT,
            api_base=url + "/v1",
            served_model_name="byo-model",
            load=LoadConfig(request_timeout_s=30, stream=False, sessions=12),
        )
        code = LocustProcess(spec, users=2, spawn_rate=2, duration_s=60).run(timeout_s=120)
    assert code == 0, (run_dir / "locust.log").read_text()[-3000:]
    sessions = [s for s in read_records(run_dir, "sessions") if not s["warmup"]]
    turns = read_records(run_dir, "turns")
    calls = read_records(run_dir, "llm_calls")
    assert len(sessions) >= 12
    assert {s["case_id"] for s in sessions} == {
        "booking", "weather", "dollars", "cancel", "hello_then_booking", "sensors"}  # fmt: skip

    # The model override reached every LlmAgent: root, the sub-agent and the AgentTool's agent.
    assert {c["agent_name"] for c in calls} == {"concierge", "weather_desk", "currency_agent"}
    assert all(c["error_type"] is None for c in calls)

    by_case: dict[str, list[dict]] = {}
    for t in turns:
        by_case.setdefault(t["case_id"], []).append(t)
    for t in by_case["weather"]:
        assert (
            t["tool_calls"]
            == t["expected_tool_calls"]
            == [
                {"name": "transfer_to_agent", "args": {"agent_name": "weather_desk"}},
                {"name": "get_forecast", "args": {"city": "Oslo"}},
            ]
        )
    for t in by_case["dollars"]:
        assert t["tool_calls"] == [{"name": "currency_agent", "args": {"request": "20 USD to EUR"}}]
        assert t["final_response"] == "Done with currency_agent."
    for t in by_case["booking"]:
        assert t["tool_calls"] == t["expected_tool_calls"] and t["error_type"] is None

    # A raising tool is a tool error on its turn; every other case keeps running cleanly.
    for t in by_case["cancel"]:
        assert t["error_type"] == "ToolError" and t["tool_errors"] == 1
        assert "cancel_booking raised RuntimeError: cancellation service unavailable" in t["error"]
    # A result JSON cannot hold is a tool error too, and the turn still ends with an answer.
    for t in by_case["sensors"]:
        assert t["error_type"] == "ToolError" and t["tool_errors"] == 1
        assert "room_sensors returned a value that is not JSON-serialisable" in t["error"]
        assert t["final_response"] == "Done with room_sensors."
    assert all(
        t["error_type"] is None
        for case, ts in by_case.items()
        if case not in ("cancel", "sensors")
        for t in ts
    )
    after_cancel = [s for s in sessions if s["case_id"] not in ("cancel", "sensors")]
    assert after_cancel and all(s["errors"] == 0 for s in after_cancel)
    two_turns = [s for s in sessions if s["case_id"] == "hello_then_booking"]
    assert all(s["turns"] == s["turns_expected"] == 2 for s in two_turns)
