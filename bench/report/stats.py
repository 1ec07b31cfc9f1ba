"""Bootstrap confidence intervals for a metric and for its change between two runs.

A change is "within noise" when the confidence interval of the difference (each run resampled
independently, with replacement) contains zero. What is resampled depends on how the records
depend on each other:

- calls and turns: the session (a cluster bootstrap). The calls and turns of one session share
  its prompt, history and the server's state while it ran, so they are not independent draws,
  and resampling them one by one makes intervals too narrow and `≈` too shy. A resample draws
  each session a multinomial number of times, which is the same as drawing sessions with
  replacement, and weighs its records by that count (vectorised; `np.percentile`'s linear rule
  on the weighted records equals it on the records laid end to end).
- rates: time bins, in moving blocks (a circular block bootstrap). Successive seconds of one run
  are correlated (a slow stretch of the server, a burst of long sessions), so bins are drawn in
  blocks of about n^(1/3) bins, the usual rate for the variance of a mean.
- sessions themselves: one by one.

Seeded: the same inputs and seed give the same intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.report.metrics import Metric, Samples, statistic
from bench.report.student_t import t_quantile

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
MAX_CELLS = 4_000_000  # resamples x records drawn at once (memory bound)


def _in_batches(resamples: int, cells: int, statistics: Callable[[int], np.ndarray]) -> np.ndarray:
    """`statistics(b)` gives the metric of b resamples; called on batches that keep resamples x
    `cells` (records drawn per resample) under MAX_CELLS."""
    out = np.empty(resamples)
    batch = max(1, MAX_CELLS // max(1, cells))
    for lo in range(0, resamples, batch):
        hi = min(resamples, lo + batch)
        out[lo:hi] = statistics(hi - lo)
    return out


def bootstrap_distribution(
    metric: Metric, data: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The metric over `resamples` resamples of the records (NaN when there is no data)."""
    n = len(data)
    if n == 0:
        return np.full(resamples, np.nan)
    return _in_batches(
        resamples, n, lambda b: statistic(metric, data[rng.integers(0, n, size=(b, n))])
    )


def block_length(n: int) -> int:
    return max(1, round(n ** (1 / 3)))


