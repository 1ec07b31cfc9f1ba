"""The headline of a run in words with units: what the console summary shows first, and what
`bench report` opens with.

    for figure in FIGURES:
        print(figure.label, figure.text(run.summary), figure.definition)

Each definition is the docs' (the headline list of docs/metrics.md);
`tests/unit/report/test_headline.py` fails when the two part.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Summary = dict[str, Any]


def _number(summary: Summary, key: str) -> float | None:
    value = summary.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _count(summary: Summary, key: str) -> int:
    return int(_number(summary, key) or 0)


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} ms" if abs(value) >= 100 else f"{value:.1f} ms"


def per_s(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:,.2f} {unit}/s"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def task_success(s: Summary) -> str:
    rate = _number(s, "task_success_rate")
    cut, incomplete = _count(s, "sessions_cut_short"), _count(s, "sessions_incomplete")
    if rate is None:
        return "no measured session with a verdict"
    parts = [f"{_count(s, 'sessions_passed')} passed"]
    if cut:
        parts.append(f"{cut} cut short by a failure")
    text = f"{percent(rate)} of sessions passed ({', '.join(parts)})"
    if not incomplete:
        return text
    bound, undecided = _number(s, "task_success_bound"), _number(s, "sessions_undecided_share")
    return (f"{text}; {incomplete} incomplete at the end of the drain: at least "
            f"{percent(bound)} of all, {percent(undecided)} undecided")  # fmt: skip


def tool_accuracy(s: Summary) -> str:
    value = _number(s, "tool_accuracy")
    if value is None:
        if s.get("scenario_sessions"):
            return "not applicable: user-simulator cases expect no fixed tool calls"
        return "no completed turn"
    match = s.get("trajectory_match_type") or "EXACT"
    return f"{percent(value)} of completed turns made the expected tool calls ({match} match)"


def throughput(s: Summary) -> str:
    return ", ".join(
        per_s(_number(s, f"{key}_per_s"), unit)
        for key, unit in (
            ("sessions", "sessions"),
            ("turns", "turns"),
            ("llm_calls", "LLM calls"),
            ("output_tokens", "output tokens"),
        )  # fmt: skip
    )


def failures(s: Summary) -> str:
    errors = _count(s, "errors")
    with_result = _count(s, "turns") - _count(s, "turns_incomplete")
    rates = ", ".join(
        per_s(_number(s, f"failed_{key}_per_s"), unit)
        for key, unit in (("sessions", "sessions"), ("turns", "turns"), ("llm_calls", "LLM calls"))
    )
    return (
        f"{_plural(errors, 'failed turn')} of {with_result} with a result "
        f"({percent(_number(s, 'error_rate'))}); failed: {rates}"
    )


def percentile(s: Summary, key: str) -> str:
    """A percentile, or its lower bound (`≥ X ms`) where incomplete work at its age reaches it."""
    bound = s.get(f"{key}_bound")
    if _number(s, key) is None and isinstance(bound, str):
        return bound
    return ms(_number(s, key))


def percentiles(name: str) -> Callable[[Summary], str]:
    def text(s: Summary) -> str:
        return ", ".join(f"p{q} {percentile(s, f'{name}_p{q}_ms')}" for q in (50, 90, 99))

    return text


def ttft_by_reply_kind(s: Summary) -> str:
    """TTFT p50 and p90 of text replies and of tool-call replies, with the parser's hold-back."""
    parts = []
    for infix, label in (("text", "text replies"), ("tool", "tool-call replies")):
        if not _count(s, f"llm_calls_{infix}"):
            continue
        text = (f"{label} p50 {percentile(s, f'ttft_{infix}_p50_ms')}, "
                f"p90 {percentile(s, f'ttft_{infix}_p90_ms')}")  # fmt: skip
        holdback = _number(s, "tool_holdback_p50_ms")
        if infix == "tool" and holdback is not None:
            text += f" (parser hold-back p50 {ms(holdback)})"
        parts.append(text)
    return "; ".join(parts) or "no completed call"


def measured(s: Summary) -> str:
    window = _number(s, "window_s")
    counts = ", ".join(
        _plural(_count(s, key), word)
        for key, word in (("sessions", "session"), ("turns", "turn"), ("llm_calls", "LLM call"))
    )
    warmup = _count(s, "warmup_sessions")
    text = f"{'-' if window is None else f'{window:.1f}'} s window: {counts}"
    return text + (f"; {_plural(warmup, 'warm-up session')} left out" if warmup else "")


@dataclass(frozen=True)
class Figure:
    anchor: str
    label: str
    text: Callable[[Summary], str]
    definition: str  # the words of docs/metrics.md


FIGURES: tuple[Figure, ...] = (
    Figure("task-success", "Task success", task_success,
           "sessions passed / measured sessions with a verdict (passed + failed + cut short); a "
           "session cut short by a failure is a failure; an incomplete one has no verdict, and "
           "the lower bound that counts it as a failure is shown beside the rate."),
    Figure("tool-accuracy", "Tool accuracy", tool_accuracy,
           "the mean ADK trajectory score, under the eval set's match type, of the completed "
           "turns: a turn scores 1 when its tool calls match the expected ones, else 0."),
    Figure("throughput", "Throughput", throughput,
           "items completed without error (successes only) in the measured window / its length; "
           "what ended in the drain is in no rate."),
    Figure("failures", "Failures", failures,
           "failed turns over turns that are not incomplete (the error rate); failed sessions "
           "(cut short), turns and LLM calls per second of the window."),
    Figure("ttft", "TTFT (time to first token)", percentiles("ttft"),
           "from the request handed to the transport to the first chunk with a content, "
           "reasoning or tool-call delta (vllm bench serve's definition)."),
    Figure("ttft-kind", "TTFT by reply kind", ttft_by_reply_kind,
           "text replies and replies with a tool call apart; a tool-call reply's first delta "
           "comes after the tokens the tool parser held back (its hold-back: from the first "
           "generated token to that delta), so the combined TTFT mixes two waits."),
    Figure("tpot", "TPOT (time per output token)", percentiles("tpot"),
           "after the first token: (e2e - TTFT) / (output tokens - 1) for a text reply; for a "
           "tool-call reply the mean gap between streamed deltas after the first."),
    Figure("llm-call", "LLM call latency", percentiles("llm_e2e"),
           "from the request handed to the transport to the last chunk with choices."),
    Figure("turn", "Turn latency", percentiles("turn"),
           "from the user message handed to ADK's runner to the turn's last event: its LLM "
           "calls, tools and ADK's own work."),
    Figure("measured", "Measured", measured,
           "the window runs from the first measured session's start to the stop of the load, "
           "never to the last completed record; warm-up sessions are left out of every figure."),
)  # fmt: skip

PERCENTILE_NOTE = (
    "Percentiles (p50, p90, p99) are over measured records that did not fail: completed ones at "
    "their latency and incomplete ones at their age at the cut, a lower bound (a percentile that "
    "reaches one prints as ≥); failed and warm-up ones are left out."
)
