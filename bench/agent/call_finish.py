"""How an LLM call ended, beyond an exception: the failures that raise nothing into ADK.

ADK goes on with what it could make of a reply, so some failures never raise:
- a reply the server ended with finish reason "error" (LiteLLM passes it on as "stop", and as
  "tool_calls" after part of a call): `FinishReasonError`;
- a reply the server finished with "tool_calls" of which no call could be parsed (ADK drops it
  with `error_code` MALFORMED_FUNCTION_CALL): `ToolCallNotParsed`;
- a call still in flight at the cut (the end of the drain) that is older than the request
  timeout: `Timeout` (a stream that trickles tokens never trips the client's read timeout).

`bench.agent.timed_model` records them on the call, and the turn fails with the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.agent.wire_timing import WireTiming

# Failed calls that raise nothing into ADK (ADK goes on with what it could make of the reply).
FINISH_ERROR, NOT_PARSED, CUT_TIMEOUT = "FinishReasonError", "ToolCallNotParsed", "Timeout"


def _code_name(code: Any) -> str | None:
    """ADK's error_code (a google.genai FinishReason, or a provider's string) by name."""
    if code is None:
        return None
    return str(getattr(code, "name", None) or code)


@dataclass
class ReplyFinish:
    """How ADK's reply to one call ended: its tool calls, usage and error verdict."""

    tool_calls_n: int = 0
    usage_prompt: int | None = None
    usage_completion: int | None = None
    error_code: str | None = None
    error_message: str | None = None

    def add(self, response: Any) -> None:
        """A final (not partial) LlmResponse."""
        if response.content and response.content.parts:
            self.tool_calls_n += sum(1 for p in response.content.parts if p.function_call)
        usage = response.usage_metadata
        if usage is not None:
            self.usage_prompt = usage.prompt_token_count
            self.usage_completion = usage.candidates_token_count
        code = _code_name(getattr(response, "error_code", None))
        if code is not None and self.error_code is None:
            self.error_code = code
            self.error_message = (getattr(response, "error_message", None) or "")[:500] or None


def unclean_finish(
    wire: WireTiming, litellm_finish: str | None, finish: ReplyFinish
) -> tuple[str, str] | None:
    """A reply that ended as a failure though nothing raised: (error type, message), or None.
    The finish reason is the server's (on the wire); without the wire, the one LiteLLM passed
    on (where an "error" reads "stop")."""
    reason = wire.finish_reason if wire.replied else litellm_finish
    if reason == "error":
        return FINISH_ERROR, 'the server ended the reply with finish_reason "error"'
    if reason == "tool_calls" and finish.tool_calls_n == 0:
        verdict = f" (ADK {finish.error_code}: {finish.error_message})" if finish.error_code else ""
        return (
            NOT_PARSED,
            f"the server finished with tool_calls, but no call could be parsed{verdict}",
        )
    return None


def timeout_at_cut(age_ms: float, limit_s: float | None) -> tuple[str, str] | None:
    """A call cut at the end of the drain: a failure when older than the request timeout."""
    if limit_s is None or age_ms <= limit_s * 1000.0:
        return None
    return CUT_TIMEOUT, (
        f"still in flight at the end of the drain after {age_ms / 1000:.1f} s, past the "
        f"request timeout of {limit_s:g} s"
    )
