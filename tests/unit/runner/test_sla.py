"""The max-load search (pure) and the SLO verdict of one probe."""

from __future__ import annotations

import pytest

from bench.runner.sla_search import MaxLoadSearch, SloCheck, load_key, replay
from bench.schemas.errors import BenchError


def run_search(search: MaxLoadSearch, limit: float) -> list[float]:
    probed = []
    while (load := search.next_load()) is not None:
        probed.append(load)
        search.record(load, load <= limit)
    return probed


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 7, 11, 16, 31, 64])
def test_users_search_finds_the_limit(limit: int) -> None:
    search = MaxLoadSearch(1, 64)
    probed = run_search(search, limit)
    assert search.best_pass == limit
    assert len(probed) == len(set(probed)) <= 2 * 7
    assert search.lowest_fail in (None, limit + 1)


def test_search_ramps_then_bisects() -> None:
    search = MaxLoadSearch(1, 16)
    assert run_search(search, 5) == [1, 2, 4, 8, 6, 5]
    assert [p.phase for p in search.probes] == ["ramp"] * 4 + ["bisect"] * 2
    assert search.outcome() == "max 5 (fails at 6)"


def test_search_edges() -> None:
    none = MaxLoadSearch(2, 16)
    assert run_search(none, 1) == [2] and none.best_pass is None
    assert "lowest" in none.outcome()
    top = MaxLoadSearch(1, 10)
    assert run_search(top, 100) == [1, 2, 4, 8, 10] and "may be higher" in top.outcome()
    with pytest.raises(BenchError):
        MaxLoadSearch(0, 4)


def test_rate_search_stops_within_tolerance() -> None:
    search = MaxLoadSearch(0.5, 8.0, integer=False, rate_tolerance=0.05)
    run_search(search, 3.3)
    assert search.best_pass is not None and search.lowest_fail is not None
    assert search.best_pass <= 3.3 < search.lowest_fail
    assert search.lowest_fail - search.best_pass <= 0.05 * search.best_pass


def test_replay_uses_finished_probes() -> None:
    first = MaxLoadSearch(1, 16)
    run_search(first, 5)
    cached = {load_key(p.load): p.passed for p in first.probes[:3]}
    again = MaxLoadSearch(1, 16)
    replay(again, cached)
    assert [p.load for p in again.probes] == [1, 2, 4] and all(p.replayed for p in again.probes)
    assert again.next_load() == 8


def test_verdict() -> None:
    check = SloCheck({"turn_ms": 500, "ttft_ms": 100}, 90, 0.9)
    ok = {"turns": 10, "turn_p90_ms": 480.0, "ttft_p90_ms": 50.0, "tool_trajectory_exact": 0.95,
          "error_rate": 0.0}  # fmt: skip
    passed, reasons = check.verdict(ok)
    assert passed and reasons[0] == "ttft_p90_ms 50 <= 100" and "turn_p90_ms 480 <= 500" in reasons
    assert not check.verdict({**ok, "turn_p90_ms": 510.0})[0]
    assert not check.verdict({**ok, "tool_trajectory_exact": 0.5})[0]
    assert not check.verdict({**ok, "error_rate": 0.1})[0]
    assert check.verdict({**ok, "turns": 0}) == (False, ["no measured turn"])
    # sessions still running at the end of the drain are no errors; only incomplete turns is no
    # measurement
    assert check.verdict({**ok, "sessions_incomplete": 3, "turns_incomplete": 3})[0]
    assert not check.verdict({**ok, "turns_incomplete": 10})[0]
    # a percentile that incomplete work reaches is only a bound: no pass, the bound is the reason
    bounded = {**ok, "turn_p90_ms": None, "turn_p90_ms_bound": "≥ 12000.0 ms"}
    passed, reasons = check.verdict(bounded)
    assert not passed and "turn_p90_ms ≥ 12000.0 > 500" in reasons
    p99 = SloCheck({"turn_ms": 500}, 99)
    assert p99.verdict({**ok, "turn_p99_ms": 900.0})[1] == ["turn_p99_ms 900 > 500"]
    with pytest.raises(BenchError):
        SloCheck({}, 90, None)
    with pytest.raises(BenchError):
        SloCheck({"turn_ms": 1}, 95)  # type: ignore[arg-type]
