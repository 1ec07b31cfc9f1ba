"""Raw JSONL -> Parquet: schemas, metadata, truncated lines, scoring with ADK's evaluators."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.constants import SCHEMA_VERSION
from bench.results.build import build_results
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.tables import TABLES, SchemaError
from bench.results.writer import read_metadata


def invocation(text: str, calls: list[tuple[str, dict]], reference: str | None = None) -> dict:
    inv = {
        "invocation_id": "i",
        "user_content": {"role": "user", "parts": [{"text": text}]},
        "intermediate_data": {"tool_uses": [{"name": n, "args": a} for n, a in calls]},
    }
    if reference:
        inv["final_response"] = {"role": "model", "parts": [{"text": reference}]}
    return inv


def turn(session: str, idx: int, actual, expected, t0: float, warmup=False) -> dict:
    return {
        "run_id": "r1", "session_id": session, "turn_id": f"{session}:{idx}", "case_id": "c", "eval_set_id": "e",
        "trial": 0, "invocation_index": idx, "invocation_id": f"c-{idx}", "started_at": t0, "ended_at": t0 + 0.5,
        "latency_ms": 500.0, "llm_calls": 2, "tool_calls": [], "expected_tool_calls": [], "final_response": "x",
        "expected_response": None, "tool_errors": 0, "error_type": None, "error": None, "warmup": warmup,
        "actual_invocation": actual, "expected_invocation": expected, "pid": 1,
    }  # fmt: skip


def llm_call(session: str, idx: int, t0: float, warmup=False) -> dict:
    return {
        "run_id": "r1", "session_id": session, "turn_id": f"{session}:{idx}", "call_index": 0, "agent_name": "a",
        "started_at": t0, "ttft_ms": 40.0, "e2e_ms": 100.0, "tpot_ms": 10.0, "n_chunks": 7, "prompt_tokens": 50,
        "completion_tokens": 7, "finish_reason": "stop", "tool_calls_n": 0, "stream": True, "warmup": warmup,
        "error_type": None, "error": None, "pid": 1,
    }  # fmt: skip


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "r1"
    (run / "raw").mkdir(parents=True)
    write_manifest(RunDir(run), Manifest.model_validate({
            "run_id": "r1",
            "status": "completed",
            "criteria": {
                "tool_trajectory_avg_score": {"threshold": 1.0, "match_type": "EXACT"},
                "response_match_score": 0.8,
            },
            "provenance": {"model": "tiny", "eval_set_sha256": "abc"},
            "summary_info": {"model": "tiny", "users": 2},
        }))
    right = invocation("q", [("get_weather", {"city": "Paris"})], "Here is the weather report")
    wrong = invocation("q", [("get_weather", {"city": "Boston"})])
    expected = invocation("q", [("get_weather", {"city": "Paris"})], "Here is the weather report")
    turns = [
        turn("s0", 0, right, expected, 100.0, warmup=True),
        turn("s1", 0, right, expected, 101.0),
        turn("s2", 0, wrong, expected, 102.0),
    ]
    sessions = [
        {"run_id": "r1", "session_id": s, "case_id": "c", "trial": 0, "ticket": i, "started_at": 100.0 + i,
         "ended_at": 100.6 + i, "duration_ms": 600.0, "turns": 1, "turns_expected": 1, "errors": 0,
         "warmup": i == 0, "pid": 1, "user_index": 0}
        for i, s in enumerate(["s0", "s1", "s2"])
    ]  # fmt: skip
    calls = [llm_call(s, 0, 100.0 + i, warmup=i == 0) for i, s in enumerate(["s0", "s1", "s2"])]
    for name, records in (("turns", turns), ("sessions", sessions), ("llm_calls", calls)):
        with (run / "raw" / f"{name}.1.jsonl").open("w") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
    # A crash mid-write: the last line of one file is cut short.
    with (run / "raw" / "llm_calls.1.jsonl").open("a") as fh:
        fh.write(json.dumps(llm_call("s3", 0, 104.0))[:40])
    return run


def test_tables_have_declared_schemas_and_provenance(run_dir: Path):
    built = build_results(run_dir)
    for name, schema in TABLES.items():
        table = pq.read_table(run_dir / f"{name}.parquet")
        assert table.schema.remove_metadata().equals(schema), name
        meta = read_metadata(run_dir / f"{name}.parquet")
        assert meta["schema_version"] == SCHEMA_VERSION
        assert meta["model"] == "tiny" and meta["eval_set_sha256"] == "abc"
    assert {k: built.counts[k] for k in ("llm_calls", "turns", "sessions", "cases", "summary")} == {
        "llm_calls": 3,
        "turns": 3,
        "sessions": 3,
        "cases": 1,
        "summary": 1,
    }


def test_truncated_last_line_loses_only_that_line(run_dir: Path):
    built = build_results(run_dir)
    assert built.bad_lines == 1
    calls = pq.read_table(run_dir / "llm_calls.parquet").to_pandas()
    assert sorted(calls["session_id"]) == ["s0", "s1", "s2"]
    assert str(calls["started_at"].dt.tz) == "UTC"


def test_scores_and_summary_leave_out_warmup(run_dir: Path):
    built = build_results(run_dir)
    turns = pq.read_table(run_dir / "turns.parquet").to_pandas().set_index("session_id")
    assert turns.loc["s1", "trajectory_exact"] == 1.0
    assert turns.loc["s2", "trajectory_exact"] == 0.0
    assert turns.loc["s2", "args_compared"] == 1 and turns.loc["s2", "args_matched"] == 0
    assert turns.loc["s1", "response_match"] == pytest.approx(1.0)
    s = built.summary
    assert s["sessions"] == 2 and s["warmup_sessions"] == 1
    assert s["tool_trajectory_exact"] == pytest.approx(0.5)
    assert s["arg_exact_match_rate"] == pytest.approx(0.5)
    assert s["tool_name_precision"] == 1.0 and s["tool_name_recall"] == 1.0
    assert s["task_success_rate"] == pytest.approx(0.5)
    assert s["window_s"] == pytest.approx(102.6 - 101.0)


def test_rebuild_is_idempotent(run_dir: Path):
    first = build_results(run_dir)
    before = pq.read_table(run_dir / "turns.parquet")
    second = build_results(run_dir)
    assert first.summary == second.summary
    assert pq.read_table(run_dir / "turns.parquet").equals(before)


def test_a_run_folder_of_the_previous_version_still_rebuilds(run_dir: Path):
    """Its manifest.json was a plain dict: keys this version does not know are kept, not refused."""
    path = RunDir(run_dir).manifest
    old = json.loads(path.read_text())
    old.update(engine_flags_swept={"max-num-seqs": "8"}, some_retired_key=[1, 2])
    del old["skipped_cases"], old["counts"]
    path.write_text(json.dumps(old, indent=2, sort_keys=True, default=str) + "\n")
    built = build_results(run_dir)
    assert built.summary["sessions"] == 2 and built.summary["status"] == "completed"
    assert json.loads(path.read_text())["some_retired_key"] == [1, 2]  # the build does not rewrite


def test_a_misspelt_record_key_fails_the_build_by_name(run_dir: Path):
    with RunDir(run_dir).raw_file("sessions", 9).open("a") as fh:
        fh.write(json.dumps({"session_id": "s9", "warmup": False, "turn": 1}) + "\n")
    with pytest.raises(SchemaError, match="table sessions: key 'turn'"):
        build_results(run_dir)
