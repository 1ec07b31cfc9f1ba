"""`--fault-above-inflight N` and `--fault unparsed` on the fake server: a fault that only
requests seeing more than N requests in flight get, and a tool call left in the reply text.

The server runs in-process on a loopback port; the requests are real HTTP, sent one at a time
(one in flight) or together (several in flight, held there by `latency_ms`). The unparsed text
is checked against bench's detector and against ADK's LiteLlm, which recovers well-formed JSON
calls from the content by itself: the fault's call must stay lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.scoring.unparsed import looks_like_unparsed_call
from bench.testing.fake_server import (
    FakeServer,
    FakeServerConfig,
    build_parser,
    config_from_args,
)

TOOL_ASK = "What is the weather in London?"  # the tiny script answers with get_weather
TEXT_ASK = "Hello there!"  # a plain text answer
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
# name and arguments of a call in the text (its JSON is left malformed on purpose)
CALL_IN_TEXT = re.compile(
    r'<tool_call>\s*\{"name": "(\w+)", "arguments": (\{.*?\})\s*</tool_call>', re.S
)


def _body(ask: str, stream: bool) -> dict[str, Any]:
    return {"model": "fake", "messages": [{"role": "user", "content": ask}], "tools": TOOLS,
            "stream": stream}  # fmt: skip


async def _message(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict:
    """The assistant message, rebuilt from the stream when streaming."""
    async with session.post(url, json=body) as response:
        assert response.status == 200, await response.text()
        if not body["stream"]:
            return (await response.json())["choices"][0]["message"]
        content, calls = "", []
        async for line in response.content:
            text = line.decode().strip()
            if not text.startswith("data: ") or text == "data: [DONE]":
                continue
            for choice in json.loads(text[len("data: ") :])["choices"]:
                content += choice["delta"].get("content") or ""
                calls += choice["delta"].get("tool_calls") or []
        return {"content": content, "tool_calls": calls}


def _run(config: FakeServerConfig, batches: list[list[tuple[str, bool]]]) -> tuple[list, str]:
    """Each batch's requests sent together, batch after batch; the messages and /metrics."""
    out: list[list[dict]] = []
    metrics = ""

    async def go() -> None:
        nonlocal metrics
        async with _serving(config) as base, aiohttp.ClientSession() as session:
            url = f"{base}/v1/chat/completions"
            for batch in batches:
                out.append(await asyncio.gather(
                    *(_message(session, url, _body(ask, stream)) for ask, stream in batch)
                ))  # fmt: skip
            async with session.get(f"{base}/metrics") as response:
                metrics = await response.text()

    asyncio.run(go())
    return out, metrics


@contextlib.asynccontextmanager
async def _serving(config: FakeServerConfig) -> AsyncIterator[str]:
    """The fake server in this event loop on a free port; yields its base URL."""
    runner = web.AppRunner(FakeServer(config).build_app())
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _names(message: dict) -> list[str]:
    """Tool names of a message (a streamed one has a delta per argument piece, nameless)."""
    return [c["function"]["name"] for c in message["tool_calls"] if "name" in c["function"]]


def _unparsed_calls(message: dict) -> list[dict]:
    """The calls left in the text; asserts that bench sees them and ADK does not recover them."""
    from google.adk.models.lite_llm import _split_message_content_and_tool_calls

    assert not message.get("tool_calls"), message
    text = message["content"]
    assert looks_like_unparsed_call(text, "hermes") and looks_like_unparsed_call(text, None)
    assert _split_message_content_and_tool_calls({"content": text}) == (text, [])
    return [{"name": n, "arguments": json.loads(a)} for n, a in CALL_IN_TEXT.findall(text)]


def _faults(metrics: str) -> int:
    return sum(int(line.split()[-1]) for line in metrics.splitlines()
               if line.startswith("fake:faults_total"))  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_unparsed_fault_only_above_the_inflight_threshold(stream: bool) -> None:
    config = FakeServerConfig(fail_rate=1.0, fault="unparsed", fault_above_inflight=1,
                              latency_ms=300)  # fmt: skip
    alone = [(TOOL_ASK, stream)]
    together = [(TOOL_ASK, stream)] * 3
    (first,), crowd, (after,) = (batch for batch in _run(config, [alone, together, alone])[0])
    # One request in flight: a structured tool call, as without the fault.
    assert _names(first) == ["get_weather"] and not first.get("content")
    arguments = json.loads(
        "".join(c["function"].get("arguments") or "" for c in first["tool_calls"])
    )
    # Three in flight: every one the same call, as hermes text in content.
    for message in crowd:
        assert _unparsed_calls(message) == [{"name": "get_weather", "arguments": arguments}]
    # Back to one in flight: structured again.
    assert _names(after) == ["get_weather"]


def test_text_replies_never_get_the_unparsed_fault() -> None:
    config = FakeServerConfig(fail_rate=1.0, fault="unparsed", fault_above_inflight=0,
                              latency_ms=200)  # fmt: skip
    batches, metrics = _run(config, [[(TEXT_ASK, False), (TOOL_ASK, False), (TEXT_ASK, True)]])
    text, tool, streamed = batches[0]
    assert not looks_like_unparsed_call(text["content"], "hermes") and text["content"]
    assert not looks_like_unparsed_call(streamed["content"], "hermes") and streamed["content"]
    assert len(_unparsed_calls(tool)) == 1
    assert _faults(metrics) == 1  # only the tool-call reply was faulted


def test_other_faults_are_gated_too() -> None:
    """`--fault 500` above 1 in flight: alone succeeds, together fails, the count says so."""
    config = FakeServerConfig(fail_rate=1.0, fault="500", fault_above_inflight=1, latency_ms=300)

    async def statuses() -> tuple[int, list[int], str]:
        async with _serving(config) as base, aiohttp.ClientSession() as session:
            url = f"{base}/v1/chat/completions"

            async def post() -> int:
                async with session.post(url, json=_body(TEXT_ASK, False)) as response:
                    return response.status

            alone = await post()
            together = await asyncio.gather(*(post() for _ in range(4)))
            async with session.get(f"{base}/metrics") as response:
                return alone, list(together), await response.text()

    alone, together, metrics = asyncio.run(statuses())
    assert alone == 200 and together == [500] * 4
    assert _faults(metrics) == 4


def test_the_flag_parses_and_rejects_a_negative_count(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["--fault", "unparsed", "--fault-above-inflight", "3",
                                      "--fail-rate", "1"])  # fmt: skip
    config = config_from_args(args)
    assert (config.fault, config.fault_above_inflight, config.fail_rate) == ("unparsed", 3, 1.0)
    assert config_from_args(build_parser().parse_args([])).fault_above_inflight is None
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--fault-above-inflight", "-1"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "fake-server: error: argument --fault-above-inflight: "
        "Input should be greater than or equal to 0\n"
    )
