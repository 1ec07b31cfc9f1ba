"""anyio's worker threads, in the load process, replaced by the agents' loop's real threads.

Locust gevent-patches `threading`, so anyio's `to_thread.run_sync` workers (they subclass the
patched `threading.Thread`) are greenlets, which the plain asyncio loop of the load process
(bench.load.bridge.PlainLoop) would never run: `use_plain_threads_for_anyio()` makes anyio hand
the work to the loop's executor, whose threads are real. Gated (bench.compat.gate): without it,
code that runs work through anyio's threads (MCP toolsets) waits on it forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from bench.compat import gate

T = TypeVar("T")


def missing() -> list[str]:
    import anyio.to_thread

    return [] if hasattr(anyio.to_thread, "run_sync") else ["anyio.to_thread.run_sync"]


PATCH = gate.Patch(
    "anyio on real threads", ("anyio",), missing, needs=("anyio", "gevent"),
    without="work anyio runs in a thread (MCP toolsets) can wait forever",
)  # fmt: skip


async def _run_sync_in_loop_executor(func: Callable[..., T], *args: Any, **_anyio: Any) -> T:
    """anyio's `to_thread.run_sync`, on the running loop's default executor."""
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


def use_plain_threads_for_anyio() -> None:
    if not gate.allowed("anyio_threads"):
        return
    import anyio.to_thread

    anyio.to_thread.run_sync = _run_sync_in_loop_executor  # type: ignore[assignment]
