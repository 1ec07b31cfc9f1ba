"""Metrics by turn index: how latency, prompt size and prefix-cache reuse change as a session
grows (`by_turn_index.parquet`, one row per turn index of one load step).

Turn index = the turn's place in its eval case, 1-based. TTFT is also split by reply kind
(text, tool call: bench.results.reply_kinds). Every measured call of a turn counts
in `llm_calls`; latency, the cached fraction and tool accuracy use the completed ones (no error,
not incomplete: `bench.scoring.outcome.is_ok`), as the summary does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.results.kv_reuse import cached_fraction
from bench.results.reply_kinds import KIND_COLUMNS
from bench.results.reasoning import thinking_share
from bench.results.summary import mean, percentile
from bench.scoring.outcome import is_ok


def _ttft_by_kind(ok_calls: list[dict[str, Any]]) -> dict[str, float | None]:
    """TTFT p50/p90 of text replies and of tool-call replies (bench.results.reply_kinds)."""
    row: dict[str, float | None] = {}
    for kind, infix in KIND_COLUMNS.items():
        ttfts = [c.get("ttft_ms") for c in ok_calls if c.get("reply_kind") == kind]
        row[f"ttft_{infix}_p50_ms"] = percentile(ttfts, 50)
        row[f"ttft_{infix}_p90_ms"] = percentile(ttfts, 90)
    return row


def by_turn_index(
    calls: list[dict[str, Any]], turns: list[dict[str, Any]], step: int
) -> list[dict[str, Any]]:
    """Rows for the measured turns and calls of one step (warm-up already left out)."""
    index_of = {t["turn_id"]: t.get("invocation_index") for t in turns}
    turns_at: dict[int, list[dict[str, Any]]] = defaultdict(list)
    calls_at: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for turn in turns:
        if turn.get("invocation_index") is not None:
            turns_at[turn["invocation_index"] + 1].append(turn)
    for call in calls:
        invocation = index_of.get(call.get("turn_id"))
        if invocation is not None:
            calls_at[invocation + 1].append(call)
    rows = []
    for index in sorted(set(turns_at) | set(calls_at)):
        mine_turns, mine_calls = turns_at[index], calls_at[index]
        ok_calls = [c for c in mine_calls if is_ok(c)]
        ok_turns = [t for t in mine_turns if is_ok(t)]
        rows.append(
            {
                "step": step,
                "turn_index": index,
                "turns": len(mine_turns),
                "llm_calls": len(mine_calls),
                "prompt_tokens_p50": percentile([c.get("prompt_tokens") for c in ok_calls], 50),
                "cached_fraction": cached_fraction(ok_calls),
                "ttft_p50_ms": percentile([c.get("ttft_ms") for c in ok_calls], 50),
                "ttft_p90_ms": percentile([c.get("ttft_ms") for c in ok_calls], 90),
                **_ttft_by_kind(ok_calls),
                "llm_e2e_p50_ms": percentile([c.get("e2e_ms") for c in ok_calls], 50),
                "turn_p50_ms": percentile([t.get("latency_ms") for t in ok_turns], 50),
                "turn_p90_ms": percentile([t.get("latency_ms") for t in ok_turns], 90),
                "tool_trajectory_exact": mean([t.get("trajectory_exact") for t in ok_turns]),
                "reasoning_tokens_mean": mean([t.get("reasoning_tokens") for t in ok_turns]),
                "ttfo_p50_ms": percentile([c.get("ttfo_ms") for c in ok_calls], 50),
                "thinking_share": thinking_share(ok_turns),
                "reasoning_sent_back_chars_mean": mean(
                    [c.get("reasoning_sent_back_chars") for c in ok_calls]
                ),
            }
        )
    return rows
