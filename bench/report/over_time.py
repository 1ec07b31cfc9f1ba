"""The report's time plot: throughput per second and what was in flight, over the run.

Top: turns/s and LLM calls/s (completions per time bin) and output tokens/s. Bottom: sessions
and LLM calls in flight, counted exactly from the records: a session from `started_at` to
`ended_at`, an LLM call from `started_at` to `started_at + e2e_ms` (`bench.report.metrics.
end_times`). The count changes at every start and end, so a call shorter than any time bin is
still seen; sampling the count on a grid (as this plot once did) misses calls that start and
end between two samples.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.report.figure import Plot, render
from bench.report.metrics import end_times, epoch_s
from bench.report.runs import Run


def in_flight_steps(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many intervals [start, end) are open: (times, counts), the count holding from each
    time to the next. Records without a start or an end are left out."""
    keep = ~(np.isnan(starts) | np.isnan(ends))
    begin = starts[keep]
    finish = np.maximum(ends[keep], begin)
    times = np.concatenate([begin, finish])
    change = np.concatenate([np.ones(len(begin)), -np.ones(len(finish))])
    order = np.lexsort((change, times))  # at one instant, what ends goes before what starts
    times, counts = times[order], np.cumsum(change[order]).astype(int)
    last_at_time = np.append(times[1:] != times[:-1], True) if len(times) else times.astype(bool)
    return times[last_at_time], counts[last_at_time]


def in_flight_series(run: Run) -> tuple[float, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(t0, {label: (seconds since t0, count in flight)}) for sessions and LLM calls; t0 is the
    first session's start (warm-up included: the plot shows the whole run)."""
    sessions, calls = run.table("sessions"), run.table("llm_calls")
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    starts = [epoch_s(df["started_at"]) for df in (sessions, calls) if df is not None and len(df)]
    if not starts:
        return 0.0, series
    t0 = float(np.nanmin(starts[0]))
    for label, df, table in (("sessions in flight", sessions, "sessions"),
                             ("LLM calls in flight", calls, "llm_calls")):  # fmt: skip
        if df is not None and not df.empty:
            times, counts = in_flight_steps(epoch_s(df["started_at"]), end_times(df, table))
            series[label] = (np.append(0.0, times - t0), np.append(0, counts))
    return t0, series


def _grid(t0: float, t1: float) -> tuple[np.ndarray, float]:
    span = max(t1 - t0, 1e-3)
    step = max(span / 200, 0.25)
    return np.arange(t0, t1 + step, step), step


def _mark_window(ax: Axes, run: Run, t0: float) -> None:
    for key in ("window_start", "window_end"):
        value = run.summary.get(key)
        if value is not None:
            ax.axvline(pd.Timestamp(value).timestamp() - t0, color="k", ls=":", lw=0.8)


def throughput_over_time(run: Run) -> Plot | None:
    turns, calls = run.table("turns"), run.table("llm_calls")
    if turns is None or turns.empty:
        return None
    t0, in_flight = in_flight_series(run)
    t_end = end_times(turns, "turns")
    times, step = _grid(t0, float(np.nanmax(t_end)))
    edges = np.append(times, times[-1] + step)
    fig = Figure(figsize=(12, 5.5))
    ax = fig.add_subplot(2, 1, 1)
    ax.plot(times - t0, np.histogram(t_end, edges)[0] / step, label="turns/s")
    if calls is not None and not calls.empty:
        c_end = end_times(calls, "llm_calls")
        ax.plot(times - t0, np.histogram(c_end, edges)[0] / step, label="LLM calls/s", alpha=0.8)
        tokens = calls["completion_tokens"].fillna(0).to_numpy(dtype=float)
        ax2 = ax.twinx()
        known = ~np.isnan(c_end)
        tok = np.histogram(c_end[known], edges, weights=tokens[known])[0] / step
        ax2.plot(times - t0, tok, color="tab:gray", alpha=0.5, label="output tokens/s")
        ax2.set_ylabel("output tokens/s")
        ax2.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("completions/s")
    ax.set_title("Throughput over time")
    ax.legend(loc="upper left", fontsize=8)
    _mark_window(ax, run, t0)
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(2, 1, 2, sharex=ax)
    for label, (x, y) in in_flight.items():
        ax.step(x, y, where="post", label=label, alpha=0.8)
    ax.set_xlabel("seconds since the first session started")
    ax.set_ylabel("in flight")
    ax.set_title("Concurrency over time (exact: each start and end counted)")
    ax.legend(loc="upper left", fontsize=8)
    _mark_window(ax, run, t0)
    ax.grid(alpha=0.3)
    return render(fig, "throughput_concurrency", "Throughput and concurrency over time")
