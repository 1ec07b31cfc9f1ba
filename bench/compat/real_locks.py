"""Locks that the agents' loop and the executor's real threads share, made real.

gevent patches `threading` (and the locks that exist then, logging's among them), so these are
gevent locks, on which real threads cannot wait for each other: two LLM calls that started
together in a fresh load process (a ParallelAgent's first turn) left one of them waiting forever,
about one run in eight, on logging's module lock or on pydantic's (and LiteLLM's) lock for
building models on first use. A greenlet of the hub thread that meets one held by a real thread
waits the few microseconds it is held. Gated (bench.compat.gate); the warning line says what
going without it risks.
"""

from __future__ import annotations

import logging

from bench.compat import gate

LOGGING_NAMES = ("_lock", "_handlerList", "_register_at_fork_reinit_lock")


def missing() -> list[str]:
    import pydantic.main
    from gevent import monkey
    from litellm.types.llms import base_model

    return [
        *(f"logging.{n}" for n in LOGGING_NAMES if not hasattr(logging, n)),
        *([] if hasattr(logging.Handler, "createLock") else ["logging.Handler.createLock"]),
        *([] if hasattr(pydantic.main, "_rebuild_lock") else ["pydantic.main._rebuild_lock"]),
        *([] if hasattr(base_model, "_SCHEMA_BUILD_LOCK") else
          ["litellm.types.llms.base_model._SCHEMA_BUILD_LOCK"]),
        *([] if hasattr(monkey, "get_original") else ["gevent.monkey.get_original"]),
    ]  # fmt: skip


PATCH = gate.Patch(
    "real locks", ("litellm", "pydantic", "gevent"), missing, needs=("gevent", "litellm", "pydantic"),
    without="a ParallelAgent's first turn can hang",
)  # fmt: skip


def use_real_locks_across_threads() -> None:
    if not gate.allowed("real_locks"):
        return
    import pydantic.main
    from gevent import monkey
    from litellm.types.llms import base_model

    real_rlock = monkey.get_original("_thread", "RLock")
    logging._lock = real_rlock()  # type: ignore[attr-defined]
    for ref in list(logging._handlerList):  # type: ignore[attr-defined]
        handler = ref()
        if handler is not None and handler.lock is not None:
            handler.lock = real_rlock()

    def create_lock(handler: logging.Handler) -> None:
        handler.lock = real_rlock()
        logging._register_at_fork_reinit_lock(handler)  # type: ignore[attr-defined]

    logging.Handler.createLock = create_lock  # type: ignore[method-assign, assignment]
    pydantic.main._rebuild_lock = real_rlock()  # type: ignore[attr-defined]
    base_model._SCHEMA_BUILD_LOCK = real_rlock()  # type: ignore[misc]
