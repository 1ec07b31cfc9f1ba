"""The concurrency plot counts what was in flight from the records, every start and end: calls
with a scripted overlap, written through the results builder, against the count worked out
here from the script itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.report.over_time import in_flight_series, in_flight_steps, throughput_over_time
from bench.report.runs import Run
from tests.unit.report.runs_factory import write_run

# (seconds after the first session's start, duration in ms). Four short calls overlap at 12, 14
# and 16 s, each burst over within 0.1 s: a count sampled on a 0.25 s grid (as the plot once
# did) read 0 there.
BURSTS = [(t + 0.01 * i, 80.0) for t in (12.05, 14.05, 16.05) for i in range(4)]
SCRIPT = [(3.0, 500.0), (5.0, 50.0), (7.0, 1000.0), (7.5, 1000.0), *BURSTS]


def _truth(t: float) -> int:
    return sum(start <= t < start + ms / 1000 for start, ms in SCRIPT)


def _count_at(series: tuple[np.ndarray, np.ndarray], t: float) -> int:
    times, counts = series
    return int(counts[np.searchsorted(times, t, side="right") - 1])


@pytest.fixture(scope="module")
def overlap_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("overlap")
    return Run(write_run(root, "overlap", sessions=20, duration_s=20.0, scripted_calls=SCRIPT))


def test_calls_in_flight_match_the_script(overlap_run: Run) -> None:
    t0, series = in_flight_series(overlap_run)
    calls = series["LLM calls in flight"]
    assert t0 == pytest.approx(1_790_000_000.0)  # the first session's start (runs_factory.T0)
    for t, expected in ((12.1, 4), (14.1, 4), (16.1, 4), (12.2, 0), (7.6, 2), (5.02, 1),
                        (10.0, 0), (13.0, 0)):  # fmt: skip
        assert _truth(t) == expected  # the script says so
        assert _count_at(calls, t) == expected, t
    probes = np.random.default_rng(0).uniform(0.0, 20.0, 5000)
    assert [_count_at(calls, t) for t in probes] == [_truth(t) for t in probes]
    assert max(calls[1]) == 4


def test_touching_intervals_do_not_overlap() -> None:
    times, counts = in_flight_steps(np.array([0.0, 1.0, np.nan]), np.array([1.0, 2.0, 3.0]))
    assert times.tolist() == [0.0, 1.0, 2.0] and counts.tolist() == [1, 1, 0]


def test_the_plot_draws_both_series(overlap_run: Run) -> None:
    plot = throughput_over_time(overlap_run)
    assert plot is not None
    assert {"sessions in flight", "LLM calls in flight"} <= set(plot.series)


def test_a_run_without_records_has_no_series(tmp_path: Path) -> None:
    run = Run(write_run(tmp_path, "r", sessions=3))
    run._tables["sessions"] = run._tables["llm_calls"] = None
    assert in_flight_series(run) == (0.0, {})
