"""The noise verdict's parts: Student's t, the weighted (session) bootstrap, moving blocks for
rates, the minimum of sessions and records, and the run-to-run spread of repeats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.report.compare import CompareOptions, compare_runs
from bench.report.compare_format import format_cell
from bench.report.metrics import METRICS, Samples
from bench.report.noise import TOO_FEW_SESSIONS, noise_verdict
from bench.report.repeats import spread
from bench.report.runs import find_runs
from bench.report.stats import (
    block_bootstrap_distribution,
    bootstrap_distribution,
    change_interval,
    weighted_percentile,
)
from bench.report.student_t import t_quantile
from tests.unit.report.runs_factory import write_run

P50, P90, P99 = METRICS["ttft_p50_ms"], METRICS["ttft_p90_ms"], METRICS["ttft_p99_ms"]
RATE, MEAN = METRICS["turns_per_s"], METRICS["tool_accuracy"]


@pytest.mark.parametrize(
    ("p", "df", "table"),  # published two-sided 95% / 99% critical values
    [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 5, 2.571), (0.975, 10, 2.228),
     (0.975, 30, 2.042), (0.995, 1, 63.657), (0.995, 8, 3.355), (0.025, 4, -2.776)],
)  # fmt: skip
def test_t_quantile_matches_the_tables(p: float, df: int, table: float) -> None:
    assert t_quantile(p, df) == pytest.approx(table, abs=1e-3)


@pytest.mark.parametrize("q", [0, 10, 50, 90, 99, 100])
def test_weighted_percentile_is_the_percentile_of_the_records_laid_end_to_end(q: float) -> None:
    rng = np.random.default_rng(q)
    data = rng.gamma(2.0, 10.0, 40)
    weights = rng.integers(0, 4, size=(6, 40)).astype(float)
    expected = [np.percentile(np.repeat(data, w.astype(int)), q) for w in weights]
    order = np.argsort(data)
    assert weighted_percentile(q, data[order], weights[:, order]) == pytest.approx(expected)


def test_moving_blocks_see_the_correlation_of_successive_seconds() -> None:
    """A rate that drifts (a slow stretch of the server) is no set of independent seconds."""
    rng = np.random.default_rng(3)
    drift = np.repeat(rng.normal(10, 3, 12), 10) + rng.normal(0, 0.5, 120)
    independent = bootstrap_distribution(RATE, drift, 2000, np.random.default_rng(0))
    blocks = block_bootstrap_distribution(RATE, drift, 2000, np.random.default_rng(0))
    assert np.std(blocks) > 1.5 * np.std(independent)
    assert np.mean(blocks) == pytest.approx(drift.mean(), rel=0.02)


def test_change_interval_tells_noise_from_a_change() -> None:
    rng = np.random.default_rng(4)
    sessions = np.repeat(np.arange(30), 4).astype(str)
    a = Samples(rng.gamma(8, 5, 120), sessions)
    b = Samples(rng.gamma(8, 5, 120), sessions)
    assert change_interval(P50, a, b).contains(0.0) is True
    assert change_interval(P50, a, Samples(b.data + 20, sessions)).contains(0.0) is False


def test_too_few_sessions_or_records_give_no_verdict() -> None:
    rng = np.random.default_rng(5)
    data = Samples(rng.gamma(8, 5, 60), np.arange(60).astype(str))
    assert noise_verdict(P50, data, data, 4, 60).why == TOO_FEW_SESSIONS
    assert noise_verdict(P50, data, data, 5, 60).noise is True
    assert noise_verdict(P90, data, data, 60, 60).noise is True  # p90 needs 20 records
    assert noise_verdict(P99, data, data, 60, 60).why == "too few records for p99 (needs 200)"


def test_few_sessions_are_marked_undecided_in_the_table(tmp_path: Path) -> None:
    base = write_run(tmp_path, "base", sessions=40)
    few = write_run(tmp_path, "few", sessions=3, seed=1, turn_ms=900.0)
    row = compare_runs(find_runs([base, few]), CompareOptions(resamples=200)).frame.iloc[1]
    assert row["turn_p50_ms_noise"] is None and row["turn_p50_ms_why"] == TOO_FEW_SESSIONS
    assert format_cell(METRICS["turn_p50_ms"], row.to_dict()).endswith("% ?)")


def test_spread_pools_the_repeated_configurations() -> None:
    # a: 10, 12 (var 2); b: 20, 21, 22 (var 1); c once: left out. pooled (2 + 2) / (1 + 2)
    got = spread([10.0, 12.0, 20.0, 21.0, 22.0, 99.0], ["a", "a", "b", "b", "b", "c"])
    assert got is not None and got.df == 3 and got.sd == pytest.approx((4 / 3) ** 0.5)
    assert spread([1.0, 2.0], ["a", "b"]) is None


def test_repeats_widen_the_mark_but_never_with_the_pair_compared(tmp_path: Path) -> None:
    """Runs with one configuration are repeats. The two runs a row compares are left out of the
    spread: their own difference would otherwise always look like noise."""
    runs = [write_run(tmp_path, f"r{i}", sessions=200, seed=i, turn_ms=300.0 + 40 * (i % 2))
            for i in range(4)]  # fmt: skip
    slow = write_run(tmp_path, "slow", sessions=200, seed=9, turn_ms=380.0)
    found = find_runs([runs[0], slow])
    alone = compare_runs(found, CompareOptions(metrics=["turn_p50_ms"])).frame.iloc[1]
    assert alone["turn_p50_ms_noise"] is False  # same configuration, but no other repeat
    options = CompareOptions(metrics=["turn_p50_ms"])
    with_repeats = compare_runs(find_runs([*runs, slow]), options)
    row = with_repeats.frame.set_index("run_id").loc["slow"]
    assert row["turn_p50_ms_noise"] is True  # its repeats vary by 40 ms from run to run
    assert any(n.startswith("repeats: for ") and "slow" in n for n in with_repeats.notes)
