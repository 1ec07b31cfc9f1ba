"""--thinking and --thinking-budget against the fake server playing a thinking model (4 reasoning
tokens 25 ms apart after a 40 ms TTFT, none when a request switches thinking off): the request
gains exactly two body fields and nothing else, and each call's and turn's reasoning figures
match what the server sent. One server records every body (tool-call ids it made up aside)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
from bench.schemas.config import LoadConfig
from bench.testing.fake_server import running_fake_server

REASONING, TTFT_MS, ITL_MS = 4, 40.0, 25.0


def test_thinking_on_and_off_against_a_thinking_server(tmp_path: Path) -> None:
    evalset = load_evalset("weather_time")
    case = next(c for c in evalset.cases if c.eval_id == "weather_london")  # a call, an answer
    path = tmp_path / "bodies"

    async def play(url: str, **options: Any) -> tuple[int, list[dict], list[dict]]:
        bundle = build_agent_bundle(evalset.agent_dir, api_base=url + "/v1",
                                    served_model_name="fake", run_id="r", eval_set_id="e",
                                    load=LoadConfig(**options))  # fmt: skip
        calls: list[dict] = []
        turns: list[dict] = []
        await run_session(bundle, case, on_llm_call=calls.append, on_turn=turns.append)
        await bundle.close()
        return len(path.read_text().splitlines()), calls, turns

    with running_fake_server(record_bodies=str(path), reasoning_tokens=REASONING,
                             ttft_ms=TTFT_MS, itl_ms=ITL_MS) as url:  # fmt: skip
        n_plain, thinking_calls, thinking_turns = asyncio.run(play(url))
        _, off_calls, off_turns = asyncio.run(play(url, thinking="off", thinking_budget=8))
        _, unstreamed, _ = asyncio.run(play(url, stream=False))

    text = re.sub(r"chatcmpl-tool-[0-9a-f]{16}", "ID", path.read_text())
    bodies = [json.loads(line) for line in text.splitlines()]
    plain, off = bodies[:n_plain], bodies[n_plain : 2 * n_plain]
    assert len(plain) == len(off) == 2  # the tool call, then the answer
    # ADK's LiteLlm sends the thought back: the assistant message of the tool loop carries it as
    # reasoning_content (joined from the streamed deltas); with thinking off there is none.
    thought = "".join(f"thought{i} " for i in range(REASONING))
    assert [m.get("reasoning_content") for m in plain[1]["messages"]] == [
        None, None, thought, None]  # fmt: skip
    del plain[1]["messages"][2]["reasoning_content"]
    for before, after in zip(plain, off, strict=True):
        assert "chat_template_kwargs" not in before and "thinking_token_budget" not in before
        assert after == {**before, "chat_template_kwargs": {"enable_thinking": False},
                         "thinking_token_budget": 8}  # fmt: skip

    # Thinking (the server's default): 4 reasoning tokens per call, from usage; the output
    # starts 4 tokens after the first reasoning token.
    assert len(thinking_calls) == 2 and all(c["error_type"] is None for c in thinking_calls)
    for call in thinking_calls:
        assert (call["reasoning_tokens"], call["reasoning_tokens_from"]) == (REASONING, "usage")
        assert call["ttft_ms"] == call["ttfr_ms"] >= TTFT_MS
        # the server sleeps ITL_MS before each of the 4 deltas after the first; arrivals on a
        # busy 2-core machine bunch up or spread out by tens of ms
        assert REASONING * ITL_MS * 0.6 <= call["thinking_ms"] < REASONING * ITL_MS + 250
        assert call["ttfo_ms"] == pytest.approx(call["ttfr_ms"] + call["thinking_ms"])
    # what the request carried back: nothing on the first call, the thought on the second
    assert [c["reasoning_sent_back_chars"] for c in thinking_calls] == [0, len(thought)]
    (turn,) = thinking_turns
    assert turn["reasoning_tokens"] == 2 * REASONING
    assert turn["thinking_ms"] == pytest.approx(sum(c["thinking_ms"] for c in thinking_calls))
    assert turn["thinking_share"] == pytest.approx(turn["thinking_ms"] / turn["latency_ms"])
    # Thinking off: the same calls, no reasoning; TTFO is TTFT.
    for call in off_calls:
        assert (call["reasoning_tokens"], call["ttfr_ms"], call["thinking_ms"]) == (0, None, 0.0)
        assert call["ttfo_ms"] == call["ttft_ms"]
    assert off_turns[0]["thinking_share"] == 0.0
    assert [c["tool_calls_n"] for c in off_calls] == [c["tool_calls_n"] for c in thinking_calls]
    # Not streamed: the count from usage, no arrival times to time thinking with.
    for call in unstreamed:
        assert call["reasoning_tokens"] == REASONING and call["thinking_ms"] is None
        assert call["ttfo_ms"] == call["e2e_ms"]
