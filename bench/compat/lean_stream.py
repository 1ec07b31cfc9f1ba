"""A streamed LiteLLM reply read from LiteLLM's own parser, without its per-chunk bookkeeping.

`litellm.acompletion(stream=True)` returns a `CustomStreamWrapper` around the provider's
iterator (`completion_stream`). For a `hosted_vllm/` call that iterator already yields
`ModelResponseStream` chunks made by LiteLLM's OpenAI-compatible chunk parser. The wrapper then
builds every chunk a second time (`chunk_creator`), keeps a copy of each for logging, strips the
usage chunk and, at the end, assembles the whole reply (`stream_chunk_builder`) to rebuild that
usage chunk and price it. ADK's LiteLlm reads only the chunks, so `LeanStream` yields the
parser's chunks as they are: the request, the HTTP exchange and the chunk objects stay LiteLLM's.

Where the wrapper's answer depends on more than the chunk in hand, the rest of the stream is
handed back to it, primed with what it would have noted so far, and LiteLLM decides:
- an exception (mapped to LiteLLM's exception types, as before);
- a finish reason other than stop, length, tool_calls, content_filter (vLLM's "abort" becomes
  an InternalServerError);
- an end before the server's usage chunk (LiteLLM counts the usage itself), or before any finish
  reason (an error for LiteLLM's OpenAI-compatible streams);
- a model repeating one chunk (LiteLLM's loop guard fails the reply).
The parser, and with it the HTTP response, is closed when a handed-back reply ends, so the server
stops generating it. What the wrapper does to every chunk is done here too: the name asked for
as the chunk's model, "stop" after a tool call read as "tool_calls", and for a reply with
reasoning the usage LiteLLM assembles (it counts reasoning tokens the server does not report).
The wrapper is kept while a LiteLLM callback is registered (it feeds them) and while
LITELLM_MAX_STREAMING_DURATION_SECONDS is set (it checks it on every chunk).

It reads and writes LiteLLM's private wrapper state, so it is gated (bench.compat.gate): with a
LiteLLM outside the tested range, or one of the names below gone, `enable()` leaves it off and
every stream goes through LiteLLM's wrapper. `streams_lean` / `streams_plain` count the streamed
replies each way, so a test fails when the lean path stops being taken.

tests/unit/compat/test_lean_stream.py plays text, tool calls, reasoning and every such ending
through ADK both ways and checks that ADK's responses, errors and bench's call records are equal.
Measured: see bench.load.lean_adk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from bench.compat import gate
from bench.compat.litellm_logging import callbacks_registered

_enabled = False
streams_lean = 0  # streamed replies ADK read through LeanStream, in this process
streams_plain = 0  # and through LiteLLM's own wrapper

WRAPPER = "litellm.litellm_core_utils.streaming_handler.CustomStreamWrapper"
# The wrapper's methods it calls or mirrors, and the state it reads or primes for a hand-back
# (set by the wrapper's __init__).
WRAPPER_METHODS = ("__anext__", "aclose", "fetch_stream", "raise_on_model_repetition",
                   "is_chunk_non_empty")  # fmt: skip
WRAPPER_STATE = ("completion_stream", "custom_llm_provider", "model", "messages", "logging_obj",
                 "count_prompt_tokens", "chunks", "uses_openai_chat_stream",
                 "received_finish_reason", "intermittent_finish_reason",
                 "received_any_finish_reason", "sent_last_chunk", "sent_first_chunk",
                 "tool_call", "_repeated_messages_count")  # fmt: skip

# Finish reasons the wrapper passes on as they are; any other is handed back to it.
PLAIN_FINISH_REASONS = frozenset(
    {"stop", "length", "tool_calls", "content_filter", "function_call"}
)


def missing() -> list[str]:
    import litellm
    import litellm.constants
    import litellm.types.utils
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    set_up = CustomStreamWrapper.__init__.__code__.co_names  # what its __init__ assigns
    return [
        *(f"CustomStreamWrapper.{n}" for n in WRAPPER_METHODS if not hasattr(CustomStreamWrapper, n)),
        *(f"CustomStreamWrapper().{n}" for n in WRAPPER_STATE if n not in set_up),
        *(f"litellm.{n}" for n in ("REPEATED_STREAMING_CHUNK_LIMIT", "stream_chunk_builder")
          if not hasattr(litellm, n)),
        *(["litellm.constants.LITELLM_MAX_STREAMING_DURATION_SECONDS"]
          if not hasattr(litellm.constants, "LITELLM_MAX_STREAMING_DURATION_SECONDS") else []),
        *(["litellm.types.utils.ModelResponseStream"]
          if not hasattr(litellm.types.utils, "ModelResponseStream") else []),
    ]  # fmt: skip


PATCH = gate.Patch("lean streaming", ("litellm",), missing, needs=("litellm",))


def enable(on: bool = True) -> bool:
    """Turned on for the load process by bench.load.lean_adk; True if it is on (the gate may
    keep it off)."""
    global _enabled
    _enabled = on and gate.allowed("lean_stream")
    return _enabled


def enabled() -> bool:
    return _enabled


def wrap(response: Any) -> Any:
    """A streamed reply as ADK reads it: the parser's chunks where the lean path applies,
    LiteLLM's wrapper otherwise; counted either way."""
    global streams_lean, streams_plain
    if _enabled and LeanStream.applies_to(response):
        streams_lean += 1
        return LeanStream(response)
    streams_plain += 1
    return response


