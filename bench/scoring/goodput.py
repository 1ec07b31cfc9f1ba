"""SLOs and goodput: the sessions and turns that met every latency SLO and passed their case.

`--slo ttft_ms=500,tpot_ms=50,turn_ms=3000,session_ms=20000`; any subset. A turn meets the SLOs
when every LLM call in it meets ttft_ms and tpot_ms, its latency meets turn_ms, it has no error
and its trajectory score is 1. A session meets them when all its turns do, its latency (open loop:
from its scheduled arrival) meets session_ms, and its case passed (`case_passed`: every metric of the criteria, ADK's rule).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.schemas.flags import SLO_KEYS, parse_slo  # noqa: F401 (their home moved)


def _le(value: float | None, limit: float | None) -> bool:
    return limit is None or (value is not None and value <= limit)


def mark_slo(
    llm_calls: list[dict[str, Any]],
    turns: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    slo: dict[str, float],
) -> None:
    """Set `slo_met` on every turn and session (True/False)."""
    calls_ok: dict[str, bool] = defaultdict(lambda: True)
    for call in llm_calls:
        ok = not call.get("error_type") and _le(call.get("ttft_ms"), slo.get("ttft_ms"))
        # A one-token reply has no TPOT; it cannot break a TPOT SLO.
        if call.get("tpot_ms") is not None:
            ok = ok and _le(call["tpot_ms"], slo.get("tpot_ms"))
        calls_ok[call["turn_id"]] &= ok
    turns_ok: dict[str, bool] = defaultdict(lambda: True)
    for turn in turns:
        turn["slo_met"] = bool(
            calls_ok[turn["turn_id"]]
            and not turn.get("error_type")
            and _le(turn.get("latency_ms"), slo.get("turn_ms"))
            and turn.get("trajectory_score") == 1.0
        )
        turns_ok[turn["session_id"]] &= turn["slo_met"]
    for session in sessions:
        latency = session.get("duration_ms")  # open loop: from the scheduled arrival
        if latency is not None:
            latency += session.get("start_delay_ms") or 0.0
        session["slo_met"] = bool(
            turns_ok[session["session_id"]]
            and not session.get("errors")
            and _le(latency, slo.get("session_ms"))
            and session.get("case_passed") is True
        )


def goodput(
    turns: list[dict[str, Any]], sessions: list[dict[str, Any]], window_s: float
) -> dict[str, Any]:
    good_turns = sum(1 for t in turns if t.get("slo_met"))
    good_sessions = sum(1 for s in sessions if s.get("slo_met"))
    return {
        "goodput_sessions_per_s": good_sessions / window_s if window_s else None,
        "goodput_turns_per_s": good_turns / window_s if window_s else None,
        "slo_attainment_sessions_pct": 100 * good_sessions / len(sessions) if sessions else None,
        "slo_attainment_turns_pct": 100 * good_turns / len(turns) if turns else None,
    }
