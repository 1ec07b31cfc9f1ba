"""The run's token between a Locust master and its workers (imported inside Locust processes only).

Locust's master admits any process that reaches its port and sends `client_ready`, then ships it
the run's spawn messages (with bench's load spec and, on a loopback master, the server's API
key). Locust has no authentication of its own, so bench adds one: before each `client_ready`,
a worker sends `bench_hello` with the run's token (`BENCH_RUN_TOKEN`); the master admits a
worker only after a hello with the right token from that worker id, and answers anyone else with
`quit`. Messages from a worker that was not admitted (records, tickets) are dropped.

The token: `bench run` makes a random one per run (forked `--processes` workers inherit it), or
takes `BENCH_RUN_TOKEN` from the environment, which `bench run --master` and every `bench worker`
then need (the same value on every host).
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any

from bench.schemas.settings import RUN_TOKEN_ENV

HELLO_MSG = "bench_hello"
log = logging.getLogger(__name__)


def install_worker_hello() -> None:
    """Make Locust's worker runner say hello with the token before each `client_ready`.

    Called at locustfile import, before Locust creates its runner (and before `--processes`
    forks), so every worker of this process tree uses it.
    """
    import locust.env
    from locust.rpc import Message
    from locust.runners import WorkerRunner

    if getattr(locust.env.WorkerRunner, "bench_hello", False):
        return

    class TokenWorkerRunner(WorkerRunner):
        bench_hello = True

        def connect_to_master(self) -> None:  # Locust calls it at start and to reconnect
            token = os.environ.get(RUN_TOKEN_ENV, "")
            self.client.send(Message(HELLO_MSG, {"token": token}, self.client_id))
            super().connect_to_master()

    locust.env.WorkerRunner = TokenWorkerRunner  # type: ignore[misc]


class WorkerGate:
    """On the master: admit only workers whose hello carried the run's token."""

    def __init__(self, runner: Any, token: str):
        self.runner = runner
        self.token = token
        self.admitted: set[str] = set()
        self.refused: set[str] = set()
        self._handle = runner.handle_message
        runner.handle_message = self.handle_message  # Locust's receive loop calls this

    def handle_message(self, client_id: str, msg: Any) -> None:
        from locust.rpc import Message

        node = str(msg.node_id)
        if msg.type == HELLO_MSG:
            given = str((msg.data or {}).get("token", "")).encode()
            if self.token and hmac.compare_digest(given, self.token.encode()):
                self.admitted.add(node)
                self.refused.discard(node)
            return
        if node in self.admitted:
            self._handle(client_id, msg)
            return
        if node not in self.refused:
            self.refused.add(node)
            log.warning("refused Locust worker %s: it did not present the run's token", node)
        if msg.type == "client_ready":
            self.runner.server.send_to_client(Message("quit", None, node))
