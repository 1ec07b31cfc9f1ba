"""Every record and table row, declared once. The Parquet schemas are derived from these.

Raw records (written to `raw/<table>.<writer>.jsonl` while the load runs) are plain dicts typed
by the TypedDicts below, so writing them costs nothing and mypy checks every key. The results
stage adds the scored columns and writes the tables; `bench.schemas.tables` turns each row type
into a pyarrow schema (column order = declaration order, base classes first).

To add a column: add one annotated field to the row type here; the Parquet schema, the
undeclared-key check in `to_table` and the key order of raw records all follow.

Units are in the names (`_ms`, `_s`, `_pct`); `EpochS` fields are epoch seconds in JSONL and UTC
timestamps in Parquet; `JsonText` fields are nested values stored as JSON strings.
"""

from __future__ import annotations

from typing import Any, TypedDict

from bench.schemas.columns import EpochS, JsonText

# LlmCallRecord.call_role: whose call it was
AGENT_ROLE, USER_SIMULATOR_ROLE = "agent", "user_simulator"
# LlmCallRecord.reply_kind: a reply with at least one tool call, or any other reply
TEXT_REPLY, TOOL_CALL_REPLY = "text", "tool_call"


class RunColumns(TypedDict):
    run_id: str | None  # the session layer fills it in raw records


class BuiltRunColumns(TypedDict, total=False):
    run_id: str | None  # set by the build on every row of its tables


# ----------------------------------------------------------------------------- raw records


class CallKeys(RunColumns):
    """Which LLM call a record is about: the leading columns of its call and prompt records."""

    session_id: str | None
    turn_id: str | None
    call_index: int | None
    agent_name: str | None


class LlmCallRecord(CallKeys):
    """One LLM call (`bench.agent.timed_model`). ttft/e2e/tpot/itl are timed on the wire (the
    HTTP client under LiteLLM, `vllm bench serve`'s definitions) when `timing_layer` is "wire",
    else at the model layer; the model-layer figures are kept in the `model_*` columns."""

    # "agent" for the agent under test; "user_simulator" for the calls of ADK's user simulator
    # (conversation_scenario cases): kept out of every agent latency and throughput figure
    call_role: str
    started_at: EpochS
    ttft_ms: float | None
    e2e_ms: float
    tpot_ms: float | None
    itl_mean_ms: float | None
    itl_p50_ms: float | None
    itl_p99_ms: float | None
    itl_max_ms: float | None
    n_chunks: int | None
    prompt_tokens: int | None
    completion_tokens: int | None
    # usage.prompt_tokens_details.cached_tokens (vLLM --enable-prompt-tokens-details): prompt
    # tokens served from the prefix cache; null when the server does not report it
    cached_tokens: int | None
    finish_reason: str | None  # as LiteLLM handed it to ADK (it maps "error" to "stop")
    tool_calls_n: int  # function calls ADK made of the reply (its own text fallback included)
    # How the reply ended on the wire, before LiteLLM maps anything (null when the wire saw no
    # reply): the finish reason as the server sent it, the tool calls it streamed (distinct
    # indexes) and its reply text (content deltas joined, first 8 KB)
    server_finish_reason: str | None
    server_tool_calls_n: int | None
    reply_text: str | None
    # ADK's verdict on the reply (LlmResponse.error_code / error_message), e.g.
    # MALFORMED_FUNCTION_CALL when it dropped a call whose arguments did not parse, MAX_TOKENS
    adk_error_code: str | None
    adk_error_message: str | None
    stream: bool
    warmup: bool
    error_type: str | None
    error: str | None
    # still in flight at the end of the drain: e2e_ms is its age at the cut (a lower bound)
    incomplete: bool
    pid: int
    timing_layer: str  # wire | model: where ttft_ms, e2e_ms, tpot_ms and itl_* were taken
    model_ttft_ms: float | None  # at ADK's model layer: includes LiteLLM's per-chunk work
    model_tpot_ms: float | None
    model_e2e_ms: float
    client_overhead_ms: float | None  # model_e2e_ms - e2e_ms (on the wire); null off the wire
    # by reply kind (bench.agent.reply_timing): "text" or "tool_call" (a reply with a tool call);
    # null when no reply came
    reply_kind: str | None
    # a tool-call reply: first chunk (vLLM's first generated token) to first tool-call delta
    tool_holdback_ms: float | None
    itl_gaps_ms: JsonText  # [ms] between token chunks, in order (what itl_* summarise)
    itl_batched_n: int | None  # gaps of 0: token chunks that came in one read with the one before
    # how long body chunks waited between their arrival and the agent taking them (the reader
    # of bench.agent.wire_arrival stamps them); null where chunks are stamped as taken
    pull_delay_mean_ms: float | None
    pull_delay_max_ms: float | None
    # A thinking model's share (bench.agent.reasoning_timing), on the wire: reasoning tokens
    # (from usage, else counted from the stream: reasoning_tokens_from), time to first
    # reasoning token, time to first output token (content or tool call; AIPerf's TTFO), and the
    # time from the first reasoning chunk to the first output chunk (0: no reasoning streamed)
    reasoning_tokens: int | None
    reasoning_tokens_from: str | None  # usage | stream
    ttfr_ms: float | None
    ttfo_ms: float | None
    thinking_ms: float | None
    # the request's assistant messages' reasoning_content: earlier thoughts sent back (chars)
    reasoning_sent_back_chars: int | None


