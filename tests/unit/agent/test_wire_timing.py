"""Wire timing: server-sent events split and timed as the bytes arrive; hooks leave bytes alone."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from bench.agent.wire_timing import EVENT_HOOKS, WIRE_TIMING, WireTiming, wire_client


def _event(delta: dict | None, usage: dict | None = None) -> bytes:
    body: dict = {"choices": [{"index": 0, "delta": delta}] if delta is not None else []}
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def test_token_chunks_are_timed_when_their_event_completes() -> None:
    t = WireTiming(request_at=0.0)
    role = _event({"role": "assistant", "content": ""})
    t.feed(role, 0.040)  # the role chunk alone carries no token
    assert t.first_token_at is None and t.last_token_at == 0.040
    first = _event({"content": "Hel"})
    t.feed(first[:10], 0.050)  # half an event: nothing yet
    assert t.first_token_at is None
    t.feed(first[10:] + _event({"content": "lo"}), 0.060)  # the rest, and a whole one
    assert t.first_token_at == 0.060 and t.gaps_s == [0.0]
    t.feed(_event({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}), 0.075)
    assert t.saw_tool_call and t.gaps_s == [0.0, pytest.approx(0.015)]
    t.feed(_event({}), 0.080)  # finish chunk: choices, no token
    t.feed(_event(None, {"completion_tokens": 3}) + b": ping\n\ndata: [DONE]\n\n", 0.090)
    assert t.token_chunks == 3 and t.last_token_at == 0.080 and t.last_byte_at == 0.090


def test_crlf_events_and_reasoning_deltas() -> None:
    t = WireTiming()
    t.feed(_event({"reasoning_content": "hmm"}).replace(b"\n", b"\r\n"), 1.0)
    t.feed(_event({"reasoning": "so"}).replace(b"\n", b"\r\n"), 1.5)
    assert t.first_token_at == 1.0 and t.gaps_s == [0.5]


def test_a_plain_json_body_counts_as_one_token_at_its_last_byte() -> None:
    t = WireTiming(request_at=0.0)
    t.feed(b'{"choices": [{"message": {"content": "hi"}}]}', 0.2)
    t.finish()
    assert t.first_token_at == t.last_token_at == 0.2


def test_hooks_time_the_body_and_leave_the_bytes_unchanged() -> None:
    events = _event({"role": "assistant", "content": "a"}) + _event({"content": "b"})
    seen: list[bytes] = []

    async def body_stream():  # streamed, as a real transport's body is
        yield events[:7]
        yield events[7:]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(
            200, content=body_stream(), headers={"content-type": "text/event-stream"}
        )

    async def go() -> tuple[WireTiming, bytes, bytes]:
        payload = b'{"model": "m", "stream": true}'
        timing = WireTiming()
        token = WIRE_TIMING.set(timing)
        try:
            async with (
                httpx.AsyncClient(
                    transport=httpx.MockTransport(handler), event_hooks=EVENT_HOOKS
                ) as client,
                client.stream("POST", "http://x/v1", content=payload) as response,
            ):
                body = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            WIRE_TIMING.reset(token)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as plain:
            await plain.post("http://x/v1", content=payload)
        return timing, body, payload

    timing, body, payload = asyncio.run(go())
    assert body == events and seen == [payload, payload]
    assert timing.requests == 1 and timing.token_chunks == 2
    assert timing.request_at is not None and timing.headers_at is not None
    assert timing.request_at <= timing.headers_at <= (timing.first_token_at or 0)


def test_hooks_do_nothing_without_a_call_timing() -> None:
    async def go() -> None:
        transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b"{}"))
        async with httpx.AsyncClient(transport=transport, event_hooks=EVENT_HOOKS) as client:
            assert (await client.get("http://x/")).content == b"{}"

    asyncio.run(go())


def test_one_wire_client_per_event_loop() -> None:
    async def get() -> object:
        return wire_client()

    async def twice() -> tuple[object, object]:
        return wire_client(), wire_client()

    a, b = asyncio.run(twice())
    assert a is b
    assert asyncio.run(get()) is not a
