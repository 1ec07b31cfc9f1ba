"""Is a change between two runs real or noise? The one verdict `bench compare`, its gates and
`--history` give, from the records of the two runs (docs/metrics.md, `≈`).

    noise_verdict(metric, base_samples, other_samples, base_sessions=40, other_sessions=38)
    -> Verdict(noise=True, why=None, low=-3.1, high=5.2)     # within noise: the interval holds 0

No verdict (noise None, `why` says why) when a run has fewer than MIN_SESSIONS measured sessions
with a result, or a percentile has too few records beyond it (a bootstrap of a near-maximum is
not to be trusted). Otherwise the interval of the change is `bench.report.stats.change_interval`;
with a run-to-run spread from repeats of a configuration (`bench.report.repeats`), a change is
real only when it stands out of both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.report.metrics import Metric, Samples
from bench.report.repeats import Spread
from bench.report.stats import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, change_interval

NOISE_MARK = "≈"
UNDECIDED_MARK = "?"
# A bootstrap of 2 or 3 sessions a run called 18-31% of A/A differences real; from 5 sessions
# the interval holds its rate (tests/integration/test_compare_gates.py).
MIN_SESSIONS = 5
TOO_FEW_SESSIONS = "too few sessions"
TOO_FEW_RECORDS = "too few records"
# A percentile needs records beyond it: p99 of 60 records had 14-20% of A/A differences called
# real, of 200 records 5%. On average RECORDS_ABOVE records a run must lie above the percentile:
# p50 needs 4 records, p90 20, p99 200.
RECORDS_ABOVE = 2


def min_records(metric: Metric) -> int:
    if metric.kind != "percentile":
        return 0
    return math.ceil(RECORDS_ABOVE / (1 - metric.q / 100) - 1e-9)


def undecided(why: str | None) -> bool:
    """A verdict that could not be given for lack of data (shown as `?`)."""
    return bool(why) and str(why).startswith((TOO_FEW_SESSIONS, TOO_FEW_RECORDS))


@dataclass(frozen=True)
class Verdict:
    noise: bool | None  # True within noise, False a real change, None: cannot be told
    why: str | None = None  # why there is no verdict
    low: float | None = None  # the bootstrap interval of the change
    high: float | None = None


def noise_verdict(
    metric: Metric,
    base: Samples,
    other: Samples,
    base_sessions: int,
    other_sessions: int,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    min_sessions: int = MIN_SESSIONS,
    run_to_run: Spread | None = None,
    diff: float | None = None,
) -> Verdict:
    """Whether `other` differs from `base` beyond noise (`diff`: the change of the shown values,
    which the run-to-run spread is laid around)."""
    if metric.kind == "server":
        return Verdict(None, "no per-record data")
    if min(base_sessions, other_sessions) < min_sessions:
        return Verdict(None, TOO_FEW_SESSIONS)
    need = min_records(metric)
    if min(len(base.data), len(other.data)) < need:
        return Verdict(None, f"{TOO_FEW_RECORDS} for p{metric.q:g} (needs {need})")
    interval = change_interval(metric, base, other, resamples, confidence, seed)
    noise = interval.contains(0.0)
    if noise is None:
        return Verdict(None, "no data")
    if run_to_run is not None and diff is not None:
        noise = noise or bool(run_to_run.change_interval(diff, confidence).contains(0.0))
    return Verdict(noise, None, interval.low, interval.high)
