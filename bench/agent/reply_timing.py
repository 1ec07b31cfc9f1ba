"""Timing by reply kind, and what the client's own queueing did to it: per LLM call.

A **text reply** and a **tool-call reply** are timed differently by nature: vLLM's tool parsers
stream nothing until they know the tool name, so a tool-call reply's first visible delta (its
TTFT on the wire) comes after the tokens the parser held back, and its TPOT is the mean gap
between its deltas (bench.agent.timed_model). So every call says which it was (`reply_kind`)
and the summary splits TTFT, TPOT and ITL by it (bench.results.reply_kinds).

- `tool_holdback_ms` (parser hold-back): from the first chunk with choices (vLLM sends it, the
  role chunk, with the first generated token) to the first tool-call delta; only for a
  tool-call reply whose first token delta is its tool call (a reply that starts with text
  streams its text meanwhile).
- `itl_gaps_ms`: the gaps between its token chunks (what `itl_*_ms` summarise), kept so the
  summary's ITL percentiles pool every gap of every call, as `vllm bench serve` does.
- `itl_batched_n`: gaps of 0, token chunks that came in the same read as the one before: read
  in a batch, because the reader was late (a busy client) or the server wrote them at once.
- `pull_delay_mean_ms`, `pull_delay_max_ms`: how long body chunks waited between their arrival
  and the agent taking them (bench.agent.wire_arrival); null where chunks are stamped as the
  agent takes them.

Kept apart from the call's other timing so each concern stays in its own function.
"""

from __future__ import annotations

import statistics
from typing import Any, TypedDict

from bench.agent.wire_timing import WireTiming
from bench.schemas.records import TEXT_REPLY, TOOL_CALL_REPLY

GAP_DECIMALS = 2  # itl_gaps_ms kept to 10 microseconds


class ReplyColumns(TypedDict):
    """The last columns of `bench.schemas.records.LlmCallRecord`, in its order."""

    reply_kind: str | None
    tool_holdback_ms: float | None
    itl_gaps_ms: Any
    itl_batched_n: int | None
    pull_delay_mean_ms: float | None
    pull_delay_max_ms: float | None


def reply_kind(tool_reply: bool, replied: bool) -> str | None:
    """ "tool_call" for a reply with a tool call, "text" for any other reply; None for none."""
    if tool_reply:
        return TOOL_CALL_REPLY
    return TEXT_REPLY if replied else None


def tool_holdback_ms(wire: WireTiming, kind: str | None) -> float | None:
    """The parser's hold-back of a tool-call reply, from the stream (see the module docstring)."""
    if kind != TOOL_CALL_REPLY or wire.first_choice_at is None or wire.first_tool_call_at is None:
        return None
    if wire.first_token_at != wire.first_tool_call_at:
        return None  # text came first: the parser was streaming it, not holding anything back
    return (wire.first_tool_call_at - wire.first_choice_at) * 1000.0


def pull_delays_ms(wire: WireTiming) -> tuple[float | None, float | None]:
    """(mean, max) wait of the call's body chunks for the agent; None where not stamped."""
    delays = wire.pull_delays_s
    if not delays:
        return None, None
    return statistics.fmean(delays) * 1000.0, max(delays) * 1000.0


def reply_columns(
    wire: WireTiming | None, kind: str | None, gaps_ms: list[float], stream: bool
) -> ReplyColumns:
    """The per-call columns above. `wire` is None when the wire saw nothing (model-layer
    timing); `gaps_ms` are the gaps the call's ITL figures come from, in order."""
    pull_mean, pull_max = pull_delays_ms(wire) if wire is not None else (None, None)
    return {
        "reply_kind": kind,
        "tool_holdback_ms": tool_holdback_ms(wire, kind) if wire is not None else None,
        "itl_gaps_ms": [round(g, GAP_DECIMALS) for g in gaps_ms] if stream else None,
        "itl_batched_n": sum(1 for g in gaps_ms if g == 0.0) if stream else None,
        "pull_delay_mean_ms": pull_mean,
        "pull_delay_max_ms": pull_max,
    }
