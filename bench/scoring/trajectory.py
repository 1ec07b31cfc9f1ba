"""Tool-call scoring of one turn with ADK's own evaluators, plus finer tool counts.

`TrajectoryEvaluator` (EXACT, IN_ORDER, ANY_ORDER) and `RougeEvaluator` run on the actual and
expected `Invocation`s exactly as `adk eval` runs them, so the numbers are ADK's. The finer counts
(tool-name precision/recall, argument exact match) are ours and documented on `tool_counts`.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from google.adk.evaluation.eval_case import Invocation, get_all_tool_calls
from google.adk.evaluation.eval_metrics import EvalMetric, ToolTrajectoryCriterion
from google.adk.evaluation.final_response_match_v1 import RougeEvaluator
from google.adk.evaluation.trajectory_evaluator import TrajectoryEvaluator

MATCH_TYPES = ("EXACT", "IN_ORDER", "ANY_ORDER")
TRAJECTORY_METRIC = "tool_trajectory_avg_score"
RESPONSE_METRIC = "response_match_score"


def trajectory_criterion(criteria: dict[str, Any]) -> ToolTrajectoryCriterion:
    """The eval set's trajectory criterion (a bare threshold means EXACT, as in ADK)."""
    raw = criteria.get(TRAJECTORY_METRIC, 1.0)
    if isinstance(raw, dict):
        return ToolTrajectoryCriterion.model_validate(raw)
    return ToolTrajectoryCriterion(threshold=float(raw))


def response_threshold(criteria: dict[str, Any]) -> float | None:
    raw = criteria.get(RESPONSE_METRIC)
    if raw is None:
        return None
    return float(raw["threshold"]) if isinstance(raw, dict) else float(raw)


def _trajectory_evaluator(match_type: str, ignore_args: bool = False) -> TrajectoryEvaluator:
    criterion = ToolTrajectoryCriterion(
        threshold=1.0,
        match_type=ToolTrajectoryCriterion.MatchType[match_type],
        ignore_args=ignore_args,
    )
    return TrajectoryEvaluator(
        eval_metric=EvalMetric(metric_name=TRAJECTORY_METRIC, criterion=criterion)
    )


def _reference_text(invocation: Invocation) -> str | None:
    content = invocation.final_response
    if content is None or not content.parts:
        return None
    text = "".join(p.text or "" for p in content.parts)
    return text or None


def calls_of(invocation: Invocation) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "args": dict(c.args or {})}
        for c in get_all_tool_calls(invocation.intermediate_data)
    ]


def tool_counts(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> dict[str, int]:
    """Counts for micro-averaged rates over many turns.

    tool_names_matched: size of the multiset intersection of called and expected tool names
    (precision = matched / actual, recall = matched / expected). For argument exact match,
    expected calls are paired in order with the first unused actual call of the same name;
    args_compared counts pairs, args_matched the pairs whose arguments are equal.
    """
    names_matched = sum(
        (Counter(c["name"] for c in actual) & Counter(c["name"] for c in expected)).values()
    )
    used: set[int] = set()
    compared = matched = 0
    for exp in expected:
        for i, act in enumerate(actual):
            if i not in used and act["name"] == exp["name"]:
                used.add(i)
                compared += 1
                matched += int(_canonical(act["args"]) == _canonical(exp["args"]))
                break
    return {
        "tool_calls_actual_n": len(actual),
        "tool_calls_expected_n": len(expected),
        "tool_names_matched": names_matched,
        "args_compared": compared,
        "args_matched": matched,
    }


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class TurnScorer:
    """Scores turns against the eval set's criteria; evaluators are built once."""

    def __init__(self, criteria: dict[str, Any]):
        self.criterion = trajectory_criterion(criteria)
        self.match_type = self.criterion.match_type.name
        self.response_threshold = response_threshold(criteria)
        self._trajectory = {
            m: _trajectory_evaluator(m, self.criterion.ignore_args) for m in MATCH_TYPES
        }
        self._rouge = RougeEvaluator(
            EvalMetric(metric_name=RESPONSE_METRIC, threshold=self.response_threshold or 0.8)
        )

    def score(self, actual: Invocation, expected: Invocation) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for match_type, evaluator in self._trajectory.items():
            result = evaluator.evaluate_invocations([actual], [expected])
            row[f"trajectory_{match_type.lower()}"] = result.per_invocation_results[0].score
        row["trajectory_score"] = row[f"trajectory_{self.match_type.lower()}"]
        row["response_match"] = None
        if _reference_text(expected) is not None:
            result = self._rouge.evaluate_invocations([actual], [expected])
            row["response_match"] = result.per_invocation_results[0].score
        row.update(tool_counts(calls_of(actual), calls_of(expected)))
        return row


def invocation_from_record(data: dict[str, Any] | str) -> Invocation:
    return (
        Invocation.model_validate_json(data)
        if isinstance(data, str)
        else Invocation.model_validate(data)
    )
