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
from bench.agent.tool_errors import ToolErrorRecorder, ToolErrors, watch_toolset_losses
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
        watch_toolset_losses(self.tool_errors)
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
    callbacks = SessionCallbacks(on_llm_call, on_turn, on_session, on_prompt)
    session = SessionRun(bundle, case, callbacks, trial=trial, ticket=ticket,
                         think_time_s=think_time_s, warmup=warmup, user_index=user_index,
                         scheduled_at=scheduled_at, stop=stop)  # fmt: skip
    return await session.play()


@dataclass(frozen=True)
class SessionCallbacks:
    """Where a session's records go, as they complete."""

    on_llm_call: Callable[[LlmCallRecord], None] = _ignore
    on_turn: Callable[[TurnRecord], None] = _ignore
    on_session: Callable[[SessionRecord], None] = _ignore
    on_prompt: Callable[[LlmCallRecord, CapturedRequest], None] | None = None


@dataclass
class PlayedTurn:
    """What running one turn through the Runner left: its events, how it ended, its clocks."""

    index: int
    turn_id: str
    expected: Any  # the eval case's invocation; None for a scenario turn
    scope: CallScope
    tool_turn: ToolTurn
    events: list[Event] = field(default_factory=list)
    error: BaseException | None = None
    started_at: float = 0.0
    ended_at: float = 0.0
    latency_ms: float = 0.0
    tool_errors: ToolErrors = field(default_factory=ToolErrors)

    @property
    def cancelled(self) -> bool:
        """Cut at the end of the drain."""
        return isinstance(self.error, asyncio.CancelledError)