class PromptRecord(CallKeys):
    """What one LLM call sent (`bench.agent.prompt_capture`): the OpenAI-format messages as
    LiteLLM sends them to the server, with the call's keys and the counts a replay needs.
    Raw only (`raw/prompts.<pid>.jsonl`): prompts grow every call, so no table carries them."""

    started_at: EpochS
    prompt_tokens: int | None
    completion_tokens: int | None
    error_type: str | None
    warmup: bool
    messages: list[Any]
    tools_sha: str | None  # the call's tool list, stored once per load process in `tools`
    tool_choice: Any
    pid: int


class ToolsRecord(TypedDict):
    """One distinct tool list (OpenAI `tools`), written the first time a load process sends it:
    every call of an agent sends the same list, so prompts carry only its hash."""

    tools_sha: str  # sha256 of the canonical JSON of `tools`
    tools: list[Any]


class TurnRecord(RunColumns):
    """One invocation of an eval case (`bench.agent.session`)."""

    session_id: str
    turn_id: str
    case_id: str
    eval_set_id: str
    trial: int
    invocation_index: int
    invocation_id: str | None
    started_at: EpochS
    ended_at: EpochS
    latency_ms: float
    llm_calls: int
    tool_calls: JsonText  # [{name, args}]
    expected_tool_calls: JsonText  # [{name, args}]
    final_response: str | None
    expected_response: str | None
    tool_errors: int
    # Tool time (bench.agent.tool_latency): per call [{name, number, injected_ms, tool_ms}], where
    # tool_ms runs from the start of the injected delay to the tool's result; and summed per turn.
    tool_timings: JsonText
    tool_latency_ms: float  # the --tool-latency delays injected in this turn
    tool_time_ms: float  # time inside tool calls (injected delay + the tool's own run)
    # The turn's time split: latency_ms = llm_wire_ms + client_overhead_ms + tool_time_ms +
    # other_ms. llm_wire_ms sums its calls' e2e_ms (on the wire), client_overhead_ms their
    # client_overhead_ms; other_ms is the rest (ADK's runner, callbacks, session service).
    llm_wire_ms: float
    client_overhead_ms: float
    other_ms: float
    error_type: str | None
    error: str | None
    # still running at the end of the drain: latency_ms is its age at the cut; no result
    incomplete: bool
    warmup: bool
    actual_invocation: JsonText  # ADK Invocation JSON, for re-scoring
    expected_invocation: JsonText
    pid: int
    # its calls' reasoning tokens and thinking time summed (null when a call's was not known:
    # not streamed), and thinking_ms / latency_ms
    reasoning_tokens: int | None
    thinking_ms: float | None
    thinking_share: float | None


class SessionRecord(RunColumns):
    """One eval case played once (`bench.agent.session.run_session`)."""

    session_id: str
    case_id: str
    eval_set_id: str
    trial: int
    ticket: int | None
    # Open loop: the arrival time the schedule gave this session, and how late it started
    # (waiting for the in-flight cap, or a busy client). Null in a closed loop.
    scheduled_at: EpochS | None
    start_delay_ms: float | None
    started_at: EpochS
    ended_at: EpochS
    duration_ms: float  # from started_at; latency from the schedule = start_delay_ms + this
    turns: int
    # the case's turns; a scenario case: the turns played (the simulator decides how many)
    turns_expected: int
    # a conversation_scenario case: why ADK's user simulator ended the conversation
    # ("stop_signal_detected", "turn_limit_reached"); null for a fixed conversation
    user_simulator_status: str | None
    # time spent waiting for the simulator's messages; inside duration_ms, as think time is
    user_simulator_ms: float | None
    errors: int  # failed turns (0 or 1: a failed turn cuts the session short)
    # not finished when the load ended: still running at the end of the drain, or stopped
    # before its next turn (none starts after the stop); duration_ms is its age then
    incomplete: bool
    warmup: bool
    pid: int
    user_index: int | None


class ArrivalRecord(RunColumns):
    """One open-loop arrival, written when it starts or when the run ends before it could
    (`bench.load.open_loop`); counted into the summary, not a table itself."""

    ticket: int
    scheduled_at: EpochS
    started_at: EpochS | None  # None: scheduled inside the window, never started
    waited_for_cap: bool  # --max-sessions-in-flight was full at its scheduled time
    pid: int


class LoadStopRecord(RunColumns):
    """When a load process saw the load stop (Locust's `test_stopping`): from then on no session
    or turn starts, and work in flight gets the drain. The earliest one ends the measured window
    (`bench.results.summary`); not a table itself."""

    stopped_at: EpochS
    drain_s: float  # Locust's --stop-timeout: how long work in flight may still finish
    in_flight: int  # sessions in flight in this process at the stop
    pid: int


