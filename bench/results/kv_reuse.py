"""Prefix-cache reuse per LLM call, by where in the session the call's prompt comes from.

An agent session is a growing prompt: each call resends the history. Which part of it the
engine can serve from its prefix cache depends on the call's place in the session:

- ``session_start``: the first call of the session's first turn. Only what every session shares
  (system prompt, tool declarations) can be cached, from other sessions.
- ``across_turns``: the first call of a later turn. The previous turn's prompt and answer are a
  prefix of it, if they are still in the cache after the user's think time.
- ``within_turn``: a later call of the same turn (the tool loop). The previous call's prompt
  was sent milliseconds ago; only the tool call and its result are new.

`cached_tokens` is vLLM's `usage.prompt_tokens_details.cached_tokens` (served with
`--enable-prompt-tokens-details`). A server that does not report it leaves the column null;
the summary then says `cached_tokens_reported` False and leaves the fractions null.
"""

from __future__ import annotations

from typing import Any

CALL_CLASSES = ("session_start", "across_turns", "within_turn")


def call_class(call_index: int | None, invocation_index: int | None) -> str | None:
    if call_index is None or invocation_index is None:
        return None
    if call_index > 0:
        return "within_turn"
    return "session_start" if invocation_index == 0 else "across_turns"


def classify_calls(calls: list[dict[str, Any]], turns: list[dict[str, Any]]) -> None:
    """Add `invocation_index` and `call_class` to each call (in place), joined on turn_id."""
    index_of = {t["turn_id"]: t.get("invocation_index") for t in turns}
    for call in calls:
        invocation = index_of.get(call.get("turn_id"))
        call["invocation_index"] = invocation
        call["call_class"] = call_class(call.get("call_index"), invocation)


def cached_fraction(calls: list[dict[str, Any]]) -> float | None:
    """Cached / prompt tokens over the calls that report both (None when none does)."""
    reported = [
        c for c in calls if c.get("cached_tokens") is not None and c.get("prompt_tokens")
    ]
    prompt = sum(c["prompt_tokens"] for c in reported)
    return sum(c["cached_tokens"] for c in reported) / prompt if prompt else None


def kv_reuse_summary(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Summary columns: per class, calls, prompt tokens, cached tokens, cached fraction.

    `calls` are the measured, error-free calls, already classified.
    """
    reported = any(c.get("cached_tokens") is not None for c in calls)
    row: dict[str, Any] = {"cached_tokens_reported": reported if calls else None}
    for name in CALL_CLASSES:
        mine = [c for c in calls if c.get("call_class") == name]
        prompt = sum(c.get("prompt_tokens") or 0 for c in mine)
        cached = [c["cached_tokens"] for c in mine if c.get("cached_tokens") is not None]
        row[f"kv_{name}_calls"] = len(mine)
        row[f"kv_{name}_prompt_tokens"] = prompt
        row[f"kv_{name}_cached_tokens"] = sum(cached) if reported else None
        row[f"kv_{name}_cached_fraction"] = cached_fraction(mine) if reported else None
    return row


def kv_reuse_text(summary: dict[str, Any]) -> str | None:
    """The summary line's value: cached fractions start / across / within, or why there are none."""
    if summary.get("cached_tokens_reported") is None:
        return None
    if not summary["cached_tokens_reported"]:
        return "not reported by the server"
    parts = []
    for name in CALL_CLASSES:
        value = summary.get(f"kv_{name}_cached_fraction")
        parts.append("-" if value is None else f"{value:.3f}")
    return " / ".join(parts)
