"""Bootstrap confidence intervals for a metric and for its change between two runs.

A change is "within noise" when the confidence interval of the difference (each run resampled
independently, with replacement) contains zero. The unit resampled is the session: the calls and
turns of one session share its prompt, history and the server's state while it ran, so they are
not independent draws, and resampling them one by one makes intervals too narrow and `≈` too shy
(a cluster bootstrap). Records without sessions (time bins of a rate, sessions themselves) are
resampled one by one. Seeded: the same inputs and seed give the same intervals.
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


def cluster_bootstrap_distribution(
    metric: Metric,
    data: np.ndarray,
    clusters: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The metric over resamples that draw whole clusters (sessions) with replacement."""
    if len(data) == 0:
        return np.full(resamples, np.nan)
    order = np.argsort(clusters, kind="stable")
    data = data[order]
    _, starts, sizes = np.unique(clusters[order], return_index=True, return_counts=True)
    k = len(sizes)
    out = np.empty(resamples)
    for b in range(resamples):
        picked = rng.integers(0, k, size=k)
        lengths = sizes[picked]
        ends = np.cumsum(lengths)
        # the record indices of the picked clusters, laid end to end
        idx = np.repeat(starts[picked] - (ends - lengths), lengths) + np.arange(ends[-1])
        out[b] = statistic(metric, data[idx][np.newaxis, ...])[0]
    return out


def _distribution(
    metric: Metric,
    data: np.ndarray,
    clusters: np.ndarray | None,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    if clusters is None:
        return bootstrap_distribution(metric, data, resamples, rng)
    return cluster_bootstrap_distribution(metric, data, clusters, resamples, rng)


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
    clusters: np.ndarray | None = None,
) -> Interval:
    rng = np.random.default_rng(seed)
    return _interval(_distribution(metric, data, clusters, resamples, rng), confidence)


def difference_interval(
    metric: Metric,
    baseline: np.ndarray,
    other: np.ndarray,
    baseline_clusters: np.ndarray | None = None,
    other_clusters: np.ndarray | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Interval of (other - baseline); each run's clusters (sessions), when given, are the unit."""
    rng = np.random.default_rng(seed)
    base = _distribution(metric, baseline, baseline_clusters, resamples, rng)
    new = _distribution(metric, other, other_clusters, resamples, rng)
    return _interval(new - base, confidence)


def within_noise(
    metric: Metric,
    baseline: np.ndarray,
    other: np.ndarray,
    baseline_clusters: np.ndarray | None = None,
    other_clusters: np.ndarray | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> bool | None:
    """True when the change could be noise; None when either run has no data for the metric."""
    interval = difference_interval(
        metric, baseline, other, baseline_clusters, other_clusters, resamples, confidence, seed
    )
    return interval.contains(0.0)
