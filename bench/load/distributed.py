"""Locust master/worker mode for bench (imported by the locustfile only, inside Locust processes).

    bench run --master --expect-workers 2 ...      Locust master: no users; writes the run folder
    bench worker --master-host H [--master-port P] Locust worker: runs the ADK agents

What travels over Locust's own channel (ZeroMQ, the master's --master-bind-host/port):
- master -> workers: the run's LoadSpec, as an attribute of the parsed options Locust ships with
  every spawn message (so a worker joining late gets it too), and the server API key only when
  the master binds to a loopback address (then every worker is on the same host);
- worker -> master: each record (LLM call, turn, session, client sample) the moment it completes,
  as a `bench_record` message; the master appends it to `raw/<kind>.<worker-n>.jsonl` of the
  run. A worker that leaves loses nothing it had finished, nor does one that dies (its records
  are on the master already; bench.load.worker_watch notices the death and records it). The
  worker also keeps its own copy under its folder, and writes `shipped.json` (records sent per
  kind) when it exits;
- session tickets: a worker asks the master (`bench_ticket`), so case order, `--sessions N`,
  trials and open-loop arrival times stay global across workers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.load.recorder import JsonlRecorder
from bench.load.spec import LoadSpec
from bench.load.tickets import Ticket, TicketCounter
from bench.load.worker_watch import WorkerWatch
from bench.schemas.run_dir import RunDir
from bench.schemas.settings import (  # by bench worker
    SERVER_API_KEY_ENV,
    USER_SIMULATOR_API_KEY_ENV,
    WORKER_DIR_ENV,
)

SPEC_OPTION = "bench_load_spec"  # attribute of parsed_options Locust ships to workers
KEY_OPTION = "bench_api_key"
SIMULATOR_KEY_OPTION = "bench_user_simulator_api_key"
RECORD_MSG = "bench_record"
TICKET_MSG = "bench_ticket"
TICKET_REPLY_MSG = "bench_ticket_reply"
FLUSH_MSG = "bench_flush"  # master -> worker at the end: send what is queued, then report
FLUSHED_MSG = "bench_flushed"  # worker -> master: records shipped per kind (after the records)
FLUSH_TIMEOUT_S = 15.0
EXPECT_WORKERS_MAX_WAIT_S = 120  # a master whose workers do not all come quits after this
TICKET_TIMEOUT_S = 60.0


def master_args(load: Any) -> list[str]:
    """Locust flags of a master run (`bench run --master`), from the LoadConfig; else none."""
    if not getattr(load, "master", False):
        return []
    return ["--master", "--expect-workers", str(load.expect_workers),
            "--expect-workers-max-wait", str(EXPECT_WORKERS_MAX_WAIT_S),
            "--master-bind-host", load.master_bind_host,
            "--master-bind-port", str(load.master_bind_port)]  # fmt: skip


def master_stop_grace_s(load: Any, stop_timeout_s: float) -> float:
    """Extra time a stopping master may take: its workers' users end, then their records come."""
    return stop_timeout_s + FLUSH_TIMEOUT_S if getattr(load, "master", False) else 0.0


def master_allowance_s(load: Any) -> float:
    """Extra time a master may take: waiting for its workers, then collecting their records."""
    if not getattr(load, "master", False):
        return 0.0
    return EXPECT_WORKERS_MAX_WAIT_S + 2 * FLUSH_TIMEOUT_S


def worker_dir() -> Path | None:
    value = os.environ.get(WORKER_DIR_ENV)
    return Path(value) if value else None


def is_loopback(host: str) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return host == "localhost"


# ----------------------------------------------------------------------------- master side


