"""Reasoning on the wire: the SSE bytes of a thinking reply, fed at known times, give the
reasoning tokens, time to first reasoning token, time to first output token and thinking time;
a turn sums its calls. The summary's figures over such calls and turns."""

from __future__ import annotations

import json

import pytest

from bench.agent.reasoning_timing import TurnThinking
from bench.agent.wire_timing import WireTiming
from bench.results.reasoning import reasoning_summary


def sse(delta: dict | None = None, usage: dict | None = None) -> bytes:
    chunk: dict = {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    if usage is not None:
        chunk = {"choices": [], "usage": usage}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def timed_reply(
    deltas: list[dict], usage: dict | None, start: float = 10.0, step: float = 0.02
) -> WireTiming:
    wire = WireTiming(request_at=start)
    now = start + 0.1  # the role chunk with the first token, 100 ms in
    wire.feed(sse({"role": "assistant", "content": ""}), now)
    for delta in deltas:
        wire.feed(sse(delta), now)
        now += step
    if usage is not None:
        wire.feed(sse(usage=usage), now)
    wire.feed(b"data: [DONE]\n\n", now)
    wire.finish()
    return wire


THOUGHT = [{"reasoning": f"t{i} "} for i in range(5)]
CALL = [{"content": "\n\n"}, {"tool_calls": [{"index": 0, "function": {"name": "f"}}]}]


def fields(wire: WireTiming, *, stream: bool = True) -> dict:
    return wire.reasoning.call_fields(wire.request_at, 999.0, stream=stream, on_wire=True,
                                      error=False)  # fmt: skip


def test_a_thinking_reply_streamed() -> None:
    usage = {"completion_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 4}}
    f = fields(timed_reply(THOUGHT + CALL, usage))
    assert (f["reasoning_tokens"], f["reasoning_tokens_from"]) == (4, "usage")
    assert f["ttfr_ms"] == pytest.approx(100.0)  # the first reasoning delta
    assert f["ttfo_ms"] == pytest.approx(200.0)  # after 5 reasoning deltas 20 ms apart
    assert f["thinking_ms"] == pytest.approx(100.0)


def test_without_usage_the_stream_counts_and_a_plain_reply_thinks_zero() -> None:
    f = fields(timed_reply(THOUGHT + CALL, None))
    assert (f["reasoning_tokens"], f["reasoning_tokens_from"]) == (5, "stream")
    plain = fields(timed_reply([{"content": "Hi"}, {"content": " there"}], None))
    assert plain == {"reasoning_tokens": 0, "reasoning_tokens_from": "stream", "ttfr_ms": None,
                     "ttfo_ms": pytest.approx(100.0), "thinking_ms": 0.0,
                     "reasoning_sent_back_chars": None}  # fmt: skip
    # a reply that only thought: thinking to its last chunk, no output token
    only = fields(timed_reply(THOUGHT, None))
    assert only["ttfo_ms"] is None and only["thinking_ms"] == pytest.approx(80.0)


def test_not_streamed_and_off_the_wire() -> None:
    wire = WireTiming(request_at=1.0)
    body = {"choices": [{"message": {"content": None, "reasoning": "hm",
                                     "tool_calls": [{"id": "c"}]}, "finish_reason": "tool_calls"}],
            "usage": {"completion_tokens_details": {"reasoning_tokens": 7}}}  # fmt: skip
    wire.feed(json.dumps(body).encode(), 1.5)
    wire.finish()
    f = fields(wire, stream=False)
    assert f == {"reasoning_tokens": 7, "reasoning_tokens_from": "usage", "ttfr_ms": None,
                 "ttfo_ms": 999.0, "thinking_ms": None,
                 "reasoning_sent_back_chars": None}  # fmt: skip
    off = WireTiming()
    off.reasoning.request([{"role": "user", "content": "x"},
                           {"role": "assistant", "content": None, "reasoning_content": "abc"},
                           {"role": "assistant", "content": "ok", "reasoning_content": None},
                           {"role": "assistant", "content": "ok", "reasoning_content": "de"}])  # fmt: skip
    fields_off = off.reasoning.call_fields(None, 5.0, stream=True, on_wire=False, error=False)
    assert fields_off.pop("reasoning_sent_back_chars") == 5
    assert set(fields_off.values()) == {None}


def test_a_turn_sums_its_calls() -> None:
    turn = TurnThinking()
    turn.add({"reasoning_tokens": 4, "thinking_ms": 100.0})
    turn.add({"reasoning_tokens": 3, "thinking_ms": 50.0})
    assert turn.turn_fields(600.0) == {"reasoning_tokens": 7, "thinking_ms": 150.0,
                                       "thinking_share": 0.25}  # fmt: skip
    unknown = TurnThinking()
    unknown.add({"reasoning_tokens": None, "thinking_ms": None})
    assert unknown.turn_fields(600.0) == {"reasoning_tokens": None, "thinking_ms": None,
                                          "thinking_share": None}  # fmt: skip


def test_summary_figures() -> None:
    calls = [{"reasoning_tokens": 4, "reasoning_tokens_from": "usage", "ttfo_ms": 200.0,
              "ttfr_ms": 100.0},
             {"reasoning_tokens": 2, "reasoning_tokens_from": "usage", "ttfo_ms": 100.0,
              "ttfr_ms": None, "reasoning_sent_back_chars": 30}]  # fmt: skip
    turns = [{"reasoning_tokens": 6, "thinking_ms": 100.0, "latency_ms": 400.0},
             {"reasoning_tokens": 0, "thinking_ms": 0.0, "latency_ms": 100.0},
             {"reasoning_tokens": None, "thinking_ms": None, "latency_ms": 900.0}]  # fmt: skip
    s = reasoning_summary(calls, turns)
    assert (s["reasoning_tokens_per_turn"], s["reasoning_tokens_per_call"]) == (3.0, 3.0)
    assert s["reasoning_tokens_from"] == "usage"
    assert (s["ttfo_p50_ms"], s["ttfr_p50_ms"], s["ttfr_p99_ms"]) == (150.0, 100.0, 100.0)
    assert s["turn_thinking_mean_ms"] == 50.0
    assert s["thinking_share"] == pytest.approx(100.0 / 500.0)  # untimed turns left out
    assert s["reasoning_sent_back_chars_per_call"] == 30.0
    assert reasoning_summary([], [])["thinking_share"] is None
