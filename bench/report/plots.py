"""The report's plots as PNG bytes (matplotlib, no display, no pyplot state).

Per run: latency CDFs (TTFT, TPOT, turn), throughput and concurrency over time, server state
(KV-cache usage, running and waiting requests; only when `server_metrics.parquet` has them) and
tool accuracy per case and per tool. Across runs: overlaid CDFs and latency against throughput
with the Pareto front.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.report.metrics import end_times, epoch_s
from bench.report.runs import Run
from bench.scoring.tally import board_from_turns

DPI = 100
KV_METRICS = ("kv_cache_usage_perc", "gpu_cache_usage_perc")
QUEUE_METRICS = {"num_requests_running": "running", "num_requests_waiting": "waiting"}


@dataclass
class Plot:
    name: str  # file-name friendly
    title: str
    png: bytes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _ok_values(df: pd.DataFrame, column: str) -> np.ndarray:
    if df.empty or column not in df.columns:
        return np.array([])
    if "error_type" in df.columns:
        df = df[df["error_type"].isna() | (df["error_type"] == "")]
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.sort(values[~np.isnan(values)])


LATENCY_PANELS = (("TTFT", "llm_calls", "ttft_ms"), ("TPOT", "llm_calls", "tpot_ms"),
                  ("turn", "turns", "latency_ms"))  # fmt: skip


def latency_cdfs(runs: Sequence[Run]) -> Plot:
    fig = Figure(figsize=(12, 3.6))
    for i, (label, table, column) in enumerate(LATENCY_PANELS):
        ax = fig.add_subplot(1, 3, i + 1)
        for run in runs:
            values = _ok_values(run.measured(table), column)
            if len(values):
                ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post",
                        label=_short(run) if len(runs) > 1 else None)  # fmt: skip
        ax.set_title(f"{label} CDF")
        ax.set_xlabel(f"{label} (ms)")
        ax.set_ylabel("fraction ≤ x")
        ax.grid(alpha=0.3)
        if len(runs) > 1 and i == 0:
            ax.legend(fontsize=7)
    name = "latency_cdf" if len(runs) == 1 else "latency_cdf_all"
    return Plot(name, "Latency CDFs", _png(fig))


def _grid(t0: float, t1: float) -> tuple[np.ndarray, float]:
    span = max(t1 - t0, 1e-3)
    step = max(span / 200, 0.25)
    return np.arange(t0, t1 + step, step), step


def _in_flight(starts: np.ndarray, ends: np.ndarray, times: np.ndarray) -> np.ndarray:
    starts, ends = np.sort(starts[~np.isnan(starts)]), np.sort(ends[~np.isnan(ends)])
    return np.searchsorted(starts, times, side="right") - np.searchsorted(ends, times, side="right")


def throughput_over_time(run: Run) -> Plot | None:
    turns, calls, sessions = run.table("turns"), run.table("llm_calls"), run.table("sessions")
    if turns is None or turns.empty:
        return None
    t_end = end_times(turns, "turns")
    t0 = float(np.nanmin(epoch_s(sessions["started_at"]) if sessions is not None and not sessions.empty
                         else epoch_s(turns["started_at"])))  # fmt: skip
    t1 = float(np.nanmax(t_end))
    times, step = _grid(t0, t1)
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
    if sessions is not None and not sessions.empty:
        s_in = _in_flight(epoch_s(sessions["started_at"]), epoch_s(sessions["ended_at"]), times)
        ax.step(times - t0, s_in, where="post", label="sessions in flight")
    if calls is not None and not calls.empty:
        c_in = _in_flight(epoch_s(calls["started_at"]), end_times(calls, "llm_calls"), times)
        ax.step(times - t0, c_in, where="post", label="LLM calls in flight", alpha=0.8)
    ax.set_xlabel("seconds since the first session started")
    ax.set_ylabel("in flight")
    ax.set_title("Concurrency over time")
    ax.legend(loc="upper left", fontsize=8)
    _mark_window(ax, run, t0)
    ax.grid(alpha=0.3)
    return Plot("throughput_concurrency", "Throughput and concurrency over time", _png(fig))


def _mark_window(ax, run: Run, t0: float) -> None:  # type: ignore[no-untyped-def]
    for key in ("window_start", "window_end"):
        value = run.summary.get(key)
        if value is not None:
            ax.axvline(pd.Timestamp(value).timestamp() - t0, color="k", ls=":", lw=0.8)


def _metric_base(name: str) -> str:
    return str(name).split(":")[-1]


def server_state(run: Run) -> Plot | None:
    """KV-cache usage and the request queue from `server_metrics.parquet`; None when absent."""
    df = run.table("server_metrics")
    if df is None or df.empty or not {"timestamp", "metric", "value"} <= set(df.columns):
        return None
    df = df.assign(base=df["metric"].map(_metric_base), t=epoch_s(df["timestamp"]))
    kv = df[df["base"].isin(KV_METRICS)]
    queue = df[df["base"].isin(list(QUEUE_METRICS))]
    if kv.empty and queue.empty:
        return None
    t0 = float(df["t"].min())
    fig = Figure(figsize=(12, 3.6))
    ax = fig.add_subplot(1, 2, 1)
    if not kv.empty:
        series = kv.groupby("t")["value"].mean() * 100
        ax.plot(series.index - t0, series.to_numpy(), color="tab:purple")
    else:
        ax.text(0.5, 0.5, "no KV-cache metric", ha="center", transform=ax.transAxes)
    ax.set_title("KV-cache usage")
    ax.set_ylabel("% of the KV cache")
    ax.set_xlabel("seconds")
    ax.grid(alpha=0.3)
    ax = fig.add_subplot(1, 2, 2)
    for base, label in QUEUE_METRICS.items():
        part = queue[queue["base"] == base]
        if not part.empty:
            series = part.groupby("t")["value"].sum()
            ax.step(series.index - t0, series.to_numpy(), where="post", label=label)
    ax.set_title("Requests running and waiting (server)")
    ax.set_xlabel("seconds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return Plot("server_state", "Server state over time", _png(fig))


def tool_accuracy(run: Run) -> Plot | None:
    turns = run.measured("turns")
    if turns.empty:
        return None
    sessions = run.measured("sessions")
    board = board_from_turns(turns.to_dict("records"), sessions.to_dict("records"))
    cases, tools = board.case_rows(), board.tool_rows()
    fig = Figure(figsize=(12, max(3.0, 0.28 * max(len(cases), len(tools)) + 1.5)))
    ax = fig.add_subplot(1, 2, 1)
    names = [r["case"] for r in cases]
    y_cases = np.arange(len(cases))
    ax.barh(
        y_cases - 0.2,
        [r["task_success_rate"] or 0 for r in cases],
        height=0.4,
        label="task success (sessions)",
    )
    ax.barh(
        y_cases + 0.2,
        [r["exact_turn_rate"] or 0 for r in cases],
        height=0.4,
        label="completed turns exactly right",
    )
    ax.set_yticks(y_cases, names)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Per case")
    ax.tick_params(axis="y", labelsize=7)
    ax = fig.add_subplot(1, 2, 2)
    y = np.arange(len(tools))
    ax.barh(y - 0.2, [r["recall"] or 0 for r in tools], height=0.4, label="recall (name)")
    ax.barh(y + 0.2, [r["exact_rate"] or 0 for r in tools], height=0.4, label="exact (name+args)")
    ax.set_yticks(y, [r["tool"] for r in tools], fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Per tool")
    return Plot("tool_accuracy", "Tool accuracy per case and per tool", _png(fig))


def _short(run: Run) -> str:
    return run.run_id if len(run.run_id) <= 28 else "…" + run.run_id[-27:]


def curve_key(run: Run) -> str:
    """Runs that differ only in load form one latency-throughput curve."""
    flags = run.provenance.get("engine_flags") or {}
    flag_text = ",".join(f"{k}={v}" for k, v in sorted(flags.items()) if k != "extra_args")
    return f"{run.summary.get('model')}" + (f" [{flag_text}]" if flag_text else "")


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats (higher throughput x, lower latency y)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (x2 >= x and y2 <= y) and (x2 > x or y2 < y)
            for j, (x2, y2) in enumerate(points) if j != i
        )  # fmt: skip
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def latency_vs_throughput(runs: Sequence[Run], throughput: str = "turns_per_s") -> Plot | None:
    panels = (("turn_p50_ms", "turn p50 (ms)"), ("turn_p99_ms", "turn p99 (ms)"),
              ("ttft_p99_ms", "TTFT p99 (ms)"))  # fmt: skip
    fig = Figure(figsize=(12, 4))
    drawn = False
    for i, (metric, label) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        pts: list[tuple[float, float, Run]] = []
        for r in runs:
            x, y = r.summary.get(throughput), r.summary.get(metric)
            if x is not None and y is not None:
                pts.append((float(x), float(y), r))
        if not pts:
            continue
        drawn = True
        groups: dict[str, list[tuple[float, float]]] = {}
        for x, y, r in pts:
            groups.setdefault(curve_key(r), []).append((x, y))
        for key, group in groups.items():
            group.sort()
            ax.plot([p[0] for p in group], [p[1] for p in group], "o-", label=key, alpha=0.8)
        front = pareto_front([(x, y) for x, y, _ in pts])
        ax.plot([pts[j][0] for j in front], [pts[j][1] for j in front], "k--", lw=1,
                label="Pareto front")  # fmt: skip
        ax.scatter([pts[j][0] for j in front], [pts[j][1] for j in front], s=80,
                   facecolors="none", edgecolors="k")  # fmt: skip
        ax.set_xlabel(throughput.replace("_per_s", "/s"))
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs throughput")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    if not drawn:
        return None
    return Plot("latency_vs_throughput", "Latency against throughput, Pareto front", _png(fig))


def run_plots(run: Run) -> list[Plot]:
    plots = [latency_cdfs([run]), throughput_over_time(run), server_state(run), tool_accuracy(run)]
    return [p for p in plots if p is not None]


def cross_run_plots(runs: Sequence[Run]) -> list[Plot]:
    plots = [latency_cdfs(runs), latency_vs_throughput(runs)]
    return [p for p in plots if p is not None]


def labels_text(labels: object) -> str:
    """Prometheus labels stored as a JSON string -> `k=v, ...` (for tables)."""
    try:
        data = json.loads(str(labels)) if labels else {}
    except json.JSONDecodeError:
        return str(labels)
    return (
        ", ".join(f"{k}={v}" for k, v in sorted(data.items()))
        if isinstance(data, dict)
        else str(data)
    )
