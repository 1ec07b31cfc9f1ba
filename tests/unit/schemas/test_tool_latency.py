"""Parsing and seeded draws of --tool-latency (bench.schemas.tool_latency)."""

from __future__ import annotations

import statistics

import pytest

from bench.schemas.tool_latency import parse_tool_latency


def test_fixed_default_and_per_tool() -> None:
    latency = parse_tool_latency(["800ms", "get_weather=300ms", "get_time=0"])
    assert latency.delay_s("search", "k") == pytest.approx(0.8)
    assert latency.delay_s("get_weather", "k") == pytest.approx(0.3)
    assert latency.delay_s("get_time", "k") == 0.0
    assert parse_tool_latency(["get_weather=1s"]).delay_s("other", "k") == 0.0


def test_lognormal_has_the_given_median_and_p90() -> None:
    latency = parse_tool_latency(["lognormal:median=1s,p90=3s"], seed=7)
    draws = sorted(latency.delay_s("t", str(i)) for i in range(20000))
    assert statistics.median(draws) == pytest.approx(1.0, rel=0.05)
    assert draws[int(0.9 * len(draws))] == pytest.approx(3.0, rel=0.07)


def test_uniform_stays_in_bounds_and_draws_are_seeded() -> None:
    a = parse_tool_latency(["uniform:0.2s-2s"], seed=1)
    draws = [a.delay_s("t", str(i)) for i in range(2000)]
    assert 0.2 <= min(draws) < 0.3 and 1.9 < max(draws) <= 2.0
    again = parse_tool_latency(["uniform:0.2s-2s"], seed=1)
    other = parse_tool_latency(["uniform:0.2s-2s"], seed=2)
    assert [again.delay_s("t", str(i)) for i in range(2000)] == draws
    assert [other.delay_s("t", str(i)) for i in range(2000)] != draws


@pytest.mark.parametrize(
    "texts",
    [["fast"], ["-1s"], ["lognormal:median=1s"], ["lognormal:median=3s,p90=1s"],
     ["uniform:2s-1s"], ["uniform:1s"], ["gamma:1s"], ["1s", "2s"], ["a=1s", "a=2s"]],
)  # fmt: skip
def test_bad_values_raise(texts: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_tool_latency(texts)
