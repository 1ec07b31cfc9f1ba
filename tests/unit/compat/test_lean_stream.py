"""bench.compat.lean_stream: ADK gets the same responses and the same errors with it as without.

A canned server (aiohttp, in this process, on 127.0.0.1) answers each prompt with a fixed
server-sent event stream: text; a tool call; two in one delta; a tool call finished with "stop"
(LiteLLM reads "tool_calls"); reasoning; a reply under another served name; a model looping on
one chunk (LiteLLM's guard fails it); a length cut; vLLM's abort; a stream that ends with [DONE]
but no finish reason, one that just ends, one without usage (LiteLLM counts it), one cut after
its finish reason, one cut in the middle; a malformed chunk; an HTTP 500; a stall before the
headers; a malformed chunk on a stream that goes on (the client must hang up, so vLLM stops
generating). Each prompt goes
through ADK's LiteLlm (bench's TimedLiteLlm) twice, once with the lean stream and once with
LiteLLM's own stream wrapper; what ADK yields (or raises) and bench's call record must be equal.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import pytest
from aiohttp import web

from bench.agent.timed_model import TimedLiteLlm
from bench.compat import lean_stream


def _chunk(
    delta: dict[str, Any] | None, finish: str | None = None, model: str = "canned", **extra: Any
) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-canned",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


USAGE = {"prompt_tokens": 30, "completion_tokens": 5, "total_tokens": 35,
         "prompt_tokens_details": {"cached_tokens": 16}}  # fmt: skip
ROLE = _chunk({"role": "assistant", "content": ""})
END = _chunk(None, usage=USAGE) + b"data: [DONE]\n\n"


def _call(index: int, name: str, args: str, call_id: str) -> dict[str, Any]:
    return {"index": index, "id": call_id, "type": "function",
            "function": {"name": name, "arguments": args}}  # fmt: skip


# fmt: off
STREAMS: dict[str, list[bytes]] = {
    "text": [ROLE, _chunk({"content": "Hello"}), _chunk({"content": " there."}),
             _chunk({}, "stop"), END],
    "tool": [ROLE, _chunk({"tool_calls": [_call(0, "get_weather", "", "call-1")]}),
             _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
             _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
             _chunk({}, "tool_calls"), END],
    "two tools": [ROLE, _chunk({"tool_calls": [_call(0, "get_weather", '{"city": "Oslo"}', "c1"),
                                               _call(1, "get_time", '{"city": "Rome"}', "c2")]}),
                  _chunk({}, "tool_calls"), END],
    "reasoning": [ROLE, _chunk({"reasoning": "Think"}), _chunk({"reasoning_content": "ing."}),
                  _chunk({"content": "Done."}), _chunk({}, "stop"), END],
    "tool then stop": [ROLE, _chunk({"tool_calls": [_call(0, "get_weather", "{}", "c1")]}),
                       _chunk({}, "stop"), END],  # named or required tool choice in older vLLM
    "alias": [_chunk({"role": "assistant", "content": ""}, model="served-name"),
              _chunk({"content": "Hi"}, model="served-name"),
              _chunk({}, "stop", model="served-name"), END],  # asked as another served name
    "loop": [ROLE, *[_chunk({"content": " foo"})] * 120, _chunk({}, "stop"), END],
    "length": [ROLE, _chunk({"content": "Cut"}), _chunk({}, "length"), END],
    "no finish": [ROLE, _chunk({"content": "Half"}), b"data: [DONE]\n\n"],  # [DONE] ends it
    "abort": [ROLE, _chunk({"content": "Ha"}), _chunk({}, "abort"), END],  # vLLM aborted it
    "eof": [ROLE, _chunk({"content": "Half"})],  # neither a finish reason nor [DONE]
    "no usage": [ROLE, _chunk({"content": "Hi"}), _chunk({}, "stop"), b"data: [DONE]\n\n"],
    "cut after finish": [ROLE, _chunk({"content": "All"}), _chunk({}, "stop"), b"CUT"],
    "cut": [ROLE, _chunk({"content": "Ha"}), b"CUT"],
    "malformed": [ROLE, _chunk({"content": "Ha"}), b'data: {"id": "broken", "choices": [\n\n'],
    "500": [],
    "stall": [],
    "malformed, then more": [],
}
# fmt: on


HUNG_UP: list[bool] = []  # per "malformed, then more" request: the client closed the connection


async def _answer(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    prompt = body["messages"][-1]["content"]
    if prompt == "500":
        return web.json_response({"error": {"message": "boom", "type": "InternalServerError"}},
                                 status=500)  # fmt: skip
    if prompt == "stall":
        await asyncio.sleep(5)
        return web.json_response({})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if prompt == "malformed, then more":  # the client fails the reply: does it hang up?
        await response.write(ROLE + _chunk({"content": "Ha"}) + b"data: {broken\n\n")
        for _ in range(60):
            await asyncio.sleep(0.05)
            if request.transport is None or request.transport.is_closing():
                break
        HUNG_UP.append(request.transport is None or request.transport.is_closing())
        return response
    for part in STREAMS[prompt]:
        if part == b"CUT":
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-body
            return response
        await response.write(part)
        await asyncio.sleep(0)
    await response.write_eof()
    return response


async def _serve() -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/v1"


def _request(prompt: str) -> Any:
    from google.adk.models.llm_request import LlmRequest
    from google.genai import types

    return LlmRequest(
        model="hosted_vllm/canned",
        contents=[types.Content(role="user", parts=[types.Part(text=prompt)])],
        config=types.GenerateContentConfig(),
    )


async def _play(
    api_base: str, prompt: str, lean: bool, fell_back: bool = False
) -> tuple[list[Any], str | None]:
    """`fell_back`: the gate keeps the lean stream off, so LiteLLM's wrapper must be read."""
    lean_stream.enable(lean)
    counts = (lean_stream.streams_lean, lean_stream.streams_plain)
    records: list[dict[str, Any]] = []
    model = TimedLiteLlm.for_server(api_base, "canned", request_timeout_s=1.0,
                                    on_record=records.append)  # fmt: skip
    responses: list[Any] = []
    error = None
    try:
        async for response in model.generate_content_async(_request(prompt), stream=True):
            responses.append(response.model_dump(mode="json", exclude_none=True))
    except Exception as exc:  # the error ADK's caller would see
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        error = re.sub(r"time taken=[0-9.]+", "time taken=T", error)
    finally:
        lean_stream.enable(False)
    took = (lean_stream.streams_lean - counts[0], lean_stream.streams_plain - counts[1])
    if prompt not in ("500", "stall"):  # those fail before LiteLLM returns a stream
        taken = lean and not fell_back
        assert took == ((1, 0) if taken else (0, 1)), (prompt, lean, took)  # the path asked for
    if prompt == "malformed, then more":  # the server's verdict on the connection, once it has one
        for _ in range(80):
            if HUNG_UP:
                break
            await asyncio.sleep(0.05)
        responses.append({"hung up within 3 s": HUNG_UP.pop() if HUNG_UP else None})
    (record,) = records
    kept = ("prompt_tokens", "completion_tokens", "cached_tokens", "finish_reason",
            "tool_calls_n", "n_chunks", "error_type")  # fmt: skip
    return responses + [{k: record[k] for k in kept}], error


