"""The summary table printed at the end of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import constants
from bench.cli.console import console
from bench.results.kv_reuse import kv_reuse_text
from bench.results.reasoning import reasoning_rows


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ms(summary: dict[str, Any], key: str) -> str:
    """A latency, or its bound: outside the histogram's buckets ("< 300"), or reached by
    incomplete work at its age ("≥ 12000.0")."""
    bound = summary.get(f"{key}_bound")
    if summary.get(key) is None and bound:
        return str(bound).removesuffix(" ms")
    return _fmt(summary.get(key))


def _task_success(summary: dict[str, Any]) -> str:
    rate = summary.get("task_success_rate")
    if rate is None and not summary.get("sessions_incomplete"):
        return "-"
    text = f"{_fmt(rate, 3)} ({summary.get('sessions_passed')} passed)"
    undecided = summary.get("sessions_undecided_share")
    if summary.get("sessions_incomplete") and undecided is not None:
        text += (f"; ≥ {_fmt(summary.get('task_success_bound'), 3)} of all, "
                 f"{undecided:.1%} undecided")  # fmt: skip
    return text


UNDECIDED_WARN_SHARE = 0.01  # incomplete sessions above this share of the verdicts get a warning


NOT_APPLICABLE = "not applicable (user-simulator cases)"


def _tool_accuracy(summary: dict[str, Any]) -> str:
    match = summary.get("trajectory_match_type")
    if summary.get("tool_accuracy") is None and summary.get("scenario_sessions"):
        return NOT_APPLICABLE  # only user-simulator turns: nothing expected to compare with
    value = _fmt(summary.get("tool_accuracy"), 3)
    return f"{value} ({match})" if match and value != "-" else value


def _reply_kind_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """TTFT and TPOT of text replies and of tool-call replies, the parser's hold-back and the
    pooled ITL (bench.results.reply_kinds); a kind that did not occur is left out."""
    rows = []
    for infix, label in (("text", "text replies"), ("tool", "tool-call replies")):
        if not summary.get(f"llm_calls_{infix}"):
            continue
        ttft = " / ".join(_ms(summary, f"ttft_{infix}_p{p}_ms") for p in (50, 90, 99))
        rows.append((f"{label} ({summary[f'llm_calls_{infix}']}): TTFT p50 / p90 / p99, "
                     "TPOT p50 (ms)", f"{ttft}, {_fmt(summary.get(f'tpot_{infix}_p50_ms'))}"))  # fmt: skip
    if summary.get("llm_calls_tool") and summary.get("tool_holdback_p50_ms") is not None:
        values = " / ".join(_fmt(summary.get(f"tool_holdback_p{p}_ms")) for p in (50, 90, 99))
        rows.append(("tool parser hold-back p50 / p90 / p99 (ms)", values))
    if summary.get("itl_p50_ms") is not None:
        values = " / ".join(_fmt(summary.get(f"itl_p{p}_ms")) for p in (50, 90, 99))
        rows.append(("ITL p50 / p90 / p99, every gap (ms)", values))
    return rows


def print_summary(summary: dict[str, Any], counts: dict[str, int]) -> None:
    """The run's figures as one table, then the warnings that qualify them."""
    if not summary:
        return
    table = Table(title=f"run {summary.get('run_id')} ({summary.get('status')})", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    console.print(table)
    for warning in summary_warnings(summary):
        console.print(f"[yellow]warning[/]: {warning}")


Rows = list[tuple[str, str]]


def summary_rows(summary: dict[str, Any]) -> Rows:
    """Every row of the summary table, in the order printed; a section that does not apply to
    the run (no SLO, no judge, no server metrics...) adds nothing."""
    return [
        *_outcome_rows(summary),
        *_latency_rows(summary),
        *_scoring_rows(summary),
        *_optional_rows(summary),
        *_server_rows(summary),
        *_client_rows(summary),
        _roofline_row(summary),
    ]


def _p50_90_99(summary: dict[str, Any], name: str, fmt: Any = None) -> str:
    """p50 / p90 / p99 of `<name>_p<q>_ms`, bounds shown (`_ms`) unless `fmt` is given."""
    if fmt is None:
        return " / ".join(_ms(summary, f"{name}_p{p}_ms") for p in (50, 90, 99))
    return " / ".join(fmt(summary.get(f"{name}_p{p}_ms")) for p in (50, 90, 99))


def _outcome_rows(summary: dict[str, Any]) -> Rows:
    """What was measured, what passed and how fast work completed or failed."""
    return [
        ("measured window", f"{_fmt(summary.get('window_s'))} s"),
        (
            "sessions / turns / LLM calls",
            f"{summary.get('sessions')} / {summary.get('turns')} / {summary.get('llm_calls')}",
        ),
        ("warm-up sessions (left out)", _fmt(summary.get("warmup_sessions"))),
        ("TASK SUCCESS (passed / sessions with a verdict)", _task_success(summary)),
        ("tool accuracy (trajectory score of completed turns)", _tool_accuracy(summary)),
        ("sessions passed / failed / cut short / incomplete / unscored",
         " / ".join(_fmt(summary.get(f"sessions_{k}"))
                    for k in ("passed", "failed", "cut_short", "incomplete", "unscored"))),
        ("completed sessions/s / turns/s / LLM calls/s",
         " / ".join(_fmt(summary.get(f"{k}_per_s"), 2) for k in ("sessions", "turns", "llm_calls"))),
        ("failed sessions/s / turns/s / LLM calls/s",
         " / ".join(_fmt(summary.get(f"failed_{k}_per_s"), 2) for k in ("sessions", "turns", "llm_calls"))),
        ("output tokens/s", _fmt(summary.get("output_tokens_per_s"))),
    ]  # fmt: skip


def _latency_rows(summary: dict[str, Any]) -> Rows:
    """Client latencies: per call, per reply kind, per turn and session, and the turn's split."""
    rows = [
        (f"{label} p50 / p90 / p99 (ms)", _p50_90_99(summary, name))
        for name, label in (("ttft", "TTFT"), ("tpot", "TPOT"), ("llm_e2e", "LLM call"),
                            ("turn", "turn"))
    ]  # fmt: skip
    rows += _reply_kind_rows(summary)
    rows += reasoning_rows(summary)  # a thinking model: what the thought cost
    session_label = "session from schedule" if summary.get("arrivals") is not None else "session"
    rows.append((f"{session_label} p50 / p90 / p99 (ms)", _p50_90_99(summary, "session")))
    if summary.get("arrivals") is not None:  # open loop (bench.results.arrivals)
        rows.append(("start delay p50 / p90 / p99 (ms)", _p50_90_99(summary, "start_delay", _fmt)))
        rows.append((
            f"arrivals / never started / waited for cap ({summary.get('max_sessions_in_flight')})",
            f"{summary['arrivals']} / {summary.get('arrivals_not_started')} / "
            f"{summary.get('arrivals_waited_for_cap')}",
        ))  # fmt: skip
    rows.append((
        "model-layer TTFT p50 / client overhead per call p50 (ms)",
        f"{_fmt(summary.get('model_ttft_p50_ms'))} / {_fmt(summary.get('client_overhead_p50_ms'))}",
    ))  # fmt: skip
    split = ("llm_wire", "client_overhead", "tool_time", "other")
    rows.append(("turn split, mean (ms): LLM wire / client / tools / other",
                 " / ".join(_fmt(summary.get(f"turn_{k}_mean_ms")) for k in split)))  # fmt: skip
    return rows


def _scoring_rows(summary: dict[str, Any]) -> Rows:
    """Tool-call and response scores, then the failures by kind."""
    rows = [
        ("tool choice", _fmt(summary.get("tool_choice") or "auto")),
        ("tool trajectory EXACT / IN_ORDER / ANY_ORDER",
         " / ".join(_fmt(summary.get(f"tool_trajectory_{m}"), 3) for m in ("exact", "in_order", "any_order"))),
        ("response match (ROUGE-1)", _fmt(summary.get("response_match"), 3)),
        ("tool-name precision / recall",
         f"{_fmt(summary.get('tool_name_precision'), 3)} / {_fmt(summary.get('tool_name_recall'), 3)}"),
        ("argument exact match", _fmt(summary.get("arg_exact_match_rate"), 3)),
        ("failed turns (rate)", f"{summary.get('errors')} ({_fmt(summary.get('error_rate'), 3)})"),
        ("LLM calls failed / incomplete", f"{_fmt(summary.get('llm_calls_failed'))} / "
                                          f"{_fmt(summary.get('llm_calls_incomplete'))}"),
        ("LLM calls: finish error / length / empty / malformed call",
         " / ".join(_fmt(summary.get(f"llm_calls_{k}"))
                    for k in ("finish_error", "finish_length", "empty", "malformed_tool_call"))),
        ("LLM calls: unparsed tool call / ADK rescued it from the text",
         f"{_fmt(summary.get('llm_calls_unparsed'))} / "
         f"{_fmt(summary.get('llm_calls_rescued_from_text'))}"),
    ]  # fmt: skip
    for kind, entry in _errors_by_type(summary):
        rows.append((f"failed turns: {kind}", f"{entry['count']} (first: {entry['first'][:80]})"))
    if (kv := kv_reuse_text(summary)) is not None:
        rows.append(("prefix-cached fraction: session start / across turns / within turn", kv))
    if summary.get("case_metrics_not_evaluated"):
        rows.append(("criteria not evaluated (no verdict from them)",
                     str(summary["case_metrics_not_evaluated"])))  # fmt: skip
    return rows


def _optional_rows(summary: dict[str, Any]) -> Rows:
    """Sections only some runs have: pass^k, unparsed calls, SLOs, a judge, scenario cases."""
    rows = _pass_k_rows(summary)
    if summary.get("unparsed_rate") or summary.get("unknown_tool_calls"):
        rows.append(("unparsed tool calls (rate) / unknown tools",
                     f"{_fmt(summary.get('unparsed_rate'), 3)} / "
                     f"{summary.get('unknown_tool_calls')}"))  # fmt: skip
    if summary.get("slo"):
        rows.append((f"goodput sessions/s, turns/s (SLO {summary['slo']})",
                     f"{_fmt(summary.get('goodput_sessions_per_s'), 2)}, "
                     f"{_fmt(summary.get('goodput_turns_per_s'), 2)}"))  # fmt: skip
        rows.append(("SLO attainment sessions / turns (%)",
                     f"{_fmt(summary.get('slo_attainment_sessions_pct'))} / "
                     f"{_fmt(summary.get('slo_attainment_turns_pct'))}"))  # fmt: skip
    if summary.get("judge_model"):
        rows.append((f"judge {summary['judge_model']}: final_response_match_v2 / rubric",
                     f"{_fmt(summary.get('judge_final_response_match'), 3)} / "
                     f"{_fmt(summary.get('judge_rubric_score'), 3)}"))  # fmt: skip
    if summary.get("scenario_sessions") is not None:
        rows.append(("scenario sessions / user-simulator LLM calls, failed (not in any figure "
                     "above; trajectory not applicable)",
                     f"{summary['scenario_sessions']} / "
                     f"{_fmt(summary.get('user_simulator_calls'))}, "
                     f"{_fmt(summary.get('user_simulator_failed_calls'))}"))  # fmt: skip
    if summary.get("skipped_cases"):
        rows.append(("cases skipped (conversation_scenario)", _fmt(summary.get("skipped_cases"))))
    return rows


def _pass_k_rows(summary: dict[str, Any]) -> Rows:
    if not (summary.get("pass_k") and summary["pass_k"] > 1):
        return []
    k = summary["pass_k"]
    short = summary.get("pass_k_short_cases") or 0
    left_out = f" ({short} case(s) with < {k} trials left out)" if short else ""
    return [
        (f"pass^{k} / pass@{k}{left_out}",
         f"{_fmt(summary.get('pass_hat_k'), 3)} / {_fmt(summary.get('pass_at_k'), 3)}"),
        ("cases whose trajectory varies", _fmt(summary.get("trajectory_inconsistency_rate"), 3)),
    ]  # fmt: skip


def _server_rows(summary: dict[str, Any]) -> Rows:
    """vLLM's own view from /metrics, when it was scraped."""
    if summary.get("server_requests") is None:
        return []
    rows = [("TTFT p50 client vs server (ms)",
             f"{_fmt(summary.get('ttft_p50_ms'))} vs {_ms(summary, 'server_ttft_p50_ms')}")]  # fmt: skip
    for name, label in (("tpot", "TPOT"), ("e2e", "request e2e"), ("queue", "queue time")):
        values = " / ".join(
            _ms(summary, f"server_{name}_{q}_ms") for q in ("mean", "p50", "p90", "p99")
        )
        rows.append((f"server {label} mean / p50 / p90 / p99 (ms)", values))
    rows += [
        ("KV-cache usage mean / max", f"{_fmt(summary.get('kv_cache_usage_mean'), 3)} / {_fmt(summary.get('kv_cache_usage_max'), 3)}"),
        ("requests running / waiting (max)", f"{_fmt(summary.get('requests_running_max'), 0)} / {_fmt(summary.get('requests_waiting_max'), 0)}"),
        ("prefix-cache hit rate", _fmt(summary.get("prefix_cache_hit_rate"), 3)),
        ("preemptions / tool-parser runs (vLLM: one per streamed delta)", f"{_fmt(summary.get('server_preemptions'), 0)} / {_fmt(summary.get('server_tool_parser_invocations'), 0)}"),
    ]  # fmt: skip
    if any(
        str(v).startswith("<")
        for k, v in summary.items()
        if k.startswith("server_") and k.endswith("_bound")
    ):
        rows.append(
            ("  '< X'", "inside vLLM's first histogram bucket (0 to X ms); the mean is exact")
        )
    return rows


def _client_rows(summary: dict[str, Any]) -> Rows:
    """How busy the load process was (bench.results.client_health)."""
    if summary.get("client_cpu_mean_pct") is None:
        return []
    return [("load process CPU mean (%) / loop lag p90 / chunk pull delay p90 (ms)",
             f"{_fmt(summary.get('client_cpu_mean_pct'))} / {_fmt(summary.get('client_lag_p90_ms'))}"
             f" / {_fmt(summary.get('pull_delay_p90_ms'))}")]  # fmt: skip


def _roofline_row(summary: dict[str, Any]) -> tuple[str, str]:
    if summary.get("roofline_efficiency_pct") is None:
        return ("roofline", summary.get("roofline_note") or "-")
    return ("single-stream roofline efficiency (%)", _fmt(summary.get("roofline_efficiency_pct")))


def summary_warnings(summary: dict[str, Any]) -> list[str]:
    """What makes figures of the table less than they seem: a saturated client, sessions whose
    verdict the drain cut off."""
    warnings = []
    if summary.get("client_saturated"):
        warnings.append(saturation_advice(summary))
    undecided = summary.get("sessions_undecided_share")
    if undecided is not None and undecided > UNDECIDED_WARN_SHARE:
        warnings.append(
            f"{summary.get('sessions_incomplete')} session(s) were still "
            f"running at the end of the drain ({_fmt(summary.get('drain_s'), 0)} s), so task "
            f"success is undecided for {undecided:.1%} of the sessions: "
            f"{_fmt(summary.get('task_success_rate'), 3)} of those decided, at least "
            f"{_fmt(summary.get('task_success_bound'), 3)} of all; a longer --duration or "
            "--drain decides more of them"
        )
    return warnings


def _errors_by_type(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    text = summary.get("errors_by_type")
    if not text:
        return []
    try:
        table = json.loads(text)
    except (TypeError, ValueError):
        return []
    return sorted(table.items(), key=lambda item: -int(item[1].get("count", 0)))


def saturation_advice(summary: dict[str, Any]) -> str:
    """How the client distorted the figures (`client_saturated_reason`), which figures, and the
    remedy that fits: a busy load process needs more processes; one that was mostly idle yet
    late was starved by the machine (a CPU server on the same cores), where more load processes
    would only starve it further."""
    reason = summary.get("client_saturated_reason") or ""
    wire = any(word in reason for word in ("loop lag", "stamps late", "batched reads"))
    if wire:
        what = "client TTFT, TPOT and ITL include its own queueing"
    else:
        what = ("turn and session latencies include its own queueing (TTFT, TPOT and ITL are "
                "stamped on arrival and hold)")  # fmt: skip
    head = f"the load generator was saturated: {reason or 'it fell behind'}; {what}"
    cpu = summary.get("client_cpu_mean_pct")
    if cpu is not None and cpu > constants.CLIENT_CPU_SATURATED_PCT:
        return f"{head} (load process CPU {cpu:.0f}%): add --processes or Locust workers."
    lag = summary.get("client_lag_p90_ms")
    lag_text = f"event-loop lag p90 {lag:.0f} ms" if lag is not None else "event-loop lag"
    return (
        f"{head} ({lag_text} at {cpu or 0:.0f}% load process CPU: the machine, not the load "
        "process, was busy; a server on the same cores takes them): give the server and the load "
        "separate cores or machines (--endpoint, bench worker)."
    )


def print_steps(steps: list[dict[str, Any]]) -> None:
    """Latency against throughput, one row per load step."""
    table = Table(title="load steps: latency vs throughput")
    for col in (
        "step",
        "users",
        "rate/s",
        "completed sessions/s",
        "completed turns/s",
        "TTFT p50",
        "TTFT p99",
        "turn p50",
        "turn p99",
        "task success",
        "tool acc.",
        "failed turns/s",
        "goodput/s",
        "saturated",
    ):
        table.add_column(col, justify="right")
    for s in steps:
        table.add_row(
            _fmt(s.get("step")), _fmt(s.get("users")), _fmt(s.get("session_rate"), 2),
            _fmt(s.get("sessions_per_s"), 2), _fmt(s.get("turns_per_s"), 2),
            _ms(s, "ttft_p50_ms"), _ms(s, "ttft_p99_ms"), _ms(s, "turn_p50_ms"), _ms(s, "turn_p99_ms"),
            _fmt(s.get("task_success_rate"), 3), _fmt(s.get("tool_accuracy"), 3),
            _fmt(s.get("failed_turns_per_s"), 2), _fmt(s.get("goodput_sessions_per_s"), 2),
            "yes" if s.get("client_saturated") else "no",
        )  # fmt: skip
    console.print(table)


def print_results(
    summary: dict[str, Any], counts: dict[str, int], steps: list[dict[str, Any]], run_dir: Path
) -> None:
    """A built run: its summary; with load steps, the table per step and the cases that degrade."""
    print_summary(summary, counts)
    if len(steps) > 1:
        print_steps(steps)
        print_under_load(run_dir)


def print_under_load(run_dir: Path) -> None:
    """A run with load steps: the cases that passed at the lowest load and not at a higher one."""
    from bench.report.runs import Run  # pandas: only when there is something to read
    from bench.report.under_load import notes

    for line in notes([Run(run_dir)]):
        console.print(line, markup=False)
