"""Bootstrap intervals: seeded, and they tell noise from real change."""

from __future__ import annotations

import numpy as np

from bench.report.metrics import METRICS
from bench.report.stats import confidence_interval, difference_interval, within_noise

P50 = METRICS["ttft_p50_ms"]
MEAN = METRICS["tool_trajectory_exact"]
RATIO = METRICS["tool_name_precision"]


def test_interval_is_seeded_and_covers_the_truth() -> None:
    data = np.random.default_rng(0).normal(100, 10, 2000)
    first = confidence_interval(P50, data, seed=7)
    assert first == confidence_interval(P50, data, seed=7)
    assert first != confidence_interval(P50, data, seed=8)
    assert first.low is not None and first.high is not None
    assert first.low < 100 < first.high and first.high - first.low < 3


def test_noise_and_change_are_told_apart() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(100, 10, 1000), rng.normal(100, 10, 1000)
    assert within_noise(P50, a, b) is True
    assert within_noise(P50, a, b + 10) is False
    hits = (rng.random(500) < 0.8).astype(float)
    assert within_noise(MEAN, hits, (rng.random(500) < 0.8).astype(float)) is True
    assert within_noise(MEAN, hits, (rng.random(500) < 0.4).astype(float)) is False


def test_ratio_metric_resamples_pairs() -> None:
    pairs = np.array([[1, 1]] * 80 + [[0, 1]] * 20, dtype=float)  # precision 0.8
    interval = difference_interval(RATIO, pairs, pairs)
    assert interval.low is not None and interval.low < 0 < interval.high
    ci = confidence_interval(RATIO, pairs)
    assert ci.low < 0.8 < ci.high


def test_no_data_gives_no_verdict() -> None:
    assert within_noise(P50, np.array([]), np.array([1.0, 2.0])) is None