@pytest.fixture(scope="module")
def canned() -> AsyncIterator[str]:
    loop = asyncio.new_event_loop()
    runner, url = loop.run_until_complete(_serve())
    try:
        yield loop, url  # type: ignore[misc]
    finally:
        loop.run_until_complete(runner.cleanup())
        loop.close()


@pytest.mark.parametrize("prompt", list(STREAMS))
def test_adk_gets_the_same_responses_and_errors(canned: Any, prompt: str) -> None:
    loop, url = canned
    plain = loop.run_until_complete(_play(url, prompt, lean=False))
    lean = loop.run_until_complete(_play(url, prompt, lean=True))
    assert lean == plain
    responses, error = plain
    if prompt in ("text", "tool", "two tools", "reasoning", "length", "no finish", "no usage",
                  "cut after finish", "tool then stop", "alias"):  # fmt: skip
        assert error is None and len(responses) >= 2
    else:
        assert error is not None  # a failure stays a failure
    if prompt == "malformed, then more":
        assert {"hung up within 3 s": True} in responses  # vLLM stops generating it


def test_only_the_load_process_savings_turn_it_on() -> None:
    from bench.load import lean_adk

    assert not lean_stream.enabled()
    with lean_adk.applied():
        assert lean_stream.enabled()
    assert not lean_stream.enabled()


def test_a_renamed_litellm_attribute_falls_back_to_litellms_own_path(
    canned: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A LiteLLM release that renames what the lean stream reads: bench says so in one line and
    ADK reads LiteLLM's own wrapper, with the same reply."""
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    from bench.compat import gate

    loop, url = canned
    plain = loop.run_until_complete(_play(url, "tool", lean=False))
    assert plain[1] is None and len(plain[0]) >= 2  # a tool call and its record
    fetch = CustomStreamWrapper.fetch_stream
    monkeypatch.delattr(CustomStreamWrapper, "fetch_stream")
    monkeypatch.setattr(CustomStreamWrapper, "fetch_the_stream", fetch, raising=False)
    gate.reset()
    capsys.readouterr()
    try:
        before = lean_stream.streams_lean
        for _ in range(2):  # told once per process, however often it is asked
            assert lean_stream.enable() is False
            assert loop.run_until_complete(_play(url, "tool", True, fell_back=True)) == plain
        assert lean_stream.streams_lean == before  # every stream took LiteLLM's wrapper
        assert capsys.readouterr().err.splitlines() == [
            f"bench: litellm {version('litellm')} has no CustomStreamWrapper.fetch_stream: lean "
            "streaming off, falling back to LiteLLM's own path"
        ]
    finally:
        monkeypatch.undo()
        gate.reset()
    assert lean_stream.enable() is True  # back on once LiteLLM has it again
    lean_stream.enable(False)
