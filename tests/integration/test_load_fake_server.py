"""Locust load process against the fake server: real processes on 127.0.0.1, no mocks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from bench.load.process import LocustProcess, count_records
from bench.load.spec import LoadSpec
from bench.schemas.columns import record_keys
from bench.schemas.config import LoadConfig
from bench.schemas.raw import read_records
from bench.schemas.records import LlmCallRecord, SessionRecord, TurnRecord
from bench.testing.fake_server import running_fake_server

API_KEY = "test-key-not-a-secret-0123"


@pytest.fixture(scope="module")
def fake_url():
    with running_fake_server(api_key=API_KEY, itl_ms=1, served_model_name="served-anything") as url:
        yield url


def _spec(run_dir: Path, url: str, **kw) -> LoadSpec:
    return LoadSpec(
        run_id=run_dir.name,
        run_dir=run_dir,
        evalset="evalsets/weather_time",
        api_base=url + "/v1",
        served_model_name="served-anything",
        load=LoadConfig(request_timeout_s=30, **kw),
    )


def test_fake_server_speaks_openai(fake_url: str) -> None:
    body = {
        "model": "served-anything",
        "messages": [{"role": "user", "content": "What is the weather in London?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    }
    assert httpx.post(f"{fake_url}/v1/chat/completions", json=body).status_code == 401
    auth = {"Authorization": f"Bearer {API_KEY}"}
    reply = httpx.post(f"{fake_url}/v1/chat/completions", json=body, headers=auth).json()
    call = reply["choices"][0]["message"]["tool_calls"][0]["function"]
    assert (call["name"], json.loads(call["arguments"])) == ("get_weather", {"city": "London"})
    stream = {**body, "stream": True, "stream_options": {"include_usage": True}}
    lines = httpx.post(f"{fake_url}/v1/chat/completions", json=stream, headers=auth).text.split(
        "\n\n"
    )
    chunks = [json.loads(x[6:]) for x in lines if x.startswith("data: {")]
    assert lines[-2] == "data: [DONE]"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    metrics = httpx.get(f"{fake_url}/metrics").text
    assert "vllm:num_requests_running" in metrics and "vllm:prompt_tokens_total" in metrics
    assert (
        httpx.get(f"{fake_url}/v1/models", headers=auth).json()["data"][0]["id"]
        == "served-anything"
    )


def test_fake_server_faults() -> None:
    body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
    with running_fake_server(fail_rate=1.0, fault="500") as url:
        assert httpx.post(f"{url}/v1/chat/completions", json=body).status_code == 500
    with (
        running_fake_server(fail_rate=1.0, fault="reset") as url,
        pytest.raises(httpx.TransportError),
    ):
        httpx.post(f"{url}/v1/chat/completions", json=body)
    with (
        running_fake_server(fail_rate=1.0, fault="stall", stall_s=30) as url,
        pytest.raises(httpx.ReadTimeout),
    ):
        httpx.post(f"{url}/v1/chat/completions", json=body, timeout=0.5)


def test_locust_streaming_run(tmp_path: Path, fake_url: str) -> None:
    run_dir = tmp_path / "stream_run"
    proc = LocustProcess(
        _spec(run_dir, fake_url), users=2, spawn_rate=2, duration_s=8, api_key=API_KEY
    )
    code = proc.run(timeout_s=90)
    log = (run_dir / "locust.log").read_text()
    assert code == 0, log[-3000:]
    assert API_KEY not in log
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_text(errors="replace"), path

    sessions = read_records(run_dir, "sessions")
    turns = read_records(run_dir, "turns")
    calls = read_records(run_dir, "llm_calls")
    assert len([s for s in sessions if not s["warmup"]]) >= 5
    assert all(tuple(r) == record_keys(SessionRecord) for r in sessions)
    assert all(tuple(r) == record_keys(TurnRecord) for r in turns)
    assert all(tuple(r) == record_keys(LlmCallRecord) for r in calls)

    calls_by_turn: dict[str, list[dict]] = {}
    for c in calls:
        calls_by_turn.setdefault(c["turn_id"], []).append(c)
    for t in turns:
        assert t["error_type"] is None, t["error"]
        assert len(calls_by_turn.get(t["turn_id"], [])) == t["llm_calls"] >= 1
    for c in calls:
        assert c["stream"] is True and c["error_type"] is None
        assert 0 < c["ttft_ms"] <= c["e2e_ms"]
        assert c["n_chunks"] >= 1 and c["completion_tokens"] >= 1
        # read and stamped on arrival by the load process's own reader (wire_arrival)
        assert c["pull_delay_mean_ms"] is not None and c["pull_delay_mean_ms"] >= 0
        assert c["reply_kind"] == ("tool_call" if c["server_tool_calls_n"] else "text"), c
        assert len(c["itl_gaps_ms"]) == c["n_chunks"] - 1
    london = [t for t in turns if t["case_id"] == "weather_london"]
    assert london, "round robin should reach the first case"
    for t in london:
        assert t["tool_calls"] == [{"name": "get_weather", "args": {"city": "London"}}]
        assert t["tool_calls"] == t["expected_tool_calls"]
        assert t["final_response"] == "Here is the weather report you asked for."
        assert t["actual_invocation"]["invocation_id"] == t["invocation_id"]
    two_turns = [s for s in sessions if s["case_id"] == "paris_then_tokyo"]
    assert all(s["turns"] == s["turns_expected"] == 2 for s in two_turns)
    # every patch passed its check (bench.compat), and every streamed reply took the lean path
    assert "falling back to" not in log
    (read,) = re.findall(
        r"read through the lean path: (\d+), through LiteLLM's wrapper: (\d+)", log
    )
    complete = [c for c in calls if not c["incomplete"]]
    assert int(read[1]) == 0 and len(complete) <= int(read[0]) <= len(calls), read
    stats = (run_dir / "locust_stats.csv").read_text()
    # Locust's table has the agent's requests; a wrong tool call is not a Locust failure (it is
    # counted from the turn records, in the accuracy tabs and the tables)
    assert "TURN" in stats and "LLM" in stats and "trajectory" not in stats


def test_locust_max_sessions_without_streaming(tmp_path: Path, fake_url: str) -> None:
    run_dir = tmp_path / "five_sessions"
    spec = _spec(run_dir, fake_url, stream=False, sessions=5, seed=3)
    proc = LocustProcess(spec, users=2, spawn_rate=2, duration_s=60, api_key=API_KEY)
    code = proc.run(timeout_s=90)
    assert code == 0, (run_dir / "locust.log").read_text()[-3000:]
    sessions = read_records(run_dir, "sessions")
    measured = [s for s in sessions if not s["warmup"]]
    assert len(measured) == 5 == count_records(run_dir, "sessions")
    assert sorted(s["ticket"] for s in measured) == [0, 1, 2, 3, 4]
    assert len([s for s in sessions if s["warmup"]]) == 1
    calls = read_records(run_dir, "llm_calls")
    assert calls and all(c["stream"] is False and c["n_chunks"] is None for c in calls)
    assert all(c["ttft_ms"] == c["e2e_ms"] for c in calls)
    assert all(t["error_type"] is None for t in read_records(run_dir, "turns"))
