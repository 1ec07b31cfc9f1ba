"""The web UI's live data (bench.load.webui), without Locust: records in, tab rows out."""

from __future__ import annotations

import json
import re

import pytest

from bench.load import webui
from bench.schemas.errors import BenchError

W = {"name": "get_weather", "args": {"city": "Paris"}}


def _turn(case: str, calls: list, **kw) -> dict:
    return {"case_id": case, "tool_calls": calls, "expected_tool_calls": [W], "latency_ms": 100.0,
            "warmup": False, "error_type": None, **kw}  # fmt: skip


def _call(ttft: float) -> dict:
    return {"ttft_ms": ttft, "tpot_ms": 5.0, "e2e_ms": 50.0, "warmup": False, "error_type": None}


def test_request_events_fill_the_tabs() -> None:
    live = webui.LiveData()
    live.on_request(request_type="TURN", name="turn", context={"record": _turn("a", [W])})
    live.on_request(request_type="TURN", name="turn", context={"record": _turn("a", [])})
    live.on_request(
        request_type="TURN", name="turn", context={"record": _turn("b", [W], warmup=True)}
    )
    live.on_request(request_type="TOOLS", name="trajectory", context={})
    for ttft in (10.0, 20.0, 30.0):
        live.on_request(request_type="LLM", name="call", context={"record": _call(ttft)})
    live.on_request(request_type="LLM", name="ttft", context={"record": _call(999.0)})  # not a call
    row = {"sessions": 0, "success": "-", "cutshort": 0, "incomplete": 0, "turns": 2, "exact": 1,
           "rate": "0.500", "errors": 0, "expected": 2, "called": 1, "recall": "0.500",
           "precision": "1.000"}  # fmt: skip
    assert live.case_rows() == [{"case": "(all cases)", **row}, {"case": "a", **row}]
    assert live.tool_rows()[0]["missed"] == 1
    timings = {r["name"]: r for r in live.timing_rows()}
    assert timings["TTFT"]["count"] == 3 and timings["TTFT"]["p50"] == "20.0"
    assert timings["turn"]["count"] == 2
    assert timings["TTFO (first output token)"]["count"] == 0  # no record carried one
    stats = webui.extended_stats(live, None)
    assert [s["key"] for s in stats] == [t["key"] for t in webui.EXTENDED_TABS]
    assert {t["key"] for t in webui.EXTENDED_TABLES} == {t["key"] for t in webui.EXTENDED_TABS}


def test_worker_reports_merge_on_the_master() -> None:
    worker, master = webui.LiveData(), webui.LiveData()
    worker.add_turn(_turn("a", [W]))
    worker.add_llm_call(_call(10.0))
    master.merge_wire(json.loads(json.dumps(worker.take_wire())))
    assert worker.case_rows() == []  # sent, then forgotten
    assert master.case_rows()[1]["turns"] == 1 and master.timing_rows()[0]["count"] == 1


def test_table_keys_survive_the_uis_camel_casing() -> None:
    for table in webui.EXTENDED_TABLES:
        for column in table["structure"]:
            assert re.fullmatch("[a-z][a-z0-9]*", column["key"]), column


def test_server_state_from_metrics_text() -> None:
    state = webui.ServerState("http://127.0.0.1:1/metrics", {})
    state.update(
        '# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine="0"} 0.25\n'
        '# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine="0"} 3\n'
        '# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{engine="0"} 1\n'
    )
    rows = {r["name"]: r for r in state.rows()}
    assert rows["KV-cache usage (%)"]["now"] == "25.0"
    assert rows["requests running"]["now"] == "3.0" and rows["requests waiting"]["max"] == "1.0"
    assert webui.metrics_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/metrics"


def test_non_loopback_web_host_needs_a_login(monkeypatch: pytest.MonkeyPatch) -> None:
    webui.check_web_host("127.0.0.1")
    webui.check_web_host("localhost")
    with pytest.raises(BenchError, match="--web-auth"):
        webui.check_web_host("0.0.0.0")
    monkeypatch.setenv(webui.WEB_AUTH_ENV, "admin:s3cret")
    webui.check_web_host("0.0.0.0")
    monkeypatch.setenv(webui.WEB_AUTH_ENV, "admin:")
    with pytest.raises(BenchError):
        webui.check_web_host("0.0.0.0")


def test_sessions_count_for_task_success_as_the_summary_does() -> None:
    """Judged with the eval set's own criteria: a cut-short session is a failure, an incomplete
    one is left out, a completed one passes only when its calls and answers meet the criteria."""
    from bench.evalset import load_evalset

    evalset = load_evalset("home_automation")
    two = next(c for c in evalset.cases if len(c.conversation) == 2)
    other = next(c for c in evalset.cases if c.eval_id != two.eval_id)
    live = webui.LiveData(webui.CaseVerdict(evalset.criteria))

    def play(sid: str, actual: list, *, errored: bool = False, incomplete: bool = False) -> None:
        for i, inv in enumerate(actual):
            live.add_turn({"session_id": sid, "case_id": two.eval_id, "invocation_index": i,
                           "tool_calls": [], "expected_tool_calls": [], "warmup": False,
                           "error_type": "Timeout" if errored and i == len(actual) - 1 else None,
                           "actual_invocation": inv.model_dump(mode="json", exclude_none=True),
                           "expected_invocation": two.conversation[i].model_dump(mode="json", exclude_none=True)})  # fmt: skip
        live.add_session({"session_id": sid, "case_id": two.eval_id, "warmup": False,
                          "turns": len(actual), "turns_expected": 2, "errors": int(errored),
                          "incomplete": incomplete})  # fmt: skip

    play("pass", list(two.conversation))
    play("wrong", [two.conversation[0], other.conversation[0]])
    play("cut", list(two.conversation), errored=True)
    play("open", [two.conversation[0]], incomplete=True)
    total = live.case_rows()[0]
    assert (total["sessions"], total["cutshort"], total["incomplete"]) == (4, 1, 1)
    assert total["success"] == "0.333"  # 1 passed of 3 with a verdict
    assert live.session_turns == {}  # nothing held after a session ends


def test_a_thinking_model_fills_ttfo_and_thinking() -> None:
    live = webui.LiveData()
    for ttfo in (110.0, 130.0):
        live.add_llm_call({**_call(10.0), "ttfo_ms": ttfo})
    live.add_turn(_turn("a", [W], thinking_ms=240.0))
    live.add_turn(_turn("a", [W], thinking_ms=None))  # not streamed: not timed
    timings = {r["name"]: r for r in live.timing_rows()}
    assert timings["TTFO (first output token)"]["p50"] == "120.0"
    assert (
        timings["thinking per turn"]["count"] == 1
        and timings["thinking per turn"]["max"] == "240.0"
    )
