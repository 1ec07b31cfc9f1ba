"""`bench run` end to end: real vLLM (CPU) with the tiny model, real Locust, real ADK agents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from google.adk.evaluation.eval_case import Invocation
from google.adk.evaluation.eval_metrics import EvalMetric, ToolTrajectoryCriterion
from google.adk.evaluation.trajectory_evaluator import TrajectoryEvaluator

from bench.constants import SCHEMA_VERSION
from bench.evalset import load_evalset
from bench.models.tiny import TINY_CASES
from bench.results.writer import read_metadata
from bench.schemas.settings import SERVER_API_KEY_ENV as API_KEY_ENV
from bench.server.process import Endpoint

pytestmark = pytest.mark.e2e

TABLES = ("llm_calls", "turns", "sessions", "summary")


def bench_run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", "run", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def implied_calls(user_text: str) -> list[dict]:
    """What the tiny model's script answers to a first user message when tools are given."""
    text = user_text.lower()
    for case in TINY_CASES:
        cond = case.condition
        if (
            cond.kind == "keywords" and all(k in text for k in cond.keywords)
        ) or cond.kind == "always":
            return [{"name": c.name, "args": c.arguments} for c in case.calls]
    raise AssertionError("the script has a fallback")


def expected_invocations() -> Iterator[tuple[tuple[str, int], str, list[dict[str, Any]]]]:
    """Per (case, invocation) of weather_time: the user's text and the expected tool calls."""
    for case in load_evalset("weather_time").cases:
        for i, inv in enumerate(case.conversation):
            text = "".join(p.text or "" for p in inv.user_content.parts)
            expected = [
                {"name": t.name, "args": dict(t.args or {})}
                for t in inv.intermediate_data.tool_uses
            ]
            yield (case.eval_id, i), text, expected


def implied_exact_scores() -> dict[tuple[str, int], float]:
    """Per (case, invocation): 1.0 when the script's calls equal the eval set's expected calls."""
    return {
        key: 1.0 if implied_calls(text) == expected else 0.0
        for key, text, expected in expected_invocations()
    }


def adk_exact(turns: pd.DataFrame) -> float:
    evaluator = TrajectoryEvaluator(
        eval_metric=EvalMetric(
            metric_name="tool_trajectory_avg_score",
            criterion=ToolTrajectoryCriterion(threshold=1.0),
        )
    )
    actual = [Invocation.model_validate_json(s) for s in turns["actual_invocation"]]
    expected = [Invocation.model_validate_json(s) for s in turns["expected_invocation"]]
    return evaluator.evaluate_invocations(actual, expected).overall_score


@pytest.fixture(scope="module")
def timed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    results = tmp_path_factory.mktemp("results")
    proc = bench_run(
        "--model", "tiny", "--evalset", "weather_time", "--users", "4", "--spawn-rate", "4",
        "--duration", "30s", "--results-dir", str(results), "--run-id", "timed",
    )  # fmt: skip
    return results / "timed", proc


