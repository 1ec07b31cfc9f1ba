"""SLOs and goodput: the sessions and turns that met every latency SLO and passed their case.

`--slo ttft_ms=500,tpot_ms=50,turn_ms=3000,session_ms=20000`; any subset. A turn meets the SLOs
when every LLM call in it meets its TTFT SLOs and tpot_ms, its latency meets turn_ms, it has no
error and its trajectory score is 1. `ttft_ms` bounds every call's TTFT; `ttft_text_ms` only
that of text replies and `ttft_tool_ms` only that of tool-call replies (whose TTFT includes the
tool parser's hold-back), so a tool-call reply is not held to a text reply's SLO. A session meets them when all its turns do, its latency (open loop:
from its scheduled arrival) meets session_ms, and its case passed (`case_passed`: every metric of the criteria, ADK's rule).

Incomplete work (still running at the end of the drain) has only its age: one older than an SLO
misses it (`slo_met` False), one younger is undecided (`slo_met` null) and left out of SLO
attainment. An incomplete call that had no first token yet has its age as a lower bound of its
TTFT; its kind is not known yet, so it surely misses a kind's SLO only past both kinds' (an
unbounded kind never misses).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bench.schemas.flags import SLO_KEYS, parse_slo  # noqa: F401 (their home moved)
from bench.schemas.records import TEXT_REPLY, TOOL_CALL_REPLY
from bench.scoring.outcome import is_incomplete


def _le(value: float | None, limit: float | None) -> bool:
    return limit is None or (value is not None and value <= limit)


def _over(value: float | None, limit: float | None) -> bool:
    return limit is not None and value is not None and value > limit


def _all_met(a: bool | None, b: bool | None) -> bool | None:
    """Three-valued and: a miss is a miss; else undecided when either is."""
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _kind_limit(kind: str | None, slo: dict[str, float]) -> float | None:
    """The TTFT SLO of a reply kind (ttft_text_ms, ttft_tool_ms)."""
    key = {TEXT_REPLY: "ttft_text_ms", TOOL_CALL_REPLY: "ttft_tool_ms"}.get(kind or "")
    return slo.get(key) if key else None


def _ttft_met(call: dict[str, Any], slo: dict[str, float]) -> bool:
    ttft, kind = call.get("ttft_ms"), call.get("reply_kind")
    return _le(ttft, slo.get("ttft_ms")) and _le(ttft, _kind_limit(kind, slo))


def _ttft_missed_so_far(call: dict[str, Any], slo: dict[str, float]) -> bool:
    """An incomplete call: its TTFT, or its age while no token came, already past an SLO that
    bounds it (with no token yet it may be of either kind)."""
    ttft = call.get("ttft_ms")
    if ttft is not None:
        return _over(ttft, slo.get("ttft_ms")) or _over(
            ttft, _kind_limit(call.get("reply_kind"), slo)
        )
    age = call.get("e2e_ms")
    either = [_kind_limit(kind, slo) for kind in (TEXT_REPLY, TOOL_CALL_REPLY)]
    loosest = None if None in either else max(x for x in either if x is not None)
    return _over(age, slo.get("ttft_ms")) or _over(age, loosest)


def _session_latency(session: dict[str, Any]) -> float | None:
    latency = session.get("duration_ms")  # open loop: from the scheduled arrival
    if latency is not None:
        latency += session.get("start_delay_ms") or 0.0
    return latency


def mark_slo(
    llm_calls: list[dict[str, Any]],
    turns: list[dict[str, Any]],
    sessions: list[dict[str, Any]],
    slo: dict[str, float],
) -> None:
    """Set `slo_met` on every turn and session: True, False, or None (incomplete, not yet past
    any SLO)."""
    calls_ok: dict[str, bool] = defaultdict(lambda: True)
    calls_missed: dict[str, bool] = defaultdict(bool)  # an incomplete call already past one
    for call in llm_calls:
        if is_incomplete(call):
            calls_missed[call["turn_id"]] |= _ttft_missed_so_far(call, slo)
            continue
        ok = not call.get("error_type") and _ttft_met(call, slo)
        # A one-token reply has no TPOT; it cannot break a TPOT SLO.
        if call.get("tpot_ms") is not None:
            ok = ok and _le(call["tpot_ms"], slo.get("tpot_ms"))
        calls_ok[call["turn_id"]] &= ok
    turns_met: dict[str, bool | None] = {}
    for turn in turns:
        tid = turn["turn_id"]
        met: bool | None
        if is_incomplete(turn):
            missed = calls_missed[tid] or not calls_ok[tid]
            missed = missed or _over(turn.get("latency_ms"), slo.get("turn_ms"))
            met = False if missed else None
        else:
            met = bool(
                calls_ok[tid]
                and not turn.get("error_type")
                and _le(turn.get("latency_ms"), slo.get("turn_ms"))
                and turn.get("trajectory_score") == 1.0
            )
        turn["slo_met"] = met
        turns_met[turn["session_id"]] = _all_met(turns_met.get(turn["session_id"], True), met)
    for session in sessions:
        latency = _session_latency(session)
        turns_verdict = turns_met.get(session["session_id"], True)
        if is_incomplete(session):
            missed = turns_verdict is False or _over(latency, slo.get("session_ms"))
            session["slo_met"] = False if missed else None
            continue
        session["slo_met"] = bool(
            turns_verdict
            and not session.get("errors")
            and _le(latency, slo.get("session_ms"))
            and session.get("case_passed") is True
        )


def goodput(
    turns: list[dict[str, Any]], sessions: list[dict[str, Any]], window_end: float | None,
    window_s: float,
) -> dict[str, Any]:  # fmt: skip
    """Goodput: items that met the SLOs and ended in the window, per second of it; attainment:
    met / decided (met or missed, incomplete ones past an SLO included)."""

    def good_in_window(items: list[dict[str, Any]]) -> int:
        return sum(1 for r in items if r.get("slo_met") and window_end is not None
                   and (r.get("ended_at") or 0) <= window_end + 1e-3)  # fmt: skip

    decided_turns = [t for t in turns if t.get("slo_met") is not None]
    decided_sessions = [s for s in sessions if s.get("slo_met") is not None]
    met_turns = sum(1 for t in decided_turns if t["slo_met"])
    met_sessions = sum(1 for s in decided_sessions if s["slo_met"])
    return {
        "goodput_sessions_per_s": good_in_window(sessions) / window_s if window_s else None,
        "goodput_turns_per_s": good_in_window(turns) / window_s if window_s else None,
        "slo_attainment_sessions_pct": 100 * met_sessions / len(decided_sessions)
        if decided_sessions
        else None,
        "slo_attainment_turns_pct": 100 * met_turns / len(decided_turns) if decided_turns else None,
    }
