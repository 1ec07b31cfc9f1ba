"""Tool calls compared: how expected calls pair with actual ones, and argument equality.

Pure Python (no ADK import), shared by scoring, the per-tool tables, and the live web UI.
"""

from __future__ import annotations

from typing import Any


def args_equal(actual: Any, expected: Any) -> bool:
    """Arguments equal by value, as ADK's TrajectoryEvaluator compares them (`args == args`):
    5 == 5.0, nested lists and dicts compare element by element, key order does not matter,
    "5" != 5. Missing arguments equal empty ones."""
    return bool(
        (actual if actual is not None else {}) == (expected if expected is not None else {})
    )


def by_value(value: Any) -> Any:
    """A form where values ADK counts equal are identical (integral floats as ints), for hashing
    and JSON keys: `json.dumps(by_value(x), sort_keys=True)` is one key per equal value."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: by_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [by_value(v) for v in value]
    return value


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
    hits = sum(1 for k, v in expected_args.items() if k in actual_args and actual_args[k] == v)
    return hits / len(expected_args)
