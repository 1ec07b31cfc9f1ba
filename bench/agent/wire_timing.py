"""Timing of an LLM call on the wire: at the HTTP client under LiteLLM, not at ADK's model layer.

LiteLLM sends a `hosted_vllm/` call through its `AsyncHTTPHandler` (an `httpx.AsyncClient`), and
takes one per call through the `client=` argument of `litellm.acompletion`. `wire_client()`
builds that handler the way LiteLLM builds its own default one (same transport, headers and
timeouts; `get_async_httpx_client` in litellm/llms/custom_httpx/http_handler.py) and adds two
httpx event hooks, a public httpx API that leaves the request bytes alone:
- the request hook notes when the request is handed to the transport (`vllm bench serve` takes
  its start time just before `session.post`, which also includes getting a connection);
- the response hook notes the response headers and wraps the response body stream so every
  byte chunk is timed as the transport yields it, before LiteLLM or ADK parse it.

The body is split into server-sent events here (cheap: one `json.loads` per event) to find the
token chunks. Which call the bytes belong to comes from the contextvar `WIRE_TIMING`, set by the
model layer around each call; with no timing set the hooks do nothing.

The same events tell how the reply ended as the server sent it, before LiteLLM maps anything
(it turns a finish reason "error" into "stop"): the finish reason, the tool calls it streamed and
its reply text. A reply that was not streamed is read once its body is in.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.agent.reasoning_timing import ReasoningTiming

# What makes a streamed delta a token chunk, for TTFT and ITL on the wire and at the model layer:
# content, a tool call or reasoning (vLLM's `reasoning`; LiteLLM renames it `reasoning_content`).
TOKEN_DELTA_FIELDS = ("content", "tool_calls", "reasoning_content", "reasoning")
REPLY_TEXT_MAX_CHARS = 8192  # of a reply's text kept for the unparsed-call check
_BODY_MAX_BYTES = 1 << 20  # a reply that is not streamed is parsed when its body is this or less


def is_token_delta(get: Callable[[str], Any]) -> bool:
    """`get(field)` reads one field of a delta (or of a whole non-streamed message)."""
    return any(get(name) for name in TOKEN_DELTA_FIELDS)


@dataclass
class WireTiming:
    """perf_counter times of one call's HTTP exchange, and the gaps between its token chunks."""

    request_at: float | None = None  # request handed to the transport
    headers_at: float | None = None  # response headers in
    first_choice_at: float | None = None  # first chunk with choices (vLLM: the first token)
    first_token_at: float | None = None  # first chunk with a content/reasoning/tool-call delta
    first_tool_call_at: float | None = None  # first chunk with a tool-call delta
    last_token_at: float | None = None  # last chunk with choices (vLLM's end of a request)
    last_byte_at: float | None = None
    gaps_s: list[float] = field(default_factory=list)  # between successive token chunks
    token_chunks: int = 0
    saw_tool_call: bool = False
    requests: int = 0  # HTTP requests made for this call (1 unless something retried)
    streamed: bool = False  # the body was server-sent events
    # seconds each body chunk waited between its arrival and the agent taking it; filled only
    # where chunks are stamped on arrival by a reader of their own (bench.agent.wire_arrival)
    pull_delays_s: list[float] = field(default_factory=list)
    # the reply as the server sent it
    finish_reason: str | None = None
    tool_call_indexes: set[int] = field(default_factory=set)
    text_parts: list[str] = field(default_factory=list)
    text_chars: int = 0
    replied: bool = False  # a chunk with choices (or a whole reply) came
    reasoning: ReasoningTiming = field(default_factory=ReasoningTiming)  # a thinking model's
    _buffer: bytes = b""
    _body: bytes = b""  # the first bytes, until the body shows itself an event stream
    _last_token_chunk_at: float | None = None

    @property
    def reply_text(self) -> str | None:
        return "".join(self.text_parts) if self.replied else None

    def _note_reply(self, choice: dict[str, Any], part: dict[str, Any]) -> None:
        """One choice (a streamed delta or a whole message): finish reason, calls, text."""
        self.replied = True
        reason = choice.get("finish_reason")
        if reason:
            self.finish_reason = str(reason)
        for i, call in enumerate(part.get("tool_calls") or []):
            index = call.get("index", i) if isinstance(call, dict) else i
            self.tool_call_indexes.add(index if isinstance(index, int) else i)
        text = part.get("content")
        if isinstance(text, str) and text and self.text_chars < REPLY_TEXT_MAX_CHARS:
            piece = text[: REPLY_TEXT_MAX_CHARS - self.text_chars]
            self.text_parts.append(piece)
            self.text_chars += len(piece)

    def feed(self, data: bytes, now: float) -> None:
        """One chunk of body bytes as the transport yielded it at `now`."""
        self.last_byte_at = now
        if not data:
            return
        if not self.streamed and len(self._body) < _BODY_MAX_BYTES:
            self._body += data
        buffer = self._buffer + data
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        *events, self._buffer = buffer.split(b"\n\n")
        for event in events:
            self._event(event, now)

    def _event(self, event: bytes, now: float) -> None:
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue  # comments (pings), event names, ids
            payload = line[5:].strip()
            self.streamed = True
            if not payload or payload == b"[DONE]":
                continue
            try:
                chunk = json.loads(payload)
            except ValueError:
                continue  # LiteLLM reports a malformed chunk; timing just skips it
            if isinstance(chunk, dict) and chunk.get("usage"):
                self.reasoning.usage(chunk["usage"])
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            if not choices or not isinstance(choices[0], dict):
                continue  # the usage chunk: no token
            self.last_token_at = now
            if self.first_choice_at is None:
                self.first_choice_at = now
            delta = choices[0].get("delta") or {}
            self._note_reply(choices[0], delta)
            self.reasoning.delta(delta, now)
            tool_calls = delta.get("tool_calls")
            if tool_calls:
                self.saw_tool_call = True
                if self.first_tool_call_at is None:
                    self.first_tool_call_at = now
            if is_token_delta(delta.get):
                if self.first_token_at is None:
                    self.first_token_at = now
                elif self._last_token_chunk_at is not None:
                    self.gaps_s.append(now - self._last_token_chunk_at)
                self._last_token_chunk_at = now
                self.token_chunks += 1

    def note_pull(self, delay_s: float) -> None:
        """A chunk stamped on arrival was taken by the agent `delay_s` later."""
        self.pull_delays_s.append(delay_s)

    def finish(self) -> None:
        """A reply that was not an event stream (stream=False): its tokens came with the body."""
        if self.streamed:
            self._body = b""
            return
        if self.last_byte_at is not None:
            self.first_token_at = self.first_token_at or self.last_byte_at
            self.last_token_at = self.last_token_at or self.last_byte_at
        try:
            body = json.loads(self._body) if self._body else None
        except ValueError:
            body = None
        self._body = b""
        choices = body.get("choices") if isinstance(body, dict) else None
        if choices and isinstance(choices[0], dict):
            self._note_reply(choices[0], choices[0].get("message") or {})
            self.reasoning.message(choices[0].get("message") or {})
        if isinstance(body, dict):
            self.reasoning.usage(body.get("usage"))


