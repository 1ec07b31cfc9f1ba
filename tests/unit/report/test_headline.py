"""The report's headline: each figure in words with units from the summary it is given, each
definition the words of docs/metrics.md."""

from __future__ import annotations

import re

from bench.constants import REPO_ROOT
from bench.report.headline import FIGURES, PERCENTILE_NOTE

SUMMARY = {
    "task_success_rate": 0.75, "sessions_passed": 6, "sessions_cut_short": 2,
    "sessions_incomplete": 1, "task_success_bound": 0.6667, "sessions_undecided_share": 0.1111, "tool_accuracy": 0.5, "trajectory_match_type": "IN_ORDER",
    "sessions_per_s": 1.5, "turns_per_s": 3.0, "llm_calls_per_s": 6.25,
    "output_tokens_per_s": 1234.5, "errors": 2, "turns": 21, "turns_incomplete": 1,
    "error_rate": 0.1, "failed_sessions_per_s": 0.2, "failed_turns_per_s": 0.2,
    "failed_llm_calls_per_s": 0.4, "ttft_p50_ms": 42.0, "ttft_p90_ms": 180.0,
    "ttft_p99_ms": None, "ttft_p99_ms_bound": "≥ 2,500 ms", "tpot_p50_ms": 8.25, "tpot_p90_ms": None, "turn_p50_ms": 640.0,
    "window_s": 10.0, "sessions": 9, "llm_calls": 60, "warmup_sessions": 1,
}  # fmt: skip


def _texts(summary: dict) -> dict[str, str]:
    return {f.anchor: f.text(summary) for f in FIGURES}


def test_figures_in_words_with_units() -> None:
    text = _texts(SUMMARY)
    assert text["task-success"] == (
        "75.0% of sessions passed (6 passed, 2 cut short by a failure); "
        "1 incomplete at the end of the drain: at least 66.7% of all, 11.1% undecided"
    )
    assert text["tool-accuracy"] == (
        "50.0% of completed turns made the expected tool calls (IN_ORDER match)"
    )
    assert text["throughput"] == (
        "1.50 sessions/s, 3.00 turns/s, 6.25 LLM calls/s, 1,234.50 output tokens/s"
    )
    assert text["failures"] == (
        "2 failed turns of 20 with a result (10.0%); failed: 0.20 sessions/s, 0.20 turns/s, "
        "0.40 LLM calls/s"
    )
    assert text["ttft"] == "p50 42.0 ms, p90 180 ms, p99 ≥ 2,500 ms"  # a bound, as stored
    assert text["tpot"] == "p50 8.2 ms, p90 -, p99 -"  # missing figures say so
    assert text["measured"] == (
        "10.0 s window: 9 sessions, 21 turns, 60 LLM calls; 1 warm-up session left out"
    )


def test_figures_without_data_say_why() -> None:
    text = _texts({"scenario_sessions": 3})
    assert text["task-success"] == "no measured session with a verdict"
    assert text["tool-accuracy"].startswith("not applicable")


def test_definitions_are_the_docs_words() -> None:
    readme = re.sub(r"\s+", " ", (REPO_ROOT / "docs" / "metrics.md").read_text())
    for figure in FIGURES:
        assert f"**{figure.label}**: {figure.definition}" in readme, figure.label
    assert PERCENTILE_NOTE in readme
