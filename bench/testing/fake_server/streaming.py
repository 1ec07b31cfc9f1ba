"""The streaming answer (`"stream": true`): server-sent events shaped like vLLM's.

The first chunk (the role) goes out only with the first generated token, after the time to
first token, never at once. A tool-call reply with `--tool-name-tokens N` streams its first
tool-call delta N token-times later, as vLLM's tool parsers emit nothing until they know the
tool name; those N tokens count in `completion_tokens`. The `reset` and `malformed` faults
strike half-way through the deltas.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import time
import uuid
from typing import Any

from aiohttp import web

from bench.testing.fake_server.completion import (
    Completion,
    sleep_ms,
    text_tokens,
    tool_call_deltas,
)
from bench.testing.fake_server.faults import CUT_IN_HALF, half

ROLE = {"role": "assistant", "content": ""}
BROKEN_CHUNK = b'data: {"id": "broken", "choices": [{"delta": \n\n'


def reset_connection(request: web.Request) -> None:
    """Close the TCP connection with RST (SO_LINGER 0), as a crashed peer would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Chunks:
    """Writes `chat.completion.chunk` events of one answer."""

    def __init__(self, response: web.StreamResponse, model: str) -> None:
        self.response = response
        self.head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model}  # fmt: skip

    async def event(self, payload: dict[str, Any]) -> None:
        await self.response.write(b"data: " + json.dumps({**self.head, **payload}).encode()
                                  + b"\n\n")  # fmt: skip

    async def delta(self, delta: dict[str, Any], finish: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        await self.event({"choices": [choice]})


def _reply_deltas(c: Completion) -> tuple[list[dict[str, Any]], str, int]:
    """The reply's deltas, its finish reason and the tokens generated but streamed as nothing
    (a tool parser's lag)."""
    if c.fault == "empty":  # no text, no call: only the role chunk, then "stop"
        return [], "stop", 0
    deltas: list[dict[str, Any]]
    if c.reply.tool_calls:
        calls = tool_call_deltas(c.reply.tool_calls, c.config.tokens)
        deltas = [{"tool_calls": [d]} for d in calls]
        reason, hidden = "tool_calls", c.config.tool_name_tokens
    else:
        deltas = [{"content": t} for t in text_tokens(c.reply.text or "", c.config.tokens)]
        reason, hidden = "stop", 0
    if c.fault in CUT_IN_HALF:  # half the reply, then finish "error" or "length"
        return deltas[: half(len(deltas))], CUT_IN_HALF[c.fault], hidden
    return deltas, reason, hidden


async def _send_deltas(request: web.Request, c: Completion, out: _Chunks,
                       deltas: list[dict[str, Any]], hidden: int) -> float | None:  # fmt: skip
    """Send the role chunk with the first token, then the deltas a token-time apart; the first
    token's time, or None when a `reset` fault cut the connection."""
    first_token = await c.first_token()
    await out.delta(ROLE)  # vLLM sends the role chunk only with the first generated token
    reply_from = len(c.thought)  # the reply's first delta comes after the thought's
    for i, delta in enumerate(deltas):
        if i:
            await sleep_ms(c.config.itl_ms)
        if i == reply_from:  # a tool parser streams nothing until it knows the name
            await sleep_ms(c.config.itl_ms * hidden)
        if i == len(deltas) // 2 and c.fault == "reset":
            reset_connection(request)
            return None
        if i == len(deltas) // 2 and c.fault == "malformed":
            await out.response.write(BROKEN_CHUNK)
            continue
        await out.delta(delta)
    return first_token


async def stream(request: web.Request, c: Completion) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    out = _Chunks(response, c.model)
    reply, reason, hidden = _reply_deltas(c)
    deltas = [{"reasoning": t} for t in c.thought] + reply
    first_token = await _send_deltas(request, c, out, deltas, hidden)
    if first_token is None:
        return response
    await out.delta({}, reason)
    # an empty reply still generated its end token
    usage = c.usage(first_token, max(1, len(deltas) + hidden), reason)
    if (c.body.get("stream_options") or {}).get("include_usage"):
        await out.event({"choices": [], "usage": usage})
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response
