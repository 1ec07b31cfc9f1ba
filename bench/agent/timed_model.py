"""ADK's LiteLlm pointed at a vLLM server, timing every LLM call at the model layer.

Two layers observe a call:
- the LiteLLM client wrapper (`_TimingClient`) sees the raw chunks as LiteLLM yields them, before
  ADK parses them: first content/tool-call delta (TTFT), gaps between deltas (ITL), the raw
  `finish_reason` ("tool_calls" survives here; ADK maps it to STOP) and the usage chunk;
- `TimedLiteLlm.generate_content_async` wraps ADK's generator: start time, errors (recorded,
  then re-raised) and the number of tool calls in the final responses.

ADK's LiteLlm already sends `stream_options={"include_usage": True}` when streaming
(google/adk/models/lite_llm.py, `generate_content_async`), so it is not set here.
The headline TTFT/TPOT/ITL/e2e of a record are taken on the wire (`bench.agent.wire_timing`,
the HTTP client under LiteLLM, with `vllm bench serve`'s definitions); the model-layer figures
stay in `model_ttft_ms`, `model_tpot_ms` and `model_e2e_ms`, and their difference in e2e is the
call's `client_overhead_ms` (LiteLLM's and ADK's own work on the call).
Each finished call becomes one record (a plain dict) handed to `on_record` and to the call scope
of the current session (`CALL_SCOPE`), which adds session and turn ids.

Every finish is accounted for. The record keeps the finish reason as the server sent it (the
wire's, before LiteLLM maps "error" to "stop"), the tool calls it streamed, its reply text and
ADK's `error_code`/`error_message`. A reply the server ended with finish reason "error", or with
"tool_calls" when no call could be parsed, is a failed call, and its turn fails with it, though
nothing raised (`bench.agent.call_finish`). A call cancelled by the cut at the end of the drain is
incomplete, its `e2e_ms` its age; older than the request timeout, it is a failure (`Timeout`).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import statistics
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from google.adk.models.lite_llm import LiteLlm, LiteLLMClient
from pydantic import PrivateAttr

from bench import constants
from bench.agent import prompt_capture
from bench.agent.call_finish import ReplyFinish, timeout_at_cut, unclean_finish
from bench.agent.reasoning_timing import TurnThinking
from bench.agent.reply_timing import reply_columns, reply_kind
from bench.agent.wire_timing import WIRE_TIMING, WireTiming, is_token_delta, wire_client
from bench.compat import lean_stream, strict_stream
from bench.compat.strict_stream import MalformedChunkError, is_malformed_chunk
from bench.schemas.records import AGENT_ROLE, LlmCallRecord
from bench.schemas.settings import SERVER_API_KEY_ENV


@dataclass
class CallScope:
    """What the session layer knows about the calls made in the current turn."""

    run_id: str
    session_id: str
    turn_id: str
    warmup: bool
    emit: Callable[[LlmCallRecord], None]
    calls: int = 0
    force_tool_call: bool = False  # the turn's first call gets tool_choice="required"
    # gets each call's record and its request messages (bench.agent.prompt_capture)
    on_prompt: Callable[[LlmCallRecord, prompt_capture.CapturedRequest], None] | None = None
    llm_wire_ms: float = 0.0  # summed over the turn's calls: time on the wire
    client_overhead_ms: float = 0.0  # and the model layer's time around it
    thinking: TurnThinking = field(default_factory=TurnThinking)  # their reasoning, summed
    # the first of the turn's calls that failed (a call that raised, or one that failed without
    # raising into ADK: a finish reason "error", an unparsable call, a timeout at the cut)
    call_failure: tuple[str, str] | None = None

    def next_index(self) -> int:
        index = self.calls
        self.calls += 1
        return index


CALL_SCOPE: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar(
    "bench_call_scope", default=None
)


@dataclass
class _RawTiming:
    """Filled by the client wrapper while one call streams."""

    first_content_at: float | None = None
    last_content_at: float | None = None
    last_chunk_at: float | None = None
    gaps_s: list[float] = field(default_factory=list)
    n_chunks: int = 0
    saw_tool_call: bool = False  # a tool-call delta streamed: the reply is (partly) a call
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    request: prompt_capture.CapturedRequest | None = None  # what was sent, when captured

    def content(self, now: float) -> None:
        if self.first_content_at is None:
            self.first_content_at = now
        else:
            self.gaps_s.append(now - (self.last_content_at or now))
        self.last_content_at = now
        self.n_chunks += 1

    def usage(self, usage: Any) -> None:
        if not usage:
            return
        get = usage.get if isinstance(usage, dict) else (lambda k: getattr(usage, k, None))
        prompt, completion = get("prompt_tokens"), get("completion_tokens")
        if prompt is not None:
            self.prompt_tokens = int(prompt)
        if completion is not None:
            self.completion_tokens = int(completion)
        cached = _get(get("prompt_tokens_details"), "cached_tokens")
        if cached is not None:
            self.cached_tokens = int(cached)


_RAW_TIMING: contextvars.ContextVar[_RawTiming | None] = contextvars.ContextVar(
    "bench_raw_timing", default=None
)


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    getter = getattr(obj, "get", None)
    if callable(getter):
        try:
            return getter(key)
        except Exception:
            pass
    return getattr(obj, key, None)


def _observe_choice(raw: _RawTiming, chunk: Any, now: float, field_name: str) -> None:
    choices = _get(chunk, "choices") or []
    if choices:
        choice = choices[0]
        message = _get(choice, field_name)
        tool_calls = _get(message, "tool_calls")
        if is_token_delta(lambda name: _get(message, name)):
            raw.content(now)
        if tool_calls:
            raw.saw_tool_call = True
        reason = _get(choice, "finish_reason")
        if reason:
            raw.finish_reason = str(reason)
    raw.usage(_get(chunk, "usage"))


class _TimedStream:
    """Async iterator over LiteLLM's stream that notes when each chunk arrived."""

    def __init__(self, stream: Any, raw: _RawTiming):
        self._stream = stream
        self._iter = stream.__aiter__()
        self._raw = raw

    def __aiter__(self) -> _TimedStream:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._iter.__anext__()
        now = time.perf_counter()
        self._raw.last_chunk_at = now
        _observe_choice(self._raw, chunk, now, "delta")
        return chunk


