"""Cut-short, truncated and failed records in the tables and the summary (one definition,
`bench.scoring.outcome`), from hand-written raw records with known outcomes."""

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
        # "trunc": cancelled at the stop (schema 3 flag) -> truncated
        turn("trunc", 0, RIGHT, RIGHT, 102.0), {**turn("trunc", 1, None, RIGHT, 109.0),
                                                "truncated": True, "latency_ms": 9000.0},
        # "old": a raw record before schema 3 ("Cancelled") -> truncated too
        turn("old", 0, RIGHT, RIGHT, 103.0), {**turn("old", 1, None, RIGHT, 109.0),
                                              "error_type": "Cancelled", "error": "load stopped",
                                              "latency_ms": 9000.0},
    ]  # fmt: skip
    sessions = [
        _session("ok", 0, 2),
        _session("cut", 1, 2, errors=1),
        _session("trunc", 2, 2, truncated=True, ended_at=109.5),
        _session("old", 3, 2, errors=1, ended_at=109.5),
    ]
    calls = [llm_call(t["session_id"], t["invocation_index"], t["started_at"]) for t in turns]
    calls[3] |= {"error_type": "InternalServerError"}
    calls[5] |= {"error_type": "CancelledError"}
    calls[7] |= {"error_type": "CancelledError"}
    for name, records in (("turns", turns), ("sessions", sessions), ("llm_calls", calls)):
        (run / "raw" / f"{name}.1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = build_results(run)
    return run, result.summary


def test_cut_short_sessions_fail_their_case_and_truncated_ones_drop_out(built) -> None:
    run, summary = built
    sessions = pq.read_table(run / "sessions.parquet").to_pandas().set_index("session_id")
    assert sessions["outcome"].to_dict() == {
        "ok": "passed",
        "cut": "cut_short",
        "trunc": "truncated",
        "old": "truncated",
    }
    assert sessions.loc["cut", "case_passed"] == False  # noqa: E712 (numpy bool)
    assert sessions[["case_passed"]].loc[["trunc", "old"]].isna().all().all()
    assert bool(sessions.loc["old", "truncated"])
    cases = pq.read_table(run / "cases.parquet").to_pandas()
    assert (cases.loc[0, "trials"], cases.loc[0, "passes"], cases.loc[0, "cut_short"]) == (2, 1, 1)
    assert summary["task_success_rate"] == 0.5 and summary["pass_hat_k"] == 0.5
    assert (summary["sessions"], summary["sessions_passed"]) == (4, 1)
    assert (summary["sessions_cut_short"], summary["sessions_truncated"]) == (1, 2)


def test_truncated_records_are_no_errors_no_latency_and_no_throughput(built) -> None:
    _, summary = built
    assert summary["errors"] == 1 and summary["turns_truncated"] == 2
    assert summary["error_rate"] == pytest.approx(1 / 6)
    # the window ends at the last completed or failed record (old:0 at 103.5), not at the stop
    window = 103.5 - 100.0
    assert summary["window_s"] == pytest.approx(window)
    assert summary["turns_per_s"] == pytest.approx(5 / window)  # ok, ok, cut:0, trunc:0, old:0
    assert summary["failed_turns_per_s"] == pytest.approx(1 / window)
    assert summary["sessions_per_s"] == pytest.approx(1 / window)
    assert summary["failed_sessions_per_s"] == pytest.approx(1 / window)
    assert summary["llm_calls_per_s"] == pytest.approx(5 / window)
    assert summary["failed_llm_calls_per_s"] == pytest.approx(1 / window)
    assert summary["turn_p99_ms"] == 500.0  # no truncated turn's latency
    assert summary["tool_accuracy"] == 1.0  # the completed turns were all right
    # SLO attainment over sessions with a result: the cut-short one missed, the passed one met
    assert summary["slo_attainment_sessions_pct"] == pytest.approx(50.0)
    assert summary["slo_attainment_turns_pct"] == pytest.approx(100 * 5 / 6)
    sessions = pq.read_table(built[0] / "sessions.parquet").to_pandas().set_index("session_id")
    assert sessions.loc[["trunc", "old"], "slo_met"].isna().all()
