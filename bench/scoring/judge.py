"""Judge metrics (off by default): ADK's own LLM-as-judge evaluators with a judge served by vLLM.

`final_response_match_v2` always; `rubric_based_final_response_quality_v1` when the eval set's
criteria define rubrics. ADK resolves the judge by model name through its LLM registry, so bench
registers `JudgeLiteLlm` for names `bench-judge/<served-name>`: LiteLLM `hosted_vllm/<served-name>`
at the judge's URL, with its key taken from the environment (never from a file).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import Any

from google.adk.evaluation.eval_case import Invocation
from google.adk.evaluation.eval_metrics import (
    EvalMetric,
    JudgeModelOptions,
    LlmAsAJudgeCriterion,
    RubricsBasedCriterion,
)
from google.adk.models.lite_llm import LiteLlm
from google.adk.models.registry import LLMRegistry

from bench.schemas.settings import JUDGE_API_BASE_ENV, JUDGE_API_KEY_ENV

JUDGE_PREFIX = "bench-judge/"
FINAL_RESPONSE_MATCH_V2 = "final_response_match_v2"
RUBRIC_METRIC = "rubric_based_final_response_quality_v1"
# the turns' column holding each judge metric's score
JUDGE_COLUMNS = {
    FINAL_RESPONSE_MATCH_V2: "judge_final_response_match",
    RUBRIC_METRIC: "judge_rubric_score",
}


class JudgeLiteLlm(LiteLlm):
    """`bench-judge/<served>` -> LiteLLM hosted_vllm at BENCH_JUDGE_API_BASE."""

    def __init__(self, model: str, **kwargs: Any):
        served = model.removeprefix(JUDGE_PREFIX)
        super().__init__(
            model=f"hosted_vllm/{served}",
            api_base=os.environ[JUDGE_API_BASE_ENV],
            api_key=os.environ.get(JUDGE_API_KEY_ENV) or "none",
            **kwargs,
        )

    async def generate_content_async(self, llm_request: Any, stream: bool = False) -> Any:
        # ADK's judge puts its own model name (bench-judge/...) on the request; LiteLLM must
        # see the hosted_vllm/ name instead.
        llm_request.model = self.model
        async for response in super().generate_content_async(llm_request, stream=stream):
            yield response

    @classmethod
    def supported_models(cls) -> list[str]:
        return [JUDGE_PREFIX.replace("/", r"\/") + ".*"]


def _evaluators(served_name: str, criteria: dict[str, Any], num_samples: int) -> dict[str, Any]:
    from google.adk.evaluation.final_response_match_v2 import FinalResponseMatchV2Evaluator
    from google.adk.evaluation.rubric_based_final_response_quality_v1 import (
        RubricBasedFinalResponseQualityV1Evaluator,
    )

    warnings.filterwarnings("ignore", message=r"\[EXPERIMENTAL\]")  # ADK marks its judges so
    LLMRegistry.register(JudgeLiteLlm)
    options = JudgeModelOptions(judge_model=JUDGE_PREFIX + served_name, num_samples=num_samples)
    evaluators: dict[str, Any] = {
        FINAL_RESPONSE_MATCH_V2: FinalResponseMatchV2Evaluator(
            EvalMetric(
                metric_name=FINAL_RESPONSE_MATCH_V2,
                threshold=0.5,
                criterion=LlmAsAJudgeCriterion(threshold=0.5, judge_model_options=options),
            )
        )
    }
    rubric = criteria.get(RUBRIC_METRIC)
    if isinstance(rubric, dict) and rubric.get("rubrics"):
        criterion = RubricsBasedCriterion.model_validate(
            {**rubric, "judge_model_options": options.model_dump()}
        )
        evaluators[RUBRIC_METRIC] = RubricBasedFinalResponseQualityV1Evaluator(
            EvalMetric(
                metric_name=RUBRIC_METRIC, threshold=criterion.threshold, criterion=criterion
            )
        )
    return evaluators


async def judge_turns(
    turns: Iterable[dict[str, Any]],
    *,
    served_name: str,
    criteria: dict[str, Any],
    num_samples: int = 1,
) -> list[dict[str, Any]]:
    """One record per judged turn and metric: turn_id, metric, score (None when the judge's
    answer could not be read), judge_model."""
    evaluators = _evaluators(served_name, criteria, num_samples)
    records = []
    for turn in turns:
        if not turn.get("actual_invocation"):
            continue
        actual = Invocation.model_validate(turn["actual_invocation"])
        # a scenario turn (user simulator) has no expected invocation: only the rubric metric,
        # which ADK allows without a reference, applies to it
        expected = (
            Invocation.model_validate(turn["expected_invocation"])
            if turn.get("expected_invocation")
            else None
        )
        if expected is not None and expected.final_response is None:
            continue  # nothing to compare with
        for metric, evaluator in evaluators.items():
            if expected is None and metric != RUBRIC_METRIC:
                continue
            result = await evaluator.evaluate_invocations(
                [actual], [expected] if expected is not None else None
            )
            per = result.per_invocation_results
            records.append(
                {
                    "turn_id": turn["turn_id"],
                    "metric": metric,
                    "score": per[0].score if per else None,
                    "judge_model": served_name,
                }  # fmt: skip
            )
    return records
