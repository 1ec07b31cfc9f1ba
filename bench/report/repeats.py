"""The run-to-run spread of a metric, from repeats of one configuration.

A bootstrap inside one run sees only the sampling noise of that run's sessions. Two runs of the
same configuration also differ by what changed between them: the machine's other load, the
server's warm caches, the order of arrivals. When some configurations among the compared runs
were run more than once, that spread is measured:

    s^2 = sum over configurations g with n_g >= 2 of sum_i (x_gi - mean_g)^2 / sum_g (n_g - 1)

(the pooled within-configuration variance of the run-level values, df = sum_g (n_g - 1)), and
the change between two single runs is within noise when the interval diff +- t(df) * s * sqrt(2)
contains zero. This assumes each configuration varies about as much as the others; with two
repeats (df 1) t is 12.7 at 95%, so two repeats rarely call anything real, as they should.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from bench.report.stats import Interval
from bench.report.student_t import t_quantile


@dataclass(frozen=True)
class Spread:
    """Run-to-run standard deviation of a metric, with its degrees of freedom and groups."""

    sd: float
    df: int
    configurations: int  # how many configurations were repeated
    runs: int  # runs in those configurations

    def change_interval(self, diff: float, confidence: float) -> Interval:
        half = t_quantile((1 + confidence) / 2, self.df) * self.sd * math.sqrt(2)
        return Interval(diff - half, diff + half)


def spread(values: list[float | None], configurations: list[str]) -> Spread | None:
    """The pooled spread of `values` over the configurations seen at least twice; None when no
    configuration was repeated (with a value each time)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for value, key in zip(values, configurations, strict=True):
        if value is not None and math.isfinite(value):
            groups[key].append(float(value))
    repeated = [g for g in groups.values() if len(g) >= 2]
    if not repeated:
        return None
    squares = sum(float(np.sum((np.array(g) - np.mean(g)) ** 2)) for g in repeated)
    df = sum(len(g) - 1 for g in repeated)
    return Spread(math.sqrt(squares / df), df, len(repeated), sum(len(g) for g in repeated))
