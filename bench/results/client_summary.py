"""The load generator's health over the measured window, and whether it was the bottleneck."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from bench import constants


def client_summary(
    samples: list[dict[str, Any]], start: float | None, end: float | None
) -> dict[str, Any]:
    inside = [
        s
        for s in samples
        if start is not None and end is not None and start <= s["timestamp"] <= end
    ]
    if not inside:
        return {"client_saturated": None}
    by_pid: dict[int, list[float]] = defaultdict(list)
    for s in inside:
        by_pid[s["pid"]].append(s.get("cpu_percent") or 0.0)
    cpu_means = [sum(v) / len(v) for v in by_pid.values()]
    lags = [max(s.get("gevent_lag_ms") or 0.0, s.get("asyncio_lag_ms") or 0.0) for s in inside]
    lag_p90 = float(np.percentile(lags, 90))
    cpu_mean = max(cpu_means)  # the busiest load process decides
    return {
        "client_cpu_mean_pct": cpu_mean,
        "client_cpu_max_pct": max(s.get("cpu_percent") or 0.0 for s in inside),
        "client_lag_p90_ms": lag_p90,
        "client_saturated": cpu_mean > constants.CLIENT_CPU_SATURATED_PCT
        or lag_p90 > constants.CLIENT_LAG_SATURATED_MS,
    }