_NOTHING = object()


async def _rest(
    parser: Any, source: Any, held: Any = _NOTHING, error: BaseException | None = None
) -> AsyncIterator[Any]:
    """What the wrapper reads once handed back: the held chunk and the rest of the parser's
    stream, or the error; the parser (and its HTTP response) is closed when this ends, as the
    wrapper's `aclose()` would close it had it not been replaced."""
    try:
        if error is not None:
            raise error
        if held is not _NOTHING:
            yield held
        if source is not None:
            async for item in source:
                yield item
    finally:
        close = getattr(parser, "aclose", None)
        if close is not None:
            await close()


def _non_empty(delta: Any) -> bool:
    """The chunks LiteLLM's wrapper runs its loop guard on (`is_chunk_non_empty`)."""
    content = delta.content
    return bool(
        (isinstance(content, str) and content)
        or delta.tool_calls
        or delta.function_call is not None
        or getattr(delta, "reasoning_content", None)
    )


def _repeats(chunks: list[Any], count: int) -> int:
    """LiteLLM's `raise_on_model_repetition` count, over the chunks before the one in hand."""
    if len(chunks) < 2 or not chunks[-1].choices or not chunks[-2].choices:
        return count
    last = chunks[-1].choices[0].delta.content
    if not isinstance(last, str) or len(last) <= 2:
        return 1
    return count + 1 if last == chunks[-2].choices[0].delta.content else 1


def _repeat_limit() -> int:
    import litellm

    return int(litellm.REPEATED_STREAMING_CHUNK_LIMIT)


def _has_reasoning(delta: Any) -> bool:
    return bool(getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None))


def _usage_with_reasoning(usage_chunk: Any, chunks: list[Any], wrapper: Any) -> None:
    """A reply with reasoning: the usage LiteLLM's wrapper gives, which counts the reasoning
    tokens itself when the server does not (`stream_chunk_builder` over the whole reply)."""
    import litellm

    try:
        built = litellm.stream_chunk_builder(
            chunks=[*chunks, usage_chunk],
            messages=wrapper.messages,
            logging_obj=wrapper.logging_obj,
            count_prompt_tokens=wrapper.count_prompt_tokens,
        )
    except Exception:  # the wrapper falls back too: the server's usage stands
        return
    usage = getattr(built, "usage", None)
    if usage is not None:
        usage_chunk.usage = usage


def _no_streaming_deadline() -> bool:
    """LITELLM_MAX_STREAMING_DURATION_SECONDS is checked by the wrapper on every chunk."""
    from litellm.constants import LITELLM_MAX_STREAMING_DURATION_SECONDS

    return LITELLM_MAX_STREAMING_DURATION_SECONDS is None