class ClientSample(BuiltRunColumns, total=False):
    """A load process's own health, once a second (`bench.load.saturation`)."""

    timestamp: EpochS
    pid: int
    cpu_percent: float  # of one core
    gevent_lag_ms: float
    asyncio_lag_ms: float
    # each lag of the loop that reads and stamps responses (wire_arrival), woken every 0.1 s
    wire_lags_ms: JsonText


class MetricsScrape(TypedDict):
    """One scrape of the server's /metrics (`bench.server.metrics`); not a table itself."""

    timestamp: EpochS  # when it was requested
    answered_at: EpochS
    samples: list[list[Any]]  # [name, labels JSON, value]


class JudgeRecord(TypedDict, total=False):
    """One judge metric on one turn (`--judge`); merged into the turns table, not a table."""

    turn_id: str
    metric: str  # ADK metric name, e.g. final_response_match_v2
    score: float | None
    judge_model: str | None


# ----------------------------------------------------------------------------- table rows


class TurnScores(TypedDict, total=False):
    """Added to each turn by the results stage (`bench.scoring`)."""

    trajectory_exact: float
    trajectory_in_order: float
    trajectory_any_order: float
    trajectory_score: float  # under the eval set's own match type
    response_match: float | None  # ROUGE-1 F against the reference answer, when there is one
    tool_calls_actual_n: int
    tool_calls_expected_n: int
    tool_names_matched: int
    args_compared: int
    args_matched: int
    args_partial_sum: float  # per-argument credit summed over paired calls
    unknown_tool_calls: int  # calls to tools the agent does not have
    unexpected_call: bool  # called a tool where none was expected
    unparsed_tool_call: bool  # one of its LLM calls left a tool call in the text, unparsed
    slo_met: bool | None  # every --slo met and the trajectory right (null without --slo)
    judge_final_response_match: float | None  # ADK final_response_match_v2 (with --judge)
    judge_rubric_score: float | None  # ADK rubric_based_final_response_quality_v1


class LlmCallBuilt(TypedDict, total=False):
    """Added to each LLM call by the results stage (`bench.results.kv_reuse`)."""

    # where the call's prompt could come from the prefix cache: session_start (first call of
    # the session's first turn), across_turns (first call of a later turn), within_turn (a
    # later call of the same turn, the tool loop)
    call_class: str | None
    invocation_index: int | None  # the turn's index in its case (0 = first), from turns
    # How the reply ended (`bench.scoring.finish`): the server sent no tool call, yet the reply
    # text holds one in the tool parser's format (or any known format when the parser is not
    # known); and such a call that ADK's LiteLlm still pulled out of the text and made
    unparsed_tool_call: bool
    rescued_from_text: bool
    empty_reply: bool  # no text, no tool call, no error


class LlmCallRow(LlmCallRecord, LlmCallBuilt):
    pass


class TurnRow(TurnRecord, TurnScores):
    pass


class SessionScores(TypedDict, total=False):
    # ADK's case score: the mean of the per-invocation trajectory scores, and pass/fail at the
    # eval set's threshold.
    trajectory_score: float | None
    trajectory_passed: bool | None
    # every metric of the criteria met (ADK's rule); False for a session cut short by a failure,
    # None for an incomplete or unscored one
    case_passed: bool | None
    outcome: str  # passed | failed | cut_short | incomplete | unscored (bench.scoring.outcome)
    response_match: float | None
    slo_met: bool | None


class SessionRow(SessionRecord, SessionScores):
    pass


class CaseRow(BuiltRunColumns, total=False):
    case_id: str
    eval_set_id: str
    trials: int  # sessions with a verdict: cut-short ones included, incomplete ones not
    passes: int
    cut_short: int  # trials ended early by a failed turn (counted as not passed)
    pass_rate: float | None
    k: int
    # tau-bench pass^k (all of k trials pass) and pass@k (at least one does); null for a case
    # with fewer than k trials
    pass_hat_k: float | None
    pass_at_k: float | None
    trajectory_variants: int  # distinct tool trajectories among the trials
    trajectory_differs: bool
    trajectory_score_mean: float | None
    turns: int
    unparsed_tool_calls: int
    unknown_tool_calls: int
    unexpected_calls: int
    arg_exact_match_rate: float | None
    arg_partial_credit: float | None


class ToolRow(BuiltRunColumns, total=False):
    tool: str
    calls_expected: int
    calls_made: int
    names_matched: int
    precision: float | None
    recall: float | None
    args_compared: int
    arg_exact_match_rate: float | None
    arg_partial_credit: float | None
    unknown: bool  # the agent has no tool of this name


class ServerMetricRow(BuiltRunColumns, total=False):
    timestamp: EpochS
    metric: str  # sample name, e.g. vllm:time_to_first_token_seconds_bucket
    labels: JsonText  # JSON object
    value: float  # cumulative for counters and histograms, as scraped