class MasterSide:
    """Shares the spec with workers, writes their records, hands out the run's tickets."""

    def __init__(self, environment: Any, spec: LoadSpec, tickets: TicketCounter):
        self.environment = environment
        self.spec = spec
        self.tickets = tickets
        self.recorders: dict[str, _CountingRecorder] = {}
        self.numbers = itertools.count(1)
        options = environment.parsed_options
        setattr(options, SPEC_OPTION, spec.model_dump_json())
        key = os.environ.get(SERVER_API_KEY_ENV)
        loopback = is_loopback(getattr(options, "master_bind_host", "*"))
        if key and loopback:
            setattr(options, KEY_OPTION, key)  # workers share this host: the key stays on it
        sim_key = os.environ.get(spec.user_simulator.api_key_env or "")
        if sim_key and loopback:
            setattr(options, SIMULATOR_KEY_OPTION, sim_key)
        self.reports: dict[str, dict[str, int]] = {}
        runner = environment.runner
        runner.register_message(RECORD_MSG, self.on_record)
        runner.register_message(TICKET_MSG, self.on_ticket)
        runner.register_message(FLUSHED_MSG, self.on_flushed)
        environment.events.test_stop.add_listener(self.on_stopping)
        # Tickets out on each worker whose session has not come back yet, and those handed
        # back by a worker that died: the next claims get them first.
        self.open_tickets: dict[str, dict[int, Ticket]] = {}
        self.returned: list[Ticket] = []
        self.watch = WorkerWatch(environment, self.on_worker_lost)

    def on_stopping(self, environment: Any, **_kw: Any) -> None:
        """Before the master quits: have every live worker stop its users, then collect its records.

        Locust's master quits without waiting for its workers; sessions still running would
        finish after it is gone. So, once the master is stopping (`test_stop`: no user is
        dispatched any more), send each live worker `bench_flush`: it stops its users (they end
        within --stop-timeout), runs what is queued for the hub and reports what it shipped.
        The report follows its records on the same ordered channel, so all of them are here.
        (Not Locust's own `stop` message: a worker that gets it sleeps --stop-timeout before it
        reads the next message, which would hold the flush back that long.)
        """
        import gevent

        runner = environment.runner
        self.watch.notice()  # a worker that died is neither stopped nor flushed
        clients = [c for c in runner.clients.all if str(c.id) not in self.watch.lost]
        for client in clients:
            runner.send_message(FLUSH_MSG, None, client_id=client.id)
        deadline = time.monotonic() + (environment.stop_timeout or 0) + FLUSH_TIMEOUT_S
        while time.monotonic() < deadline and not all(c.id in self.reports for c in clients):
            gevent.sleep(0.1)
        received = {node: dict(r.counts) for node, r in self.recorders.items()}
        lost = {node: entry.model_dump() for node, entry in self.watch.lost.items()}
        nodes = sorted({*received, *self.reports, *lost, *(str(c.id) for c in clients)})
        workers = [{"worker": node, "shipped": self.reports.get(node),
                    "received": received.get(node, {}), "lost": lost.get(node)} for node in nodes]  # fmt: skip
        RunDir(Path(self.spec.run_dir)).workers.write_text(json.dumps(workers, indent=2) + "\n")

    def on_flushed(self, environment: Any, msg: Any, **_kw: Any) -> None:
        self.reports[str(msg.node_id)] = dict(msg.data or {})

    def on_record(self, environment: Any, msg: Any, **_kw: Any) -> None:
        node = str(msg.node_id)
        recorder = self.recorders.get(node)
        if recorder is None:
            # pid slot: a number per worker (`raw/<kind>.<n>.jsonl`), stable for the run
            recorder = self.recorders[node] = _CountingRecorder(
                self.spec.run_dir, next(self.numbers)
            )
        for kind, line in msg.data["records"]:
            record = json.loads(line)
            recorder.write(kind, record)
            if kind == "sessions" and record.get("ticket") is not None:
                self.open_tickets.get(node, {}).pop(record["ticket"], None)

    def on_ticket(self, environment: Any, msg: Any, **_kw: Any) -> None:
        ticket = self.returned.pop(0) if self.returned else self.tickets.claim()
        reply = {"request": msg.data["request"], "ticket": None}
        if ticket is not None:
            self.open_tickets.setdefault(str(msg.node_id), {})[ticket.number] = ticket
            reply["ticket"] = [ticket.number, ticket.case_index, ticket.trial, ticket.arrival_at]
        environment.runner.send_message(TICKET_REPLY_MSG, reply, client_id=msg.node_id)

    def on_worker_lost(self, node: str) -> tuple[int, dict[str, int]]:
        """A worker died: its unfinished tickets go to the others; what it shipped stays."""
        unfinished = sorted(self.open_tickets.pop(node, {}).values(), key=lambda t: t.number)
        self.returned.extend(unfinished)  # an open-loop arrival time already past: runs at once
        recorder = self.recorders.get(node)
        return len(unfinished), dict(recorder.counts) if recorder else {}

    def close(self) -> None:
        for recorder in self.recorders.values():
            recorder.close()


class _CountingRecorder(JsonlRecorder):
    def __init__(self, run_dir: Path, number: int):
        super().__init__(run_dir, pid=number)
        self.counts: dict[str, int] = {}

    def write(self, kind: str, record: Mapping[str, Any]) -> None:
        super().write(kind, record)
        self.counts[kind] = self.counts.get(kind, 0) + 1


# ----------------------------------------------------------------------------- worker side


class WorkerSide:
    """Answers the master's flush: stop the users, run what is queued for the hub, report."""

    def __init__(self, environment: Any):
        self.environment = environment
        self.recorder: ShippingRecorder | None = None
        self.drain: Any = None
        environment.runner.register_message(FLUSH_MSG, self.on_flush)

    def on_flush(self, environment: Any, msg: Any, **_kw: Any) -> None:
        environment.runner.stop()  # users end within --stop-timeout; no new session starts
        if self.drain is not None:
            self.drain()
        shipped = dict(self.recorder.shipped) if self.recorder else {}
        environment.runner.send_message(FLUSHED_MSG, shipped)


