"""The report's plots as PNG bytes (matplotlib, no display, no pyplot state).

Per run: latency CDFs (TTFT, TPOT, turn), throughput and concurrency over time
(`bench.report.over_time`), server state (KV-cache usage, running and waiting requests; only when
`server_metrics.parquet` has them) and tool accuracy per case and per tool. Across runs:
overlaid CDFs and latency against throughput with the Pareto front, each run named in the
legends by what differs between the runs (`bench.report.run_names`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.report.figure import Plot, render
from bench.report.metrics import epoch_s
from bench.report.over_time import throughput_over_time
from bench.report.runs import Run
from bench.scoring.tally import board_from_turns

KV_METRICS = ("kv_cache_usage_perc", "gpu_cache_usage_perc")
QUEUE_METRICS = {"num_requests_running": "running", "num_requests_waiting": "waiting"}


def _ok_values(df: pd.DataFrame, column: str) -> np.ndarray:
    if df.empty or column not in df.columns:
        return np.array([])
    if "error_type" in df.columns:
        df = df[df["error_type"].isna() | (df["error_type"] == "")]
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.sort(values[~np.isnan(values)])


LATENCY_PANELS = (("TTFT", "llm_calls", "ttft_ms"), ("TPOT", "llm_calls", "tpot_ms"),
                  ("turn", "turns", "latency_ms"))  # fmt: skip


def latency_cdfs(runs: Sequence[Run], names: Mapping[str, str] | None = None) -> Plot:
    """One panel per latency; with several runs one curve each, named by `names` (run id ->
    name, `bench.report.run_names`)."""
    names = names or {}
    fig = Figure(figsize=(12, 3.6))
    for i, (label, table, column) in enumerate(LATENCY_PANELS):
        ax = fig.add_subplot(1, 3, i + 1)
        for run in runs:
            values = _ok_values(run.measured(table), column)
            if len(values):
                ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post",
                        label=names.get(run.run_id, run.run_id) if len(runs) > 1 else None)  # fmt: skip
        ax.set_title(f"{label} CDF")
        ax.set_xlabel(f"{label} (ms)")
        ax.set_ylabel("fraction ≤ x")
        ax.grid(alpha=0.3)
        if len(runs) > 1 and i == 0:
            ax.legend(fontsize=7)
    name = "latency_cdf" if len(runs) == 1 else "latency_cdf_all"
    return render(fig, name, "Latency CDFs")


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
    return render(fig, "server_state", "Server state over time")


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
    return render(fig, "tool_accuracy", "Tool accuracy per case and per tool")


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


def latency_vs_throughput(
    runs: Sequence[Run], names: Mapping[str, str] | None = None, throughput: str = "turns_per_s"
) -> Plot | None:
    """Each run a point and a legend entry (named by `names`); runs that differ only in load are
    joined into a curve (`curve_key`); the dashed line is the Pareto front."""
    names = names or {}
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
        curves: dict[str, list[tuple[float, float]]] = {}
        for x, y, r in pts:
            curves.setdefault(curve_key(r), []).append((x, y))
        for curve in curves.values():
            curve.sort()
            ax.plot([p[0] for p in curve], [p[1] for p in curve], "-", color="0.6", lw=1, zorder=1)
        for x, y, r in pts:
            ax.plot([x], [y], "o", label=names.get(r.run_id, r.run_id), zorder=2)
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
    return render(fig, "latency_vs_throughput", "Latency against throughput, Pareto front")


def run_plots(run: Run) -> list[Plot]:
    plots = [latency_cdfs([run]), throughput_over_time(run), server_state(run), tool_accuracy(run)]
    return [p for p in plots if p is not None]


def cross_run_plots(runs: Sequence[Run], names: Mapping[str, str]) -> list[Plot]:
    plots = [latency_cdfs(runs, names), latency_vs_throughput(runs, names)]
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
