"""Declared pyarrow schemas of every Parquet table. Units are in the column names; times are UTC.

Raw JSONL records carry epoch seconds; the writer turns `*_at` columns into timestamps. Nested
values (tool calls, invocations) are stored as JSON strings so any reader can open them.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
F = pa.float64()
I = pa.int64()
S = pa.string()
B = pa.bool_()

RUN_COLUMNS = [pa.field("run_id", S)]

LLM_CALLS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("session_id", S),
        pa.field("turn_id", S),
        pa.field("call_index", I),
        pa.field("agent_name", S),
        pa.field("started_at", TS),
        pa.field("ttft_ms", F),
        pa.field("e2e_ms", F),
        pa.field("tpot_ms", F),
        pa.field("itl_mean_ms", F),
        pa.field("itl_p50_ms", F),
        pa.field("itl_p99_ms", F),
        pa.field("itl_max_ms", F),
        pa.field("n_chunks", I),
        pa.field("prompt_tokens", I),
        pa.field("completion_tokens", I),
        pa.field("finish_reason", S),
        pa.field("tool_calls_n", I),
        pa.field("stream", B),
        pa.field("warmup", B),
        pa.field("error_type", S),
        pa.field("error", S),
        pa.field("pid", I),
    ]
)

TURN_SCORE_FIELDS = [
    pa.field("trajectory_exact", F),
    pa.field("trajectory_in_order", F),
    pa.field("trajectory_any_order", F),
    pa.field("trajectory_score", F),  # under the eval set's own match type
    pa.field("response_match", F),  # ROUGE-1 F against the reference answer, when there is one
    pa.field("tool_calls_actual_n", I),
    pa.field("tool_calls_expected_n", I),
    pa.field("tool_names_matched", I),
    pa.field("args_compared", I),
    pa.field("args_matched", I),
]

TURNS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("session_id", S),
        pa.field("turn_id", S),
        pa.field("case_id", S),
        pa.field("eval_set_id", S),
        pa.field("trial", I),
        pa.field("invocation_index", I),
        pa.field("invocation_id", S),
        pa.field("started_at", TS),
        pa.field("ended_at", TS),
        pa.field("latency_ms", F),
        pa.field("llm_calls", I),
        pa.field("tool_calls", S),  # JSON [{name, args}]
        pa.field("expected_tool_calls", S),  # JSON [{name, args}]
        pa.field("final_response", S),
        pa.field("expected_response", S),
        pa.field("tool_errors", I),
        pa.field("error_type", S),
        pa.field("error", S),
        pa.field("warmup", B),
        pa.field("actual_invocation", S),  # ADK Invocation JSON, for re-scoring
        pa.field("expected_invocation", S),
        pa.field("pid", I),
    ]
    + TURN_SCORE_FIELDS
)

SESSIONS = pa.schema(
    RUN_COLUMNS
    + [
        pa.field("session_id", S),
        pa.field("case_id", S),
        pa.field("eval_set_id", S),
        pa.field("trial", I),
        pa.field("ticket", I),
        pa.field("started_at", TS),
        pa.field("ended_at", TS),
        pa.field("duration_ms", F),
        pa.field("turns", I),
        pa.field("turns_expected", I),
        pa.field("errors", I),
        pa.field("warmup", B),
        pa.field("pid", I),
        pa.field("user_index", I),
        # ADK's case score: the mean of the per-invocation trajectory scores, and pass/fail at the
        # eval set's threshold.
        pa.field("trajectory_score", F),
        pa.field("trajectory_passed", B),
        pa.field("response_match", F),
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
        pa.field("users", I),
        pa.field("session_rate", F),
        pa.field("processes", I),
        pa.field("stream", B),
        pa.field("window_start", TS),
        pa.field("window_end", TS),
        pa.field("window_s", F),
        pa.field("sessions", I),
        pa.field("turns", I),
        pa.field("llm_calls", I),
        pa.field("warmup_sessions", I),
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
        pa.field("response_match", F),
        pa.field("tool_name_precision", F),
        pa.field("tool_name_recall", F),
        pa.field("arg_exact_match_rate", F),
        pa.field("errors", I),
        pa.field("error_rate", F),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "llm_calls": LLM_CALLS,
    "turns": TURNS,
    "sessions": SESSIONS,
    "summary": SUMMARY,
}
RAW_TABLES = ("llm_calls", "turns", "sessions")
