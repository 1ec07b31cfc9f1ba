"""The long-session eval set on the tiny model: real vLLM (CPU), real Locust, real ADK agents.

Expected scores come from walking the tiny script over the eval set (tests/fixtures/tiny_walk).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.e2e.test_run import bench_run
from tests.fixtures.tiny_walk import expected_turns, implied_exact, implied_turn

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def notes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    proc = bench_run(
        "--model", "tiny", "--evalset", "research_notes", "--sessions", "10", "--users", "2",
        "--results-dir", str(results), "--run-id", "notes",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return results / "notes"


def test_scores_and_calls_follow_the_script(notes_run: Path) -> None:
    turns = pq.read_table(notes_run / "turns.parquet").to_pandas()
    summary = pq.read_table(notes_run / "summary.parquet").to_pandas().iloc[0]
    measured = turns[~turns["warmup"]]
    assert measured["error_type"].isna().all()
    # Ten sessions cover the ten cases: every turn of the eval set ran once.
    keys = list(zip(measured["case_id"], measured["invocation_index"], strict=True))
    assert sorted(keys) == sorted(key for key, _, _ in expected_turns("research_notes"))
    implied = implied_exact("research_notes")
    assert summary["tool_trajectory_exact"] == pytest.approx(
        sum(implied[k] for k in keys) / len(keys)
    )
    assert 0.8 < summary["tool_trajectory_exact"] < 1
    texts = {key: text for key, text, _ in expected_turns("research_notes")}
    want_calls = [implied_turn(texts[k])[1] for k in keys]
    assert measured["llm_calls"].tolist() == want_calls


def test_prompts_grow_with_the_turn_index(notes_run: Path) -> None:
    calls = pq.read_table(notes_run / "llm_calls.parquet").to_pandas()
    turns = pq.read_table(notes_run / "turns.parquet").to_pandas()
    calls = calls.merge(turns[["turn_id", "invocation_index"]], on="turn_id")
    measured = calls[~calls["warmup"]]
    by_turn = measured.groupby("invocation_index")["prompt_tokens"].median()
    assert by_turn.index.max() >= 5
    assert by_turn.iloc[-1] > 2 * by_turn.iloc[0]
