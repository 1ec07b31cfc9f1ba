"""Whether a session passed its eval case, by ADK's rule: every metric in the criteria must pass.

ADK's local eval service (what `adk eval` reports per case) runs each metric of the eval config
over the case's invocations; a metric passes when its overall score (the mean over invocations)
meets its threshold. The case FAILS when any metric fails, PASSES when at least one passes and
none fails; metrics that produced no score are NOT_EVALUATED and do not count either way
(`LocalEvalService._generate_final_eval_status`). Bench does the same per session (one session is
one run of its case), with ADK's own evaluators on the session's recorded invocations:

- tool_trajectory_avg_score: ADK's TrajectoryEvaluator (match type and threshold from criteria);
- response_match_score: ADK's RougeEvaluator (an invocation without a reference scores 0, as
  in ADK);
- final_response_match_v2, rubric_based_final_response_quality_v1: the judge's per-turn scores
  when `--judge` ran, mean against the criteria's threshold; not evaluated otherwise;
- any other metric (safety, hallucinations, Vertex AI ones): not evaluated, listed in
  `not_evaluated`.

A scenario session (`conversation_scenario`, played with ADK's user simulator) has no expected
invocations: trajectory and response match are not evaluated there, as ADK's eval service
marks them; the rubric judge metric still applies.

A session whose metrics were all not evaluated has no verdict (None); a session cut short by a
failed turn is a failure (`bench.scoring.outcome`).
"""

from __future__ import annotations

from typing import Any

from google.adk.evaluation.eval_config import (
    EvalConfig,
    get_eval_metrics_from_config,
    get_evaluation_criteria_or_default,
)
from google.adk.evaluation.eval_metrics import EvalMetric
from google.adk.evaluation.evaluator import EvalStatus
from google.adk.evaluation.final_response_match_v1 import RougeEvaluator
from google.adk.evaluation.trajectory_evaluator import TrajectoryEvaluator

from bench.scoring.judge import JUDGE_COLUMNS
from bench.scoring.trajectory import RESPONSE_METRIC, TRAJECTORY_METRIC, invocation_from_record


def final_status(statuses: list[EvalStatus]) -> EvalStatus:
    """ADK's combination of metric statuses into a case status (LocalEvalService)."""
    final = EvalStatus.NOT_EVALUATED
    for status in statuses:
        if status == EvalStatus.FAILED:
            return EvalStatus.FAILED
        if status == EvalStatus.PASSED:
            final = EvalStatus.PASSED
    return final


def _threshold(metric: EvalMetric) -> float:
    if metric.criterion is not None and metric.criterion.threshold is not None:
        return float(metric.criterion.threshold)
    return float(metric.threshold or 0.0)


class CaseVerdict:
    """The metrics of one eval set's criteria, each evaluated over a session's invocations."""

    def __init__(self, criteria: dict[str, Any], judged: bool = False):
        config = (
            EvalConfig.model_validate({"criteria": criteria})
            if criteria
            else get_evaluation_criteria_or_default(None)  # ADK's defaults, as `adk eval`
        )
        configured = [
            m for m in get_eval_metrics_from_config(config) if m.metric_name in config.criteria
        ]
        self.local: dict[str, TrajectoryEvaluator | RougeEvaluator] = {}
        self.judge: dict[str, tuple[str, float]] = {}
        self.not_evaluated: list[str] = []
        for metric in configured:
            name = metric.metric_name
            if name == TRAJECTORY_METRIC:
                self.local[name] = TrajectoryEvaluator(eval_metric=metric)
            elif name == RESPONSE_METRIC:
                self.local[name] = RougeEvaluator(metric)
            elif name in JUDGE_COLUMNS and judged:
                self.judge[name] = (JUDGE_COLUMNS[name], _threshold(metric))
            else:
                self.not_evaluated.append(name)
        self.metrics = [*self.local, *self.judge]

    def statuses(self, turns: list[dict[str, Any]]) -> dict[str, EvalStatus]:
        """Each evaluated metric's status over the session's turns (in invocation order)."""
        actual = [invocation_from_record(t["actual_invocation"]) for t in turns]
        if any(t.get("expected_invocation") is None for t in turns):
            # a scenario session (user simulator): trajectory and ROUGE need an expected
            # invocation, which ADK's evaluators refuse to go without: not evaluated
            out = dict.fromkeys(self.local, EvalStatus.NOT_EVALUATED)
        else:
            expected = [invocation_from_record(t["expected_invocation"]) for t in turns]
            out = {
                name: evaluator.evaluate_invocations(actual, expected).overall_eval_status
                for name, evaluator in self.local.items()
            }
        for name, (column, threshold) in self.judge.items():
            scores = [t[column] for t in turns if t.get(column) is not None]
            mean = sum(scores) / len(scores) if scores else None
            out[name] = (
                EvalStatus.NOT_EVALUATED
                if mean is None
                else EvalStatus.PASSED
                if mean >= threshold
                else EvalStatus.FAILED
            )
        return out

    def passed(self, turns: list[dict[str, Any]]) -> bool | None:
        """True/False as ADK would mark the case; None when no metric could be evaluated."""
        status = final_status(list(self.statuses(turns).values()))
        return None if status == EvalStatus.NOT_EVALUATED else status == EvalStatus.PASSED
