"""One line for people per column of `summary.parquet` (`SummaryRow`), in column order.

The one place these descriptions live: `bench report` shows them beside the values in its
appendix. `tests/unit/schemas/test_column_help.py` fails when a summary column has no line here
or a line names no column, so a new column needs its description before it ships.
Percentile families (`<name>_p50_ms`, `_p90_ms`, `_p99_ms`) share one line with the percentile
filled in; the metric definitions behind them are in the README ("Metric definitions").
"""

from __future__ import annotations

from bench.schemas.summaries import PCTS

_SERVER_BOUND = (
    "the bound of server_{name}_p{q}_ms as text (e.g. '< 300 ms') when that percentile fell "
    "outside vLLM's histogram buckets; null otherwise"
)


def _pcts(name: str, what: str) -> dict[str, str]:
    return {f"{name}_p{q}_ms": what.format(q=q) for q in PCTS}


_CLIENT_BOUND = "'≥ X ms' when incomplete work at its age reaches {name}_p{q}_ms (then null)"


def _bounds(name: str) -> dict[str, str]:
    """The lower-bound column beside a client percentile (bench.results.latency_bounds)."""
    return {f"{name}_p{q}_ms_bound": _CLIENT_BOUND.format(name=name, q=q) for q in PCTS}


SUMMARY_HELP: dict[str, str] = {
    "run_id": "the run's id (its folder name unless --run-id named it)",
    "status": "how the run ended: completed, or the stage that failed",
    "model": "the model name given to bench run --model",
    "served_model_name": "the name the server serves the model under (what requests ask for)",
    "eval_set_id": "the eval set's id",
    "users": "closed loop: concurrent users (one conversation at a time each); null in open loop",
    "session_rate": "open loop: sessions started per second (the arrival rate); null otherwise",
    "max_sessions_in_flight": "open loop: the most sessions in flight per load process (the cap)",
    "processes": "Locust load processes that ran the users",
    "stream": "whether LLM replies were streamed",
    "tool_choice": "tool_choice sent with each call: auto, or required_when_expected (--force-tools)",
    "reasoning_parser": "the server's vLLM --reasoning-parser (null: none, or an attached server)",
    "thinking": "--thinking: enable_thinking sent with each agent call, on or off (null: not sent)",
    "thinking_budget": "--thinking-budget: vLLM's thinking_token_budget sent with each agent call",
    "request_timeout_s": "--request-timeout: a call still in flight at the cut and older fails",
    "drain_s": "--drain: how long work in flight had to finish after the load stopped (s)",
    "window_start": "start of the measured window: the first measured session's start (UTC)",
    "window_end": "end of the measured window: when the load stopped (UTC)",
    "window_s": "length of the measured window in seconds; every rate is over it",
    "sessions": "measured sessions started in the window (incomplete ones included)",
    "turns": "measured turns (invocations of eval cases)",
    "llm_calls": "measured LLM calls of the agent under test (user-simulator calls apart)",
    "warmup_sessions": "warm-up sessions, left out of every figure",
    "step": "the load step this row is about (0 for a run without load steps)",
    "sessions_passed": "measured sessions that passed their case by the eval set's criteria",
    "sessions_cut_short": "measured sessions a failed turn ended early (failures)",
    "sessions_incomplete": "measured sessions still running at the end of the drain (no verdict)",
    "sessions_failed": "measured sessions that completed and did not pass their case",
    "sessions_unscored": "measured sessions that completed with no metric of the criteria evaluated",
    "turns_incomplete": "measured turns still running at the end of the drain (no result)",
    "llm_calls_failed": "measured LLM calls that failed (an error, finish 'error', an unparsed call)",
    "llm_calls_incomplete": "measured LLM calls still running at the end of the drain",
    "sessions_per_s": "sessions completed without a failure per second of the window",
    "turns_per_s": "turns completed without error per second of the window",
    "llm_calls_per_s": "LLM calls completed without error per second of the window",
    "output_tokens_per_s": "output tokens of calls completed without error per second",
    "failed_sessions_per_s": "sessions cut short by a failure per second of the window",
    "failed_turns_per_s": "failed turns per second of the window",
    "failed_llm_calls_per_s": "failed LLM calls per second of the window",
    **_pcts(
        "ttft",
        "time to first token on the wire, p{q} of LLM calls that did not fail (incomplete: their age) (ms)",
    ),
    **_pcts("tpot", "time per output token after the first, p{q} of completed calls (ms)"),
    **_pcts(
        "llm_e2e",
        "LLM call from request to last token, p{q} of calls that did not fail (incomplete: their age) (ms)",
    ),
    **_pcts(
        "turn",
        "turn latency (user message to final answer), p{q} of turns that did not fail (incomplete: their age) (ms)",
    ),
    **_pcts("model_ttft", "TTFT at ADK's model layer (includes LiteLLM's work), p{q} (ms)"),
    **_pcts("model_tpot", "TPOT at ADK's model layer (includes LiteLLM's work), p{q} (ms)"),
    **_pcts("client_overhead", "per call, model-layer e2e minus wire e2e, p{q} (ms)"),
    "llm_calls_text": "completed LLM calls whose reply was text (no tool call)",
    "llm_calls_tool": "completed LLM calls whose reply had a tool call",
    **_pcts(
        "ttft_text",
        "TTFT of text replies only, p{q} (incomplete calls without a token: their age) (ms)",
    ),
    **_pcts(
        "ttft_tool",
        "TTFT of tool-call replies only (first tool-call delta: the parser's hold-back in), p{q} (ms)",
    ),
    **_pcts("tpot_text", "TPOT of text replies, (e2e - TTFT) / (tokens - 1), p{q} (ms)"),
    **_pcts(
        "tpot_tool", "TPOT of tool-call replies, mean gap between deltas after the first, p{q} (ms)"
    ),
    **_pcts("itl", "gap between token chunks, p{q} of every gap of completed streamed calls (ms)"),
    **_pcts("itl_text", "gap between token chunks of text replies, p{q} of all their gaps (ms)"),
    **_pcts(
        "itl_tool", "gap between token chunks of tool-call replies, p{q} of all their gaps (ms)"
    ),
    **_pcts(
        "tool_holdback",
        "tool-call replies: first chunk (first generated token) to first tool-call delta, p{q} (ms)",
    ),
    "turn_llm_wire_mean_ms": "mean over completed turns of their LLM calls' time on the wire (ms)",
    "turn_client_overhead_mean_ms": "mean per turn of the model layer's time around its calls (ms)",
    "turn_tool_time_mean_ms": "mean per turn of the time spent in tools, injected delays included (ms)",
    "turn_other_mean_ms": "mean per turn of the rest: ADK's runner, callbacks, session service (ms)",
    **_pcts(
        "session",
        "session latency, p{q} of sessions not cut short (incomplete: their age); open loop: from its schedule (ms)",
    ),
    "reasoning_tokens_per_turn": "mean reasoning tokens of a completed turn (its calls' summed)",
    "reasoning_tokens_per_call": "mean reasoning tokens of a completed LLM call",
    "reasoning_tokens_from": "where reasoning tokens were counted: usage (the server's), stream",
    **_pcts(
        "ttfo",
        "time to first output token (first content or tool-call delta; AIPerf's TTFO), p{q} (ms)",
    ),
    **_pcts("ttfr", "time to first reasoning token, p{q} of completed calls that reasoned (ms)"),
    "turn_thinking_mean_ms": "mean per turn of the time its calls spent thinking (ms)",
    "thinking_share": "thinking time / turn latency, summed over completed turns (0-1)",
    "reasoning_sent_back_chars_per_call": "mean characters of earlier thoughts a request sent "
    "back (reasoning_content of its assistant messages)",
    **_bounds("ttft"),
    **_bounds("llm_e2e"),
    **_bounds("turn"),
    **_bounds("session"),
    **_bounds("ttft_text"),
    **_bounds("ttft_tool"),
    **_pcts("start_delay", "open loop: how late a session started after its schedule, p{q} (ms)"),
    "arrivals": "open loop: arrivals the schedule put in the window",
    "arrivals_not_started": "open loop: arrivals scheduled in the window that never started",
    "arrivals_waited_for_cap": "open loop: arrivals that found --max-sessions-in-flight full",
    "task_success_rate": "sessions passed / measured sessions with a verdict (cut short = failed)",
    "task_success_bound": "its lower bound: passed / (sessions with a verdict + incomplete ones)",
    "sessions_undecided_share": "incomplete sessions / (sessions with a verdict + incomplete ones)",
    "tool_accuracy": "mean ADK trajectory score of completed turns, under the eval set's match type",
    "tool_trajectory_exact": "mean trajectory score of completed turns with EXACT matching",
    "tool_trajectory_in_order": "mean trajectory score of completed turns with IN_ORDER matching",
    "tool_trajectory_any_order": "mean trajectory score of completed turns with ANY_ORDER matching",
    "trajectory_match_type": "the eval set's trajectory match type (what tool_accuracy uses)",
    "case_pass_metrics": "the criteria's metrics a session's pass was decided on",
    "case_metrics_not_evaluated": "metrics in the criteria bench cannot compute (no verdict from them)",
    "response_match": "mean ROUGE-1 F of final answers against the references (completed turns)",
    "tool_name_precision": "tool calls made with an expected name / tool calls made",
    "tool_name_recall": "expected tool calls whose name was called / expected tool calls",
    "arg_exact_match_rate": "paired calls whose arguments equal the expected ones / paired calls",
    "errors": "failed turns (incomplete turns are no errors)",
    "error_rate": "failed turns / measured turns that are not incomplete",
    "errors_by_type": "failed turns by error class",
    "llm_calls_finish_error": "LLM calls the server ended with finish reason 'error' (failed)",
    "llm_calls_finish_length": "LLM calls the server ended with finish reason 'length' (max tokens)",
    "llm_calls_empty": "LLM calls whose reply had no text and no tool call",
    "llm_calls_malformed_tool_call": "LLM calls finished 'tool_calls' with no call that parsed (failed)",
    "llm_calls_unparsed": "LLM calls whose reply text held a tool call the server's parser missed",
    "llm_calls_rescued_from_text": "tool calls ADK pulled out of reply text the server finished 'stop'",
    "skipped_cases": "eval cases not played (conversation_scenario without a user simulator)",
    "scenario_sessions": "measured sessions of conversation_scenario cases; null when none ran",
    "user_simulator_calls": "LLM calls of ADK's user simulator (no other figure counts them)",
    "user_simulator_failed_calls": "failed LLM calls of ADK's user simulator",
    "unparsed_rate": "completed turns whose reply text held a tool call the parser missed / turns",
    "unknown_tool_calls": "calls to tools the agent does not have",
    "unexpected_call_rate": "completed turns that called a tool where none was expected / turns",
    "arg_partial_credit": "per-argument credit of paired calls, averaged (1 = every argument right)",
    "pass_k": "k of pass^k and pass@k: trials per case (--trials)",
    "pass_k_short_cases": "cases with fewer than k trials: no pass^k or pass@k of their own",
    "pass_hat_k": "pass^k: share of cases whose k trials all passed",
    "pass_at_k": "pass@k: share of cases with at least one of k trials passed",
    "trajectory_inconsistency_rate": "share of cases whose trials called different tool sequences",
    "slo": "the --slo thresholds goodput was measured against",
    "goodput_sessions_per_s": "sessions per second that met every SLO and passed their case",
    "goodput_turns_per_s": "turns per second that met every SLO and had the right tool calls",
    "slo_attainment_sessions_pct": "% of sessions with a result that met every SLO and passed",
    "slo_attainment_turns_pct": "% of turns with a result that met every SLO and called right",
    "judge_model": "the LLM judge's model (--judge)",
    "judge_final_response_match": "mean of ADK's final_response_match_v2 by the judge",
    "judge_rubric_score": "mean of ADK's rubric_based_final_response_quality_v1 by the judge",
    **_pcts("server_ttft", "the server's TTFT, p{q} from vLLM's histogram over the window (ms)"),
    **_pcts("server_tpot", "the server's time per output token, p{q} from its histogram (ms)"),
    **_pcts("server_e2e", "the server's request latency, p{q} from its histogram (ms)"),
    **_pcts("server_queue", "time requests waited in the server's queue, p{q} (ms)"),
    **{
        f"server_{name}_p{q}_ms_bound": _SERVER_BOUND.format(name=name, q=q)
        for name in ("ttft", "tpot", "e2e", "queue")
        for q in PCTS
    },
    "server_ttft_mean_ms": "the server's mean TTFT over the window, exact from _sum/_count (ms)",
    "server_tpot_mean_ms": "the server's mean time per output token, exact (ms)",
    "server_e2e_mean_ms": "the server's mean request latency, exact (ms)",
    "server_queue_mean_ms": "the server's mean queue time, exact (ms)",
    "server_requests": "requests the server finished in the window (its counter's increase)",
    "server_prompt_tokens": "prompt tokens the server processed in the window",
    "server_generation_tokens": "tokens the server generated in the window",
    "server_preemptions": "requests the server preempted in the window (KV cache full)",
    "server_prefix_cache_queries": "prompt tokens looked up in the server's prefix cache",
    "server_prefix_cache_hits": "prompt tokens found in the server's prefix cache",
    "server_tool_parser_invocations": "times vLLM's tool parser ran in the window: once per "
    "streamed delta (once per reply when not streamed), so many per call",
    "prefix_cache_hit_rate": "server_prefix_cache_hits / server_prefix_cache_queries",
    "kv_cache_usage_mean": "mean share of the KV cache in use over the scrapes (0-1)",
    "kv_cache_usage_max": "largest share of the KV cache in use seen (0-1)",
    "requests_running_max": "most requests the server ran at once (as scraped)",
    "requests_waiting_max": "most requests waiting in the server's queue (as scraped)",
    "server_window_start": "first /metrics scrape used for the server figures (UTC)",
    "server_window_end": "last /metrics scrape used for the server figures (UTC)",
    "cached_tokens_reported": "whether the server reported cached prompt tokens per call",
    **{
        f"kv_{cls}_{what}": f"{cls.replace('_', ' ')} calls: {text}"
        for cls in ("session_start", "across_turns", "within_turn")
        for what, text in (
            ("calls", "measured calls of this class"),
            ("prompt_tokens", "their prompt tokens"),
            ("cached_tokens", "their prompt tokens served from the prefix cache"),
            ("cached_fraction", "cached tokens / prompt tokens"),
        )
    },
    "client_cpu_mean_pct": "mean CPU of the load processes (% of one core)",
    "client_cpu_max_pct": "highest CPU sample of a load process (% of one core)",
    "client_lag_p90_ms": "p90 of the load processes' event-loop lag (ms): late wake-ups",
    "client_wire_lag_p90_ms": "p90 of the lag of the loop that reads and stamps responses (ms)",
    **_pcts(
        "pull_delay",
        "per call, the mean wait of its chunks between arrival and the agent taking them, p{q} (ms)",
    ),
    "itl_batched_share": "share of ITL gaps that were 0: token chunks read in one batch",
    "client_saturated": "whether the load generator distorted the figures (client_saturated_reason says how)",
    "client_saturated_reason": "why the client was flagged: pull delay, loop lag, stamps late or batched reads",
    "roofline_bound_tokens_per_s": "single-stream decode bound: peak memory bandwidth / weight bytes",
    "roofline_achieved_tokens_per_s": "single-stream decode speed measured (1 / TPOT)",
    "roofline_efficiency_pct": "achieved / bound, in %",
    "roofline_note": "why there is no roofline figure, or the figures it used",
}


def summary_help(column: str) -> str:
    """The column's line; "" for a column this bench does not know (a newer file's)."""
    return SUMMARY_HELP.get(column, "")