class _TimingClient(LiteLLMClient):
    async def acompletion(self, model: str, messages: list, tools: Any, **kwargs: Any) -> Any:
        raw, scope = _RAW_TIMING.get(), CALL_SCOPE.get()
        if raw is not None and scope is not None and scope.on_prompt is not None:
            raw.request = prompt_capture.capture(messages, tools, kwargs)
        wire = WIRE_TIMING.get()
        if wire is not None:
            kwargs.setdefault("client", wire_client())  # the HTTP client that times the wire
            wire.reasoning.request(messages)  # what it sends back of earlier thoughts
        response: Any = await super().acompletion(
            model=model, messages=messages, tools=tools, **kwargs
        )
        if kwargs.get("stream"):
            response = lean_stream.wrap(response)  # LiteLLM's parsed chunks where it applies
        if raw is None:
            return response
        if kwargs.get("stream"):
            return _TimedStream(response, raw)
        now = time.perf_counter()
        raw.last_chunk_at = now
        _observe_choice(raw, response, now, "message")
        return response


def _force_tool_call(llm_request: Any) -> None:
    """Function-calling mode ANY: ADK's LiteLlm sends it as tool_choice="required"
    (google/adk/models/lite_llm.py); only the turn's first call, so the answer after the tool
    result stays free and a turn cannot loop on calls."""
    from google.genai import types

    if llm_request.config is None:
        llm_request.config = types.GenerateContentConfig()
    llm_request.config.tool_config = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode.ANY
        )
    )


