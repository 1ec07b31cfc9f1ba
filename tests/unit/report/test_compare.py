"""`bench compare` on runs with known differences, written through the real writer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.report.compare import CompareOptions, compare_runs, pick_baseline
from bench.report.compare_format import to_csv, to_markdown
from bench.report.runs import find_runs
from bench.schemas.errors import BenchError
from tests.unit.report.runs_factory import write_run

SNAPSHOT = Path(__file__).parent / "snapshots" / "compare.md"
METRICS = ["sessions_per_s", "ttft_p50_ms", "turn_p50_ms", "tool_trajectory_exact", "error_rate"]


def _summary(run: Path) -> dict:
    return pd.read_parquet(run / "summary.parquet").iloc[0].to_dict()


def _compare(known_runs: dict[str, Path], **kw):
    runs = find_runs([known_runs[k] for k in ("base", "again", "slow")])
    return compare_runs(runs, CompareOptions(metrics=METRICS, **kw))


def test_deltas_are_against_the_baseline(known_runs: dict[str, Path]) -> None:
    rows = _compare(known_runs).frame.set_index("run_id")
    base, slow = _summary(known_runs["base"]), _summary(known_runs["slow"])
    for m in METRICS[:4]:
        assert rows.loc["slow", f"{m}_delta_pct"] == pytest.approx(
            (slow[m] - base[m]) / base[m] * 100
        )
    assert rows.loc["slow", "ttft_p50_ms_delta_pct"] == pytest.approx(100, abs=20)
    # twice the sessions, a fifth of them failed: successes per second are 2 * 0.8 = +60%
    assert rows.loc["slow", "sessions_per_s_delta_pct"] == pytest.approx(60, abs=5)
    assert rows.loc["slow", "tool_trajectory_exact_delta_pct"] < -40
    assert rows.loc["slow", "error_rate"] == pytest.approx(0.2)
    assert pd.isna(rows.loc["slow", "error_rate_delta_pct"])  # no % change from zero
    assert bool(rows.loc["base", "baseline"]) and pd.isna(rows.loc["base", "ttft_p50_ms_delta_pct"])


def test_noise_marks(known_runs: dict[str, Path]) -> None:
    rows = _compare(known_runs).frame.set_index("run_id")
    for m in METRICS[:4]:
        assert rows.loc["again", f"{m}_noise"] is True, m  # the same system measured twice
        assert rows.loc["slow", f"{m}_noise"] is False, m  # real changes
    assert rows.loc["slow", "error_rate_noise"] is False


def test_seeded_output_is_identical(known_runs: dict[str, Path]) -> None:
    assert to_csv(_compare(known_runs, seed=3)) == to_csv(_compare(known_runs, seed=3))


def test_markdown_snapshot(known_runs: dict[str, Path]) -> None:
    text = to_markdown(_compare(known_runs, by=["users"]))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":  # on purpose only: review the diff, commit it
        SNAPSHOT.write_text(text)
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: write it with UPDATE_SNAPSHOTS=1"
    assert text == SNAPSHOT.read_text()


def test_results_root_with_filters(known_runs: dict[str, Path]) -> None:
    root = known_runs["base"].parent
    assert [r.run_id for r in find_runs([root])] == ["base", "again", "slow"]  # by start time
    assert [r.run_id for r in find_runs([root], model="other")] == ["slow"]
    assert [r.run_id for r in find_runs([root], since="2026-09-22")] == ["again", "slow"]
    assert [r.run_id for r in find_runs([root], evalset="weather_time", model="tiny")] == [
        "base",
        "again",
    ]
    with pytest.raises(BenchError, match="no run matches"):
        find_runs([root], model="nope")
    with pytest.raises(BenchError, match="--since"):
        find_runs([root], since="last tuesday")


def test_baseline_by_id_and_sorting_by_key(known_runs: dict[str, Path]) -> None:
    runs, index = pick_baseline(find_runs([known_runs["base"].parent]), "slow")
    comparison = compare_runs(runs, CompareOptions(metrics=METRICS, by=["users"], baseline=index))
    frame = comparison.frame
    assert list(frame["users"]) == [4, 4, 8]
    assert frame.set_index("run_id").loc["slow", "baseline"]
    with pytest.raises(BenchError, match="--metrics"):
        compare_runs(runs, CompareOptions(metrics=["bogus"]))


def test_load_steps_are_one_row_each(tmp_path: Path) -> None:
    parent = tmp_path / "stepped"
    for i, users in enumerate((1, 4)):
        write_run(parent, f"step-0{i}-users-{users}", users=users, sessions=50, seed=i)
    (parent / "summary.parquet").write_bytes(
        (parent / "step-00-users-1" / "summary.parquet").read_bytes()
    )
    assert [r.key("users") for r in find_runs([parent])] == [1, 4]


def test_mixed_schema_versions_are_refused(
    known_runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.results.writer as writer

    monkeypatch.setattr(writer, "SCHEMA_VERSION", 0)
    old = write_run(tmp_path, "old", sessions=20)
    monkeypatch.undo()
    with pytest.raises(BenchError, match="different result schema versions"):
        find_runs([known_runs["base"], old])
    cli = subprocess.run([sys.executable, "-m", "bench", "compare", str(known_runs["base"]), str(old)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert cli.returncode == 2
    assert cli.stderr.count("\n") == 1 and "schema versions" in cli.stderr
    assert "Traceback" not in cli.stderr
