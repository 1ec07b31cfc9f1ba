"""Cached tokens per call class, on real runs against the fake server (real Locust and ADK).

The fake simulates a prefix cache (whole messages) and reports `cached_tokens`; the expected
number of calls per class comes from walking the tiny script over the research_notes eval set.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.testing.fake_server import running_fake_server
from tests.fixtures.tiny_walk import expected_classes

SESSIONS = 10  # one per case: tickets walk the cases in order


def bench_run(url: str, results: Path, run_id: str, *extra: str) -> subprocess.CompletedProcess:
    args = ["run", "--endpoint", f"{url}/v1", "--model", "fake", "--evalset", "research_notes",
            "--sessions", str(SESSIONS), "--users", "1", "--processes", "1",
            "--results-dir", str(results), "--run-id", run_id, *extra]  # fmt: skip
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ))  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    for run_id, details in (("cached", True), ("unreported", False)):
        with running_fake_server(prompt_tokens_details=details) as url:
            done = bench_run(url, results, run_id)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        (results / f"{run_id}.stdout").write_text(done.stdout)
    return results


def test_calls_are_classified_and_cached_tokens_recorded(runs: Path) -> None:
    calls = pd.read_parquet(runs / "cached" / "llm_calls.parquet")
    summary = pd.read_parquet(runs / "cached" / "summary.parquet").iloc[0]
    measured = calls[~calls["warmup"]]
    want = expected_classes("research_notes")
    assert measured["call_class"].value_counts().to_dict() == want
    for name, n in want.items():
        assert summary[f"kv_{name}_calls"] == n
    assert measured["cached_tokens"].notna().all() and bool(summary["cached_tokens_reported"])
    # Every later call resends a prompt whose whole-message prefix was sent before.
    later = measured[measured["call_class"] != "session_start"]
    assert (later["cached_tokens"] > 0).all()
    assert (measured["cached_tokens"] <= measured["prompt_tokens"]).all()
    # The fake caches whole messages: a later call finds the previous call's whole prompt.
    ordered = measured.sort_values("started_at")
    previous = ordered.groupby("session_id")["prompt_tokens"].shift(1)
    has_previous = previous.notna()
    assert (has_previous == (ordered["call_class"] != "session_start")).all()
    assert (ordered["cached_tokens"][has_previous] >= 0.95 * previous[has_previous]).all()
    ok = measured[measured["call_class"] == "within_turn"]
    assert summary["kv_within_turn_cached_fraction"] == pytest.approx(
        ok["cached_tokens"].sum() / ok["prompt_tokens"].sum()
    )
    fractions = " / ".join(
        f"{summary[f'kv_{n}_cached_fraction']:.3f}"
        for n in ("session_start", "across_turns", "within_turn")
    )
    assert fractions in (runs / "cached.stdout").read_text()


def test_a_server_without_details_leaves_cached_tokens_null(runs: Path) -> None:
    calls = pd.read_parquet(runs / "unreported" / "llm_calls.parquet")
    summary = pd.read_parquet(runs / "unreported" / "summary.parquet").iloc[0]
    assert calls["cached_tokens"].isna().all() and calls["call_class"].notna().all()
    assert not bool(summary["cached_tokens_reported"])
    assert pd.isna(summary["kv_within_turn_cached_fraction"])
    assert summary["kv_within_turn_prompt_tokens"] > 0
    assert "not reported by the server" in (runs / "unreported.stdout").read_text()
