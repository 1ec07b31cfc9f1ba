"""Declared pyarrow schemas of every Parquet table. Units are in the column names; times are UTC.

Raw JSONL records carry epoch seconds; the writer turns `*_at` columns into timestamps. Nested
values (tool calls, invocations) are stored as JSON strings so any reader can open them.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
F = pa.float64()
INT = pa.int64()
S = pa.string()
B = pa.bool_()

RUN_COLUMNS = [pa.field("run_id", S)]

LLM_CALLS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("session_id", S),
        pa.field("turn_id", S),
        pa.field("call_index", INT),
        pa.field("agent_name", S),
        pa.field("started_at", TS),
        pa.field("ttft_ms", F),
        pa.field("e2e_ms", F),
        pa.field("tpot_ms", F),
        pa.field("itl_mean_ms", F),
        pa.field("itl_p50_ms", F),
        pa.field("itl_p99_ms", F),
        pa.field("itl_max_ms", F),
        pa.field("n_chunks", INT),
        pa.field("prompt_tokens", INT),
        pa.field("completion_tokens", INT),
        pa.field("finish_reason", S),
        pa.field("tool_calls_n", INT),
        pa.field("stream", B),
        pa.field("warmup", B),
        pa.field("error_type", S),
        pa.field("error", S),
        pa.field("pid", INT),
    ]
)

TURN_SCORE_FIELDS = [
    pa.field("trajectory_exact", F),
    pa.field("trajectory_in_order", F),
    pa.field("trajectory_any_order", F),
    pa.field("trajectory_score", F),  # under the eval set's own match type
    pa.field("response_match", F),  # ROUGE-1 F against the reference answer, when there is one
    pa.field("tool_calls_actual_n", INT),
    pa.field("tool_calls_expected_n", INT),
    pa.field("tool_names_matched", INT),
    pa.field("args_compared", INT),
    pa.field("args_matched", INT),
    pa.field("args_partial_sum", F),  # per-argument credit summed over paired calls
    pa.field("unknown_tool_calls", INT),  # calls to tools the agent does not have
    pa.field("unexpected_call", B),  # called a tool where none was expected
    pa.field("unparsed_tool_call", B),  # text that looks like a call the parser did not extract
    pa.field("slo_met", B),  # every --slo met and the trajectory right (null without --slo)
    pa.field("judge_final_response_match", F),  # ADK final_response_match_v2 (with --judge)
    pa.field("judge_rubric_score", F),  # ADK rubric_based_final_response_quality_v1
]

TURNS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("session_id", S),
        pa.field("turn_id", S),
        pa.field("case_id", S),
        pa.field("eval_set_id", S),
        pa.field("trial", INT),
        pa.field("invocation_index", INT),
        pa.field("invocation_id", S),
        pa.field("started_at", TS),
        pa.field("ended_at", TS),
        pa.field("latency_ms", F),
        pa.field("llm_calls", INT),
        pa.field("tool_calls", S),  # JSON [{name, args}]
        pa.field("expected_tool_calls", S),  # JSON [{name, args}]
        pa.field("final_response", S),
        pa.field("expected_response", S),
        pa.field("tool_errors", INT),
        pa.field("error_type", S),
        pa.field("error", S),
        pa.field("warmup", B),
        pa.field("actual_invocation", S),  # ADK Invocation JSON, for re-scoring
        pa.field("expected_invocation", S),
        pa.field("pid", INT),
    ]
    + TURN_SCORE_FIELDS
)

SESSIONS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("session_id", S),
        pa.field("case_id", S),
        pa.field("eval_set_id", S),
        pa.field("trial", INT),
        pa.field("ticket", INT),
        pa.field("started_at", TS),
        pa.field("ended_at", TS),
        pa.field("duration_ms", F),
        pa.field("turns", INT),
        pa.field("turns_expected", INT),
        pa.field("errors", INT),
        pa.field("warmup", B),
        pa.field("pid", INT),
        pa.field("user_index", INT),
        # ADK's case score: the mean of the per-invocation trajectory scores, and pass/fail at the
        # eval set's threshold.
        pa.field("trajectory_score", F),
        pa.field("trajectory_passed", B),
        pa.field("case_passed", B),  # every metric of the criteria met (ADK's rule)
        pa.field("response_match", F),
        pa.field("slo_met", B),
    ]
)

CASES = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("case_id", S),
        pa.field("eval_set_id", S),
        pa.field("trials", INT),
        pa.field("passes", INT),
        pa.field("pass_rate", F),
        pa.field("k", INT),
        pa.field("pass_hat_k", F),  # tau-bench pass^k: all of k trials pass
        pa.field("pass_at_k", F),  # at least one of k trials passes
        pa.field("trajectory_variants", INT),  # distinct tool trajectories among the trials
        pa.field("trajectory_differs", B),
        pa.field("trajectory_score_mean", F),
        pa.field("turns", INT),
        pa.field("unparsed_tool_calls", INT),
        pa.field("unknown_tool_calls", INT),
        pa.field("unexpected_calls", INT),
        pa.field("arg_exact_match_rate", F),
        pa.field("arg_partial_credit", F),
    ]
)

TOOLS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("tool", S),
        pa.field("calls_expected", INT),
        pa.field("calls_made", INT),
        pa.field("names_matched", INT),
        pa.field("precision", F),
        pa.field("recall", F),
        pa.field("args_compared", INT),
        pa.field("arg_exact_match_rate", F),
        pa.field("arg_partial_credit", F),
        pa.field("unknown", B),  # the agent has no tool of this name
    ]
)

SERVER_METRICS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("timestamp", TS),
        pa.field("metric", S),  # sample name, e.g. vllm:time_to_first_token_seconds_bucket
        pa.field("labels", S),  # JSON object
        pa.field("value", F),  # cumulative for counters and histograms, as scraped
    ]
)

CLIENT = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("timestamp", TS),
        pa.field("pid", INT),
        pa.field("cpu_percent", F),  # of one core
        pa.field("gevent_lag_ms", F),
        pa.field("asyncio_lag_ms", F),
    ]
)

PCTS = (50, 90, 99)
LATENCIES = ("ttft_ms", "tpot_ms", "llm_e2e_ms", "turn_ms", "session_ms")

SUMMARY = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("status", S),
        pa.field("model", S),
        pa.field("served_model_name", S),
        pa.field("eval_set_id", S),
        pa.field("users", INT),
        pa.field("session_rate", F),
        pa.field("processes", INT),
        pa.field("stream", B),
        pa.field("window_start", TS),
        pa.field("window_end", TS),
        pa.field("window_s", F),
        pa.field("sessions", INT),
        pa.field("turns", INT),
        pa.field("llm_calls", INT),
        pa.field("warmup_sessions", INT),
        pa.field("step", INT),  # load step (0 for a single-step run)
        pa.field("sessions_per_s", F),
        pa.field("turns_per_s", F),
        pa.field("llm_calls_per_s", F),
        pa.field("output_tokens_per_s", F),
    ]
    + [pa.field(f"{name.removesuffix('_ms')}_p{p}_ms", F) for name in LATENCIES for p in PCTS]
    + [
        pa.field("tool_trajectory_exact", F),
        pa.field("tool_trajectory_in_order", F),
        pa.field("tool_trajectory_any_order", F),
        pa.field("trajectory_match_type", S),
        pa.field("case_pass_rate", F),
        pa.field("case_pass_metrics", S),  # the criteria's metrics case_passed evaluated
        pa.field("case_metrics_not_evaluated", S),  # in the criteria, but bench cannot compute them
        pa.field("response_match", F),
        pa.field("tool_name_precision", F),
        pa.field("tool_name_recall", F),
        pa.field("arg_exact_match_rate", F),
        pa.field("errors", INT),
        pa.field("error_rate", F),
        pa.field("skipped_cases", INT),
        # finer tool metrics
        pa.field("unparsed_rate", F),
        pa.field("unknown_tool_calls", INT),
        pa.field("unexpected_call_rate", F),
        pa.field("arg_partial_credit", F),
        # repeated trials
        pa.field("pass_k", INT),
        pa.field("pass_hat_k", F),
        pa.field("pass_at_k", F),
        pa.field("trajectory_inconsistency_rate", F),
        # goodput under --slo
        pa.field("slo", S),
        pa.field("goodput_sessions_per_s", F),
        pa.field("goodput_turns_per_s", F),
        pa.field("slo_attainment_sessions_pct", F),
        pa.field("slo_attainment_turns_pct", F),
        # LLM-as-judge (with --judge)
        pa.field("judge_model", S),
        pa.field("judge_final_response_match", F),
        pa.field("judge_rubric_score", F),
        # the server's own view of the same window (/metrics)
    ]
    + [
        pa.field(f"server_{name}_p{p}_ms", F)
        for name in ("ttft", "tpot", "e2e", "queue")
        for p in PCTS
    ]
    # a percentile outside the buckets' resolution: null above, its bound here ("< 300 ms")
    + [
        pa.field(f"server_{name}_p{p}_ms_bound", S)
        for name in ("ttft", "tpot", "e2e", "queue")
        for p in PCTS
    ]
    # exact means from _sum/_count: the percentiles are only as fine as vLLM's buckets
    + [pa.field(f"server_{name}_mean_ms", F) for name in ("ttft", "tpot", "e2e", "queue")]
    + [
        pa.field("server_requests", F),
        pa.field("server_prompt_tokens", F),
        pa.field("server_generation_tokens", F),
        pa.field("server_preemptions", F),
        pa.field("server_prefix_cache_queries", F),
        pa.field("server_prefix_cache_hits", F),
        pa.field("server_tool_parser_invocations", F),
        pa.field("prefix_cache_hit_rate", F),
        pa.field("kv_cache_usage_mean", F),
        pa.field("kv_cache_usage_max", F),
        pa.field("requests_running_max", F),
        pa.field("requests_waiting_max", F),
        pa.field("server_window_start", TS),
        pa.field("server_window_end", TS),
        # the load generator's own health
        pa.field("client_cpu_mean_pct", F),
        pa.field("client_cpu_max_pct", F),
        pa.field("client_lag_p90_ms", F),
        pa.field("client_saturated", B),
        # single-stream decode efficiency against the memory-bandwidth bound (GPU only)
        pa.field("roofline_bound_tokens_per_s", F),
        pa.field("roofline_achieved_tokens_per_s", F),
        pa.field("roofline_efficiency_pct", F),
        pa.field("roofline_note", S),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "llm_calls": LLM_CALLS,
    "turns": TURNS,
    "sessions": SESSIONS,
    "cases": CASES,
    "tools": TOOLS,
    "server_metrics": SERVER_METRICS,
    "client": CLIENT,
    "summary": SUMMARY,
}
RAW_TABLES = ("llm_calls", "turns", "sessions")
