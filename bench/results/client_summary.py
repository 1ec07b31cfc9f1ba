"""The load generator's health over the measured window, and whether it distorted the figures.

The client is saturated (`client_saturated`) when its own queueing shows in what it measures,
judged by what it distorts, each against 10% of the TTFT p50 (`CLIENT_DELAY_SATURATED_SHARE`):
- pull delay: body chunks waited for the agent's loop between their arrival and their use
  (p90 over calls of each call's mean, `pull_delay_p90_ms`): the agent saw every token that much
  late, so turn and session latencies hold the client's queueing (the wire figures, stamped on
  arrival, do not); where no call has one (chunks stamped as the agent takes them, or no
  streaming), the event-loop lag p90 of the load processes stands in;
- stamps late: the loop that reads and stamps the responses woke late (the p90 of its wake-ups'
  lags, `client_wire_lag_p90_ms`): the wire figures themselves read late;
- batched reads: more than `CLIENT_BATCHED_SHARE_MAX` of the ITL gaps are 0 (token chunks read
  in one batch) while the server's time per token (`server_tpot_mean_ms`, else the client's TPOT
  p50) is at least `CLIENT_BATCHED_SERVER_ITL_MIN_MS`: ITL reads near 0 where the server's is
  not (a server that writes several tokens at once, as a busy one may, shows the same).
`client_saturated_reason` names each that holds. The CPU figures are kept to tell a busy load
process (more --processes) from a starved one (a server on the same cores).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from bench.constants import (
    CLIENT_BATCHED_SERVER_ITL_MIN_MS,
    CLIENT_BATCHED_SHARE_MAX,
    CLIENT_DELAY_SATURATED_SHARE,
)


def _p90(values: list[float]) -> float | None:
    return float(np.percentile(values, 90)) if values else None


def _number(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    return None if value is None or value != value else float(value)  # NaN is missing


def saturation_reasons(row: dict[str, Any]) -> list[str]:
    """Why the client distorted the run (see the module docstring); empty when it did not.
    `row` holds the summary's timing columns and the client figures."""
    reasons: list[str] = []
    ttft = _number(row, "ttft_p50_ms")
    if ttft is not None and ttft > 0:
        limit = CLIENT_DELAY_SATURATED_SHARE * ttft
        pull = _number(row, "pull_delay_p90_ms")
        lag = _number(row, "client_lag_p90_ms")
        if pull is not None and pull > limit:
            reasons.append(f"pull delay: chunks waited p90 {pull:.1f} ms for the agent's loop "
                           f"(over 10% of TTFT p50, {limit:.1f} ms)")  # fmt: skip
        elif pull is None and lag is not None and lag > limit:
            reasons.append(f"loop lag: the load process's event loops woke p90 {lag:.1f} ms "
                           f"late (over 10% of TTFT p50, {limit:.1f} ms)")  # fmt: skip
        wire_lag = _number(row, "client_wire_lag_p90_ms")
        if wire_lag is not None and wire_lag > limit:
            reasons.append(f"stamps late: the reader stamping arrivals woke p90 {wire_lag:.1f} "
                           f"ms late (over 10% of TTFT p50, {limit:.1f} ms)")  # fmt: skip
    batched = _number(row, "itl_batched_share")
    server_itl = _number(row, "server_tpot_mean_ms") or _number(row, "tpot_p50_ms")
    if (
        batched is not None
        and batched > CLIENT_BATCHED_SHARE_MAX
        and server_itl is not None
        and server_itl >= CLIENT_BATCHED_SERVER_ITL_MIN_MS
    ):
        reasons.append(f"batched reads: {batched:.0%} of ITL gaps were 0 (token chunks read "
                       f"together) while the server's time per token is {server_itl:.1f} ms")  # fmt: skip
    return reasons


def client_summary(
    samples: list[dict[str, Any]],
    start: float | None,
    end: float | None,
    timing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The client columns of the summary; `timing` is the summary so far (its TTFT, TPOT, pull
    delay, ITL and server columns)."""
    inside = [
        s
        for s in samples
        if start is not None and end is not None and start <= s["timestamp"] <= end
    ]
    row: dict[str, Any] = dict(timing or {})
    if inside:
        by_pid: dict[int, list[float]] = defaultdict(list)
        for s in inside:
            by_pid[s["pid"]].append(s.get("cpu_percent") or 0.0)
        cpu_means = [sum(v) / len(v) for v in by_pid.values()]
        lags = [max(s.get("gevent_lag_ms") or 0.0, s.get("asyncio_lag_ms") or 0.0) for s in inside]
        wire_lags = [float(lag) for s in inside for lag in s.get("wire_lags_ms") or []]
        row.update({
            "client_cpu_mean_pct": max(cpu_means),  # the busiest load process decides
            "client_cpu_max_pct": max(s.get("cpu_percent") or 0.0 for s in inside),
            "client_lag_p90_ms": _p90(lags),
            "client_wire_lag_p90_ms": _p90(wire_lags),
        })  # fmt: skip
    judged = inside or _number(row, "pull_delay_p90_ms") is not None
    reasons = saturation_reasons(row) if judged else []
    out: dict[str, Any] = {
        key: row.get(key)
        for key in (
            "client_cpu_mean_pct",
            "client_cpu_max_pct",
            "client_lag_p90_ms",
            "client_wire_lag_p90_ms",
        )  # fmt: skip
        if key in row
    }
    out["client_saturated"] = bool(reasons) if judged else None
    out["client_saturated_reason"] = "; ".join(reasons) or None
    return out