class SessionRun:
    """One eval case being played: its context (bundle, case, runner, ids, callbacks) and the
    tallies its session record reports (turns, errors, clocks)."""

    def __init__(
        self, bundle: AgentBundle, case: Any, callbacks: SessionCallbacks, *, trial: int = 0,
        ticket: int | None = None, think_time_s: float = 0.0, warmup: bool = False,
        user_index: int | None = None, scheduled_at: float | None = None,
        stop: LoadStop | None = None,
    ) -> None:  # fmt: skip
        self.bundle, self.case, self.callbacks = bundle, case, callbacks
        self.trial, self.ticket, self.warmup = trial, ticket, warmup
        self.think_time_s, self.stop = think_time_s, stop
        self.user_index, self.scheduled_at = user_index, scheduled_at
        self.conversation = list(case.conversation or [])
        self.simulator = self._user_simulator()
        session_input = case.session_input
        self.app_name = (
            session_input.app_name if session_input else None
        ) or bundle.default_app_name
        self.user_id = (session_input.user_id if session_input else None) or DEFAULT_USER_ID
        self.state = dict(session_input.state or {}) if session_input else {}
        self.runner = bundle.runner_for(self.app_name)
        self.session_id = uuid.uuid4().hex
        self.started_at = 0.0
        self.t0 = 0.0
        self.turns = self.errors = 0
        self.incomplete = False
        self.simulator_status: str | None = None
        self.simulator_s = 0.0  # waiting for the simulator's next message (like think time)
        self.history: list[Event] = []  # what the simulator reads: every turn's events so far

    def _user_simulator(self) -> Any:
        """ADK's user simulator for a scenario case; None for a case with fixed turns."""
        case, bundle = self.case, self.bundle
        if case.conversation_scenario is None:
            if not self.conversation:
                raise BenchError(f"eval case {case.eval_id}: no conversation")
            return None
        if bundle.user_simulator_config is None or bundle.user_simulator_model is None:
            raise BenchError(f"eval case {case.eval_id}: a scenario case needs a user simulator")
        return new_user_simulator(case, bundle.user_simulator_config, bundle.user_simulator_model)

    async def play(self) -> SessionRecord:
        """Every turn until the conversation ends, a turn fails or the load stops; the session
        record goes to `on_session` however it ended."""
        self.started_at = time.time()
        self.t0 = time.perf_counter()
        service = self.bundle.session_service
        try:
            await service.create_session(app_name=self.app_name, user_id=self.user_id,
                                         state=self.state, session_id=self.session_id)  # fmt: skip
            await self._play_turns()
        except asyncio.CancelledError:  # cut at the end of the drain (also in think time)
            self.incomplete = not self.errors  # a turn that timed out at the cut failed: cut short
            raise
        finally:
            record = self._session_record()
            self.callbacks.on_session(record)
            with contextlib.suppress(Exception):
                await service.delete_session(app_name=self.app_name, user_id=self.user_id,
                                             session_id=self.session_id)  # fmt: skip
        return record

    async def _play_turns(self) -> None:
        index = 0
        while True:
            if self.stop is not None and self.stop.is_set:  # the load stopped: no new turn
                self.incomplete = index < len(self.conversation) or self.simulator is not None
                return
            turn_input = await self._next_input(index)
            if turn_input is None:
                return
            if index and await self._think_was_cut():
                self.incomplete = True
                return
            played = await self._play_turn(index, *turn_input)
            turn = self._turn_record(played)
            self.history.extend(played.events)
            self.turns += 1
            index += 1
            self.callbacks.on_turn(turn)
            if turn["error_type"] is not None:
                self.errors += 1
            if played.cancelled:
                raise asyncio.CancelledError
            if self.errors:
                return

    async def _next_input(self, index: int) -> tuple[Any, Any] | None:
        """The next user message and the invocation expected of it, or None: the conversation
        is over (the case's turns are done, or the simulator stopped)."""
        if self.simulator is None:
            if index >= len(self.conversation):
                return None
            expected = self.conversation[index]
            return expected.user_content, expected
        t_sim = time.perf_counter()
        user_content, self.simulator_status = await self._next_user_message(index)
        self.simulator_s += time.perf_counter() - t_sim
        if user_content is None:
            self.errors += 1 if self.simulator_status.startswith("error") else 0
            return None
        return user_content, None

    async def _think_was_cut(self) -> bool:
        """Think time before a turn; True when the load stopped during it."""
        if self.think_time_s <= 0:
            return False
        if self.stop is None:
            await asyncio.sleep(self.think_time_s)
            return False
        return await self.stop.sleep(self.think_time_s)

    def _scope(self, turn_id: str, **extra: Any) -> CallScope:
        return CallScope(run_id=self.bundle.run_id, session_id=self.session_id, turn_id=turn_id,
                         warmup=self.warmup, emit=self.callbacks.on_llm_call, **extra)  # fmt: skip

    async def _next_user_message(self, index: int) -> tuple[Any, str]:
        """ADK's simulator's next user message, or None and why the conversation ended. Its LLM
        call gets a scope of its own (turn id of the turn it feeds), so the turn's call count
        and call indexes stay the agent's."""
        from google.adk.evaluation.simulation.user_simulator import Status

        token = CALL_SCOPE.set(self._scope(f"{self.session_id}:{index}"))
        try:
            reply = await self.simulator.get_next_user_message(copy.deepcopy(self.history))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the simulator's model failed or said nothing: the session ends
            return None, f"error: {type(exc).__name__}: {first_line(exc)}"
        finally:
            CALL_SCOPE.reset(token)
        if reply.status == Status.SUCCESS:
            return reply.user_message, Status.SUCCESS.value
        return None, str(reply.status.value)

    async def _play_turn(self, index: int, user_content: Any, expected: Any) -> PlayedTurn:
        """Run one turn through the Runner; an error or the cut is kept on the result, not
        raised. `expected` is None for a scenario case (nothing to compare with)."""
        turn_id = f"{self.session_id}:{index}"
        expected_data = expected.intermediate_data if expected is not None else None
        force = self.bundle.force_tools and bool(_calls(expected_data))
        scope = self._scope(turn_id, on_prompt=self.callbacks.on_prompt, force_tool_call=force)
        tool_turn = ToolTurn(key=f"{self.case.eval_id}:{self.trial}:{index}")
        played = PlayedTurn(index, turn_id, expected, scope, tool_turn, started_at=time.time())
        token, tool_token = CALL_SCOPE.set(scope), TOOL_TURN.set(tool_turn)
        t0 = time.perf_counter()
        try:
            await self._collect_events(user_content, played.events)
        except (asyncio.CancelledError, Exception) as exc:
            played.error = exc
        finally:
            CALL_SCOPE.reset(token)
            TOOL_TURN.reset(tool_token)
        played.latency_ms = (time.perf_counter() - t0) * 1000.0
        played.ended_at = time.time()
        played.tool_errors = self.bundle.tool_errors.current.pop(id(scope), ToolErrors())
        return played

    async def _collect_events(self, user_content: Any, events: list[Event]) -> None:
        """The turn's final events, preceded by the user's message as ADK's eval sees it."""
        async for event in self.runner.run_async(
            user_id=self.user_id,
            session_id=self.session_id,
            new_message=user_content,
            run_config=self.bundle.run_config,
        ):
            if not events:
                events.append(
                    Event(content=user_content, author="user", invocation_id=event.invocation_id)
                )
            if not event.partial:
                events.append(event)

    def _turn_record(self, played: PlayedTurn) -> TurnRecord:
        scope, tool_turn, expected = played.scope, played.tool_turn, played.expected
        error_type, error_text = turn_error(played)
        actual = None
        if played.events:
            invocations = EvaluationGenerator.convert_events_to_eval_invocations(played.events)
            actual = invocations[0] if invocations else None
        latency_ms = played.latency_ms
        expected_data = expected.intermediate_data if expected is not None else None
        record: TurnRecord = {
            "run_id": self.bundle.run_id,
            "session_id": self.session_id,
            "turn_id": played.turn_id,
            "case_id": self.case.eval_id,
            "eval_set_id": self.bundle.eval_set_id,
            "trial": self.trial,
            "invocation_index": played.index,
            "invocation_id": actual.invocation_id if actual is not None else None,
            "started_at": played.started_at,
            "ended_at": played.ended_at,
            "latency_ms": latency_ms,
            "llm_calls": scope.calls,
            "tool_calls": _calls(actual.intermediate_data) if actual is not None else [],
            # None for a scenario turn: nothing expected, so tool metrics are not applicable
            "expected_tool_calls": _calls(expected_data) if expected is not None else None,
            "final_response": _text(actual.final_response) if actual is not None else None,
            "expected_response": _text(expected.final_response) if expected is not None else None,
            "tool_errors": played.tool_errors.count,
            "tool_timings": tool_turn.per_call(),
            "tool_latency_ms": tool_turn.injected_ms,
            "tool_time_ms": tool_turn.tool_ms,
            "llm_wire_ms": scope.llm_wire_ms,
            "client_overhead_ms": scope.client_overhead_ms,
            # the rest of the turn: negative only if calls or tools overlapped (parallel tools)
            "other_ms": latency_ms
            - scope.llm_wire_ms
            - scope.client_overhead_ms
            - tool_turn.tool_ms,
            "error_type": error_type,
            "error": error_text,
            # cut with no error: no result
            "incomplete": played.cancelled and scope.call_failure is None,
            "warmup": self.warmup,
            "actual_invocation": _dump(actual),
            "expected_invocation": _dump(expected),
            "pid": os.getpid(),
            **scope.thinking.turn_fields(latency_ms),  # type: ignore[typeddict-item]
        }
        return record

    def _session_record(self) -> SessionRecord:
        scheduled_at, simulated = self.scheduled_at, self.simulator is not None
        return {
            "run_id": self.bundle.run_id,
            "session_id": self.session_id,
            "case_id": self.case.eval_id,
            "eval_set_id": self.bundle.eval_set_id,
            "trial": self.trial,
            "ticket": self.ticket,
            "scheduled_at": scheduled_at,
            "start_delay_ms": (
                max(0.0, self.started_at - scheduled_at) * 1000.0
                if scheduled_at is not None
                else None
            ),
            "started_at": self.started_at,
            "ended_at": time.time(),
            "duration_ms": (time.perf_counter() - self.t0) * 1000.0,
            "turns": self.turns,
            "turns_expected": self.turns if simulated else len(self.conversation),
            "user_simulator_status": self.simulator_status,
            "user_simulator_ms": self.simulator_s * 1000.0 if simulated else None,
            "errors": self.errors,
            "incomplete": self.incomplete,
            "warmup": self.warmup,
            "pid": os.getpid(),
            "user_index": self.user_index,
        }


def turn_error(played: PlayedTurn) -> tuple[str | None, str | None]:
    """The turn's error type and message, or (None, None): the exception it raised (a tool's,
    named as such), a call that failed without raising, then a tool failure ADK answered."""
    error, scope, tool_errors = played.error, played.scope, played.tool_errors
    if played.cancelled:  # its call may have been past the request timeout at the cut
        return scope.call_failure if scope.call_failure is not None else (None, None)
    if error is not None:
        if tool_errors.last is not None and tool_errors.last[1] is error:
            name = type(error).__name__
            return "ToolError", f"tool {tool_errors.last[0]} raised {name}: {first_line(error)}"
        return type(error).__name__, first_line(error)
    if scope.call_failure is not None:  # a call failed without raising (a finish "error")
        return scope.call_failure
    if tool_errors.toolset_lost:
        return "ToolError", tool_errors.toolset_lost
    if tool_errors.failed_result:
        return "ToolError", tool_errors.failed_result
    return None, None
