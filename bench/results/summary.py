"""The summary row of a run: throughput over the measured window, latency percentiles, accuracy.

Warm-up records are left out. The measured window runs from the first measured session's start
to the end of the load: when the load stopped (the load processes' `load_stops` records; no
session or turn started after it), never to the last completed record. Every rate uses it and
counts what completed in it: items completed without error (`completed` throughput) or failed,
that ended by the window's end; work that finished in the drain counts in latency and accuracy,
not in rates. Latency is over completed items, with incomplete ones at their age as lower
bounds (`bench.results.latency_bounds`); tool accuracy over completed turns; task success over
the sessions with a verdict, with its lower bound counting the incomplete ones
(`bench.scoring.outcome`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from bench.results.latency_bounds import percentiles_with_bounds
from bench.schemas.summaries import PCTS
from bench.scoring.outcome import (
    CUT_SHORT,
    FAILED,
    INCOMPLETE,
    PASSED,
    UNSCORED,
    TaskSuccess,
    is_failed,
    is_incomplete,
    is_ok,
)


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
    loop: the session's duration. For an incomplete session: its age at the end of the load."""
    duration = session.get("duration_ms")
    if duration is None:
        return None
    return float(duration) + (session.get("start_delay_ms") or 0.0)


def measured(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r.get("warmup")]


def call_end(call: dict[str, Any]) -> float | None:
    started = call.get("started_at")
    return started + (call.get("e2e_ms") or 0) / 1000 if started else None


def measured_window(
    sessions_m: list[dict[str, Any]],
    turns_m: list[dict[str, Any]],
    calls_m: list[dict[str, Any]],
    load_stops: list[dict[str, Any]],
) -> tuple[float | None, float | None]:
    """(start, end) in epoch seconds: the first measured start to the load's stop. Without a stop
    record (a run killed outright, or written before results schema 4), to the last end of any
    measured record, incomplete ones included (they end at the cut)."""
    starts = [r["started_at"] for r in (sessions_m or turns_m) if r.get("started_at") is not None]
    start = min(starts) if starts else None
    stops = [s["stopped_at"] for s in load_stops if s.get("stopped_at") is not None]
    if start is not None:
        stops = [t for t in stops if t >= start]
    if stops:
        return start, max(stops)  # every load process stops at once; the web UI may stop twice
    ends = [r["ended_at"] for r in sessions_m + turns_m if r.get("ended_at") is not None]
    ends += [e for e in map(call_end, calls_m) if e is not None]
    return start, max(ends) if ends else None


def _in_window(end: float | None, window_end: float | None) -> bool:
    return end is not None and window_end is not None and end <= window_end + 1e-3


def errors_by_type(failed_turns: Iterable[dict[str, Any]]) -> str | None:
    """{error class: {"count": n, "first": message}} over the failed turns, as JSON text."""
    table: dict[str, dict[str, Any]] = {}
    for turn in sorted(failed_turns, key=lambda t: t.get("ended_at") or 0):
        entry = table.setdefault(str(turn.get("error_type")),
                                 {"count": 0, "first": str(turn.get("error") or "")})  # fmt: skip
        entry["count"] += 1
    return json.dumps(table, sort_keys=True) if table else None


def compute_summary(
    llm_calls: list[dict[str, Any]],
    turns: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    run_info: dict[str, Any],
    load_stops: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    calls_m, turns_m, sessions_m = measured(llm_calls), measured(turns), measured(sessions)
    ok_calls = [c for c in calls_m if is_ok(c)]
    ok_turns = [t for t in turns_m if is_ok(t)]
    open_calls = [c for c in calls_m if is_incomplete(c)]
    open_turns = [t for t in turns_m if is_incomplete(t)]
    failed_calls = [c for c in calls_m if is_failed(c)]
    failed_turns = [t for t in turns_m if is_failed(t)]
    outcomes = TaskSuccess.of(s.get("outcome") for s in sessions_m)
    ok_sessions = [s for s in sessions_m if s.get("outcome") in (PASSED, FAILED, UNSCORED)]
    open_sessions = [s for s in sessions_m if s.get("outcome") == INCOMPLETE]
    cut_sessions = [s for s in sessions_m if s.get("outcome") == CUT_SHORT]

    window_start, window_end = measured_window(sessions_m, turns_m, calls_m, load_stops or [])
    window_s = 0.0
    if window_start is not None and window_end is not None and window_end > window_start:
        window_s = window_end - window_start

    def per_s(items: Iterable[Any], end_of: Any = lambda r: r.get("ended_at")) -> float | None:
        return _ratio(sum(1 for r in items if _in_window(end_of(r), window_end)), window_s)

    output_tokens = sum(
        c.get("completion_tokens") or 0 for c in ok_calls if _in_window(call_end(c), window_end)
    )

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
        "sessions_failed": outcomes.counts[FAILED],
        "sessions_cut_short": outcomes.counts[CUT_SHORT],
        "sessions_incomplete": outcomes.counts[INCOMPLETE],
        "sessions_unscored": outcomes.counts[UNSCORED],
        "turns_incomplete": len(open_turns),
        "llm_calls_failed": len(failed_calls),
        "llm_calls_incomplete": len(open_calls),
        # completed (error-free) items per second of the window, passed or not
        "sessions_per_s": per_s(ok_sessions),
        "turns_per_s": per_s(ok_turns),
        "llm_calls_per_s": per_s(ok_calls, call_end),
        "output_tokens_per_s": _ratio(output_tokens, window_s),
        "failed_sessions_per_s": per_s(cut_sessions),
        "failed_turns_per_s": per_s(failed_turns),
        "failed_llm_calls_per_s": per_s(failed_calls, call_end),
        # completed items; incomplete ones at their age, as lower bounds (a call that had its
        # first token has an exact TTFT)
        **percentiles_with_bounds(
            [c.get("ttft_ms") for c in ok_calls + open_calls if c.get("ttft_ms") is not None],
            [c.get("e2e_ms") for c in open_calls if c.get("ttft_ms") is None],
            "ttft",
        ),
        **percentiles([c.get("tpot_ms") for c in ok_calls], "tpot"),
        **percentiles_with_bounds(
            [c.get("e2e_ms") for c in ok_calls], [c.get("e2e_ms") for c in open_calls], "llm_e2e"
        ),
        **percentiles_with_bounds(
            [t.get("latency_ms") for t in ok_turns],
            [t.get("latency_ms") for t in open_turns],
            "turn",
        ),
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
        **percentiles_with_bounds(
            [session_latency_ms(s) for s in ok_sessions],
            [session_latency_ms(s) for s in open_sessions],
            "session",
        ),
        "task_success_rate": outcomes.rate,
        "task_success_bound": outcomes.bound,
        "sessions_undecided_share": outcomes.undecided_share,
        "tool_accuracy": mean([t.get("trajectory_score") for t in ok_turns]),
        "tool_trajectory_exact": mean([t.get("trajectory_exact") for t in ok_turns]),
        "tool_trajectory_in_order": mean([t.get("trajectory_in_order") for t in ok_turns]),
        "tool_trajectory_any_order": mean([t.get("trajectory_any_order") for t in ok_turns]),
        "response_match": mean([t.get("response_match") for t in ok_turns]),
        "tool_name_precision": _ratio(names_matched, actual_n),
        "tool_name_recall": _ratio(names_matched, expected_n),
        "arg_exact_match_rate": _ratio(args_matched, args_compared),
        "errors": len(failed_turns),
        "error_rate": _ratio(len(failed_turns), len(turns_m) - len(open_turns)),
        "errors_by_type": errors_by_type(failed_turns),
    }
    return row
