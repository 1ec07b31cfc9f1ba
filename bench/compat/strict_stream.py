"""A malformed chunk in a streamed reply is an error, not a silently shorter answer.

LiteLLM's SSE parser (`BaseModelResponseIterator._string_to_dict_parser`, used for
`hosted_vllm/...` streams) turns a `data:` line that is not JSON into an empty chunk and goes on,
so the reply just loses a piece. `install()` wraps that parser once per process: a `data:` line
whose payload is neither JSON nor `[DONE]` raises `MalformedChunkError`, which LiteLLM surfaces as
an exception of the call; `TimedLiteLlm` records it on the call (and so on the turn) under the
name `MalformedChunkError`. Gated (bench.compat.gate): where the parser is not there, LiteLLM's
own parser runs and a malformed chunk is skipped as LiteLLM skips it.
"""

from __future__ import annotations

from typing import Any

from bench.compat import gate

MARKER = "malformed stream chunk"


class MalformedChunkError(ValueError):
    """A streamed `data:` line that is not JSON."""


def missing() -> list[str]:
    from litellm.llms.base_llm.base_model_iterator import BaseModelResponseIterator

    name = "_string_to_dict_parser"
    return [] if hasattr(BaseModelResponseIterator, name) else [f"BaseModelResponseIterator.{name}"]


PATCH = gate.Patch("strict stream parsing", ("litellm",), missing, needs=("litellm",))


def install() -> None:
    if not gate.allowed("strict_stream"):
        return
    from litellm.llms.base_llm.base_model_iterator import BaseModelResponseIterator

    original: Any = BaseModelResponseIterator._string_to_dict_parser
    if getattr(original, "bench_strict", False):
        return

    def strict(str_line: str) -> dict | None:
        parsed = original(str_line)
        if parsed is None and isinstance(str_line, str):
            head, sep, payload = str_line.strip().partition("data:")
            payload = payload.strip()
            if sep and not head and payload and payload != "[DONE]":
                raise MalformedChunkError(f"{MARKER} (not JSON): {payload[:120]}")
        return parsed

    strict.bench_strict = True  # type: ignore[attr-defined]
    BaseModelResponseIterator._string_to_dict_parser = staticmethod(strict)  # type: ignore[method-assign,assignment]


def is_malformed_chunk(exc: BaseException) -> bool:
    """LiteLLM re-wraps the error (RuntimeError, APIConnectionError...): look along the chain."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, MalformedChunkError) or MARKER in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