WIRE_TIMING: contextvars.ContextVar[WireTiming | None] = contextvars.ContextVar(
    "bench_wire_timing", default=None
)


class _TimedBody(httpx.AsyncByteStream):
    """The response body, passed through unchanged; each chunk timed on its way."""

    def __init__(self, inner: Any, timing: WireTiming) -> None:
        self._inner = inner
        self._timing = timing

    async def __aiter__(self) -> AsyncIterator[bytes]:
        timing, clock = self._timing, time.perf_counter
        async for chunk in self._inner:
            timing.feed(chunk, clock())
            yield chunk
        timing.last_byte_at = clock()
        timing.finish()

    async def aclose(self) -> None:
        await self._inner.aclose()


# A response extension: its body is read and timed on arrival (bench.agent.wire_arrival).
TIMED_AT_ARRIVAL = "bench_timed_at_arrival"


async def _on_request(request: httpx.Request) -> None:
    timing = WIRE_TIMING.get()
    if timing is not None:
        timing.request_at = time.perf_counter()
        timing.requests += 1


async def _on_response(response: httpx.Response) -> None:
    timing = WIRE_TIMING.get()
    if timing is not None and not response.extensions.get(TIMED_AT_ARRIVAL):
        timing.headers_at = time.perf_counter()
        response.stream = _TimedBody(response.stream, timing)


EVENT_HOOKS: dict[str, list[Callable[..., Any]]] = {
    "request": [_on_request],
    "response": [_on_response],
}

# One handler per event loop: an httpx/aiohttp connection pool belongs to the loop it was made on.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


_HANDLER: list[type] = []  # the handler class, made once LiteLLM is imported


def _handler_class() -> type:
    """LiteLLM's `AsyncHTTPHandler`, whose httpx client reads on the arrival reader when that is
    enabled (bench.agent.wire_arrival); `create_client` also runs when a closed client is
    remade."""
    if not _HANDLER:
        from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

        from bench.agent import wire_arrival

        class ArrivalHTTPHandler(AsyncHTTPHandler):  # type: ignore[misc]
            def create_client(self, *args: Any, **kwargs: Any) -> Any:
                return wire_arrival.wrap_transports(super().create_client(*args, **kwargs))

        _HANDLER.append(ArrivalHTTPHandler)
    return _HANDLER[0]


def wire_client() -> Any:
    """The timed LiteLLM `AsyncHTTPHandler` of the running event loop."""
    loop = asyncio.get_running_loop()
    client = _CLIENTS.get(loop)
    if client is None:
        # What get_async_httpx_client(params={"ssl_verify": None}) builds for a streaming
        # hosted_vllm call, plus the hooks.
        client = _handler_class()(ssl_verify=None, shared_session=None, event_hooks=EVENT_HOOKS)
        _CLIENTS[loop] = client
    return client
