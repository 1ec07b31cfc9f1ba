"""One ADK conversation (an eval case) -> llm_call, turn and session records.

`build_agent_bundle` loads the agent folder once per process and points every LlmAgent at the
server; `run_session` plays one eval case through an ADK Runner: the case's user messages in
order, history kept in an in-memory session, think time between turns. Each turn's events are
converted to an ADK `Invocation` with `EvaluationGenerator.convert_events_to_eval_invocations`,
the same conversion `adk eval` uses, so the scorers see what ADK's evaluators would.

A `conversation_scenario` case has no fixed turns: ADK's user simulator
(`bench.agent.user_simulator`) gives each user message from the conversation so far, as in
`adk eval`, until it sends its stop signal or reaches its turn limit; its LLM calls are recorded
with `call_role="user_simulator"` and never count among the turn's calls. Such a turn has no
expected invocation, so trajectory and response match are not applicable to it.

A failing turn (server error, timeout, a tool that raised, an LLM call that failed without
raising: `bench.agent.timed_model`) is recorded on the turn and ends that session; it never
escapes `run_session`. Once the load stops (`bench.agent.load_stop`) a session starts no new
turn and ends `incomplete`; one still in a turn when the drain ends is cancelled: the turn and
the session are `incomplete` (not errors), with their age at the cut, and the cancellation
propagates. A turn whose call was older than the request timeout at the cut failed (Timeout),
and its session is cut short. Records are plain JSON-serialisable dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.adk.agents import RunConfig
from google.adk.agents.run_config import StreamingMode
from google.adk.apps import App
from google.adk.evaluation.eval_case import get_all_tool_calls
from google.adk.evaluation.evaluation_generator import EvaluationGenerator
from google.adk.events import Event
from google.adk.plugins.base_plugin import BasePlugin
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.adk.telemetry.context import TelemetryConfig

from bench.agent.load_stop import LoadStop
from bench.agent.loading import load_agent_folder
from bench.agent.model_override import override_models
from bench.agent.prompt_capture import CapturedRequest
from bench.agent.session_header import SessionHeaderPlugin
from bench.agent.thinking import request_extra_body
from bench.agent.timed_model import CALL_SCOPE, CallScope, TimedLiteLlm, first_line
from bench.agent.tool_latency import TOOL_TURN, ToolTimingPlugin, ToolTurn
from bench.agent.user_simulator import SimulatorLiteLlm, new_user_simulator
from bench.schemas.config import LoadConfig
from bench.schemas.errors import BenchError
from bench.schemas.records import LlmCallRecord, SessionRecord, TurnRecord
from bench.schemas.tool_latency import parse_tool_latency

DEFAULT_APP_NAME = "bench_app"
DEFAULT_USER_ID = "bench_user"


def _ignore(_record: object) -> None:
    pass


@dataclass
class _ToolErrors:
    count: int = 0
    last: tuple[str, BaseException] | None = None
    # a result that is a failure: what JSON cannot hold (ADK str()s it), or ADK's answer for an
    # MCP call that failed (`McpTool` turns the error into an {"error": ...} result)
    failed_result: str | None = None
    toolset_lost: str | None = None  # a toolset failed to list its tools (ToolsetLossRecorder)


class ToolErrorRecorder(BasePlugin):
    """Counts tool errors of the current turn; returns None so ADK's own handling is unchanged.

    ADK (flows/llm_flows/tools/_caller.py) calls `on_tool_error_callback` for a tool that raised
    (the exception then propagates out of `Runner.run_async` unless a callback answers it) and
    for a call to an unknown tool (ADK answers it with a "tool not found" response and goes on).
    """

    def __init__(self) -> None:
        super().__init__(name="bench_tool_error_recorder")
        self.current: dict[int, _ToolErrors] = {}

    async def on_tool_error_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, error: Exception
    ) -> None:
        scope = CALL_SCOPE.get()
        if scope is not None:
            errors = self.current.setdefault(id(scope), _ToolErrors())
            errors.count += 1
            errors.last = (str(getattr(tool, "name", "?")), error)
        return None

    async def after_tool_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, result: Any
    ) -> None:
        """Results that are failures: a value JSON cannot hold (it reaches the model only as
        ADK's str() of it), and an MCP call that failed (the server died, the connection
        broke), which ADK's `McpTool` hands to the model as an {"error": ...} result."""
        scope = CALL_SCOPE.get()
        if scope is None:
            return None
        name = getattr(tool, "name", "?")
        failure = None
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            failure = (
                f"tool {name} returned a value that is not JSON-serialisable ({first_line(exc)})"
            )
        if type(tool).__name__ == "McpTool" and isinstance(result, dict):
            error = str(result.get("error") or "")
            if error.startswith(_MCP_FAILURES):
                failure = f"tool {name} failed: {error.splitlines()[0]}"
        if failure is not None:
            errors = self.current.setdefault(id(scope), _ToolErrors())
            errors.count += 1
            errors.failed_result = failure
        return None


