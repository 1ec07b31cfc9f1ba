"""The report's agent-traffic figure: what a growing session does to the engine.

Left: TTFT p50/p90 against the turn index (from `by_turn_index.parquet`): how much slower a
call gets as the history it resends grows; for a model that thinks, TTFO p50 too (the first
answer or tool call, after the thought). Middle: the cached fraction of the prompt against
the turn index: how much of that history the prefix cache served. Right: the cached fraction
per call class (session start, across turns, within turn) from the summary.
"""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.figure import Figure

from bench.report.figure import Plot, render
from bench.report.runs import Run
from bench.results.kv_reuse import CALL_CLASSES
from bench.results.reasoning import thought


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def turn_index_plot(run: Run) -> Plot | None:
    table = run.table("by_turn_index")
    if table is None or table.empty:
        return None
    thinks = "ttfo_p50_ms" in table and thought(run.summary)
    fig = Figure(figsize=(12, 3.6))
    ttft, cached, classes = (fig.add_subplot(1, 3, i) for i in (1, 2, 3))
    for step, rows in table.sort_values("turn_index").groupby("step"):
        label = f"step {step}" if table["step"].nunique() > 1 else None
        x = rows["turn_index"]
        name = "TTFT " if thinks else ""  # beside TTFO, say which is which
        ttft.plot(x, rows["ttft_p50_ms"], marker="o", label=f"{name}p50 {label or ''}".strip())
        ttft.plot(x, rows["ttft_p90_ms"], marker=".", linestyle="--",
                  label=f"{name}p90 {label or ''}".strip())  # fmt: skip
        if thinks:
            ttft.plot(x, rows["ttfo_p50_ms"], marker="s", linestyle=":",
                      label=f"TTFO p50 {label or ''}".strip())  # fmt: skip
        cached.plot(x, pd.to_numeric(rows["cached_fraction"]), marker="o", label=label)
    ttft.set_title("TTFT (and TTFO) by turn index" if thinks else "TTFT by turn index")
    ttft.set_xlabel("turn index")
    ttft.set_ylabel("ms")
    ttft.legend(fontsize=7)
    cached.set_title("prefix-cached fraction of the prompt")
    cached.set_xlabel("turn index")
    cached.set_ylim(0, 1.05)
    if table["step"].nunique() > 1:
        cached.legend(fontsize=7)
    values = [_finite(run.summary.get(f"kv_{name}_cached_fraction")) for name in CALL_CLASSES]
    classes.bar([n.replace("_", " ") for n in CALL_CLASSES], [v or 0.0 for v in values])
    classes.set_ylim(0, 1.05)
    reported = run.summary.get("cached_tokens_reported")
    classes.set_title("cached fraction by call class" if reported else "cached tokens not reported")
    for axis in (ttft, cached, classes):
        axis.grid(alpha=0.3)
    return render(fig, "turn_index", "Turn index: TTFT and prefix-cache reuse")
