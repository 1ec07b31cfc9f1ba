"""Cut-short, incomplete and failed records in the tables and the summary (one definition,
`bench.scoring.outcome`), from hand-written raw records with known outcomes: today's records,
and those of older results schemas (`truncated`, before it "Cancelled")."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.results.build import build_results
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from tests.unit.results.test_build import invocation, llm_call, turn

RIGHT = invocation("q", [("get_weather", {"city": "Paris"})])
STOPPED_AT = 104.5  # the load stopped here: the end of the measured window


def _session(sid: str, i: int, turns: int, errors: int = 0, **kw) -> dict:
    return {"run_id": "r", "session_id": sid, "case_id": "c", "eval_set_id": "e", "trial": 0,
            "ticket": i, "started_at": 100.0 + i, "ended_at": 101.0 + i, "duration_ms": 1000.0,
            "turns": turns, "turns_expected": 2, "errors": errors, "warmup": False, "pid": 1,
            "user_index": 0, **kw}  # fmt: skip


@pytest.fixture
def built(tmp_path: Path):
    run = tmp_path / "r"
    (run / "raw").mkdir(parents=True)
    write_manifest(RunDir(run), Manifest.model_validate({
        "run_id": "r", "status": "completed", "slo": {"turn_ms": 1000.0},
        "criteria": {"tool_trajectory_avg_score": {"threshold": 1.0, "match_type": "EXACT"}},
    }))  # fmt: skip
    turns = [
        # "ok": both turns right -> passed
        turn("ok", 0, RIGHT, RIGHT, 100.0), turn("ok", 1, RIGHT, RIGHT, 100.5),
        # "cut": first turn right, second failed -> cut short: not passed
        turn("cut", 0, RIGHT, RIGHT, 101.0), {**turn("cut", 1, None, RIGHT, 101.5),
                                              "error_type": "InternalServerError", "error": "500"},
        # "trunc": cut at the stop (results schema 3's flag) -> incomplete
        turn("trunc", 0, RIGHT, RIGHT, 102.0), {**turn("trunc", 1, None, RIGHT, 109.0),
                                                "truncated": True, "latency_ms": 9000.0},
        # "old": a raw record before schema 3 ("Cancelled") -> incomplete too
        turn("old", 0, RIGHT, RIGHT, 103.0), {**turn("old", 1, None, RIGHT, 109.0),
                                              "error_type": "Cancelled", "error": "load stopped",
                                              "latency_ms": 9000.0},
        # "late": today's record, still running 12 s into its first turn at the cut
        {**turn("late", 0, None, RIGHT, 104.0), "incomplete": True, "latency_ms": 12000.0,
         "ended_at": 116.0},
    ]  # fmt: skip
    sessions = [
        _session("ok", 0, 2),
        _session("cut", 1, 2, errors=1),
        _session("trunc", 2, 2, truncated=True, ended_at=109.5),
        _session("old", 3, 2, errors=1, ended_at=109.5),
        _session("late", 4, 1, incomplete=True, ended_at=116.0, duration_ms=12000.0),
    ]
    calls = [llm_call(t["session_id"], t["invocation_index"], t["started_at"]) for t in turns]
    calls[3] |= {"error_type": "InternalServerError"}
    calls[5] |= {"error_type": "CancelledError"}
    calls[7] |= {"error_type": "CancelledError"}
    calls[8] |= {"incomplete": True, "ttft_ms": None, "e2e_ms": 12000.0}
    stops = [{"run_id": "r", "stopped_at": STOPPED_AT, "drain_s": 12.0, "in_flight": 1, "pid": 1}]
    for name, records in (("turns", turns), ("sessions", sessions), ("llm_calls", calls),
                          ("load_stops", stops)):  # fmt: skip
        (run / "raw" / f"{name}.1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = build_results(run)
    return run, result.summary


def test_cut_short_sessions_fail_their_case_and_incomplete_ones_have_no_verdict(built) -> None:
    run, summary = built
    sessions = pq.read_table(run / "sessions.parquet").to_pandas().set_index("session_id")
    assert sessions["outcome"].to_dict() == {
        "ok": "passed",
        "cut": "cut_short",
        "trunc": "incomplete",
        "old": "incomplete",
        "late": "incomplete",
    }
    assert sessions.loc["cut", "case_passed"] == False  # noqa: E712 (numpy bool)
    assert sessions[["case_passed"]].loc[["trunc", "old", "late"]].isna().all().all()
    assert bool(sessions.loc["old", "incomplete"]) and bool(sessions.loc["trunc", "incomplete"])
    cases = pq.read_table(run / "cases.parquet").to_pandas()
    assert (cases.loc[0, "trials"], cases.loc[0, "passes"], cases.loc[0, "cut_short"]) == (2, 1, 1)
    assert summary["task_success_rate"] == 0.5 and summary["pass_hat_k"] == 0.5
    # the bound: had the three incomplete sessions failed; three of five undecided
    assert summary["task_success_bound"] == pytest.approx(1 / 5)
    assert summary["sessions_undecided_share"] == pytest.approx(3 / 5)
    counts = [summary[f"sessions{k}"] for k in ("", "_passed", "_failed", "_cut_short",
                                                "_incomplete", "_unscored")]  # fmt: skip
    assert counts == [5, 1, 0, 1, 3, 0]
    assert (summary["llm_calls_failed"], summary["llm_calls_incomplete"]) == (1, 3)


def test_rates_use_the_window_to_the_stop_and_latencies_keep_incomplete_work(built) -> None:
    run, summary = built
    assert summary["errors"] == 1 and summary["turns_incomplete"] == 3
    assert summary["error_rate"] == pytest.approx(1 / 6)
    assert json.loads(summary["errors_by_type"]) == {
        "InternalServerError": {"count": 1, "first": "500"}
    }
    # the window ends at the stop, neither at the last completed record (old:0 at 103.5) nor
    # at the cut (116.0); rates count what ended in it
    window = STOPPED_AT - 100.0
    assert summary["window_s"] == pytest.approx(window)
    assert summary["turns_per_s"] == pytest.approx(5 / window)  # ok:0,1, cut:0, trunc:0, old:0
    assert summary["failed_turns_per_s"] == pytest.approx(1 / window)
    assert summary["sessions_per_s"] == pytest.approx(1 / window)
    assert summary["failed_sessions_per_s"] == pytest.approx(1 / window)
    assert summary["llm_calls_per_s"] == pytest.approx(5 / window)
    assert summary["failed_llm_calls_per_s"] == pytest.approx(1 / window)
    # turn latencies: five of 500 ms and three lower bounds (9000, 9000, 12000): the median is
    # exact, p90 and p99 are only bounds (numpy's linear rule over all eight values)
    assert summary["turn_p50_ms"] == 500.0 and summary["turn_p50_ms_bound"] is None
    assert summary["turn_p90_ms"] is None and summary["turn_p90_ms_bound"] == "≥ 9900.0 ms"
    assert summary["turn_p99_ms_bound"] == "≥ 11790.0 ms"
    # the incomplete call had no first token: its age bounds its TTFT
    assert summary["ttft_p99_ms"] is None and summary["ttft_p99_ms_bound"].startswith("≥ ")
    assert summary["tool_accuracy"] == 1.0  # the completed turns were all right
    # SLO attainment: incomplete work past the SLO (9 s and 12 s > 1 s) misses it
    assert summary["slo_attainment_turns_pct"] == pytest.approx(100 * 5 / 9)
    assert summary["slo_attainment_sessions_pct"] == pytest.approx(100 * 1 / 5)
    sessions = pq.read_table(run / "sessions.parquet").to_pandas().set_index("session_id")
    assert not sessions.loc[["trunc", "old", "late"], "slo_met"].any()
