"""The long-session eval set on the tiny model: real vLLM (CPU), real Locust, real ADK agents.

Expected scores come from walking the tiny script over the eval set (tests/fixtures/tiny_walk).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from bench.evalset import load_evalset
from tests.e2e.test_run import bench_run
from tests.fixtures.tiny_walk import expected_classes, expected_turns, implied_exact, implied_turn

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
    measured = calls[~calls["warmup"]]
    by_turn = measured.groupby("invocation_index")["prompt_tokens"].median()
    assert by_turn.index.max() >= 5
    assert by_turn.iloc[-1] > 2 * by_turn.iloc[0]


def test_cached_tokens_by_call_class(notes_run: Path) -> None:
    """vLLM with --enable-prompt-tokens-details and prefix caching (on by default, CPU too)."""
    calls = pq.read_table(notes_run / "llm_calls.parquet").to_pandas()
    summary = pq.read_table(notes_run / "summary.parquet").to_pandas().iloc[0]
    measured = calls[~calls["warmup"]].sort_values("started_at")
    assert measured["call_class"].value_counts().to_dict() == expected_classes("research_notes")
    assert bool(summary["cached_tokens_reported"]) and measured["cached_tokens"].notna().all()
    across = measured[measured["call_class"] == "across_turns"]
    assert (across["cached_tokens"] > 0).all()
    # Blocks are cached whole: every cached count is a multiple of the block size.
    block = int(np.gcd.reduce(measured["cached_tokens"][measured["cached_tokens"] > 0]))
    assert block >= 16
    # A later call of a session finds its previous prompt in the cache, all but the last
    # partial block (the previous prompt's last token, the script marker, is not resent).
    previous = measured.groupby("session_id")["prompt_tokens"].shift(1)
    later = previous.notna()
    assert (later == (measured["call_class"] != "session_start")).all()
    assert (measured["cached_tokens"][later] >= previous[later] - block).all()
    for name in ("session_start", "across_turns", "within_turn"):
        mine = measured[measured["call_class"] == name]
        assert summary[f"kv_{name}_cached_fraction"] == pytest.approx(
            mine["cached_tokens"].sum() / mine["prompt_tokens"].sum()
        )


def test_by_turn_index_counts_match_llm_calls(notes_run: Path) -> None:
    calls = pq.read_table(notes_run / "llm_calls.parquet").to_pandas()
    rows = pq.read_table(notes_run / "by_turn_index.parquet").to_pandas()
    measured = calls[~calls["warmup"]]
    assert rows["llm_calls"].sum() == len(measured)
    lengths = [len(c.conversation) for c in load_evalset("research_notes").cases]
    assert rows["turns"].sum() == sum(lengths)
    assert list(rows["turn_index"]) == list(range(1, max(lengths) + 1))
    # The prompt grows turn after turn; the cache serves most of it.
    assert rows["prompt_tokens_p50"].is_monotonic_increasing
    assert (rows["cached_fraction"] > 0.5).all()
