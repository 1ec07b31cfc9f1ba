"""Rows of the summary tables: a run's summary, a sweep's summary, the SLA search's tables.

Same rules as `bench.schemas.records`: one annotated field per column, in column order.
Sweep and SLA rows also carry one column per engine flag of the sweep (`max_num_seqs`, ...):
their names come from the user, so `bench.schemas.tables` types them from their values.
"""

from __future__ import annotations

from typing import TypedDict

from bench.schemas.columns import EpochS
from bench.schemas.records import BuiltRunColumns

PCTS = (50, 90, 99)  # the percentiles in the summary's `*_pNN_ms` columns


class SummaryRow(BuiltRunColumns, total=False):
    status: str
    model: str | None
    served_model_name: str | None
    eval_set_id: str | None
    users: int | None
    session_rate: float | None
    max_sessions_in_flight: int | None  # open loop: the cap per load process
    processes: int | None
    stream: bool | None
    tool_choice: str | None  # auto, or required_when_expected (--force-tools)
    reasoning_parser: str | None  # the server's --reasoning-parser, when bench set it
    thinking: str | None  # --thinking on/off; null: not sent, the model's default
    thinking_budget: int | None  # --thinking-budget (vLLM's thinking_token_budget)
    request_timeout_s: float | None  # a call in flight at the cut and older than this failed
    drain_s: float | None  # --drain: how long work in flight had to finish after the stop
    # the measured window: the first measured start to the load's stop (no session or turn
    # started after it); never to the last completed record
    window_start: EpochS | None
    window_end: EpochS | None
    window_s: float | None
    sessions: int  # measured sessions started, incomplete ones included
    turns: int
    llm_calls: int
    warmup_sessions: int
    step: int  # load step (0 for a single-step run)
    # what became of the measured sessions (bench.scoring.outcome); these five sum to `sessions`
    sessions_passed: int
    sessions_failed: int  # completed, a metric of the criteria not met
    sessions_cut_short: int  # a failed turn ended them early: failures
    sessions_incomplete: int  # not finished at the end of the drain: no verdict, not errors
    sessions_unscored: int  # completed, but no metric of the criteria could be evaluated
    turns_incomplete: int  # still running at the end of the drain
    llm_calls_failed: int
    llm_calls_incomplete: int
    # completed throughput: items completed without error (passed or not) that ended in the
    # window, per second of it; work that finished in the drain is not in any rate
    sessions_per_s: float | None
    turns_per_s: float | None
    llm_calls_per_s: float | None
    output_tokens_per_s: float | None
    # and of failures, separately
    failed_sessions_per_s: float | None  # sessions cut short by a failure
    failed_turns_per_s: float | None
    failed_llm_calls_per_s: float | None
    # client-measured latency percentiles (PCTS). ttft, llm_e2e, turn and session count
    # incomplete work at its age as a lower bound: a percentile that depends on one is null here
    # and its bound is in `<column>_bound` ("≥ 12000.0 ms")
    ttft_p50_ms: float | None
    ttft_p90_ms: float | None
    ttft_p99_ms: float | None
    tpot_p50_ms: float | None
    tpot_p90_ms: float | None
    tpot_p99_ms: float | None
    llm_e2e_p50_ms: float | None
    llm_e2e_p90_ms: float | None
    llm_e2e_p99_ms: float | None
    turn_p50_ms: float | None
    turn_p90_ms: float | None
    turn_p99_ms: float | None
    # model-layer figures (ADK's LiteLlm: the wire plus LiteLLM's and ADK's work on each chunk)
    model_ttft_p50_ms: float | None
    model_ttft_p90_ms: float | None
    model_ttft_p99_ms: float | None
    model_tpot_p50_ms: float | None
    model_tpot_p90_ms: float | None
    model_tpot_p99_ms: float | None
    client_overhead_p50_ms: float | None  # per call: model-layer e2e - wire e2e
    client_overhead_p90_ms: float | None
    client_overhead_p99_ms: float | None
    # by reply kind (bench.results.reply_kinds): completed calls whose reply was text, and
    # those whose reply had a tool call; the combined ttft/tpot columns keep meaning both
    llm_calls_text: int | None
    llm_calls_tool: int | None
    ttft_text_p50_ms: float | None
    ttft_text_p90_ms: float | None
    ttft_text_p99_ms: float | None
    ttft_tool_p50_ms: float | None  # includes the tool parser's hold-back
    ttft_tool_p90_ms: float | None
    ttft_tool_p99_ms: float | None
    tpot_text_p50_ms: float | None
    tpot_text_p90_ms: float | None
    tpot_text_p99_ms: float | None
    tpot_tool_p50_ms: float | None  # the mean gap between deltas after the first
    tpot_tool_p90_ms: float | None
    tpot_tool_p99_ms: float | None
    itl_p50_ms: float | None  # every gap of every call, pooled
    itl_p90_ms: float | None
    itl_p99_ms: float | None
    itl_text_p50_ms: float | None
    itl_text_p90_ms: float | None
    itl_text_p99_ms: float | None
    itl_tool_p50_ms: float | None
    itl_tool_p90_ms: float | None
    itl_tool_p99_ms: float | None
    tool_holdback_p50_ms: float | None  # first token to first tool-call delta
    tool_holdback_p90_ms: float | None
    tool_holdback_p99_ms: float | None
    # the mean turn split over completed turns; the four means sum to the mean turn latency
    turn_llm_wire_mean_ms: float | None  # LLM calls on the wire
    turn_client_overhead_mean_ms: float | None  # the model layer's time around them
    turn_tool_time_mean_ms: float | None  # of a turn's time, spent in tools (incl. --tool-latency)
    turn_other_mean_ms: float | None  # the rest: ADK's runner, callbacks, session service
    session_p50_ms: float | None
    session_p90_ms: float | None
    session_p99_ms: float | None  # open loop: from scheduled_at, so late starts count
    ttft_p50_ms_bound: str | None
    ttft_p90_ms_bound: str | None
    ttft_p99_ms_bound: str | None
    llm_e2e_p50_ms_bound: str | None
    llm_e2e_p90_ms_bound: str | None
    llm_e2e_p99_ms_bound: str | None
    turn_p50_ms_bound: str | None
    turn_p90_ms_bound: str | None
    turn_p99_ms_bound: str | None
    session_p50_ms_bound: str | None
    session_p90_ms_bound: str | None
    session_p99_ms_bound: str | None
    ttft_text_p50_ms_bound: str | None
    ttft_text_p90_ms_bound: str | None
    ttft_text_p99_ms_bound: str | None
    ttft_tool_p50_ms_bound: str | None
    ttft_tool_p90_ms_bound: str | None
    ttft_tool_p99_ms_bound: str | None
    # a thinking model's share (bench.results.reasoning): reasoning tokens per turn and per call
    # (from usage, else counted from the stream: reasoning_tokens_from), time to first output
    # token (content or tool call, AIPerf's TTFO) and to first reasoning token, a turn's mean
    # thinking time and the share of turn latency spent thinking
    reasoning_tokens_per_turn: float | None
    reasoning_tokens_per_call: float | None
    reasoning_tokens_from: str | None  # usage, stream, or usage+stream
    ttfo_p50_ms: float | None
    ttfo_p90_ms: float | None
    ttfo_p99_ms: float | None
    ttfr_p50_ms: float | None
    ttfr_p90_ms: float | None
    ttfr_p99_ms: float | None
    turn_thinking_mean_ms: float | None
    thinking_share: float | None
    reasoning_sent_back_chars_per_call: float | None  # earlier thoughts a request carried
    # open loop: how late sessions started, the arrivals that never started (scheduled inside
    # the window) and those that found --max-sessions-in-flight full
    start_delay_p50_ms: float | None
    start_delay_p90_ms: float | None
    start_delay_p99_ms: float | None
    arrivals: int | None
    arrivals_not_started: int | None
    arrivals_waited_for_cap: int | None
    # the two accuracy figures: task success (headline) over the sessions with a verdict, a
    # cut-short session counting as a failure; tool accuracy over completed turns
    task_success_rate: float | None
    # its lower bound: passed / (sessions with a verdict + incomplete ones), and the share of
    # that denominator left undecided (incomplete)
    task_success_bound: float | None
    sessions_undecided_share: float | None
    tool_accuracy: float | None  # trajectory score under the eval set's match type
    tool_trajectory_exact: float | None
    tool_trajectory_in_order: float | None
    tool_trajectory_any_order: float | None
    trajectory_match_type: str | None
    case_pass_metrics: str | None  # the criteria's metrics case_passed evaluated
    case_metrics_not_evaluated: str | None  # in the criteria, but bench cannot compute them
    response_match: float | None
    tool_name_precision: float | None
    tool_name_recall: float | None
    arg_exact_match_rate: float | None
    errors: int  # failed turns (incomplete ones are not errors)
    error_rate: float | None  # failed turns / turns that are not incomplete
    # failed turns by error class: JSON {class: {"count": n, "first": first message}}
    errors_by_type: str | None
    skipped_cases: int
    # conversation_scenario cases (ADK's user simulator): measured sessions, and the simulator's
    # LLM calls, which no agent figure counts; null when the run had none
    scenario_sessions: int | None
    user_simulator_calls: int | None
    user_simulator_failed_calls: int | None
    # how the measured agent LLM calls ended (bench.scoring.finish): the server's finish reason
    # "error" (failed calls), "length", empty replies, calls ADK dropped as malformed, replies
    # whose text held a tool call the server did not parse, and such calls ADK made anyway
    llm_calls_finish_error: int
    llm_calls_finish_length: int
    llm_calls_empty: int
    llm_calls_malformed_tool_call: int
    llm_calls_unparsed: int
    llm_calls_rescued_from_text: int
    # finer tool metrics; unparsed_rate: completed turns with an unparsed call in any LLM call
    unparsed_rate: float | None
    unknown_tool_calls: int
    unexpected_call_rate: float | None
    arg_partial_credit: float | None
    # repeated trials
    pass_k: int | None
    pass_hat_k: float | None  # mean over the cases with at least k trials
    pass_at_k: float | None
    pass_k_short_cases: int | None  # cases with fewer than k trials: no pass^k of their own
    trajectory_inconsistency_rate: float | None
    # goodput under --slo
    slo: str | None
    goodput_sessions_per_s: float | None
    goodput_turns_per_s: float | None
    slo_attainment_sessions_pct: float | None
    slo_attainment_turns_pct: float | None
    # LLM-as-judge (with --judge)
    judge_model: str | None
    judge_final_response_match: float | None
    judge_rubric_score: float | None
    # the server's own view of the same window (/metrics); percentiles are only as fine as
    # vLLM's buckets
    server_ttft_p50_ms: float | None
    server_ttft_p90_ms: float | None
    server_ttft_p99_ms: float | None
    server_tpot_p50_ms: float | None
    server_tpot_p90_ms: float | None
    server_tpot_p99_ms: float | None
    server_e2e_p50_ms: float | None
    server_e2e_p90_ms: float | None
    server_e2e_p99_ms: float | None
    server_queue_p50_ms: float | None
    server_queue_p90_ms: float | None
    server_queue_p99_ms: float | None
    # a percentile outside the buckets' resolution: null above, its bound here ("< 300 ms")
    server_ttft_p50_ms_bound: str | None
    server_ttft_p90_ms_bound: str | None
    server_ttft_p99_ms_bound: str | None
    server_tpot_p50_ms_bound: str | None
    server_tpot_p90_ms_bound: str | None
    server_tpot_p99_ms_bound: str | None
    server_e2e_p50_ms_bound: str | None
    server_e2e_p90_ms_bound: str | None
    server_e2e_p99_ms_bound: str | None
    server_queue_p50_ms_bound: str | None
    server_queue_p90_ms_bound: str | None
    server_queue_p99_ms_bound: str | None
    # exact means from _sum/_count
    server_ttft_mean_ms: float | None
    server_tpot_mean_ms: float | None
    server_e2e_mean_ms: float | None
    server_queue_mean_ms: float | None
    server_requests: float | None
    server_prompt_tokens: float | None
    server_generation_tokens: float | None
    server_preemptions: float | None
    server_prefix_cache_queries: float | None
    server_prefix_cache_hits: float | None
    server_tool_parser_invocations: float | None
    prefix_cache_hit_rate: float | None
    kv_cache_usage_mean: float | None
    kv_cache_usage_max: float | None
    requests_running_max: float | None
    requests_waiting_max: float | None
    server_window_start: EpochS | None
    server_window_end: EpochS | None
    # prefix-cache reuse by call class (bench.results.kv_reuse); null when the server does not
    # report cached tokens (cached_tokens_reported False)
    cached_tokens_reported: bool | None
    kv_session_start_calls: int | None
    kv_session_start_prompt_tokens: int | None
    kv_session_start_cached_tokens: int | None
    kv_session_start_cached_fraction: float | None
    kv_across_turns_calls: int | None
    kv_across_turns_prompt_tokens: int | None
    kv_across_turns_cached_tokens: int | None
    kv_across_turns_cached_fraction: float | None
    kv_within_turn_calls: int | None
    kv_within_turn_prompt_tokens: int | None
    kv_within_turn_cached_tokens: int | None
    kv_within_turn_cached_fraction: float | None
    # the load generator's own health
    client_cpu_mean_pct: float | None
    client_cpu_max_pct: float | None
    client_lag_p90_ms: float | None
    client_wire_lag_p90_ms: float | None  # of the loop that reads and stamps the responses
    # per call, the mean wait of its body chunks between arrival and the agent taking them
    pull_delay_p50_ms: float | None
    pull_delay_p90_ms: float | None
    pull_delay_p99_ms: float | None
    itl_batched_share: float | None  # ITL gaps of 0: token chunks read in one batch
    client_saturated: bool | None
    # why, by what it distorts (bench.results.client_summary): pull delay, loop lag, stamps
    # late, batched reads; null when not saturated
    client_saturated_reason: str | None
    # single-stream decode efficiency against the memory-bandwidth bound (GPU only)
    roofline_bound_tokens_per_s: float | None
    roofline_achieved_tokens_per_s: float | None
    roofline_efficiency_pct: float | None
    roofline_note: str | None