class LeanStream:
    """Async iterator over the provider chunks of a LiteLLM `CustomStreamWrapper`."""

    def __init__(self, wrapper: Any):
        self._wrapper = wrapper
        self._source: Any = None
        self._handed_back = False
        self._finish_reason: str | None = None
        # what the wrapper keeps: for the loop guard, a reasoning reply's usage, a hand-back
        self._chunks: list[Any] = []
        self._reasoning = False
        self._usage_seen = False
        self._last_finish_reason: str | None = None
        self._held: Any = None  # a chunk only the wrapper can answer for
        self._tool_call = False  # a tool-call delta came: a later "stop" reads "tool_calls"
        self._repeated = 1  # identical content chunks in a row (LiteLLM's loop guard)

    @staticmethod
    def applies_to(response: Any) -> bool:
        from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

        return (
            type(response) is CustomStreamWrapper
            and response.custom_llm_provider == "hosted_vllm"
            and not callbacks_registered()
            and _no_streaming_deadline()
        )

    def __aiter__(self) -> LeanStream:
        return self

    async def __anext__(self) -> Any:
        if self._handed_back:
            return await self._wrapper.__anext__()
        try:
            chunk = await self._next_chunk()
        except StopAsyncIteration:
            if self._finish_reason is not None and self._usage_seen:
                await self._wrapper.aclose()
                raise
            return await self._hand_back()
        except Exception as exc:
            import httpx

            if (
                self._finish_reason is not None
                and self._usage_seen
                and isinstance(exc, httpx.ReadError | httpx.RemoteProtocolError)
            ):
                await self._wrapper.aclose()
                raise StopAsyncIteration from None
            return await self._hand_back(error=exc)
        if chunk is None:  # the wrapper decides about the chunk in hand and the rest
            return await self._hand_back(held=self._held)
        return chunk

    async def _next_chunk(self) -> Any:
        """The parser's next chunk for ADK, or None with the chunk the wrapper must see held."""
        from litellm.types.utils import ModelResponseStream

        if self._source is None:
            if self._wrapper.completion_stream is None:
                await self._wrapper.fetch_stream()
            self._source = self._wrapper.completion_stream.__aiter__()
        while True:
            chunk = await self._source.__anext__()
            if type(chunk) is not ModelResponseStream:
                # the parser's end-of-stream marker ([DONE]): nothing for ADK once the
                # server's usage came; without it, LiteLLM counts the usage itself
                if self._usage_seen:
                    continue
                self._held = chunk
                return None
            chunk.model = self._wrapper.model  # the name asked for, as the wrapper sets it
            if chunk.choices:
                choice = chunk.choices[0]
                reason = choice.finish_reason
                if reason and reason not in PLAIN_FINISH_REASONS:
                    self._held = chunk  # e.g. vLLM's "abort", which LiteLLM makes an error
                    return None
                delta = choice.delta
                if _non_empty(delta):
                    repeated = _repeats(self._chunks, self._repeated)
                    if repeated >= _repeat_limit():
                        self._held = chunk  # the wrapper raises: the model is looping
                        return None
                    self._repeated = repeated
                if delta.tool_calls:
                    self._tool_call = True
                if reason == "stop" and self._tool_call:
                    reason = choice.finish_reason = "tool_calls"  # as the wrapper normalises it
                self._last_finish_reason = reason
                if reason:
                    self._finish_reason = reason
                if not self._reasoning and _has_reasoning(delta):
                    self._reasoning = True
            if getattr(chunk, "usage", None) is not None:
                self._usage_seen = True
                if self._reasoning:
                    _usage_with_reasoning(chunk, self._chunks, self._wrapper)
            self._chunks.append(chunk)
            return chunk

    async def _hand_back(self, held: Any = _NOTHING, error: BaseException | None = None) -> Any:
        """The wrapper reads the rest of the stream (the held chunk, an error, or an end without
        a finish reason or usage) knowing what came before, and answers as it would have."""
        self._handed_back = True
        wrapper = self._wrapper
        parser = wrapper.completion_stream
        wrapper.completion_stream = _rest(parser, self._source, held, error)
        # what the wrapper's chunk_creator would have noted about the chunks it did not see
        wrapper.chunks = self._chunks
        wrapper.uses_openai_chat_stream = wrapper.uses_openai_chat_stream or bool(self._chunks)
        wrapper.received_finish_reason = self._finish_reason
        wrapper.intermittent_finish_reason = self._last_finish_reason
        wrapper.received_any_finish_reason = self._finish_reason is not None
        wrapper.sent_last_chunk = self._finish_reason is not None
        wrapper.sent_first_chunk = wrapper.sent_first_chunk or bool(self._chunks)
        wrapper.tool_call = wrapper.tool_call or self._tool_call
        wrapper._repeated_messages_count = self._repeated
        return await wrapper.__anext__()