def flush_to_master(environment: Any, linger_ms: int = 3000) -> None:
    """At exit: let ZeroMQ deliver what is queued before the process ends (it leaves by _exit)."""
    client = getattr(environment.runner, "client", None)
    with contextlib.suppress(Exception):
        if client is not None:
            client.socket.close(linger=linger_ms)
            client.socket.context.term()


def spec_from_master(environment: Any, local_dir: Path) -> LoadSpec:
    """The master's LoadSpec, with the records' folder moved to this worker's own folder."""
    options = environment.parsed_options
    text = getattr(options, SPEC_OPTION, None)
    if not text:
        raise RuntimeError("the master sent no bench load spec: is it `bench run --master`?")
    spec = LoadSpec.model_validate_json(text)
    key = getattr(options, KEY_OPTION, None)
    if key and not os.environ.get(SERVER_API_KEY_ENV):
        os.environ[SERVER_API_KEY_ENV] = key
    _simulator_key(spec, options)
    run_dir = local_dir / spec.run_id / f"worker-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    return spec.model_copy(update={"run_dir": run_dir})


def _simulator_key(spec: LoadSpec, options: Any) -> None:
    """The user simulator's key under the variable the master's spec names (its endpoint, model
    and --max-turns come in the spec). First `bench worker --user-simulator-api-key-env`, then
    this host's own variable of that name, then the key a loopback master shipped; none is an
    error here, not a run of simulator calls refused for a missing key."""
    key_env = spec.user_simulator.api_key_env
    if not key_env:
        return
    key = (os.environ.get(USER_SIMULATOR_API_KEY_ENV) or os.environ.get(key_env)
           or getattr(options, SIMULATOR_KEY_OPTION, None))  # fmt: skip
    if not key:
        raise MissingSimulatorKey(
            f"error: the master's user simulator reads its key from {key_env}: set it on this "
            "worker or give `bench worker --user-simulator-api-key-env`"
        )
    os.environ[key_env] = key


class MissingSimulatorKey(RuntimeError):
    pass


def worker_spec(environment: Any, local_dir: Path) -> LoadSpec | None:
    """`spec_from_master`; without the simulator's key, None: the worker says so in one line and
    quits with exit code 2 (an error raised here would be a logged traceback, then users with no
    agent)."""
    try:
        return spec_from_master(environment, local_dir)
    except MissingSimulatorKey as exc:
        import gevent

        logging.getLogger(__name__).error("%s", exc)
        environment.process_exit_code = 2
        gevent.spawn(environment.runner.quit)  # not from this handler: quit kills its greenlet
        return None


class ShippingRecorder(JsonlRecorder):
    """A worker's recorder: a local copy, and every record sent to the master at once.

    `write` runs on the asyncio thread; `call_on_hub` moves the send onto the gevent hub, where
    Locust's socket lives (the notifier of bench.load.bridge).
    """

    def __init__(self, run_dir: Path, environment: Any, call_on_hub: Any):
        super().__init__(run_dir)
        self.environment = environment
        self.call_on_hub = call_on_hub
        self.shipped: dict[str, int] = {}

    def write(self, kind: str, record: Mapping[str, Any]) -> None:
        super().write(kind, record)
        line = json.dumps(record, separators=(",", ":"), default=str)
        runner = self.environment.runner

        def send() -> None:
            runner.send_message(RECORD_MSG, {"records": [[kind, line]]})
            self.shipped[kind] = self.shipped.get(kind, 0) + 1

        self.call_on_hub(send)

    def close(self) -> None:
        super().close()
        self.run_dir.shipped.write_text(json.dumps(self.shipped, sort_keys=True) + "\n")
        print(f"bench worker shipped {json.dumps(self.shipped, sort_keys=True)}", flush=True)


class RemoteTickets(TicketCounter):
    """Tickets claimed from the master; the case order is computed here exactly as there."""

    def __init__(self, environment: Any, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        from gevent.event import AsyncResult  # only inside a Locust worker

        self._result_type = AsyncResult
        self.environment = environment
        self.waiting: dict[int, Any] = {}
        self.requests = itertools.count()
        environment.runner.register_message(TICKET_REPLY_MSG, self.on_reply)

    def on_reply(self, environment: Any, msg: Any, **_kw: Any) -> None:
        waiter = self.waiting.pop(msg.data["request"], None)
        if waiter is not None:
            waiter.set(msg.data["ticket"])

    def claim(self) -> Ticket | None:  # called in a greenlet
        request = next(self.requests)
        waiter = self.waiting[request] = self._result_type()
        self.environment.runner.send_message(TICKET_MSG, {"request": request})
        data = waiter.get(timeout=TICKET_TIMEOUT_S)
        if data is None:
            return None
        number, case_index, trial, arrival_at = data
        return Ticket(number=number, case_index=case_index, trial=trial, arrival_at=arrival_at)
