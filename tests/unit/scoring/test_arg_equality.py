"""Arguments compare by value, as ADK's TrajectoryEvaluator compares them (`args == args`).

Each case is checked against ADK itself: the same calls go through ADK's EXACT trajectory
evaluator, and every bench figure that says "arguments match" must agree with it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.adk.evaluation.eval_case import IntermediateData, Invocation
from google.genai import types

from bench.scoring.breakdown import tool_table
from bench.scoring.calls import args_equal
from bench.scoring.reliability import case_table
from bench.scoring.tally import AccuracyBoard, tally_turn
from bench.scoring.trajectory import TurnScorer, arg_credit, tool_counts

CASES = [
    ({"n": 5}, {"n": 5.0}, True),
    ({"a": [1, 2]}, {"a": [1.0, 2.0]}, True),
    ({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1.0, {"c": 2.0}]}}, True),
    ({"n": "5"}, {"n": 5}, False),
    ({"a": [1, 2]}, {"a": [2, 1]}, False),
    ({"n": 5.5}, {"n": 5}, False),
]


def _invocation(args: dict[str, Any]) -> Invocation:
    return Invocation(
        user_content=types.Content(role="user", parts=[types.Part(text="q")]),
        intermediate_data=IntermediateData(
            tool_uses=[types.FunctionCall(name="convert", args=args)]
        ),
    )


def _adk_says(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    row = TurnScorer({}).score(_invocation(actual), _invocation(expected))
    return row["trajectory_exact"] == 1.0


@pytest.mark.parametrize(("actual", "expected", "equal"), CASES)
def test_argument_match_is_by_value_like_adk(actual, expected, equal):
    assert _adk_says(actual, expected) is equal  # the truth: ADK's own evaluator
    assert args_equal(actual, expected) is equal
    calls_a, calls_e = (
        [{"name": "convert", "args": actual}],
        [{"name": "convert", "args": expected}],
    )
    counts = tool_counts(calls_a, calls_e)
    assert counts["args_matched"] == int(equal)
    assert counts["args_partial_sum"] == float(equal)
    assert arg_credit(actual, expected) == float(equal)
    [row] = tool_table([{"tool_calls": json.dumps(calls_a), "expected_tool_calls": calls_e}], None)
    assert row["arg_exact_match_rate"] == float(equal)
    assert tally_turn(calls_a, calls_e)["convert"].exact == int(equal)
    board = AccuracyBoard()
    board.add_turn("case", json.dumps(calls_a), calls_e)
    assert board.by_case["case"].exact_turns == int(equal)


def test_missing_arguments_equal_empty_ones():
    assert args_equal(None, {}) and args_equal({}, None) and not args_equal(None, {"a": 1})


def test_trials_calling_5_and_5_0_follow_one_trajectory():
    sessions = [{"session_id": f"s{i}", "case_id": "c", "case_passed": True} for i in range(2)]
    turns = [
        {"session_id": f"s{i}", "invocation_index": 0,
         "tool_calls": [{"name": "convert", "args": {"n": n, "to": [1, 2.0]}}]}
        for i, n in enumerate((5, 5.0))
    ]  # fmt: skip
    [row] = case_table(sessions, turns, k=2)
    assert row["trajectory_variants"] == 1 and not row["trajectory_differs"]
