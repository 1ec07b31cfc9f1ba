"""What a thinking model spends on one LLM call and on one turn, timed on the wire.

A reasoning model served with a vLLM `--reasoning-parser` streams its thought as `reasoning`
deltas (LiteLLM renames them `reasoning_content`) before the answer's `content` or `tool_calls`
deltas. TTFT (`vllm bench serve`'s definition) ends at the first of any of them, so a model that
thinks looks fast while the user waits for the first word or call. Per call:

- `reasoning_tokens`: `usage.completion_tokens_details.reasoning_tokens` where the server
  reports it (vLLM does with a reasoning parser, streamed or not); else, streamed, the chunks
  that carried reasoning (`reasoning_tokens_from` = "stream": one per token as vLLM streams,
  fewer where a busy server merged deltas); else null;
- `ttfr_ms` (time to first reasoning token): the request handed to the transport to the first
  chunk with a reasoning delta; null when none came;
- `ttfo_ms` (time to first output token, AIPerf's `time_to_first_output_token` and GuideLLM's
  `time_to_first_output_token_ms`): to the first chunk with a content or tool-call delta; equal
  to TTFT for a model that does not think; for a reply that was not streamed, its e2e (as TTFT);
  null when no output came;
- `thinking_ms`: streamed, from the first reasoning chunk to the first output chunk (or to the
  last chunk when no output came); 0 when no reasoning streamed; null when not streamed.

- `reasoning_sent_back_chars`: what the request carried of earlier thoughts: the characters of
  `reasoning_content` on its assistant messages. ADK's LiteLlm keeps a streamed thought as
  thought parts of the model's event and sends every earlier one back that way
  (google/adk/models/lite_llm.py, `_content_to_message_param`); vLLM reads it as `reasoning`,
  and the chat template decides what reaches the prompt (Qwen3's keeps it within a turn only).

Per turn (`TurnThinking`): the calls' reasoning tokens and thinking time summed, and the thinking
time's share of the turn latency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REASONING_DELTA_FIELDS = ("reasoning", "reasoning_content")
OUTPUT_DELTA_FIELDS = ("content", "tool_calls")


def _ms(later: float | None, earlier: float | None) -> float | None:
    return (later - earlier) * 1000.0 if later is not None and earlier is not None else None


@dataclass
class ReasoningTiming:
    """Fed by the wire timing (`bench.agent.wire_timing`) with every chunk of one call."""

    first_reasoning_at: float | None = None
    first_output_at: float | None = None
    last_chunk_at: float | None = None
    reasoning_chunks: int = 0
    usage_tokens: int | None = None  # usage.completion_tokens_details.reasoning_tokens
    output: bool = False  # a reply that was not streamed had content or tool calls
    sent_back_chars: int | None = None  # earlier thoughts the request carried

    def request(self, messages: list[Any]) -> None:
        """The request's messages, as handed to LiteLLM."""
        self.sent_back_chars = sum(
            len(m["reasoning_content"]) for m in messages
            if isinstance(m, dict) and m.get("role") == "assistant"
            and isinstance(m.get("reasoning_content"), str)
        )  # fmt: skip

    def delta(self, delta: dict[str, Any], now: float) -> None:
        """One streamed delta, arrived at `now`."""
        self.last_chunk_at = now
        if any(delta.get(name) for name in REASONING_DELTA_FIELDS):
            self.reasoning_chunks += 1
            if self.first_reasoning_at is None:
                self.first_reasoning_at = now
        if self.first_output_at is None and any(delta.get(n) for n in OUTPUT_DELTA_FIELDS):
            self.first_output_at = now

    def message(self, message: dict[str, Any]) -> None:
        """A whole reply that was not streamed."""
        self.output = any(message.get(name) for name in OUTPUT_DELTA_FIELDS)

    def usage(self, usage: Any) -> None:
        details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
        tokens = details.get("reasoning_tokens") if isinstance(details, dict) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            self.usage_tokens = tokens

    def call_fields(
        self, request_at: float | None, e2e_ms: float, *, stream: bool, on_wire: bool,
        error: bool,
    ) -> dict[str, Any]:  # fmt: skip
        """The call record's reasoning columns (all null when the wire saw no reply)."""
        if not on_wire:
            return {**dict.fromkeys(("reasoning_tokens", "reasoning_tokens_from", "ttfr_ms",
                                     "ttfo_ms", "thinking_ms")),
                    "reasoning_sent_back_chars": self.sent_back_chars}  # fmt: skip
        if self.usage_tokens is not None:
            tokens, source = self.usage_tokens, "usage"
        elif stream:
            tokens, source = self.reasoning_chunks, "stream"
        else:
            tokens, source = None, None
        if stream:
            ttfo = _ms(self.first_output_at, request_at)
            end = self.first_output_at or self.last_chunk_at
            thinking = 0.0 if self.first_reasoning_at is None else _ms(end, self.first_reasoning_at)
        else:
            ttfo = e2e_ms if self.output and not error else None
            thinking = None
        return {
            "reasoning_tokens": tokens,
            "reasoning_tokens_from": source,
            "ttfr_ms": _ms(self.first_reasoning_at, request_at) if stream else None,
            "ttfo_ms": ttfo,
            "thinking_ms": thinking,
            "reasoning_sent_back_chars": self.sent_back_chars,
        }


@dataclass
class TurnThinking:
    """A turn's calls' reasoning, summed as each call's record is emitted."""

    reasoning_tokens: int | None = None  # null when no call's count was known
    thinking_ms: float = 0.0
    thinking_known: bool = True  # False once a call's thinking time could not be timed

    def add(self, call: Mapping[str, Any]) -> None:
        tokens = call.get("reasoning_tokens")
        if tokens is not None:
            self.reasoning_tokens = (self.reasoning_tokens or 0) + tokens
        thinking = call.get("thinking_ms")
        if thinking is None:
            self.thinking_known = False
        else:
            self.thinking_ms += thinking

    def turn_fields(self, latency_ms: float) -> dict[str, Any]:
        """The turn record's reasoning columns: thinking time and its share of the turn."""
        thinking = self.thinking_ms if self.thinking_known else None
        share = thinking / latency_ms if thinking is not None and latency_ms > 0 else None
        return {"reasoning_tokens": self.reasoning_tokens, "thinking_ms": thinking,
                "thinking_share": share}  # fmt: skip