# How ADK's McpTool words a failed call it answers instead of raising (mcp_tool.py, run_async).
_MCP_FAILURES = ("MCP tool execution failed", "Unexpected error during MCP tool execution")


class ToolsetLossRecorder(logging.Filter):
    """A toolset that fails to list its tools (an MCP server that died or never started) is a
    tool error of the turn. ADK runs the agent on without that toolset's tools and logs it at
    ERROR with a traceback (`agents/llm_agent.py`): the model then answers as though the agent
    never had them, which would read as the model's mistake. The record is kept on the turn
    (and off the console); records outside a turn pass through."""

    LOGGER = "google_adk.google.adk.agents.llm_agent"
    _MARK = "will run without the tools from toolset"

    def __init__(self, recorder: ToolErrorRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def filter(self, record: logging.LogRecord) -> bool:
        scope = CALL_SCOPE.get()
        if scope is None or self._MARK not in str(record.msg):
            return True
        toolset = record.args[1] if isinstance(record.args, tuple) and len(record.args) > 2 else "?"
        cause = str(record.args[-1]) if isinstance(record.args, tuple) and record.args else ""
        errors = self.recorder.current.setdefault(id(scope), _ToolErrors())
        errors.count += 1
        why = cause.strip().splitlines()[0] if cause.strip() else "no message"
        errors.toolset_lost = f"toolset {toolset} failed to list its tools: {why}"
        return False


@dataclass
class AgentBundle:
    """What a process needs to run sessions: the agent tree, runners per app name, ids."""

    root_agent: Any
    run_id: str
    eval_set_id: str
    app: App | None = None  # the folder's own App: its plugins and settings apply to every session
    stream: bool = True
    force_tools: bool = False  # tool_choice=required on a turn's first call when a call is expected
    default_app_name: str = DEFAULT_APP_NAME
    session_service: InMemorySessionService = field(default_factory=InMemorySessionService)
    tool_errors: ToolErrorRecorder = field(default_factory=ToolErrorRecorder)
    plugins: list[BasePlugin] = field(default_factory=list)  # session header, tool latency
    runners: dict[str, Runner] = field(default_factory=dict)
    # conversation_scenario cases: ADK's simulator config and the model it talks to
    user_simulator_config: Any = None  # LlmBackedUserSimulatorConfig
    user_simulator_model: SimulatorLiteLlm | None = None
    # ADK's telemetry settings. None: read from the environment once, here, rather than by ADK
    # several times per LLM call (a RunConfig without one); bench.load.lean_adk passes one that
    # keeps message content out of the spans.
    telemetry: TelemetryConfig | None = None
    run_config: RunConfig = field(init=False)

    def __post_init__(self) -> None:
        _watch_toolset_losses(self.tool_errors)
        # Built once: every turn shares it (ADK only reads it; TelemetryConfig is frozen).
        self.run_config = RunConfig(
            streaming_mode=StreamingMode.SSE if self.stream else StreamingMode.NONE,
            telemetry=self.telemetry if self.telemetry is not None else TelemetryConfig(),
        )

    def runner_for(self, app_name: str) -> Runner:
        runner = self.runners.get(app_name)
        if runner is None:
            # bench's plugins come first: they only observe (all return None), so the user's
            # plugins still see every callback, and one of theirs that answers a callback
            # cannot hide a tool error or a tool's time from bench.
            ours = [*self.plugins, self.tool_errors]
            if self.app is not None:
                app = self.app.model_copy(update={"plugins": [*ours, *self.app.plugins]})
            else:
                app = App(name=self.default_app_name, root_agent=self.root_agent, plugins=ours)
            runner = Runner(app=app, app_name=app_name, session_service=self.session_service)
            self.runners[app_name] = runner
        return runner

    async def close(self) -> None:
        for runner in self.runners.values():
            await runner.close()
        self.runners.clear()


def _watch_toolset_losses(recorder: ToolErrorRecorder) -> None:
    """One ToolsetLossRecorder per process, writing to the newest bundle's recorder (a process
    runs one bundle at a time: calibration, preflight, then the load)."""
    logger = logging.getLogger(ToolsetLossRecorder.LOGGER)
    for existing in logger.filters:
        if isinstance(existing, ToolsetLossRecorder):
            existing.recorder = recorder
            return
    logger.addFilter(ToolsetLossRecorder(recorder))


def _app_name_for(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", folder.name) or DEFAULT_APP_NAME
    return name if name[0].isalpha() or name[0] == "_" else f"app_{name}"


def build_agent_bundle(
    agent_dir: str | Path,
    *,
    api_base: str,
    served_model_name: str,
    run_id: str,
    eval_set_id: str,
    load: LoadConfig | None = None,
    extra_headers: dict[str, str] | None = None,
    api_key: str | None = None,
    telemetry: TelemetryConfig | None = None,
) -> AgentBundle:
    """Load the agent folder and point each LlmAgent at `hosted_vllm/<served_model_name>`, with
    the run's load settings: streaming, forced tools, timeout, session header, tool latency, and
    thinking ("on"/"off") and its budget with every call (bench.agent.thinking)."""
    load = load or LoadConfig()
    loaded = load_agent_folder(agent_dir)
    root = loaded.root_agent
    extra_body = request_extra_body(load.thinking, load.thinking_budget)
    if load.max_tokens is not None:  # in the body, so it wins over the agent's own limit
        extra_body = {**(extra_body or {}), "max_tokens": load.max_tokens}

    def make_model(agent: Any) -> TimedLiteLlm:
        return TimedLiteLlm.for_server(
            api_base,
            served_model_name,
            agent_name=agent.name,
            extra_headers=extra_headers,
            request_timeout_s=load.request_timeout_s,
            api_key=api_key,
            extra_body=extra_body,
        )

    if override_models(root, make_model) == 0:
        raise BenchError(
            f"agent folder {agent_dir}: no LlmAgent found, nothing to point at the server"
        )
    latency = parse_tool_latency(load.tool_latency, load.seed) if load.tool_latency else None
    plugins: list[BasePlugin] = [ToolTimingPlugin(latency)]
    if load.session_header:
        plugins.append(SessionHeaderPlugin(load.session_header))
    return AgentBundle(
        root_agent=root,
        app=loaded.app,
        plugins=plugins,
        run_id=run_id,
        eval_set_id=eval_set_id,
        stream=load.stream,
        force_tools=load.force_tools,
        default_app_name=_app_name_for(Path(agent_dir).resolve()),
        telemetry=telemetry,
    )


def _text(content: Any) -> str | None:
    if content is None or not content.parts:
        return None
    texts = [p.text for p in content.parts if p.text and not p.thought]
    return "".join(texts) if texts else None


def _calls(intermediate_data: Any) -> list[dict[str, Any]]:
    return [
        {"name": c.name, "args": dict(c.args or {})} for c in get_all_tool_calls(intermediate_data)
    ]


def _dump(invocation: Any) -> dict[str, Any] | None:
    return invocation.model_dump(mode="json", exclude_none=True) if invocation is not None else None


async def run_session(
    bundle: AgentBundle,
    case: Any,
    *,
    trial: int = 0,
    ticket: int | None = None,
    think_time_s: float = 0.0,
    warmup: bool = False,
    on_llm_call: Callable[[LlmCallRecord], None] = _ignore,
    on_turn: Callable[[TurnRecord], None] = _ignore,
    on_session: Callable[[SessionRecord], None] = _ignore,
    on_prompt: Callable[[LlmCallRecord, CapturedRequest], None] | None = None,
    user_index: int | None = None,
    scheduled_at: float | None = None,
    stop: LoadStop | None = None,
) -> SessionRecord:
    """Play one eval case; emit records through the callbacks; return the session record.

    `scheduled_at` (open loop) is the arrival time the schedule gave the session (epoch s);
    once `stop` is set no further turn starts (think time ends at once).
    """
    conversation = list(case.conversation or [])
    simulator = None
    if case.conversation_scenario is not None:
        if bundle.user_simulator_config is None or bundle.user_simulator_model is None:
            raise BenchError(f"eval case {case.eval_id}: a scenario case needs a user simulator")
        simulator = new_user_simulator(
            case, bundle.user_simulator_config, bundle.user_simulator_model
        )
    elif not conversation:
        raise BenchError(f"eval case {case.eval_id}: no conversation")
    session_input = case.session_input
    app_name = (session_input.app_name if session_input else None) or bundle.default_app_name
    user_id = (session_input.user_id if session_input else None) or DEFAULT_USER_ID
    state = dict(session_input.state or {}) if session_input else {}
    runner = bundle.runner_for(app_name)
    pid = os.getpid()

    started_at = time.time()
    t0 = time.perf_counter()
    session_id = uuid.uuid4().hex
    turns = errors = 0
    incomplete = False
    simulator_status: str | None = None
    simulator_s = 0.0  # waiting for the simulator's next message (in the session, like think time)
    history: list[Event] = []  # what the simulator reads: every turn's events so far
    try:
        await bundle.session_service.create_session(
            app_name=app_name, user_id=user_id, state=state, session_id=session_id
        )
        index = 0
        while True:
            if stop is not None and stop.is_set:  # the load stopped: no new turn
                incomplete = index < len(conversation) or simulator is not None
                break
            expected = None
            if simulator is None:
                if index >= len(conversation):
                    break
                expected = conversation[index]
                user_content = expected.user_content
            else:
                t_sim = time.perf_counter()
                user_content, simulator_status = await _next_user_message(
                    simulator, history, bundle, session_id, index, warmup, on_llm_call
                )
                simulator_s += time.perf_counter() - t_sim
                if user_content is None:
                    errors += 1 if simulator_status.startswith("error") else 0
                    break
            if index and think_time_s > 0:
                if stop is None:
                    await asyncio.sleep(think_time_s)
                elif await stop.sleep(think_time_s):
                    incomplete = True
                    break
            turn, events, cancelled = await _run_turn(
                bundle,
                runner,
                case,
                user_content,
                expected,
                index,
                session_id,
                user_id,
                trial,
                warmup,
                on_llm_call,
                on_prompt,
            )
            history.extend(events)
            turns += 1
            index += 1
            on_turn(turn)
            if turn["error_type"] is not None:
                errors += 1
            if cancelled:
                raise asyncio.CancelledError
            if errors:
                break
    except asyncio.CancelledError:  # cut at the end of the drain (also in think time)
        incomplete = not errors  # a turn that timed out at the cut failed: cut short
        raise
    finally:
        record: SessionRecord = {
            "run_id": bundle.run_id,
            "session_id": session_id,
            "case_id": case.eval_id,
            "eval_set_id": bundle.eval_set_id,
            "trial": trial,
            "ticket": ticket,
            "scheduled_at": scheduled_at,
            "start_delay_ms": (
                max(0.0, started_at - scheduled_at) * 1000.0 if scheduled_at is not None else None
            ),
            "started_at": started_at,
            "ended_at": time.time(),
            "duration_ms": (time.perf_counter() - t0) * 1000.0,
            "turns": turns,
            "turns_expected": len(conversation) if simulator is None else turns,
            "user_simulator_status": simulator_status,
            "user_simulator_ms": simulator_s * 1000.0 if simulator is not None else None,
            "errors": errors,
            "incomplete": incomplete,
            "warmup": warmup,
            "pid": pid,
            "user_index": user_index,
        }
        on_session(record)
        with contextlib.suppress(Exception):
            await bundle.session_service.delete_session(
                app_name=app_name, user_id=user_id, session_id=session_id
            )
    return record


async def _next_user_message(
    simulator: Any,
    history: list[Event],
    bundle: AgentBundle,
    session_id: str,
    index: int,
    warmup: bool,
    on_llm_call: Callable[[LlmCallRecord], None],
) -> tuple[Any, str]:
    """ADK's simulator's next user message, or None and why the conversation ended. Its LLM call
    gets a scope of its own (turn id of the turn it feeds), so the turn's call count and
    call indexes stay the agent's."""
    from google.adk.evaluation.simulation.user_simulator import Status

    scope = CallScope(
        run_id=bundle.run_id,
        session_id=session_id,
        turn_id=f"{session_id}:{index}",
        warmup=warmup,
        emit=on_llm_call,
    )
    token = CALL_SCOPE.set(scope)
    try:
        reply = await simulator.get_next_user_message(copy.deepcopy(history))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the simulator's model failed or said nothing: the session ends
        return None, f"error: {type(exc).__name__}: {first_line(exc)}"
    finally:
        CALL_SCOPE.reset(token)
    if reply.status == Status.SUCCESS:
        return reply.user_message, Status.SUCCESS.value
    return None, str(reply.status.value)


async def _run_turn(
    bundle: AgentBundle,
    runner: Runner,
    case: Any,
    user_content: Any,
    expected: Any,
    index: int,
    session_id: str,
    user_id: str,
    trial: int,
    warmup: bool,
    on_llm_call: Callable[[LlmCallRecord], None],
    on_prompt: Callable[[LlmCallRecord, CapturedRequest], None] | None = None,
) -> tuple[TurnRecord, list[Event], bool]:
    """One turn, its events, and whether it was cancelled (the cut); `expected` is None for a
    scenario case (nothing to compare with)."""
    turn_id = f"{session_id}:{index}"
    expected_data = expected.intermediate_data if expected is not None else None
    scope = CallScope(
        run_id=bundle.run_id,
        session_id=session_id,
        turn_id=turn_id,
        warmup=warmup,
        emit=on_llm_call,
        on_prompt=on_prompt,
        force_tool_call=bundle.force_tools and bool(_calls(expected_data)),
    )
    token = CALL_SCOPE.set(scope)
    tool_turn = ToolTurn(key=f"{case.eval_id}:{trial}:{index}")
    tool_token = TOOL_TURN.set(tool_turn)
    events: list[Event] = []
    error: BaseException | None = None
    started_at = time.time()
    t0 = time.perf_counter()
    try:
        async for event in runner.run_async(
            user_id=user_id,
            session_id=session_id,
            new_message=user_content,
            run_config=bundle.run_config,
        ):
            if not events:
                events.append(
                    Event(
                        content=user_content,
                        author="user",
                        invocation_id=event.invocation_id,
                    )
                )
            if not event.partial:
                events.append(event)
    except asyncio.CancelledError as exc:
        error = exc
    except Exception as exc:
        error = exc
    finally:
        CALL_SCOPE.reset(token)
        TOOL_TURN.reset(tool_token)
    latency_ms = (time.perf_counter() - t0) * 1000.0
    ended_at = time.time()
    tool_errors = bundle.tool_errors.current.pop(id(scope), None) or _ToolErrors()

    error_type = error_text = None
    cancelled = isinstance(error, asyncio.CancelledError)  # the cut at the end of the drain
    incomplete = cancelled and scope.call_failure is None  # no error: no result
    if cancelled:
        if scope.call_failure is not None:  # its call was past the request timeout at the cut
            error_type, error_text = scope.call_failure
    elif error is not None:
        if tool_errors.last is not None and tool_errors.last[1] is error:
            error_type = "ToolError"
            error_text = (
                f"tool {tool_errors.last[0]} raised {type(error).__name__}: {first_line(error)}"
            )
        else:
            error_type, error_text = type(error).__name__, first_line(error)
    elif scope.call_failure is not None:  # a call failed without raising (a finish "error")
        error_type, error_text = scope.call_failure
    elif tool_errors.toolset_lost:
        error_type, error_text = "ToolError", tool_errors.toolset_lost
    elif tool_errors.failed_result:
        error_type, error_text = "ToolError", tool_errors.failed_result

    actual = None
    if events:
        invocations = EvaluationGenerator.convert_events_to_eval_invocations(events)
        actual = invocations[0] if invocations else None
    record: TurnRecord = {
        "run_id": bundle.run_id,
        "session_id": session_id,
        "turn_id": turn_id,
        "case_id": case.eval_id,
        "eval_set_id": bundle.eval_set_id,
        "trial": trial,
        "invocation_index": index,
        "invocation_id": actual.invocation_id if actual is not None else None,
        "started_at": started_at,
        "ended_at": ended_at,
        "latency_ms": latency_ms,
        "llm_calls": scope.calls,
        "tool_calls": _calls(actual.intermediate_data) if actual is not None else [],
        # None for a scenario turn: nothing expected, so tool metrics are not applicable
        "expected_tool_calls": _calls(expected_data) if expected is not None else None,
        "final_response": _text(actual.final_response) if actual is not None else None,
        "expected_response": _text(expected.final_response) if expected is not None else None,
        "tool_errors": tool_errors.count,
        "tool_timings": tool_turn.per_call(),
        "tool_latency_ms": tool_turn.injected_ms,
        "tool_time_ms": tool_turn.tool_ms,
        "llm_wire_ms": scope.llm_wire_ms,
        "client_overhead_ms": scope.client_overhead_ms,
        # the rest of the turn: negative only if calls or tools overlapped (parallel tools)
        "other_ms": latency_ms - scope.llm_wire_ms - scope.client_overhead_ms - tool_turn.tool_ms,
        "error_type": error_type,
        "error": error_text,
        "incomplete": incomplete,
        "warmup": warmup,
        "actual_invocation": _dump(actual),
        "expected_invocation": _dump(expected),
        "pid": os.getpid(),
        **scope.thinking.turn_fields(latency_ms),  # type: ignore[typeddict-item]
    }
    return record, events, cancelled
