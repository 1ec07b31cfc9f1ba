"""Tool metrics broken down per tool and per case, from scored turn records.

Per-tool counts come from the one counter, `bench.scoring.tally`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from bench.scoring.tally import board_from_turns


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def tool_table(turns: list[dict[str, Any]], known_tools: set[str] | None) -> list[dict[str, Any]]:
    """One row per tool named in an expected or an actual call (warm-up turns excluded)."""
    board = board_from_turns(turns)
    return [
        {
            "tool": name,
            "calls_expected": t.expected,
            "calls_made": t.called,
            "names_matched": t.matched,
            "precision": _ratio(t.matched, t.called),
            "recall": _ratio(t.matched, t.expected),
            "args_compared": t.matched,
            "arg_exact_match_rate": _ratio(t.exact, t.matched),
            "arg_partial_credit": _ratio(t.partial, t.matched),
            "unknown": known_tools is not None and name not in known_tools,
        }
        for name, t in sorted(board.by_tool.items())
    ]


def case_tool_columns(turns: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per case: turns, unparsed / unknown / unexpected counts, argument rates."""
    out: dict[str, Counter] = defaultdict(Counter)
    partial: dict[str, float] = defaultdict(float)
    for t in turns:
        c = out[t["case_id"]]
        c["turns"] += 1
        c["unparsed_tool_calls"] += int(bool(t.get("unparsed_tool_call")))
        c["unknown_tool_calls"] += t.get("unknown_tool_calls") or 0
        c["unexpected_calls"] += int(bool(t.get("unexpected_call")))
        c["args_compared"] += t.get("args_compared") or 0
        c["args_matched"] += t.get("args_matched") or 0
        partial[t["case_id"]] += t.get("args_partial_sum") or 0.0
    return {
        case: {
            "turns": c["turns"],
            "unparsed_tool_calls": c["unparsed_tool_calls"],
            "unknown_tool_calls": c["unknown_tool_calls"],
            "unexpected_calls": c["unexpected_calls"],
            "arg_exact_match_rate": _ratio(c["args_matched"], c["args_compared"]),
            "arg_partial_credit": _ratio(partial[case], c["args_compared"]),
        }
        for case, c in out.items()
    }
