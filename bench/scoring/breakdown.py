"""Tool metrics broken down per tool and per case, from scored turn records."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from bench.scoring.calls import arg_credit, args_equal, pair_calls


def _calls(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or [])


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def tool_table(turns: list[dict[str, Any]], known_tools: set[str] | None) -> list[dict[str, Any]]:
    stats: dict[str, Counter] = defaultdict(Counter)
    partial: dict[str, float] = defaultdict(float)
    for turn in turns:
        actual, expected = _calls(turn.get("tool_calls")), _calls(turn.get("expected_tool_calls"))
        made, wanted = Counter(c["name"] for c in actual), Counter(c["name"] for c in expected)
        for name in set(made) | set(wanted):
            stats[name]["calls_made"] += made[name]
            stats[name]["calls_expected"] += wanted[name]
            stats[name]["names_matched"] += min(made[name], wanted[name])
        for act, exp in pair_calls(actual, expected):
            stats[exp["name"]]["args_compared"] += 1
            stats[exp["name"]]["args_matched"] += int(args_equal(act["args"], exp["args"]))
            partial[exp["name"]] += arg_credit(act["args"], exp["args"])
    rows = []
    for name, s in sorted(stats.items()):
        rows.append(
            {
                "tool": name,
                "calls_expected": s["calls_expected"],
                "calls_made": s["calls_made"],
                "names_matched": s["names_matched"],
                "precision": _ratio(s["names_matched"], s["calls_made"]),
                "recall": _ratio(s["names_matched"], s["calls_expected"]),
                "args_compared": s["args_compared"],
                "arg_exact_match_rate": _ratio(s["args_matched"], s["args_compared"]),
                "arg_partial_credit": _ratio(partial[name], s["args_compared"]),
                "unknown": known_tools is not None and name not in known_tools,
            }
        )
    return rows


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
