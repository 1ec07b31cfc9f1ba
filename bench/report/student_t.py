"""Student's t distribution, for intervals from few sessions or few repeated runs.

numpy has no t quantile and scipy is not a dependency for two functions: the density is
integrated numerically (4001 points, from 0) and the quantile found by Newton's method, exact to the
third decimal against the published tables (tests/unit/report/test_noise.py).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

GRID = 4001


def _log_norm(df: float) -> float:
    return math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)


def t_pdf(x: float, df: float) -> float:
    return math.exp(_log_norm(df) - (df + 1) / 2 * math.log1p(x * x / df))


def t_cdf(x: float, df: float) -> float:
    """Student's t distribution function with df (> 0, not necessarily whole) degrees of freedom."""
    if x < 0:
        return 1.0 - t_cdf(-x, df)
    grid = np.linspace(0.0, x, GRID)
    density = np.exp(_log_norm(df) - (df + 1) / 2 * np.log1p(grid**2 / df))
    return 0.5 + float(np.trapezoid(density, grid))


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (Newton's method on t_cdf;
    bisection where a step would leave the bracket)."""
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2
    z = NormalDist().inv_cdf(p)  # start: the Cornish-Fisher expansion about the normal
    x = z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
    x = min(max(x, low), high)
    for _ in range(100):
        error = t_cdf(x, df) - p
        if abs(error) < 1e-10:
            break
        low, high = (x, high) if error < 0 else (low, x)
        step = x - error / t_pdf(x, df)
        x = step if low < step < high else (low + high) / 2
    return x