class ByTurnIndexRow(BuiltRunColumns, total=False):
    """One turn index of the eval cases (1 = a session's first turn) in one load step
    (`by_turn_index.parquet`, `bench.results.by_turn`). Measured, error-free records only."""

    step: int
    turn_index: int  # 1-based
    turns: int
    llm_calls: int  # every measured call of these turns (errors included)
    prompt_tokens_p50: float | None
    cached_fraction: float | None  # sum of cached tokens / sum of prompt tokens
    ttft_p50_ms: float | None
    ttft_p90_ms: float | None
    ttft_text_p50_ms: float | None  # text replies only
    ttft_text_p90_ms: float | None
    ttft_tool_p50_ms: float | None  # replies with a tool call only (the parser's hold-back in)
    ttft_tool_p90_ms: float | None
    llm_e2e_p50_ms: float | None
    turn_p50_ms: float | None
    turn_p90_ms: float | None
    tool_trajectory_exact: float | None  # mean over the turns
    reasoning_tokens_mean: float | None  # per turn (bench.results.reasoning)
    ttfo_p50_ms: float | None  # time to first output token
    thinking_share: float | None  # thinking time / turn latency
    reasoning_sent_back_chars_mean: float | None  # per call: earlier thoughts sent back


class CasesByStepRow(BuiltRunColumns, total=False):
    """One eval case at one load step (`cases_by_step.parquet`, `bench.results.under_load`), in a
    run with load steps, a sweep's combination run, or a sweep folder (every finished point).
    Counts are over the step's measured sessions, as in `cases.parquet`."""

    combo_id: str | None  # a sweep's engine-flag combination (null outside a sweep)
    point_id: str | None  # a sweep's point (null outside a sweep)
    step: int  # the step's index in its run folder
    users: int | None
    session_rate: float | None  # open loop
    load: float | None  # what the steps vary: session_rate in open loop, users otherwise
    case_id: str
    eval_set_id: str | None
    sessions: int  # sessions with a verdict: cut-short ones included, incomplete ones not
    passed: int
    cut_short: int  # ended early by a failed turn: counted as not passed
    pass_rate: float | None  # passed / sessions: the case's task success at this step
    k: int | None  # --trials
    pass_hat_k: float | None  # tau-bench pass^k over the step's trials; only with --trials > 1
    turns: int | None  # completed turns (the denominator of unparsed_rate)
    unparsed_tool_calls: int | None
    unparsed_rate: float | None  # completed turns whose reply text held an unparsed tool call
    # pass rate 1.0 at the lowest load (of the combination, in a sweep) and below 1.0 here;
    # null when either has no verdict
    degrades_under_load: bool | None


