"""Case pass by ADK's rule: every metric of the criteria; not-evaluated metrics do not count."""

from __future__ import annotations

from google.adk.evaluation.evaluator import EvalStatus

from bench.scoring.case_pass import CaseVerdict, final_status

P, F, N = EvalStatus.PASSED, EvalStatus.FAILED, EvalStatus.NOT_EVALUATED


def _turn(actual_text: str, expected_text: str | None, call_ok: bool = True, **extra) -> dict:
    def inv(text: str | None, city: str) -> dict:
        return {
            "invocation_id": "i",
            "user_content": {"role": "user", "parts": [{"text": "weather?"}]},
            "final_response": {"role": "model", "parts": [{"text": text}]} if text else None,
            "intermediate_data": {"tool_uses": [{"name": "get_weather", "args": {"city": city}}]},
        }

    return {
        "actual_invocation": inv(actual_text, "Paris" if call_ok else "Rome"),
        "expected_invocation": inv(expected_text, "Paris"),
        **extra,
    }


def test_final_status_follows_adks_local_eval_service():
    assert final_status([P, P]) == P
    assert final_status([P, F]) == F and final_status([F, N]) == F
    assert final_status([P, N]) == P  # a metric that produced nothing does not count
    assert final_status([N, N]) == N and final_status([]) == N


def test_every_metric_of_the_criteria_must_pass():
    verdict = CaseVerdict({"tool_trajectory_avg_score": 1.0, "response_match_score": 1.0})
    assert verdict.passed([_turn("sunny in Paris", "sunny in Paris")]) is True
    assert verdict.passed([_turn("it is sunny", "sunny in Paris")]) is False  # words
    assert verdict.passed([_turn("sunny in Paris", "sunny in Paris", call_ok=False)]) is False
    # the mean over the session's invocations meets the threshold, as in ADK
    lenient = CaseVerdict({"tool_trajectory_avg_score": 0.5})
    two = [_turn("a", "a"), _turn("a", "a", call_ok=False)]
    assert (
        lenient.passed(two) is True
        and CaseVerdict({"tool_trajectory_avg_score": 0.6}).passed(two) is False
    )


def test_metrics_bench_cannot_compute_are_not_evaluated():
    verdict = CaseVerdict({"tool_trajectory_avg_score": 1.0, "safety_v1": 0.8})
    assert verdict.not_evaluated == ["safety_v1"]
    assert verdict.passed([_turn("x", "y")]) is True  # safety skipped, trajectory passes
    only = CaseVerdict({"hallucinations_v1": 0.8})
    assert only.passed([_turn("x", "y")]) is None  # nothing evaluated: no verdict


def test_judge_metrics_count_only_when_the_judge_ran():
    criteria = {"tool_trajectory_avg_score": 1.0, "final_response_match_v2": 0.7}
    assert CaseVerdict(criteria).not_evaluated == ["final_response_match_v2"]
    judged = CaseVerdict(criteria, judged=True)
    assert judged.passed([_turn("a", "a", judge_final_response_match=1.0)]) is True
    assert judged.passed([_turn("a", "a", judge_final_response_match=0.5)]) is False  # < 0.7
    # a judge answer that could not be read: not evaluated, the trajectory decides
    assert judged.passed([_turn("a", "a", judge_final_response_match=None)]) is True


def test_no_criteria_means_adks_defaults():
    verdict = CaseVerdict({})
    assert set(verdict.metrics) == {"tool_trajectory_avg_score", "response_match_score"}
    assert verdict.passed([_turn("totally different words", "sunny in Paris")]) is False


def test_scenario_turns_have_no_trajectory_verdict_but_a_rubric_one():
    """A user-simulator turn has no expected invocation: ADK's trajectory and ROUGE evaluators
    cannot run (NOT_EVALUATED, never 0); the rubric judge, which needs no reference, decides."""
    criteria = {
        "tool_trajectory_avg_score": 1.0,
        "response_match_score": 0.8,
        "rubric_based_final_response_quality_v1": {
            "threshold": 0.5,
            "rubrics": [{"rubric_id": "r", "rubric_content": {"text_property": "answers"}}],
        },
    }
    scenario = [dict(_turn("sunny", None), expected_invocation=None)]
    assert CaseVerdict(criteria).statuses(scenario) == {
        "tool_trajectory_avg_score": N,
        "response_match_score": N,
    }
    assert CaseVerdict(criteria).passed(scenario) is None  # unscored, not failed
    judged = CaseVerdict(criteria, judged=True)
    assert judged.passed([dict(scenario[0], judge_rubric_score=1.0)]) is True
    assert judged.passed([dict(scenario[0], judge_rubric_score=0.0)]) is False
