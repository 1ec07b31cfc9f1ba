"""Tool-call scoring of one turn with ADK's own evaluators, plus finer tool counts.

`TrajectoryEvaluator` (EXACT, IN_ORDER, ANY_ORDER) and `RougeEvaluator` run on the actual and
expected `Invocation`s exactly as `adk eval` runs them, so the numbers are ADK's. The finer counts
(tool-name precision/recall, argument exact match) are ours and documented on `tool_counts`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from google.adk.evaluation.eval_case import Invocation, get_all_tool_calls
from google.adk.evaluation.eval_metrics import EvalMetric, ToolTrajectoryCriterion
from google.adk.evaluation.final_response_match_v1 import RougeEvaluator
from google.adk.evaluation.trajectory_evaluator import TrajectoryEvaluator

from bench.scoring.calls import arg_credit, args_equal, pair_calls
from bench.scoring.unparsed import looks_like_unparsed_call

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


def tool_counts(
    actual: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    known_tools: set[str] | None = None,
) -> dict[str, Any]:
    """Counts for micro-averaged rates over many turns.

    tool_names_matched: size of the multiset intersection of called and expected tool names
    (precision = matched / actual, recall = matched / expected). For argument metrics, expected
    calls are paired with actual calls (`pair_calls`): args_compared counts pairs, args_matched
    the pairs whose arguments are equal, args_partial_sum the per-argument credit of the pairs.
    unknown_tool_calls: calls to a tool the agent does not have; unexpected_call: the turn
    called a tool where none was expected.
    """
    names_matched = sum(
        (Counter(c["name"] for c in actual) & Counter(c["name"] for c in expected)).values()
    )
    pairs = pair_calls(actual, expected)
    return {
        "tool_calls_actual_n": len(actual),
        "tool_calls_expected_n": len(expected),
        "tool_names_matched": names_matched,
        "args_compared": len(pairs),
        "args_matched": sum(1 for a, e in pairs if args_equal(a["args"], e["args"])),
        "args_partial_sum": sum(arg_credit(a["args"], e["args"]) for a, e in pairs),
        "unknown_tool_calls": sum(
            1 for c in actual if known_tools is not None and c["name"] not in known_tools
        ),
        "unexpected_call": bool(actual) and not expected,
    }


class TurnScorer:
    """Scores turns against the eval set's criteria; evaluators are built once."""

    def __init__(
        self,
        criteria: dict[str, Any],
        known_tools: set[str] | None = None,
        tool_parser: str | None = None,
    ):
        self.known_tools = known_tools
        self.tool_parser = tool_parser
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
        actual_calls = calls_of(actual)
        row.update(tool_counts(actual_calls, calls_of(expected), self.known_tools))
        row["unparsed_tool_call"] = not actual_calls and looks_like_unparsed_call(
            _reference_text(actual), self.tool_parser
        )
        return row


def invocation_from_record(data: dict[str, Any] | str) -> Invocation:
    return (
        Invocation.model_validate_json(data)
        if isinstance(data, str)
        else Invocation.model_validate(data)
    )
