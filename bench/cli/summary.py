"""The summary table printed at the end of a run."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from bench.cli.console import console


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_summary(summary: dict[str, Any], counts: dict[str, int]) -> None:
    if not summary:
        return
    table = Table(title=f"run {summary.get('run_id')} ({summary.get('status')})", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("measured window", f"{_fmt(summary.get('window_s'))} s"),
        (
            "sessions / turns / LLM calls",
            f"{summary.get('sessions')} / {summary.get('turns')} / {summary.get('llm_calls')}",
        ),
        ("warm-up sessions (left out)", _fmt(summary.get("warmup_sessions"))),
        ("sessions/s", _fmt(summary.get("sessions_per_s"), 2)),
        ("turns/s", _fmt(summary.get("turns_per_s"), 2)),
        ("LLM calls/s", _fmt(summary.get("llm_calls_per_s"), 2)),
        ("output tokens/s", _fmt(summary.get("output_tokens_per_s"))),
    ]
    for name, label in (
        ("ttft", "TTFT"),
        ("tpot", "TPOT"),
        ("llm_e2e", "LLM call"),
        ("turn", "turn"),
    ):
        values = " / ".join(_fmt(summary.get(f"{name}_p{p}_ms")) for p in (50, 90, 99))
        rows.append((f"{label} p50 / p90 / p99 (ms)", values))
    match_type = summary.get("trajectory_match_type") or "EXACT"
    rows += [
        ("tool trajectory EXACT / IN_ORDER / ANY_ORDER",
         " / ".join(_fmt(summary.get(f"tool_trajectory_{m}"), 3) for m in ("exact", "in_order", "any_order"))),
        (f"cases passed ({match_type})", _fmt(summary.get("case_pass_rate"), 3)),
        ("response match (ROUGE-1)", _fmt(summary.get("response_match"), 3)),
        ("tool-name precision / recall",
         f"{_fmt(summary.get('tool_name_precision'), 3)} / {_fmt(summary.get('tool_name_recall'), 3)}"),
        ("argument exact match", _fmt(summary.get("arg_exact_match_rate"), 3)),
        ("errors (rate)", f"{summary.get('errors')} ({_fmt(summary.get('error_rate'), 3)})"),
    ]  # fmt: skip
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
