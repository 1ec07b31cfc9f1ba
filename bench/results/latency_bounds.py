"""Latency percentiles that keep incomplete work: its age at the cut is a lower bound.

Work still in flight at the end of the drain has no latency, only an age: the latency is at
least that. Leaving it out describes only what finished early (an overloaded open loop hid its
slowest 61% that way); so every incomplete item counts at its age. The percentile is numpy's
linear one over all the values; it is exact when no lower bound sits at or below the order
statistics it interpolates between (raising such a value could not move them), and otherwise a
lower bound itself: the numeric column is null and `<column>_bound` holds "≥ X ms", as a server
histogram percentile outside its buckets holds "< X ms" (`bench.results.server_summary`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from bench.schemas.summaries import PCTS

AT_LEAST = "≥"


def _clean(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def percentile_or_bound(
    exact: Iterable[Any], lower: Iterable[Any], p: float
) -> tuple[float | None, bool]:
    """(value, is_lower_bound) of the p-th percentile of `exact` values and `lower` bounds."""
    items = sorted([(v, False) for v in _clean(exact)] + [(v, True) for v in _clean(lower)])
    if not items:
        return None, False
    pos = (len(items) - 1) * p / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(items) - 1)
    frac = pos - lo
    value = items[lo][0] + (items[hi][0] - items[lo][0]) * frac
    reach = hi if frac > 0 else lo  # the highest order statistic the value depends on
    bounded = any(is_bound for _, is_bound in items[: reach + 1])
    return value, bounded


def percentiles_with_bounds(exact: list[Any], lower: list[Any], prefix: str) -> dict[str, Any]:
    """`<prefix>_pNN_ms` (null when only a bound is known) and `<prefix>_pNN_ms_bound`."""
    row: dict[str, Any] = {}
    for p in PCTS:
        value, bounded = percentile_or_bound(exact, lower, p)
        column = f"{prefix}_p{p}_ms"
        row[column] = None if bounded else value
        row[f"{column}_bound"] = (
            f"{AT_LEAST} {value:.1f} ms" if bounded and value is not None else None
        )
    return row