def test_run_writes_all_tables_with_provenance(timed_run):
    run_dir, proc = timed_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in TABLES:
        meta = read_metadata(run_dir / f"{name}.parquet")
        assert meta["schema_version"] == SCHEMA_VERSION
        assert meta["model"] == "tiny" and meta["served_model_name"] == "tiny"
        assert meta["eval_set_id"] == "weather_time" and len(meta["eval_set_sha256"]) == 64
        assert meta["vllm_version"] and "--tool-call-parser" in meta["vllm_argv"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert (run_dir / "config.resolved.toml").exists() and (run_dir / "server.log").exists()
    assert "tool trajectory" in proc.stdout and str(run_dir) in proc.stdout


def test_tool_accuracy_equals_the_script_and_adk(timed_run):
    run_dir, _ = timed_run
    turns = pq.read_table(run_dir / "turns.parquet").to_pandas()
    summary = pq.read_table(run_dir / "summary.parquet").to_pandas().iloc[0]
    # tool accuracy is over completed turns: no failed or incomplete ones
    completed = turns["error_type"].isna() & ~turns["incomplete"].fillna(False).astype(bool)
    measured = turns[~turns["warmup"] & completed]
    assert len(measured) >= 9
    implied = implied_exact_scores()
    expected = sum(
        implied[(c, i)]
        for c, i in zip(measured["case_id"], measured["invocation_index"], strict=True)
    ) / len(measured)
    assert 0 < summary["tool_trajectory_exact"] < 1
    assert summary["tool_trajectory_exact"] == pytest.approx(expected)
    assert summary["tool_trajectory_exact"] == pytest.approx(adk_exact(measured))
    # The Madrid case calls both tools in the other order: only ANY_ORDER forgives it.
    madrid = measured[measured["case_id"] == "madrid_weather_and_time"]
    if len(madrid):
        assert (madrid["trajectory_exact"] == 0).all() and (
            madrid["trajectory_any_order"] == 1
        ).all()


def test_counts_agree_across_tables(timed_run):
    run_dir, _ = timed_run
    calls = pq.read_table(run_dir / "llm_calls.parquet").to_pandas()
    turns = pq.read_table(run_dir / "turns.parquet").to_pandas()
    sessions = pq.read_table(run_dir / "sessions.parquet").to_pandas()
    per_turn = calls.groupby("turn_id").size()
    assert (
        turns.set_index("turn_id")["llm_calls"] == per_turn.reindex(turns["turn_id"]).values
    ).all()
    finished = turns[turns["session_id"].isin(sessions["session_id"])]
    per_session = finished.groupby("session_id").size()
    assert (
        sessions.set_index("session_id")["turns"]
        == per_session.reindex(sessions["session_id"]).values
    ).all()
    ok = calls[calls["error_type"].isna()]
    assert (ok["ttft_ms"] <= ok["e2e_ms"]).all()
    assert ok["tpot_ms"].notna().any()
    assert calls["error_type"].isna().all() and turns["error_type"].isna().all()


def test_duration_is_honoured(timed_run):
    run_dir, _ = timed_run
    sessions = pq.read_table(run_dir / "sessions.parquet").to_pandas()
    turns = pq.read_table(run_dir / "turns.parquet").to_pandas()
    span_s = (turns["ended_at"].max() - sessions["started_at"].min()).total_seconds()
    assert 25 <= span_s <= 36


def test_exact_session_count(tiny_endpoint: Endpoint, tmp_path: Path):
    proc = bench_run(
        "--endpoint", tiny_endpoint.base_url, "--api-key-env", "TINY_KEY", "--model", "tiny",
        "--sessions", "7", "--users", "3", "--no-stream", "--results-dir", str(tmp_path), "--run-id", "n7",
        env={"TINY_KEY": tiny_endpoint.api_key or ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sessions = pq.read_table(tmp_path / "n7" / "sessions.parquet").to_pandas()
    # Exactly 7 measured sessions; the warm-up session of the load process comes on top, flagged.
    assert (~sessions["warmup"]).sum() == 7
    assert sessions["warmup"].sum() == 1
    assert sorted(sessions.loc[~sessions["warmup"], "ticket"]) == list(range(7))
    summary = pq.read_table(tmp_path / "n7" / "summary.parquet").to_pandas().iloc[0]
    assert summary["sessions"] == 7 and summary["warmup_sessions"] == 1
    calls = pq.read_table(tmp_path / "n7" / "llm_calls.parquet").to_pandas()
    assert (~calls["stream"]).all()
    # The key never reaches the run folder.
    key = tiny_endpoint.api_key
    assert key
    for f in (tmp_path / "n7").rglob("*"):
        if f.is_file():
            assert key.encode() not in f.read_bytes(), f
    assert API_KEY_ENV not in (tmp_path / "n7" / "config.resolved.toml").read_text()
