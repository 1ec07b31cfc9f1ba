"""Open loop without coordinated omission: sessions start on the schedule, whatever is in flight.

In an open loop each Locust user is an arrival dispatcher, not a session slot: it claims the next
ticket (its arrival time comes from the run's one schedule, `bench.load.tickets`), sleeps until
that time, hands the session to a greenlet of its own and claims the next ticket at once. So a
server that falls behind cannot hold arrivals back, and a session's latency is measured from its
scheduled arrival, not from a late start.

The only thing that may hold an arrival back is the cap on sessions in flight per load process
(`--max-sessions-in-flight`, default `constants.DEFAULT_MAX_SESSIONS_IN_FLIGHT`). An arrival that
finds it full waits for a slot; the wait is its `start_delay_ms`. Every arrival writes one
`arrivals` record: when it starts, or with `started_at` null when the load ends before it could
(scheduled inside the window, never started). Imported only inside Locust processes (gevent).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.lock import Semaphore
from gevent.pool import Group

from bench.load.tickets import Ticket
from bench.schemas.raw import ARRIVALS
from bench.schemas.records import ArrivalRecord

KILL_TIMEOUT_S = 5.0


class ArrivalGate:
    """The per-process cap on sessions in flight, and the arrivals' records."""

    def __init__(self, cap: int, write: Callable[[str, ArrivalRecord], None], run_id: str):
        self.slots = Semaphore(cap)
        self.write = write
        self.run_id = run_id

    def _record(self, ticket: Ticket, started_at: float | None, waited: bool) -> None:
        assert ticket.arrival_at is not None
        self.write(
            ARRIVALS,
            {
                "run_id": self.run_id,
                "ticket": ticket.number,
                "scheduled_at": ticket.arrival_at,
                "started_at": started_at,
                "waited_for_cap": waited,
                "pid": os.getpid(),
            },
        )

    def arrive(
        self, ticket: Ticket, play: Callable[[], None], stopping: Callable[[], bool]
    ) -> None:
        """Start the session now, or as soon as a slot frees; never if the load ends first."""
        waited = not self.slots.acquire(blocking=False)
        if waited:
            try:
                self.slots.acquire()
            except BaseException:  # killed while waiting (the load ended): never started
                self._record(ticket, None, True)
                raise
        try:
            if stopping():
                self._record(ticket, None, waited)
                return
            self._record(ticket, time.time(), waited)
            play()
        finally:
            self.slots.release()


def dispatch(
    gate: ArrivalGate,
    next_session: Callable[[], tuple[Any, Ticket | None, str | None] | None],
    play: Callable[[Any, Ticket | None, str | None], None],
    stopping: Callable[[], bool],
) -> bool:
    """One dispatcher's loop until the load stops; False when the tickets ran out.

    Warm-up sessions (no ticket) are played here, one after another, before the schedule starts.
    Returns only once this dispatcher's sessions have ended; if the dispatcher is killed (Locust's
    stop timeout), its sessions are killed with it, which cancels them (`bench.load.bridge`).
    """
    sessions = Group()
    more = True
    try:
        while not stopping():
            chosen = next_session()
            if chosen is None:
                more = False
                break
            case, ticket, warmup_kind = chosen
            if ticket is None or ticket.arrival_at is None:
                play(case, ticket, warmup_kind)
                continue
            gevent.sleep(max(0.0, ticket.arrival_at - time.time()))
            if stopping():  # its time came as the load ended: not an arrival of the window
                break
            sessions.spawn(gate.arrive, ticket, lambda c=case, t=ticket: play(c, t, None), stopping)
        sessions.join()
    finally:
        sessions.kill(block=True, timeout=KILL_TIMEOUT_S)
    return more
