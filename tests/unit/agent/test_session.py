"""run_session against the fake server (a real child process): records, tool errors, no-stream."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from pathlib import Path

import pytest

from bench.agent.load_stop import LoadStop
from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
from bench.schemas.columns import record_keys
from bench.schemas.config import LoadConfig
from bench.schemas.records import LlmCallRecord, SessionRecord, TurnRecord
from bench.testing.fake_server import running_fake_server

RAISING_AGENT = textwrap.dedent(
    """
    from google.adk.agents import LlmAgent

    def get_weather(city: str) -> dict:
        \"\"\"Returns the weather.\"\"\"
        raise RuntimeError(f"weather service down for {city}")

    root_agent = LlmAgent(name="raising_agent", model="unused", instruction="x", tools=[get_weather])
    """
)


@pytest.fixture(scope="module")
def fake_url():
    with running_fake_server() as url:
        yield url


def _run(bundle, cases, **kw):
    records: dict[str, list] = {"llm_calls": [], "turns": [], "sessions": []}

    async def go():
        for case in cases:
            await run_session(
                bundle,
                case,
                on_llm_call=records["llm_calls"].append,
                on_turn=records["turns"].append,
                on_session=records["sessions"].append,
                **kw,
            )
        await bundle.close()

    asyncio.run(go())
    json.dumps(records)  # JSON-serialisable
    return records


@pytest.mark.parametrize("stream", [True, False])
def test_session_records(fake_url: str, stream: bool) -> None:
    es = load_evalset("evalsets/weather_time:weather_london,paris_then_tokyo")
    bundle = build_agent_bundle(
        es.agent_dir,
        api_base=fake_url + "/v1",
        served_model_name="fake",
        run_id="r",
        eval_set_id="weather_time",
        load=LoadConfig(stream=stream),
    )
    rec = _run(bundle, es.cases, trial=2, ticket=7, user_index=1)
    assert [tuple(r) for r in rec["llm_calls"]] == [record_keys(LlmCallRecord)] * 6
    assert [tuple(r) for r in rec["turns"]] == [record_keys(TurnRecord)] * 3
    assert [tuple(r) for r in rec["sessions"]] == [record_keys(SessionRecord)] * 2
    london, paris, tokyo = rec["turns"]
    assert london["tool_calls"] == [{"name": "get_weather", "args": {"city": "London"}}]
    assert tokyo["tool_calls"] == [{"name": "get_current_time", "args": {"city": "Tokyo"}}]
    assert paris["session_id"] == tokyo["session_id"] and tokyo["invocation_index"] == 1
    assert [c["call_index"] for c in rec["llm_calls"]] == [0, 1] * 3
    assert [c["finish_reason"] for c in rec["llm_calls"][:2]] == ["tool_calls", "stop"]
    assert all(c["stream"] is stream and c["ttft_ms"] <= c["e2e_ms"] for c in rec["llm_calls"])
    assert rec["sessions"][1]["turns"] == 2 and rec["sessions"][1]["trial"] == 2
    assert rec["sessions"][1]["ticket"] == 7


def test_raising_tool_is_recorded_and_the_run_goes_on(fake_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "raising_tool_agent"
    folder.mkdir()
    (folder / "__init__.py").write_text("from . import agent\n")
    (folder / "agent.py").write_text(RAISING_AGENT)
    es = load_evalset("evalsets/weather_time:weather_london,greeting")
    bundle = build_agent_bundle(
        folder, api_base=fake_url + "/v1", served_model_name="fake", run_id="r", eval_set_id="e"
    )
    rec = _run(bundle, es.cases)
    failed, greeting = rec["turns"]
    assert failed["error_type"] == "ToolError"
    assert "get_weather raised RuntimeError: weather service down for London" in failed["error"]
    assert failed["tool_errors"] == 1
    assert failed["tool_calls"] == [{"name": "get_weather", "args": {"city": "London"}}]
    assert rec["sessions"][0]["errors"] == 1
    assert greeting["error_type"] is None and greeting["final_response"]


def _cut(url: str, case_ids: str, cut_after_s: float, think: float = 0.0, **bundle_kw):
    """Play the case until the cut (cancelled after `cut_after_s`, as at the end of the drain)."""
    es = load_evalset(f"evalsets/weather_time:{case_ids}")
    bundle = build_agent_bundle(es.agent_dir, api_base=url + "/v1", served_model_name="fake",
                                run_id="r", eval_set_id="e", **bundle_kw)  # fmt: skip
    rec: dict[str, list] = {"llm_calls": [], "turns": [], "sessions": []}

    async def go() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(run_session(
                bundle, es.cases[0], think_time_s=think, on_llm_call=rec["llm_calls"].append,
                on_turn=rec["turns"].append, on_session=rec["sessions"].append),
                timeout=cut_after_s)  # fmt: skip

    asyncio.run(go())
    return rec


def test_work_cut_at_the_end_of_the_drain_is_incomplete_with_its_age() -> None:
    """Cut in a call that takes 5 s (after 2.5 s) and in think time: no error, `incomplete`, the
    age at the cut recorded; a call still streaming at the cut and older than the request
    timeout (a token every 0.3 s, so the client's read timeout of 1 s never fires) is a failure:
    the call and its turn time out, the session is cut short."""
    with (
        running_fake_server(latency_ms=5000) as slow_url,
        running_fake_server() as fast_url,
        running_fake_server(itl_ms=300, tokens=200) as trickle_url,
    ):
        in_turn = _cut(slow_url, "paris_then_tokyo", 2.5)
        in_think = _cut(fast_url, "paris_then_tokyo", 2.5, think=60.0)
        timed_out = _cut(trickle_url, "greeting", 2.5, load=LoadConfig(request_timeout_s=1.0))
    (session,) = in_turn["sessions"]
    assert session["incomplete"] is True and session["errors"] == 0
    (turn,) = in_turn["turns"]
    assert turn["incomplete"] is True and turn["error_type"] is None
    (call,) = in_turn["llm_calls"]  # the request went out at once: its age is the cut's time
    assert call["incomplete"] is True and call["error_type"] is None and call["ttft_ms"] is None
    assert 2300 < call["e2e_ms"] < 3500 and 2300 < turn["latency_ms"] < 3500
    (session,) = in_think["sessions"]
    assert session["incomplete"] is True and session["errors"] == 0 and session["turns"] == 1
    assert in_think["turns"][0]["incomplete"] is False
    (call,) = timed_out["llm_calls"]
    assert call["error_type"] == "Timeout" and call["incomplete"] is False
    assert "past the request timeout of 1 s" in call["error"] and call["e2e_ms"] > 2000
    (turn,) = timed_out["turns"]
    assert turn["error_type"] == "Timeout" and turn["incomplete"] is False
    (session,) = timed_out["sessions"]
    assert session["errors"] == 1 and session["incomplete"] is False


def test_no_turn_starts_after_the_load_stops(fake_url: str) -> None:
    """The stop comes in think time (60 s) after the first of two turns: the session ends at
    once, incomplete, without its second turn; a session whose last turn is done is complete."""
    es = load_evalset("evalsets/weather_time:paris_then_tokyo,weather_london")
    bundle = build_agent_bundle(es.agent_dir, api_base=fake_url + "/v1", served_model_name="fake",
                                run_id="r", eval_set_id="e")  # fmt: skip
    rec: dict[str, list] = {"turns": [], "sessions": []}
    stop = LoadStop()

    def on_turn(turn: dict) -> None:
        rec["turns"].append(turn)
        asyncio.get_running_loop().call_later(0.3, stop.stop)  # in the think time that follows

    async def go() -> float:
        t0 = time.monotonic()
        for case in es.cases:
            await run_session(bundle, case, think_time_s=60.0, on_turn=on_turn,
                              on_session=rec["sessions"].append, stop=stop)  # fmt: skip
        return time.monotonic() - t0

    took = asyncio.run(go())
    assert took < 10, "think time must end at the stop"
    two_turns, never_played = rec["sessions"]
    assert two_turns["incomplete"] is True and two_turns["turns"] == 1
    assert two_turns["errors"] == 0 and len(rec["turns"]) == 1  # weather_london never started
    assert never_played["incomplete"] is True and never_played["turns"] == 0
    assert stop.stopped_at is not None and two_turns["ended_at"] >= stop.stopped_at
