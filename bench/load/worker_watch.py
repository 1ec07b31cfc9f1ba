"""A Locust master's watch over its workers: which ones died mid-run, and what that cost.

Locust's master keeps each worker alive on heartbeats: a worker sends one every
`HEARTBEAT_INTERVAL` s (1); the master counts a silent worker down once per interval and marks
it `missing` after `HEARTBEAT_LIVENESS` (3) silent intervals, so a killed worker is missing
4 to 5 s after its last heartbeat. When the last worker goes missing, Locust stops the test
itself. Locust fires no event for a missing worker, so this watch polls the workers' states
(every POLL_S) and, for each worker that went missing:

- logs it, and keeps a `LostWorker` entry (when, how long it had been silent, its users);
- tells the master side, which hands the tickets of the sessions that worker never finished
  to the workers that remain (so `--sessions N` still completes);
- when no worker remains in a headless run, quits Locust at once (Locust would otherwise
  sit idle until `--run-time`); the runner then ends the run `load_failed`.

The records a worker shipped before it died are already in the master's raw files; they stay.
Imported by the runner too (`read_lost`), so gevent and locust are imported inside methods only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.schemas.manifest import LostWorker
from bench.schemas.run_dir import RunDir

POLL_S = 0.2
MISSING = "missing"  # locust.runners.STATE_MISSING
log = logging.getLogger(__name__)


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


class WorkerWatch:
    """Started by the master side; `notice()` may also be called directly (e.g. at test stop)."""

    def __init__(self, environment: Any, on_lost: Callable[[str], tuple[int, dict[str, int]]]):
        self.environment = environment
        self.runner = environment.runner
        # node id -> (tickets handed back to the other workers, records received from it)
        self.on_lost = on_lost
        self.last_heartbeat: dict[str, float] = {}
        self.users: dict[str, int] = {}  # last user count seen per worker (Locust clears it)
        self.lost: dict[str, LostWorker] = {}
        self.quitting = False
        self.shutting_down = False  # Locust is quitting anyway (signal, run time): no quit here
        environment.events.heartbeat_sent.add_listener(self._on_heartbeat)
        environment.events.quitting.add_listener(self._on_quitting)
        import gevent

        gevent.spawn(self._loop)  # not in the runner's group: quit() kills that group

    def _on_heartbeat(self, client_id: str, timestamp: float, **_kw: Any) -> None:
        self.last_heartbeat[str(client_id)] = timestamp

    def _on_quitting(self, **_kw: Any) -> None:
        self.shutting_down = True

    def _loop(self) -> None:
        import gevent

        while not self.quitting:
            gevent.sleep(POLL_S)
            try:
                self.notice()
            except Exception:  # the watch must never take the master down
                log.exception("bench: worker watch failed")

    def notice(self) -> None:
        for client in list(self.runner.clients.all):
            node = str(client.id)
            if client.state != MISSING:
                users = sum(client.user_classes_count.values())
                if users:
                    self.users[node] = users
                continue
            if node in self.lost:
                continue
            now = time.time()
            last = self.last_heartbeat.get(node)
            tickets, received = self.on_lost(node)
            entry = LostWorker(
                worker=node,
                lost_at=iso(now),
                last_heartbeat_at=iso(last) if last is not None else None,
                silent_s=round(now - last, 3) if last is not None else None,
                users=self.users.get(node, 0),
                tickets_returned=tickets,
                records_received=received,
                workers_remaining=self.runner.worker_count,
            )
            self.lost[node] = entry
            log.warning(
                "bench: worker %s lost (no heartbeat for %s s, %d users); the records it "
                "shipped are kept, %d unfinished tickets go to the others; %d workers remain",
                node, entry.silent_s, entry.users, tickets, entry.workers_remaining,
            )  # fmt: skip
            if entry.workers_remaining == 0 and not self.shutting_down:
                self._quit_when_stopped()  # this loss ended the load

    def _quit_when_stopped(self) -> None:
        """No worker left: the load is over. Locust stops the test; a headless master then quits."""
        if self.quitting or not getattr(self.environment.parsed_options, "headless", False):
            return  # the web UI stays up: a human decides
        self.quitting = True
        import gevent

        def quit_later() -> None:
            deadline = time.monotonic() + 60
            while self.runner.state not in ("stopped", "init") and time.monotonic() < deadline:
                gevent.sleep(POLL_S)  # Locust's own stop (and our test_stop listener) first
            log.warning("bench: no Locust worker remains; stopping the run")
            self.runner.quit()

        gevent.spawn(quit_later)


def read_lost(run_dir: RunDir) -> tuple[list[LostWorker], int]:
    """(lost workers, all workers) from a master's `workers.json`; ([], 0) when there is none."""
    try:
        workers = json.loads(run_dir.workers.read_text())
    except (OSError, ValueError):
        return [], 0
    lost = [LostWorker.model_validate(w["lost"]) for w in workers if w.get("lost")]
    return lost, len(workers)
