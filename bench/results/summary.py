"""The summary row of a run: throughput over the measured window, latency percentiles, accuracy.

Warm-up records are left out. The window runs from the first measured session's start to the
last measured record's end (a truncated record's end is when the load stopped, not a completion,
so it does not extend the window). Rates count successes: items completed without error in the
window, divided by its length; failures have their own rates. Latency and tool accuracy are over
completed items; task success over the sessions with a verdict (`bench.scoring.outcome`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bench.schemas.summaries import PCTS
from bench.scoring.outcome import CUT_SHORT, PASSED, TRUNCATED, TaskSuccess, is_failed, is_ok


def percentile(values: list[Any], p: float) -> float | None:
    """numpy's (linear) percentile of the values that are not None or NaN; None when none is."""
    clean = [float(v) for v in values if v is not None and not math.isnan(v)]
    return float(np.percentile(clean, p)) if clean else None


def percentiles(values: list[Any], prefix: str) -> dict[str, float | None]:
    return {f"{prefix}_p{p}_ms": percentile(values, p) for p in PCTS}


def mean(values: list[Any]) -> float | None:
    """The mean of the values that are not None; None when none is."""
    clean = [float(v) for v in values if v is not None]
    return sum(clean) / len(clean) if clean else None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def session_latency_ms(session: dict[str, Any]) -> float | None:
    """Open loop: from the scheduled arrival to the end (start_delay_ms + duration_ms); closed
    loop: the session's duration."""
    duration = session.get("duration_ms")
    if duration is None:
        return None
    return float(duration) + (session.get("start_delay_ms") or 0.0)


def measured(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r.get("warmup")]


def compute_summary(
    llm_calls: list[dict[str, Any]],
    turns: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    run_info: dict[str, Any],
) -> dict[str, Any]:
    calls_m, turns_m, sessions_m = measured(llm_calls), measured(turns), measured(sessions)
    ok_calls = [c for c in calls_m if is_ok(c)]
    ok_turns = [t for t in turns_m if is_ok(t)]
    outcomes = TaskSuccess.of(s.get("outcome") for s in sessions_m)
    ok_sessions = [s for s in sessions_m if s.get("outcome") not in (CUT_SHORT, TRUNCATED)]
    starts = [r["started_at"] for r in (sessions_m or turns_m) if r.get("started_at") is not None]
    ends = [
        r["ended_at"]
        for r in ok_turns + ok_sessions + [t for t in turns_m if is_failed(t)]
        if r.get("ended_at") is not None
    ]
    ends += [
        r["started_at"] + (r.get("e2e_ms") or 0) / 1000
        for r in calls_m
        if r.get("started_at") and (is_ok(r) or is_failed(r))
    ]
    window_start = min(starts) if starts else None
    window_end = max(ends) if ends else None
    window_s = 0.0
    if window_start is not None and window_end is not None and window_end > window_start:
        window_s = window_end - window_start

    failed_calls = sum(1 for c in calls_m if is_failed(c))
    errors = sum(1 for t in turns_m if is_failed(t))
    turns_truncated = sum(1 for t in turns_m if not is_ok(t) and not is_failed(t))
    output_tokens = sum(c.get("completion_tokens") or 0 for c in ok_calls)

    # tool accuracy: completed turns only
    names_matched = sum(t.get("tool_names_matched") or 0 for t in ok_turns)
    actual_n = sum(t.get("tool_calls_actual_n") or 0 for t in ok_turns)
    expected_n = sum(t.get("tool_calls_expected_n") or 0 for t in ok_turns)
    args_compared = sum(t.get("args_compared") or 0 for t in ok_turns)
    args_matched = sum(t.get("args_matched") or 0 for t in ok_turns)

    row: dict[str, Any] = {
        **run_info,
        "window_start": window_start,
        "window_end": window_end,
        "window_s": window_s,
        "sessions": len(sessions_m),
        "turns": len(turns_m),
        "llm_calls": len(calls_m),
        "warmup_sessions": len(sessions) - len(sessions_m),
        "sessions_passed": outcomes.counts[PASSED],
        "sessions_cut_short": outcomes.counts[CUT_SHORT],
        "sessions_truncated": outcomes.counts[TRUNCATED],
        "turns_truncated": turns_truncated,
        "sessions_per_s": _ratio(len(ok_sessions), window_s),
        "turns_per_s": _ratio(len(ok_turns), window_s),
        "llm_calls_per_s": _ratio(len(ok_calls), window_s),
        "output_tokens_per_s": _ratio(output_tokens, window_s),
        "failed_sessions_per_s": _ratio(outcomes.counts[CUT_SHORT], window_s),
        "failed_turns_per_s": _ratio(errors, window_s),
        "failed_llm_calls_per_s": _ratio(failed_calls, window_s),
        **percentiles([c.get("ttft_ms") for c in ok_calls], "ttft"),
        **percentiles([c.get("tpot_ms") for c in ok_calls], "tpot"),
        **percentiles([c.get("e2e_ms") for c in ok_calls], "llm_e2e"),
        **percentiles([t.get("latency_ms") for t in ok_turns], "turn"),
        # the client's side of an LLM call: model layer (ADK/LiteLLM) against the wire
        **percentiles([c.get("model_ttft_ms") for c in ok_calls], "model_ttft"),
        **percentiles([c.get("model_tpot_ms") for c in ok_calls], "model_tpot"),
        **percentiles([c.get("client_overhead_ms") for c in ok_calls], "client_overhead"),
        # the mean turn split: these four means sum to the mean turn latency
        "turn_llm_wire_mean_ms": mean([t.get("llm_wire_ms") for t in ok_turns]),
        "turn_client_overhead_mean_ms": mean([t.get("client_overhead_ms") for t in ok_turns]),
        "turn_tool_time_mean_ms": mean([t.get("tool_time_ms") for t in ok_turns]),
        "turn_other_mean_ms": mean([t.get("other_ms") for t in ok_turns]),
        # open loop: from the scheduled arrival (bench.results.arrivals), so late starts count
        **percentiles([session_latency_ms(s) for s in ok_sessions], "session"),
        "task_success_rate": outcomes.rate,
        "tool_accuracy": mean([t.get("trajectory_score") for t in ok_turns]),
        "tool_trajectory_exact": mean([t.get("trajectory_exact") for t in ok_turns]),
        "tool_trajectory_in_order": mean([t.get("trajectory_in_order") for t in ok_turns]),
        "tool_trajectory_any_order": mean([t.get("trajectory_any_order") for t in ok_turns]),
        "response_match": mean([t.get("response_match") for t in ok_turns]),
        "tool_name_precision": _ratio(names_matched, actual_n),
        "tool_name_recall": _ratio(names_matched, expected_n),
        "arg_exact_match_rate": _ratio(args_matched, args_compared),
        "errors": errors,
        "error_rate": _ratio(errors, len(turns_m) - turns_truncated),
    }
    return row