class SweepPointColumns(TypedDict, total=False):
    """The leading columns of a sweep summary row; then engine flags, then `SummaryRow`."""

    sweep_id: str
    point_id: str
    combo_id: str
    repeat: int
    point_dir: str  # relative to the sweep folder
    prefix_cache_reset: str | None  # "ok", or why the prefix cache could not be reset


class SlaProbeRow(TypedDict, total=False):
    """One probe of the max-load search; the summary columns it was judged on follow it
    (the load, throughput, error rate, the SLO percentiles and the accuracy metric)."""

    probe: int
    phase: str
    load: float
    passed: bool  # met every --slo, --min-tool-accuracy and --max-error-rate (see reasons)
    replayed: bool  # its verdict came from a point measured before a resume
    reasons: str
    percentile: int
    point_dir: str | None
    sweep_id: str
    combo_id: str
    model: str


class SlaAnswerRow(TypedDict, total=False):
    """The search's answer per engine-flag combination (`sla_summary.parquet`)."""

    sweep_id: str
    combo_id: str
    model: str
    load_axis: str  # users | session_rate
    max_users: float | None
    first_failing_users: float | None
    max_session_rate: float | None
    first_failing_session_rate: float | None
    searched_low: float
    searched_high: float
    probes: int
    finished: bool
    outcome: str
    percentile: int
    criteria: str
    at_max_sessions_per_s: float | None
    at_max_turns_per_s: float | None
