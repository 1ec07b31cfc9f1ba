"""run_session against the fake server (a real child process): records, tool errors, no-stream."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest

from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
from bench.schemas.columns import record_keys
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
        stream=stream,
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


def test_a_session_cancelled_by_the_load_stopping_is_truncated_not_an_error() -> None:
    """Cancelled in a turn (a call that takes 5 s) and in think time: no error, `truncated`."""
    es = load_evalset("evalsets/weather_time:paris_then_tokyo")
    with running_fake_server(latency_ms=5000) as slow_url, running_fake_server() as fast_url:
        recs = []
        for url, think in ((slow_url, 0.0), (fast_url, 60.0)):
            bundle = build_agent_bundle(es.agent_dir, api_base=url + "/v1",
                                        served_model_name="fake", run_id="r", eval_set_id="e")  # fmt: skip
            rec: dict[str, list] = {"llm_calls": [], "turns": [], "sessions": []}

            async def go(bundle=bundle, rec=rec, think=think) -> None:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(run_session(
                        bundle, es.cases[0], think_time_s=think,
                        on_llm_call=rec["llm_calls"].append, on_turn=rec["turns"].append,
                        on_session=rec["sessions"].append), timeout=4.0)  # fmt: skip

            asyncio.run(go())
            recs.append(rec)
    in_turn, in_think = recs
    (session,) = in_turn["sessions"]
    assert session["truncated"] is True and session["errors"] == 0
    (turn,) = in_turn["turns"]
    assert turn["truncated"] is True and turn["error_type"] is None
    (session,) = in_think["sessions"]
    assert session["truncated"] is True and session["errors"] == 0 and session["turns"] == 1
    assert in_think["turns"][0]["truncated"] is False
