"""A run with a scenario case: the user simulator's calls are in llm_calls, flagged, and in no
agent figure; trajectory metrics of scenario turns are null (not applicable), never 0."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from bench.report.runs import Run
from bench.results.build import build_results
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from tests.unit.results.test_build import invocation, llm_call, turn


def _write(run: Path, name: str, records: list[dict]) -> None:
    with (run / "raw" / f"{name}.1.jsonl").open("w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def test_simulator_calls_flagged_and_left_out(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    (run / "raw").mkdir(parents=True)
    write_manifest(RunDir(run), Manifest.model_validate({
        "run_id": "r1", "status": "completed",
        "criteria": {"tool_trajectory_avg_score": 1.0, "response_match_score": 0.8},
        "provenance": {"model": "tiny"}, "summary_info": {"model": "tiny", "users": 1},
    }))  # fmt: skip
    actual = invocation("q", [("get_weather", {"city": "London"})])
    turns = [turn("s1", i, actual, None, 100.0 + i) for i in range(2)]
    for t in turns:
        t["expected_tool_calls"] = None
    session = {"run_id": "r1", "session_id": "s1", "case_id": "c", "trial": 0, "ticket": 0,
               "started_at": 100.0, "ended_at": 102.0, "duration_ms": 2000.0, "turns": 2,
               "turns_expected": 2, "user_simulator_status": "stop_signal_detected", "errors": 0,
               "warmup": False, "pid": 1, "user_index": 0}  # fmt: skip
    agent = [dict(llm_call("s1", i, 100.0 + i), call_role="agent") for i in range(2)]
    # the simulator's calls are 50x slower: any leak into the agent's figures shows
    sim = [
        dict(llm_call("s1", i, 100.5 + i), call_role="user_simulator", e2e_ms=5000.0,
             ttft_ms=5000.0, completion_tokens=999)
        for i in (1, 2)
    ]  # fmt: skip
    _write(run, "turns", turns)
    _write(run, "sessions", [session])
    _write(run, "llm_calls", agent + sim)

    built = build_results(run)
    s = built.summary
    calls = pq.read_table(run / "llm_calls.parquet").to_pandas()
    assert sorted(calls["call_role"]) == ["agent", "agent", "user_simulator", "user_simulator"]
    assert s["llm_calls"] == 2 and s["ttft_p99_ms"] == 40.0
    assert s["user_simulator_calls"] == 2 and s["scenario_sessions"] == 1
    sessions = pq.read_table(run / "sessions.parquet").to_pandas()
    assert sessions.loc[0, "trajectory_score"] is None or sessions["trajectory_score"].isna().all()
    assert sessions.loc[0, "outcome"] == "unscored"
    assert s["tool_accuracy"] is None
    parquet_turns = pq.read_table(run / "turns.parquet").to_pandas()
    assert parquet_turns["trajectory_score"].isna().all()
    # the report reads the agent's calls only
    report_calls = Run(run).table("llm_calls")
    assert report_calls is not None and set(report_calls["call_role"]) == {"agent"}
