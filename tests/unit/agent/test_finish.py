"""Every finish accounted for, at the session layer: the fake server's new faults (every request
gets the fault) against what the call, turn and session records say, through LiteLLM's own
stream wrapper, the load process's lean stream and a reply that is not streamed.

The truth is what the fake server was told to send (`bench.testing.fake_server.faults`) and
logged; the records must keep the finish reason as the server sent it (LiteLLM maps "error" to
"stop"), fail the call and the turn for a finish "error", count an empty reply, and see a call
that ADK pulled out of the reply text."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bench.agent.session import build_agent_bundle, run_session
from bench.compat import lean_stream
from bench.evalset import load_evalset
from bench.schemas.config import LoadConfig
from bench.scoring.finish import classify_call
from bench.testing.fake_server import FakeServer, FakeServerConfig
from bench.testing.fake_server.faults import read_fault_log

PATHS = {"wrapper": (True, False), "lean": (True, True), "no-stream": (False, False)}


def _session(fault: str, path: str, log: Path) -> dict[str, list[dict[str, Any]]]:
    """weather_london (a get_weather call, then an answer) with every request faulted."""
    stream, lean = PATHS[path]
    rec: dict[str, list[dict[str, Any]]] = {"llm_calls": [], "turns": [], "sessions": []}

    async def go() -> None:
        config = FakeServerConfig(fail_rate=1.0, fault=fault, fault_log=str(log), seed=1)
        runner = web.AppRunner(FakeServer(config).build_app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        assert lean_stream.enable(lean) == lean  # the gate lets it on with the tested LiteLLM
        counts = (lean_stream.streams_lean, lean_stream.streams_plain)
        try:
            es = load_evalset("evalsets/weather_time:weather_london")
            bundle = build_agent_bundle(
                es.agent_dir, api_base=f"http://127.0.0.1:{port}/v1", served_model_name="fake",
                run_id="r", eval_set_id="weather_time", load=LoadConfig(stream=stream)
            )  # fmt: skip
            await run_session(bundle, es.cases[0], on_llm_call=rec["llm_calls"].append,
                              on_turn=rec["turns"].append, on_session=rec["sessions"].append)  # fmt: skip
            await bundle.close()
        finally:
            lean_stream.enable(False)
            await runner.cleanup()
        took = (lean_stream.streams_lean - counts[0], lean_stream.streams_plain - counts[1])
        rec["streams"] = [{"lean": took[0], "plain": took[1]}]

    asyncio.run(go())
    for call in rec["llm_calls"]:
        classify_call(call, "hermes")
    # every streamed call took the path asked for: a LiteLLM that stops matching fails here
    calls = len(rec["llm_calls"]) if stream else 0
    assert rec["streams"] == [{"lean": calls if lean else 0, "plain": 0 if lean else calls}]
    return rec


@pytest.mark.parametrize("path", PATHS)
def test_a_finish_error_is_a_failed_call_and_turn(tmp_path: Path, path: str) -> None:
    log = tmp_path / "faults.jsonl"
    rec = _session("finish-error", path, log)
    (entry,) = read_fault_log(str(log))  # the first call failed, so the session ended there
    assert entry["fault"] == "finish-error" and entry["tool_calls"] == ["get_weather"]
    (call,) = rec["llm_calls"]
    assert call["server_finish_reason"] == "error"  # as sent; LiteLLM passed on "stop"
    assert call["finish_reason"] != "error"
    assert call["error_type"] == "FinishReasonError" and call["tool_calls_n"] == 0
    (turn,) = rec["turns"]
    assert turn["error_type"] == "FinishReasonError" and not turn["incomplete"]
    (session,) = rec["sessions"]
    assert session["errors"] == 1 and not session["incomplete"]


@pytest.mark.parametrize("path", PATHS)
def test_length_empty_and_text_calls_are_counted_not_failed(tmp_path: Path, path: str) -> None:
    length = _session("length", path, tmp_path / "length.jsonl")
    first = length["llm_calls"][0]
    assert first["server_finish_reason"] == "length" and first["error_type"] is None
    assert first["tool_calls_n"] == 0 and first["adk_error_code"]  # ADK dropped the cut call
    assert length["turns"][0]["error_type"] is None  # a wrong answer, counted: not an error

    empty = _session("empty", path, tmp_path / "empty.jsonl")
    assert len(read_fault_log(str(tmp_path / "empty.jsonl"))) == len(empty["llm_calls"])
    assert all(c["empty_reply"] and c["reply_text"] == "" for c in empty["llm_calls"])
    assert empty["turns"][0]["tool_calls"] == [] and empty["turns"][0]["error_type"] is None

    text = _session("text-call", path, tmp_path / "text.jsonl")
    (entry,) = read_fault_log(str(tmp_path / "text.jsonl"))  # only the tool-call reply gets it
    assert entry["fault"] == "text-call"
    rescued, answer = text["llm_calls"]
    assert rescued["server_finish_reason"] == "stop" and rescued["server_tool_calls_n"] == 0
    assert rescued["tool_calls_n"] == 1 and rescued["error_type"] is None
    assert rescued["rescued_from_text"] and rescued["unparsed_tool_call"]
    assert not answer["rescued_from_text"] and not answer["unparsed_tool_call"]
    # ADK made the call from the text: the trajectory is right though the server's parser failed
    assert text["turns"][0]["tool_calls"] == [{"name": "get_weather", "args": {"city": "London"}}]