def block_bootstrap_distribution(
    metric: Metric, data: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """The metric over circular moving-block resamples of a time series (a rate's bins)."""
    n = len(data)
    if n == 0:
        return np.full(resamples, np.nan)
    length = block_length(n)
    blocks = math.ceil(n / length)

    def statistics(b: int) -> np.ndarray:
        starts = rng.integers(0, n, size=(b, blocks))
        idx = (starts[..., np.newaxis] + np.arange(length)) % n
        return statistic(metric, data[idx.reshape(b, -1)[:, :n]])

    return _in_batches(resamples, blocks * length, statistics)


def weighted_percentile(q: float, ordered: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """np.percentile's linear rule on ascending `ordered`, each row of `weights` a resample."""
    cumulative = np.cumsum(weights, axis=1)
    count = cumulative[:, -1]
    position = q / 100 * (count - 1)
    below = np.floor(position)
    above = np.minimum(below + 1, count - 1)

    rows = np.arange(len(weights))
    offset = (count.max() + 1) * rows  # rows laid end to end stay sorted: one searchsorted
    flat = (cumulative + offset[:, np.newaxis]).ravel()

    def value_at(ranks: np.ndarray) -> np.ndarray:
        # the record holding rank r (0-based) is the first whose cumulative count exceeds r
        index = np.searchsorted(flat, ranks + offset, side="right") - rows * len(ordered)
        return ordered[np.minimum(index, len(ordered) - 1)]

    low = value_at(below)
    return low + (position - below) * (value_at(above) - low)


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
    _, codes = np.unique(clusters, return_inverse=True)
    k = int(codes.max()) + 1
    if metric.kind != "percentile":
        return _cluster_sums_distribution(metric, data, codes, k, resamples, rng)
    order = np.argsort(data, kind="stable")  # sorted once, not per batch
    data, codes = data[order], codes[order]

    def statistics(b: int) -> np.ndarray:
        weights = _draw_counts(k, b, rng)[:, codes]
        return weighted_percentile(metric.q, data, weights)

    return _in_batches(resamples, len(data), statistics)


def _draw_counts(k: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of k sessions is drawn in k draws with replacement; a row per resample."""
    drawn = rng.integers(0, k, size=(b, k)) + k * np.arange(b)[:, np.newaxis]
    return np.bincount(drawn.ravel(), minlength=b * k).reshape(b, k)


def _cluster_sums_distribution(
    metric: Metric,
    data: np.ndarray,
    codes: np.ndarray,
    k: int,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """A mean or ratio of resampled sessions from each session's sums: numerator and count
    (mean), or numerator and denominator (ratio), weighted by how often it was drawn."""
    if metric.kind == "ratio":
        num = np.bincount(codes, weights=data[:, 0], minlength=k)
        den = np.bincount(codes, weights=data[:, 1], minlength=k)
    else:
        num = np.bincount(codes, weights=data, minlength=k)
        den = np.bincount(codes, minlength=k).astype(float)

    def statistics(b: int) -> np.ndarray:
        counts = _draw_counts(k, b, rng).astype(float)
        total = counts @ den
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (counts @ num) / total, np.nan)

    return _in_batches(resamples, k, statistics)


def distribution(
    metric: Metric, samples: Samples, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    if samples.sessions is not None:
        return cluster_bootstrap_distribution(
            metric, samples.data, samples.sessions, resamples, rng
        )
    if samples.time_ordered:
        return block_bootstrap_distribution(metric, samples.data, resamples, rng)
    return bootstrap_distribution(metric, samples.data, resamples, rng)


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
    return _interval(distribution(metric, Samples(data, clusters), resamples, rng), confidence)


def units(samples: Samples) -> int:
    """How many independent units a run's resamples draw: its sessions, or its records."""
    if samples.sessions is not None:
        return len(np.unique(samples.sessions))
    return len(samples.data)


def change_interval(
    metric: Metric,
    baseline: Samples,
    other: Samples,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Interval of (other - baseline): the observed change +- t x its bootstrap standard error.

    Each run is resampled as its records depend on each other; its bootstrap variance is scaled
    by n/(n-1) (n: its sessions, or records), which the bootstrap under-estimates by, and the
    quantile is Student's t with Welch's degrees of freedom rather than the normal's. With 5 to
    10 sessions a run a plain percentile interval called 12-18% of A/A differences real; this
    keeps them under the nominal rate (tests/integration/test_compare_gates.py)."""
    rng = np.random.default_rng(seed)
    n_base, n_other = units(baseline), units(other)
    if n_base < 2 or n_other < 2:
        return Interval(None, None)
    base = distribution(metric, baseline, resamples, rng)
    new = distribution(metric, other, resamples, rng)
    observed = [statistic(metric, s.data[np.newaxis, ...])[0] for s in (baseline, other)]
    if np.isnan(observed).any() or np.isnan(base).all() or np.isnan(new).all():
        return Interval(None, None)
    var_base = float(np.nanvar(base)) * n_base / (n_base - 1)
    var_new = float(np.nanvar(new)) * n_other / (n_other - 1)
    diff = float(observed[1] - observed[0])
    se = math.sqrt(var_base + var_new)
    if se == 0:
        return Interval(diff, diff)
    df = se**4 / (var_base**2 / (n_base - 1) + var_new**2 / (n_other - 1))
    half = t_quantile((1 + confidence) / 2, df) * se
    return Interval(diff - half, diff + half)


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
    return change_interval(
        metric,
        Samples(baseline, baseline_clusters),
        Samples(other, other_clusters),
        resamples,
        confidence,
        seed,
    )


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
