"""Tool calls compared: how expected calls pair with actual ones, and argument equality.

Pure Python (no ADK import), shared by scoring, the per-tool tables, and the live web UI.
"""

from __future__ import annotations

import json
from typing import Any


def canonical(value: Any) -> str:
    """A comparable form of arguments: key order and formatting do not matter."""
    return json.dumps(value if value is not None else {}, sort_keys=True, default=str)


def pair_calls(
    actual: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> list[tuple[dict, dict]]:
    """Each expected call paired, in order, with the first unused actual call of the same name."""
    used: set[int] = set()
    pairs = []
    for exp in expected:
        for i, act in enumerate(actual):
            if i not in used and act.get("name") == exp.get("name"):
                used.add(i)
                pairs.append((act, exp))
                break
    return pairs


def arg_credit(actual_args: dict[str, Any], expected_args: dict[str, Any]) -> float:
    """Per-argument partial credit: the share of expected arguments given with the expected value."""
    if not expected_args:
        return 1.0 if not actual_args else 0.0
    hits = sum(
        1
        for k, v in expected_args.items()
        if k in actual_args and canonical(actual_args[k]) == canonical(v)
    )
    return hits / len(expected_args)