def _percentile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _tpot(
    stream: bool,
    ttft_ms: float | None,
    e2e_ms: float,
    completion: int | None,
    tool_reply: bool,
    gaps_ms: list[float],
) -> float | None:
    if not stream or ttft_ms is None:
        return None
    if tool_reply:
        # A tool parser streams nothing until it knows the tool name, so the tokens before
        # the first delta have no arrival time: dividing by every output token reads low.
        # TPOT here is the mean gap between the visible deltas after the first one.
        return statistics.fmean(gaps_ms) if gaps_ms else None
    if completion is not None and completion > 1:
        return (e2e_ms - ttft_ms) / (completion - 1)  # `vllm bench serve`'s TPOT
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else ""


@dataclass(frozen=True)
class CallTiming:
    """One call's figures: the headline ones (on the wire when the wire saw the reply, else the
    model layer's) and the model layer's own."""

    t0: float  # perf_counter when ADK's call began
    end: float
    on_wire: bool
    e2e_ms: float
    ttft_ms: float | None
    tpot_ms: float | None
    gaps_in_order: list[float]  # inter-token gaps (ms) as they came
    gaps: list[float]  # the same, sorted
    client_overhead_ms: float | None  # model layer minus wire; None without the wire
    model_e2e_ms: float
    model_ttft_ms: float | None
    model_tpot_ms: float | None


def _call_timing(
    raw: _RawTiming,
    wire: WireTiming,
    t0: float,
    end: float,
    stream: bool,
    error: BaseException | None,
    completion: int | None,
    tool_reply: bool,
) -> CallTiming:
    model_e2e_ms = (end - t0) * 1000.0
    if stream:
        model_ttft_ms = (
            (raw.first_content_at - t0) * 1000.0 if raw.first_content_at is not None else None
        )
    else:
        model_ttft_ms = model_e2e_ms if error is None else None
    model_gaps = [g * 1000.0 for g in raw.gaps_s]
    model_tpot_ms = _tpot(stream, model_ttft_ms, model_e2e_ms, completion, tool_reply, model_gaps)
    model = (model_e2e_ms, model_ttft_ms, model_tpot_ms)
    if wire.request_at is None or wire.last_token_at is None:
        return CallTiming(t0, end, False, model_e2e_ms, model_ttft_ms, model_tpot_ms, model_gaps,
                          sorted(model_gaps), None, *model)  # fmt: skip
    e2e_ms = (wire.last_token_at - wire.request_at) * 1000.0
    ttft_ms = (
        (wire.first_token_at - wire.request_at) * 1000.0
        if wire.first_token_at is not None and (stream or error is None)
        else None
    )
    gaps_in_order = [g * 1000.0 for g in wire.gaps_s]
    gaps = sorted(gaps_in_order)
    tpot_ms = _tpot(stream, ttft_ms, e2e_ms, completion, tool_reply, gaps)
    return CallTiming(t0, end, True, e2e_ms, ttft_ms, tpot_ms, gaps_in_order, gaps,
                      model_e2e_ms - e2e_ms, *model)  # fmt: skip


