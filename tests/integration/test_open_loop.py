"""Open loop without coordinated omission, against a fake server that slows down with load.

The fake server adds `--latency-per-inflight-ms` per request in flight, so a rate above its
capacity makes the backlog grow for as long as the load runs. What the test sets up is the truth:
- with a cap on sessions in flight, arrivals queue; latency measured from each session's
  scheduled arrival must keep growing over the window, the late start is its own column, and the
  arrivals still queued at the end are recorded as never started;
- without a cap (the default is high), sessions start on schedule however many are in flight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from bench.testing.fake_server import running_fake_server

RATE = 6.0  # sessions/s: above what the server serves at once
CAPPED_RATE = 8.0  # sessions/s: about 6/s is what the server serves to 3 sessions in flight
CAP = 3


def bench_run(
    url: str, results: Path, run_id: str, *args: str, rate: float = RATE
) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "bench", "run", "--endpoint", url, "--model", "fake",
           "--evalset", "evalsets/weather_time", "--results-dir", str(results), "--run-id", run_id,
           "--session-rate", str(rate), "--arrival", "constant", *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    return proc.returncode, proc.stdout + proc.stderr


def _tables(run: Path):
    sessions = pq.read_table(run / "sessions.parquet").to_pandas()
    summary = pq.read_table(run / "summary.parquet").to_pylist()[0]
    return sessions[~sessions["warmup"]], summary


def epoch_s(column):
    return column.map(lambda t: t.timestamp())  # Parquet timestamps (UTC) -> epoch seconds


@pytest.fixture(scope="module")
def slow_server():
    with running_fake_server(latency_per_inflight_ms=80, itl_ms=2) as url:
        yield url


def _printed(summary: dict, column: str) -> float:
    """A summary percentile, or the lower bound incomplete sessions make of it ("≥ X ms")."""
    if summary[column] is not None:
        return summary[column]
    return float(summary[f"{column}_bound"].removeprefix("≥ ").removesuffix(" ms"))


def test_capped_open_loop_measures_from_the_schedule(tmp_path: Path, slow_server: str) -> None:
    code, out = bench_run(
        slow_server,
        tmp_path,
        "capped",
        "--duration",
        "20s",
        "--max-sessions-in-flight",
        str(CAP),
        "--processes",
        "1",
        rate=CAPPED_RATE,
    )  # fmt: skip  (the cap is per load process)
    assert code == 0, out[-3000:]
    run = tmp_path / "capped"
    sessions, summary = _tables(run)
    assert len(sessions) >= 20
    scheduled, started = epoch_s(sessions["scheduled_at"]), epoch_s(sessions["started_at"])
    # the late start is its own column, and it is what the schedule says it is
    assert np.allclose(sessions["start_delay_ms"], (started - scheduled) * 1000, atol=50)
    assert (sessions["start_delay_ms"] > 1000).any()
    assert summary["start_delay_p90_ms"] > 1000
    # session latency from the scheduled time keeps growing: the backlog does
    latency = sessions["start_delay_ms"] + sessions["duration_ms"]
    lo, hi = scheduled.min(), scheduled.max()
    third = (hi - lo) / 3
    first = latency[scheduled <= lo + third]
    last = latency[scheduled >= hi - third]
    assert len(first) >= 5 and len(last) >= 5
    # by more than a second over 20 s (measured from the late start it would not grow at all);
    # not a ratio: on a busy machine the first third is slow too
    assert np.percentile(last, 90) > np.percentile(first, 90) + 1000
    # ... while the time each session ran for stays bounded by the cap
    assert np.percentile(sessions["duration_ms"], 90) < np.percentile(last, 90) / 2
    # the summary's session percentiles are from the schedule, not from the late start (a
    # session stopped before its next turn counts at its age, a lower bound)
    counted = latency[(sessions["errors"] == 0) | sessions["incomplete"].astype(bool)]
    assert _printed(summary, "session_p90_ms") == pytest.approx(
        np.percentile(counted, 90), abs=0.05
    )
    # arrivals scheduled inside the window that never started are counted, not lost
    assert summary["arrivals_not_started"] > 0
    assert summary["arrivals_waited_for_cap"] > 0
    assert summary["arrivals"] >= len(sessions) + summary["arrivals_not_started"]
    assert summary["max_sessions_in_flight"] == CAP
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["counts"]["arrivals_not_started"] == summary["arrivals_not_started"]


def test_uncapped_open_loop_starts_sessions_on_schedule(tmp_path: Path, slow_server: str) -> None:
    """Also the overloaded open loop of issue 26: more sessions arrive than the server serves,
    so the backlog in flight grows; cut at once at the stop (--drain 0s), those sessions are
    incomplete, and their age counts in the session percentiles as a lower bound, printed with
    "≥" and equal to the percentile of the raw records."""
    code, out = bench_run(slow_server, tmp_path, "free", "--duration", "12s", "--drain", "0s")
    assert code == 0, out[-3000:]
    sessions, summary = _tables(tmp_path / "free")
    assert len(sessions) >= 20
    # more sessions in flight at once than --users (4): nobody waited for a free user
    starts, ends = epoch_s(sessions["started_at"]), epoch_s(sessions["ended_at"])
    in_flight = max(int(((starts <= t) & (ends > t)).sum()) for t in starts)
    assert in_flight > 4, in_flight
    assert summary["start_delay_p90_ms"] < 250, summary["start_delay_p90_ms"]
    assert summary["arrivals_waited_for_cap"] == 0
    assert summary["max_sessions_in_flight"] == 1000
    # the backlog at the stop: incomplete, counted at its age from the schedule
    incomplete = sessions["incomplete"].astype(bool)
    assert incomplete.sum() > 0 and summary["sessions_incomplete"] == incomplete.sum()
    latency = sessions["start_delay_ms"] + sessions["duration_ms"]
    counted = latency[(sessions["errors"] == 0) | incomplete]
    for p in (50, 90, 99):
        assert _printed(summary, f"session_p{p}_ms") == pytest.approx(
            np.percentile(counted, p), abs=0.05
        )
    assert summary["session_p99_ms"] is None  # the slowest are still running: only a bound
    bound = summary["session_p99_ms_bound"]
    assert bound.startswith("≥ ") and bound.removesuffix(" ms") in out
