"""Multi-turn cases through bench.agent.session: session_input state reaches the ADK session,
history carries across a case's invocations, and expected calls are kept per invocation."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
from bench.schemas.config import LoadConfig
from tests.fixtures.scripted_fake import counting_policy, scripted_fake_server

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_state_history_and_per_invocation_expectations() -> None:
    loaded = load_evalset(f"{FIXTURES / 'evalsets' / 'byo'}:hello_then_booking")
    turns: list[dict] = []
    with scripted_fake_server(counting_policy) as url:
        bundle = build_agent_bundle(
            FIXTURES / "agents" / "byo_concierge",
            api_base=url + "/v1",
            served_model_name="fake",
            run_id="r",
            eval_set_id=loaded.eval_set_id,
            load=LoadConfig(stream=False),
        )

        async def go() -> None:
            await run_session(bundle, loaded.cases[0], on_turn=turns.append)
            await bundle.close()

        asyncio.run(go())
    hello, booking = turns
    assert hello["error_type"] is None and booking["error_type"] is None
    # history: the second turn's model request carried both user messages
    assert hello["final_response"] == "I have seen 1 user messages."
    assert booking["session_id"] == hello["session_id"] and booking["invocation_index"] == 1
    # expected calls belong to their own invocation
    assert hello["expected_tool_calls"] == []
    assert booking["expected_tool_calls"] == [
        {"name": "lookup_booking", "args": {"booking_id": "BK-1"}}
    ]
    assert booking["tool_calls"] == [{"name": "lookup_booking", "args": {"booking_id": "BK-7"}}]
    # state: the tool read customer_name from the session made from session_input
    assert booking["final_response"] == "Done; I have seen 2 user messages."
    events = booking["actual_invocation"]["intermediate_data"]["invocation_events"]
    responses = [
        part["function_response"]["response"]
        for event in events
        for part in (event.get("content") or {}).get("parts", [])
        if "function_response" in part
    ]
    assert responses == [
        {"status": "success", "booking_id": "BK-7", "customer": "Ada", "nights": 2}
    ]