class TimedLiteLlm(LiteLlm):
    """LiteLlm for `hosted_vllm/<served name>` that records one dict per LLM call."""

    agent_name: str | None = None
    call_role: str = (
        AGENT_ROLE  # USER_SIMULATOR_ROLE: ADK's user simulator (bench.agent.user_simulator)
    )
    # a call still in flight at the cut and older than this is a failure (Timeout)
    request_timeout_s: float | None = None
    _on_record: Callable[[LlmCallRecord], None] | None = PrivateAttr(default=None)

    @classmethod
    def for_server(
        cls,
        api_base: str,
        served_model_name: str,
        *,
        agent_name: str | None = None,
        extra_headers: dict[str, str] | None = None,
        request_timeout_s: float = constants.DEFAULT_REQUEST_TIMEOUT_S,
        on_record: Callable[[LlmCallRecord], None] | None = None,
        api_key: str | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> TimedLiteLlm:
        """`api_base` ends in /v1. The key comes from `SERVER_API_KEY_ENV` unless given.
        `extra_body`: fields added to every request body (bench.agent.thinking)."""
        strict_stream.install()  # a malformed streamed chunk fails the call (see strict_stream)
        import litellm

        # no "Give Feedback / Get Help" banner per failed call: bench records the error itself
        litellm.suppress_debug_info = True
        kwargs: dict[str, Any] = {
            "api_base": api_base,
            "timeout": request_timeout_s,
            # Every failure is measured, not hidden behind client-side retries.
            "num_retries": 0,
            "max_retries": 0,
        }
        key = api_key or os.environ.get(SERVER_API_KEY_ENV)
        kwargs["api_key"] = key or "EMPTY"  # vLLM without --api-key accepts anything
        if extra_headers:
            kwargs["extra_headers"] = dict(extra_headers)
        if extra_body:
            kwargs["extra_body"] = dict(extra_body)
        model = cls(model=f"hosted_vllm/{served_model_name}", llm_client=_TimingClient(), **kwargs)
        model.agent_name = agent_name
        model.request_timeout_s = request_timeout_s
        model._on_record = on_record
        return model

    def __repr__(self) -> str:  # never show the api key held in the LiteLLM arguments
        return f"TimedLiteLlm(model={self.model!r}, agent_name={self.agent_name!r})"

    async def generate_content_async(
        self, llm_request: Any, stream: bool = False
    ) -> AsyncGenerator[Any, None]:
        scope = CALL_SCOPE.get()
        call_index = scope.next_index() if scope else 0
        if scope and scope.force_tool_call and call_index == 0:
            _force_tool_call(llm_request)
        raw = _RawTiming()
        token = _RAW_TIMING.set(raw)
        wire = WireTiming()
        wire_token = WIRE_TIMING.set(wire)
        started_at = time.time()
        t0 = time.perf_counter()
        t_end: float | None = None
        finish = ReplyFinish()
        error: BaseException | None = None
        try:
            async for response in super().generate_content_async(llm_request, stream):
                if not response.partial:
                    t_end = time.perf_counter()
                    finish.add(response)
                yield response
        except GeneratorExit:
            raise
        except BaseException as exc:  # recorded, then re-raised
            if is_malformed_chunk(exc):  # LiteLLM wraps it; the call and turn name it plainly
                error = MalformedChunkError(first_line(exc))
                raise error from exc
            error = exc
            raise
        finally:
            try:
                _RAW_TIMING.reset(token)
                WIRE_TIMING.reset(wire_token)
            except ValueError:  # finalised in another context (generator closed elsewhere)
                _RAW_TIMING.set(None)
                WIRE_TIMING.set(None)
            end = raw.last_chunk_at or t_end or time.perf_counter()
            if error is not None:
                end = time.perf_counter()
            record = self._record(raw, wire, t0, end, started_at, stream, finish, error)
            record["call_index"] = call_index
            self._emit(record, scope)
            if scope is not None and scope.on_prompt is not None and raw.request is not None:
                scope.on_prompt(record, raw.request)

    def _record(
        self, raw: _RawTiming, wire: WireTiming, t0: float, end: float, started_at: float,
        stream: bool, finish: ReplyFinish, error: BaseException | None,
    ) -> LlmCallRecord:  # fmt: skip
        """The call's record: its timing (`_call_timing`), its outcome (`_outcome`), tokens."""
        completion = (
            raw.completion_tokens if raw.completion_tokens is not None else finish.usage_completion
        )
        tool_reply = (
            raw.saw_tool_call or raw.finish_reason == "tool_calls" or bool(finish.tool_calls_n)
        )
        t = _call_timing(raw, wire, t0, end, stream, error, completion, tool_reply)
        kind = reply_kind(tool_reply, wire.replied if t.on_wire else error is None)
        t, (error_type, error_text), incomplete = self._outcome(t, raw, wire, finish, error)
        return {  # the keys and their order are those of LlmCallRecord
            "run_id": None,
            "session_id": None,
            "turn_id": None,
            "call_index": None,
            "agent_name": self.agent_name,
            "call_role": self.call_role,
            "started_at": started_at,
            "ttft_ms": t.ttft_ms,
            "e2e_ms": t.e2e_ms,
            "tpot_ms": t.tpot_ms,
            "itl_mean_ms": statistics.fmean(t.gaps) if t.gaps else None,
            "itl_p50_ms": _percentile(t.gaps, 0.5) if t.gaps else None,
            "itl_p99_ms": _percentile(t.gaps, 0.99) if t.gaps else None,
            "itl_max_ms": t.gaps[-1] if t.gaps else None,
            "n_chunks": raw.n_chunks if stream else None,
            "prompt_tokens": finish.usage_prompt
            if raw.prompt_tokens is None
            else raw.prompt_tokens,
            "completion_tokens": completion,
            "cached_tokens": raw.cached_tokens,
            "finish_reason": raw.finish_reason,
            "tool_calls_n": finish.tool_calls_n,
            "server_finish_reason": wire.finish_reason,
            "server_tool_calls_n": len(wire.tool_call_indexes) if wire.replied else None,
            "reply_text": wire.reply_text,
            "adk_error_code": finish.error_code,
            "adk_error_message": finish.error_message,
            "stream": bool(stream),
            "warmup": False,
            "error_type": error_type,
            "error": error_text,
            "incomplete": incomplete,
            "pid": os.getpid(),
            "timing_layer": "wire" if t.on_wire else "model",
            "model_ttft_ms": t.model_ttft_ms,
            "model_tpot_ms": t.model_tpot_ms,
            "model_e2e_ms": t.model_e2e_ms,
            "client_overhead_ms": t.client_overhead_ms,
            **reply_columns(wire if t.on_wire else None, kind, t.gaps_in_order, stream),
            **wire.reasoning.call_fields(  # type: ignore[typeddict-item]
                wire.request_at, t.e2e_ms, stream=stream, on_wire=t.on_wire, error=error is not None
            ),
        }

    def _outcome(
        self,
        t: CallTiming,
        raw: _RawTiming,
        wire: WireTiming,
        finish: ReplyFinish,
        error: BaseException | None,
    ) -> tuple[CallTiming, tuple[str | None, str | None], bool]:
        """The call's error (type, text) and whether it is incomplete: cut at the end of the
        drain (its age at the cut; a failure if that passed the request timeout), an exception,
        or a reply that did not finish cleanly."""
        if isinstance(error, asyncio.CancelledError):
            # its age at the cut, from when the request went out (or ADK's call began)
            e2e_ms = (t.end - (wire.request_at or t.t0)) * 1000.0
            t = replace(t, e2e_ms=e2e_ms, tpot_ms=None, client_overhead_ms=None)
            timed_out = timeout_at_cut(e2e_ms, self.request_timeout_s)
            return (t, timed_out, False) if timed_out is not None else (t, (None, None), True)
        if error is not None:
            return t, (type(error).__name__, first_line(error)), False
        unclean = unclean_finish(wire, raw.finish_reason, finish)
        return t, unclean if unclean is not None else (None, None), False

    def _emit(self, record: LlmCallRecord, scope: CallScope | None) -> None:
        if scope is not None:
            record["run_id"] = scope.run_id
            record["session_id"] = scope.session_id
            record["turn_id"] = scope.turn_id
            record["warmup"] = scope.warmup
            scope.llm_wire_ms += record["e2e_ms"]
            scope.client_overhead_ms += record["client_overhead_ms"] or 0.0
            scope.thinking.add(record)
            if record["error_type"] is not None and scope.call_failure is None:
                scope.call_failure = (record["error_type"], record["error"] or "")
            scope.emit(record)
        if self._on_record is not None:
            self._on_record(record)
