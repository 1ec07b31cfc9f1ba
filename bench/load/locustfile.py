"""The Locust file: each AgentUser plays ADK eval cases, one conversation at a time.

Started by `bench.load.process.LocustProcess` with `BENCH_LOAD_SPEC` pointing at the run's
`load_spec.json`. ADK runs in-process on an asyncio thread (`bench.load.bridge`); every finished
LLM call, turn and session is appended to `<run_dir>/raw/*.jsonl` at once and fired as a Locust
event (request types LLM, TURN, SESSION, WARMUP; USER_SIM for the calls of ADK's user
simulator in scenario cases, never counted as LLM) for the console, CSVs and web UI. A Locust
failure is an error (a failed call, turn or session); a wrong tool call is none: the web UI's
accuracy tabs count it from the turn record, the results stage scores it.

Warm-up: the first `warmup_sessions_per_process` sessions of each process run first (other users
wait until each has finished its first turn, which pays the process's first-call costs, or at
most `WARMUP_WAIT_MAX_S`: a warm-up session that hangs on the server must not hold the measured
load back), then sessions starting within `warmup_s` of the process's first session are warm-up
too. Warm-up sessions take no ticket: `--sessions N` and trials count measured ones.

The stop (Locust's `test_stopping`): no session or turn starts after it (`bench.agent.load_stop`),
each process records when it saw it (`load_stops`, the end of the measured window), and Locust
gives the users in flight its stop timeout (`--drain`) before it kills them: what they were
running is recorded incomplete.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported

import atexit  # noqa: E402
import contextlib
import faulthandler  # noqa: E402
import itertools  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any, cast  # noqa: E402

import gevent  # noqa: E402
import litellm  # noqa: E402, F401  (imported before the fork: shared, and no 3 s first call)
from gevent.event import Event as GeventEvent  # noqa: E402
from locust import User, constant, events, task  # noqa: E402
from locust.exception import StopUser  # noqa: E402
from locust.runners import (  # noqa: E402
    STATE_CLEANUP,
    STATE_STOPPED,
    STATE_STOPPING,
    LocalRunner,
    MasterRunner,
    WorkerRunner,
)
from locust.user.users import LOCUST_STATE_STOPPING  # noqa: E402

from bench import compat, constants  # noqa: E402
from bench.agent import wire_arrival  # noqa: E402
from bench.agent.load_stop import LoadStop  # noqa: E402
from bench.agent.prompt_capture import PromptSink  # noqa: E402
from bench.agent.session import AgentBundle, build_agent_bundle, run_session  # noqa: E402
from bench.agent.user_simulator import add_user_simulator  # noqa: E402
from bench.compat import csv_writer_guard, lean_stream, real_locks  # noqa: E402
from bench.evalset import load_evalset  # noqa: E402
from bench.load import (  # noqa: E402
    bridge,
    distributed,
    lean_adk,
    open_loop,
    saturation,
    wait_dump,
    webui,
    worker_token,
)
from bench.load.recorder import JsonlRecorder  # noqa: E402
from bench.load.spec import LoadSpec  # noqa: E402
from bench.load.tickets import Ticket, TicketCounter  # noqa: E402
from bench.schemas.errors import BenchError  # noqa: E402
from bench.schemas.raw import LOAD_STOPS  # noqa: E402
from bench.schemas.records import (  # noqa: E402
    USER_SIMULATOR_ROLE,
    LlmCallRecord,
    LoadStopRecord,
    SessionRecord,
    TurnRecord,
)
from bench.schemas.settings import RUN_TOKEN_ENV  # noqa: E402
from bench.scoring.outcome import is_failed  # noqa: E402

for _name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
    logging.getLogger(_name).setLevel(logging.WARNING)  # Locust sets INFO; LiteLLM's logs cost ~7%

# Every patch of a library's internals checked before any is applied: versions in the tested
# range, touched attributes there; what fails falls back, told in one line (bench.compat).
compat.check()
lean_adk.apply()  # before the fork: every process inherits it (bench.load.lean_adk)
real_locks.use_real_locks_across_threads()  # real threads share them (bench.compat.real_locks)
# Responses are read, and their chunks stamped, on a reader thread of each process's own
# (started on first use, after the fork): bench.agent.wire_arrival.
wire_arrival.enable(bridge.reader_loop)
csv_writer_guard.apply()  # Locust's CSV writer ends quietly when its files close under it
# `kill -USR1 <pid>` writes every thread's stack to locust.log: what a stuck load process waits on.
faulthandler.register(signal.SIGUSR1, all_threads=True)
# `kill -USR2 <pid>` writes every asyncio task of its loops, with where each waits.
signal.signal(signal.SIGUSR2, lambda _sig, _frame: wait_dump.dump_tasks(sys.stderr))
worker_token.install_worker_hello()  # before Locust makes its runner (and before it forks)
WORKER_DIR = distributed.worker_dir()  # set under `bench worker`: the spec comes from the master
SPEC: LoadSpec
EVALSET: Any
BUNDLE: AgentBundle
# Measured sessions wait at most this long for the warm-up sessions' first turns (they take
# about a second; one that hangs on the server would hold every user back until the cut).
WARMUP_WAIT_MAX_S = 5.0


def _configure(spec: LoadSpec) -> None:
    global SPEC, EVALSET, BUNDLE
    # `python -m locust` and Locust's loader put the working directory on sys.path; bench's own
    # process does not, and a folder there named like the user's agent would shadow it in the
    # load process only. (bench is imported by now; index 0 is this file's folder, which Locust
    # takes off again after the import.)
    sys.path[1:] = [p for p in sys.path[1:] if p not in ("", os.getcwd())]
    SPEC = spec
    EVALSET = load_evalset(SPEC.evalset)
    agent_dir = SPEC.agent_dir or EVALSET.agent_dir
    if agent_dir is None:
        raise BenchError(f"--evalset {SPEC.evalset}: no agent folder found; give the agent folder")
    BUNDLE = build_agent_bundle(
        agent_dir,
        api_base=SPEC.api_base,
        served_model_name=SPEC.served_model_name,
        run_id=SPEC.run_id,
        eval_set_id=EVALSET.eval_set_id,
        extra_headers=SPEC.extra_headers(),
        telemetry=lean_adk.telemetry_config(),
        load=SPEC.load,
    )
    if EVALSET.scenario_cases:
        add_user_simulator(BUNDLE, SPEC, EVALSET)


def _ticket_options() -> dict[str, Any]:
    return {"seed": SPEC.load.seed, "trials": SPEC.load.trials, "max_sessions": SPEC.load.sessions,
            "session_rate": SPEC.load.session_rate, "arrival": SPEC.load.arrival}  # fmt: skip


if WORKER_DIR is None:
    _configure(LoadSpec.from_env())
    # agent tabs in the web UI
    webui.register(events, SPEC.api_base, SPEC.extra_headers(), EVALSET.criteria)
_ROLE: list[Any] = []  # distributed.MasterSide or WorkerSide under master/worker mode


@events.init.add_listener
def _distributed_role(environment: Any, **_kw: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        worker_token.WorkerGate(environment.runner, os.environ.get(RUN_TOKEN_ENV, ""))
        tickets = TicketCounter(SPEC.run_dir, len(EVALSET.cases), **_ticket_options())
        _ROLE.append(distributed.MasterSide(environment, SPEC, tickets))
    elif isinstance(environment.runner, WorkerRunner):
        _ROLE.append(distributed.WorkerSide(environment))


@events.test_start.add_listener
def _spec_from_master(environment: Any, **_kw: Any) -> None:
    if WORKER_DIR is not None and "SPEC" not in globals():
        spec = distributed.worker_spec(environment, WORKER_DIR)
        if spec is not None:
            _configure(spec)


def _record_error(record: LlmCallRecord | TurnRecord) -> Exception | None:
    """A call's or turn's error as the exception Locust counts as a failure."""
    # a call or turn cut at the end of the drain is incomplete, not a failure (bench.scoring.outcome)
    failed = is_failed(cast(dict[str, Any], record))
    return Exception(f"{record['error_type']}: {record['error']}") if failed else None


class _Process:
    """Per-process state, created on the first user start (after Locust's fork)."""

    _instance: _Process | None = None

    def __init__(self, environment: Any):
        self.environment = environment
        self.pid = os.getpid()
        self.notifier = bridge.ThreadSafeNotifier()
        self.recorder: JsonlRecorder
        if WORKER_DIR is None:
            self.recorder = JsonlRecorder(SPEC.run_dir)
            self.tickets = TicketCounter(SPEC.run_dir, len(EVALSET.cases), **_ticket_options())
        else:  # records go to the master as they complete; tickets come from it
            self.recorder = distributed.ShippingRecorder(
                SPEC.run_dir, environment, self.notifier.call
            )
            self.tickets = distributed.RemoteTickets(
                environment, SPEC.run_dir, len(EVALSET.cases), **_ticket_options()
            )
            for role in _ROLE:
                role.recorder, role.drain = self.recorder, self.notifier.drain
        self.on_prompt = PromptSink(self.recorder.write)  # raw prompts + tools, for export-trace
        self.user_numbers = itertools.count()
        self.warmup_started = 0
        self.warmup_finished = 0
        self.warmup_first_turns = 0
        self.warmup_seq = itertools.count()
        self.warmup_done = GeventEvent()
        if SPEC.load.warmup_sessions == 0:
            self.warmup_done.set()
        self.first_session_at: float | None = None
        self.inflight = 0
        self.load_stop = LoadStop()  # set at Locust's test_stopping: no new session or turn
        self.exhausted = False
        self.quitting = False
        self.gate: open_loop.ArrivalGate | None = None  # open loop only
        if SPEC.load.session_rate is not None:
            cap = SPEC.load.sessions_in_flight_cap or constants.DEFAULT_MAX_SESSIONS_IN_FLIGHT
            self.gate = open_loop.ArrivalGate(cap, self.recorder.write, SPEC.run_id)
        saturation.start_client_probe(self.recorder)

    @classmethod
    def get(cls, environment: Any) -> _Process:
        if cls._instance is None or cls._instance.pid != os.getpid():
            cls._instance = _Process(environment)
        return cls._instance

    def stopping(self) -> None:
        """The load stops: no new session or turn; note when, for the measured window."""
        if self.load_stop.is_set:
            return
        record: LoadStopRecord = {
            "run_id": SPEC.run_id,
            "stopped_at": self.load_stop.stop(),
            "drain_s": float(self.environment.stop_timeout or 0.0),
            "in_flight": self.inflight,
            "pid": self.pid,
        }
        self.recorder.write(LOAD_STOPS, record)

    # ---- records -> raw JSONL at once (asyncio thread) and Locust events (hub thread)

    def _fire(self, context: dict[str, Any] | None = None, **kwargs: Any) -> None:
        request = self.environment.events.request
        self.notifier.call(lambda: request.fire(context=context or {}, **kwargs))

    def on_llm_call(self, record: LlmCallRecord) -> None:
        self.recorder.llm_call(record)
        if record["warmup"]:
            return
        exc = _record_error(record)
        length = record["completion_tokens"] or 0
        if record.get("call_role") == USER_SIMULATOR_ROLE:  # a row of its own, never "LLM"
            self._fire(request_type="USER_SIM", name="call", response_time=record["e2e_ms"],
                       response_length=length, exception=exc)  # fmt: skip
            return
        self._fire(
            request_type="LLM",
            name="call",
            response_time=record["e2e_ms"],
            response_length=length,
            exception=exc,
            context={"record": record},  # for the web UI's tabs (bench.load.webui)
        )
        if record["ttft_ms"] is not None:
            self._fire(
                request_type="LLM",
                name="ttft",
                response_time=record["ttft_ms"],
                response_length=length,
                exception=None,
            )

    def on_turn(self, record: TurnRecord) -> None:
        self.recorder.turn(record)
        if record["warmup"]:
            if record["invocation_index"] == 0:  # the process's first-call costs are paid
                self.notifier.call(self.warmup_turn_ended)
            return
        exc = _record_error(record)
        self._fire(
            request_type="TURN",
            name="turn",
            response_time=record["latency_ms"],
            response_length=record["llm_calls"],
            exception=exc,
            context={"record": record},
        )

    def on_session(self, record: SessionRecord) -> None:
        self.recorder.session(record)
        if record["warmup"]:
            self._fire(
                request_type="WARMUP",
                name="session",
                response_time=record["duration_ms"],
                response_length=record["turns"],
                exception=None,
            )
            return
        exc = (
            Exception(f"{record['case_id']}: {record['errors']} failed turn(s)")
            if record["errors"]
            else None
        )
        self._fire(
            request_type="SESSION",
            name="session",
            response_time=record["duration_ms"],
            response_length=record["turns"],
            exception=exc,
            context={"record": record},  # session outcomes in the web UI
        )

    # ---- what the next session is

    def next_session(self) -> tuple[Any, Ticket | None, str | None] | None:
        """(case, ticket, warm-up kind) for the next session, or None when tickets ran out.

        The kind is "count" (one of the first sessions of the process), "time" (within
        `warmup_s`) or None (measured, with a ticket).
        """
        now = time.time()
        if self.warmup_started < SPEC.load.warmup_sessions:
            self.warmup_started += 1
            self.first_session_at = self.first_session_at or now
            return self._warmup_case(), None, "count"
        self.warmup_done.wait(WARMUP_WAIT_MAX_S)
        self.first_session_at = self.first_session_at or now
        if SPEC.load.warmup_s > 0 and time.time() < self.first_session_at + SPEC.load.warmup_s:
            return self._warmup_case(), None, "time"
        ticket = self.tickets.claim()
        if ticket is None:
            return None
        return EVALSET.cases[ticket.case_index], ticket, None

    def _warmup_case(self) -> Any:
        return EVALSET.cases[self.tickets.order[next(self.warmup_seq) % len(EVALSET.cases)]]

    def warmup_session_ended(self) -> None:
        self.warmup_finished += 1
        if self.warmup_finished >= SPEC.load.warmup_sessions:
            self.warmup_done.set()

    def warmup_turn_ended(self) -> None:
        self.warmup_first_turns += 1
        if self.warmup_first_turns >= SPEC.load.warmup_sessions:
            lean_adk.freeze_long_lived()  # what the first calls set up, before the load starts
            self.warmup_done.set()

    def out_of_tickets(self) -> None:
        """Quit a standalone headless run once no session is left in flight."""
        self.exhausted = True
        runner = self.environment.runner
        options = self.environment.parsed_options
        standalone = isinstance(runner, LocalRunner) and bool(options and options.headless)
        if standalone and self.inflight == 0 and not self.quitting:
            self.quitting = True
            logging.getLogger(__name__).info("all sessions done, stopping Locust")

            def quit_runner() -> None:
                self.notifier.drain()
                runner.quit()

            gevent.spawn_later(0.2, quit_runner)


class AgentUser(User):
    """One ADK conversation at a time, against the server in the LoadSpec."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.process = _Process.get(self.environment)
        self.user_index = next(self.process.user_numbers)

    def _stopping(self) -> bool:
        runner = self.environment.runner
        return self._state == LOCUST_STATE_STOPPING or (
            runner is not None and runner.state in (STATE_STOPPING, STATE_CLEANUP, STATE_STOPPED)
        )

    @task
    def session(self) -> None:
        if self._stopping():  # the test is ending: start no new session
            raise StopUser()
        proc = self.process
        if proc.gate is not None:  # open loop: this user dispatches arrivals (bench.load.open_loop)
            if not open_loop.dispatch(proc.gate, proc.next_session, self._play, self._stopping):
                proc.out_of_tickets()
            raise StopUser()
        chosen = proc.next_session()
        if chosen is None:
            proc.out_of_tickets()
            raise StopUser()
        case, ticket, warmup_kind = chosen
        self._play(case, ticket, warmup_kind)

    def _play(self, case: Any, ticket: Ticket | None, warmup_kind: str | None) -> None:
        """Run one session to its end in this greenlet."""
        proc = self.process
        if proc.load_stop.is_set:  # the stop came while it waited (for the warm-up): not started
            return
        proc.inflight += 1
        try:
            bridge.run_coroutine(
                run_session(
                    BUNDLE,
                    case,
                    trial=ticket.trial if ticket else 0,
                    ticket=ticket.number if ticket else None,
                    think_time_s=SPEC.load.think_time_s,
                    warmup=warmup_kind is not None,
                    on_llm_call=proc.on_llm_call,
                    on_turn=proc.on_turn,
                    on_session=proc.on_session,
                    on_prompt=proc.on_prompt,
                    user_index=self.user_index,
                    scheduled_at=ticket.arrival_at if ticket else None,
                    stop=proc.load_stop,
                )
            )
        finally:
            proc.inflight -= 1
            if warmup_kind == "count":
                proc.warmup_session_ended()


_EXIT_CODE: list[int] = []
EXIT_WATCHDOG_S = 15.0


@events.test_stopping.add_listener
def _load_stopping(environment: Any, **_kw: Any) -> None:
    if _Process._instance is not None and _Process._instance.pid == os.getpid():
        _Process._instance.stopping()


@events.test_start.add_listener
def _load_starting(environment: Any, **_kw: Any) -> None:
    """The web UI starts a test again after a stop: its sessions run their turns again."""
    if _Process._instance is not None and _Process._instance.pid == os.getpid():
        _Process._instance.load_stop = LoadStop()


@events.quitting.add_listener
def _flush_on_quit(environment: Any, **_kw: Any) -> None:
    if _Process._instance is not None and _Process._instance.pid == os.getpid():
        _Process._instance.notifier.drain()


@events.quit.add_listener
def _stop_asyncio_thread(exit_code: int, **_kw: Any) -> None:
    """Locust is done (stats and CSVs written): end the asyncio thread, remember the code."""
    _EXIT_CODE.append(exit_code)
    # How the streamed replies were read: a LiteLLM the lean path no longer fits shows here.
    logging.getLogger(__name__).info(
        "streamed replies read through the lean path: %d, through LiteLLM's wrapper: %d",
        lean_stream.streams_lean,
        lean_stream.streams_plain,
    )
    # Safety net: if exiting hangs anyway, dump every thread's stack to the log and leave.
    faulthandler.dump_traceback_later(EXIT_WATCHDOG_S, exit=True)
    if _Process._instance is not None and _Process._instance.pid == os.getpid():
        _Process._instance.recorder.close()
        if WORKER_DIR is not None:
            distributed.flush_to_master(_Process._instance.environment)
    bridge.shutdown()


def _exit_without_finalisers() -> None:
    """Leave at once after Locust's own exit handlers, skipping the interpreter's finalisation.

    Locust ends with `sys.exit(code)`. During interpreter shutdown `threading._shutdown` joins
    thread-pool workers that LiteLLM may have started from the asyncio thread; under gevent's
    patching those are greenlets of that thread's hub, which is gone, so the join never returns
    (observed: the main thread idles in the gevent hub forever, the CSV writer greenlet fails on
    closed files). This hook runs first in `threading._shutdown`: it runs the regular atexit
    handlers (Locust's `--processes` master waits for its children there) and `os._exit`s.
    """
    if not _EXIT_CODE or _EXITING:
        return
    _EXITING.append(True)
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(_EXIT_CODE[-1])


_EXITING: list[bool] = []
atexit.register(_exit_without_finalisers)
import concurrent.futures.thread  # noqa: E402, F401  (so its exit hook is registered before ours)

threading._register_atexit(_exit_without_finalisers)  # type: ignore[attr-defined]  # runs first (LIFO)

lean_adk.freeze_long_lived()  # set up: leave it out of the garbage collections (lean_adk)

# Importing ADK and LiteLLM above blocks for seconds after gevent's loop cached its clock; without
# this, Locust's `-t` timer (spawn_later) would count those seconds and stop the run early.
gevent.get_hub().loop.update_now()
