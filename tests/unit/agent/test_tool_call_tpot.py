"""Client TPOT of tool-call replies, against the fake server with known delays.

The fake server streams like vLLM: the role chunk comes with the first token (after the TTFT),
and a tool-call reply's first delta comes `tool_name_tokens` token-times later, as vLLM's tool
parsers stream nothing until they know the tool name. Those hidden tokens still count in
`completion_tokens`, so dividing by every output token reads low.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
from bench.schemas.config import LoadConfig
from bench.testing.fake_server import running_fake_server

TTFT_MS, ITL_MS, TOKENS, HIDDEN = 40.0, 20.0, 12, 16


@pytest.fixture(scope="module")
def fake_url():
    knobs = {"ttft_ms": TTFT_MS, "itl_ms": ITL_MS, "tokens": TOKENS, "tool_name_tokens": HIDDEN}
    with running_fake_server(**knobs) as url:
        yield url


def _calls(url: str) -> list[dict]:
    es = load_evalset("evalsets/weather_time:weather_london")
    bundle = build_agent_bundle(es.agent_dir, api_base=url + "/v1", served_model_name="fake",
                                run_id="r", eval_set_id="weather_time", load=LoadConfig(stream=True))  # fmt: skip
    calls: list[dict] = []

    async def go() -> None:
        for _ in range(3):
            await run_session(bundle, es.cases[0], on_llm_call=calls.append)
        await bundle.close()

    asyncio.run(go())
    return calls


def test_tool_call_tpot_is_the_inter_token_delay(fake_url: str) -> None:
    calls = _calls(fake_url)
    tool = [c for c in calls if c["finish_reason"] == "tool_calls"]
    text = [c for c in calls if c["finish_reason"] == "stop"]
    assert len(tool) == 3 and len(text) == 3
    for c in tool:
        assert c["error_type"] is None and c["completion_tokens"] == c["n_chunks"] + HIDDEN
        # the first visible delta comes HIDDEN token-times after the first token
        assert c["ttft_ms"] >= TTFT_MS + HIDDEN * ITL_MS * 0.9
        assert c["tpot_ms"] == pytest.approx(ITL_MS, rel=0.25), c
        # the old formula, over every output token, reads far too low here
        old = (c["e2e_ms"] - c["ttft_ms"]) / (c["completion_tokens"] - 1)
        assert old < 0.7 * ITL_MS, old
    for c in text:  # text replies keep `vllm bench serve`'s definition, which is right for them
        assert c["tpot_ms"] == pytest.approx(ITL_MS, rel=0.25), c


def test_first_chunk_comes_with_the_first_token(fake_url: str) -> None:
    body = {"model": "fake", "stream": True,
            "messages": [{"role": "user", "content": "hello"}]}  # fmt: skip
    started = time.perf_counter()
    with httpx.stream("POST", f"{fake_url}/v1/chat/completions", json=body, timeout=10) as resp:
        lines = resp.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        first_at_ms = (time.perf_counter() - started) * 1000.0
    chunk = json.loads(first[len("data: ") :])
    assert chunk["choices"][0]["delta"]["role"] == "assistant"
    assert first_at_ms >= TTFT_MS * 0.9, first_at_ms
