"""Bootstrap confidence intervals for a metric and for its change between two runs.

A change is "within noise" when the confidence interval of the difference (each run's records
resampled independently, with replacement) contains zero. Seeded: the same inputs and seed give
the same intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.report.metrics import Metric, statistic

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
MAX_CELLS = 4_000_000  # resamples x records drawn at once (memory bound)


def bootstrap_distribution(
    metric: Metric, data: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The metric over `resamples` resamples of the records (NaN when there is no data)."""
    n = len(data)
    if n == 0:
        return np.full(resamples, np.nan)
    out = np.empty(resamples)
    batch = max(1, MAX_CELLS // n)
    for lo in range(0, resamples, batch):
        hi = min(resamples, lo + batch)
        idx = rng.integers(0, n, size=(hi - lo, n))
        out[lo:hi] = statistic(metric, data[idx])
    return out


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None

    def contains(self, value: float) -> bool | None:
        if self.low is None or self.high is None:
            return None
        return self.low <= value <= self.high


def _interval(dist: np.ndarray, confidence: float) -> Interval:
    clean = dist[~np.isnan(dist)]
    if len(clean) == 0:
        return Interval(None, None)
    alpha = (1 - confidence) / 2 * 100
    low, high = np.percentile(clean, [alpha, 100 - alpha])
    return Interval(float(low), float(high))


def confidence_interval(
    metric: Metric,
    data: np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    rng = np.random.default_rng(seed)
    return _interval(bootstrap_distribution(metric, data, resamples, rng), confidence)


def difference_interval(
    metric: Metric,
    baseline: np.ndarray,
    other: np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Interval of (other - baseline)."""
    rng = np.random.default_rng(seed)
    base = bootstrap_distribution(metric, baseline, resamples, rng)
    new = bootstrap_distribution(metric, other, resamples, rng)
    return _interval(new - base, confidence)


def within_noise(
    metric: Metric,
    baseline: np.ndarray,
    other: np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> bool | None:
    """True when the change could be noise; None when either run has no data for the metric."""
    return difference_interval(metric, baseline, other, resamples, confidence, seed).contains(0.0)
