"""What a stuck load process waits on: `kill -USR2 <load process pid>` writes every greenlet's
stack and every asyncio task of its loops, down each task's await chain, to `locust.log`
(`kill -USR1` writes the threads' stacks: bench.load.locustfile). A task's own stack stops at the
first `async for`; the async generators it waits in are listed apart."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import traceback
from collections.abc import Iterator
from typing import Any

import greenlet

from bench.load import bridge


def _awaiting(obj: Any) -> Iterator[str]:
    """Where a coroutine waits, frame by frame down its await chain."""
    for _ in range(40):
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if frame is not None:
            yield f"{frame.f_code.co_name} {frame.f_code.co_filename}:{frame.f_lineno}"
        nxt = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
        if nxt is None:
            yield repr(obj)[:300]
            return
        obj = nxt


def _dump_greenlets(file: Any) -> None:
    for g in gc.get_objects():
        if isinstance(g, greenlet.greenlet) and g.gr_frame is not None:
            print(f"--- greenlet {g!r:.120}", file=file)
            traceback.print_stack(g.gr_frame, limit=25, file=file)
    file.flush()


def dump_tasks(file: Any) -> None:
    """Write every asyncio task of this process's loops, with where it waits, to `file`: what a
    stuck session waits on (`kill -USR2 <load process pid>`; USR1 writes the threads' stacks)."""
    _dump_greenlets(file)
    for name, loop in bridge.running_loops().items():

        def write(loop: asyncio.AbstractEventLoop = loop, name: str = name) -> None:
            tasks = asyncio.all_tasks(loop)
            print(f"--- {len(tasks)} asyncio task(s) on the {name} loop", file=file, flush=True)
            for task in tasks:
                task.print_stack(limit=30, file=file)
                for where in _awaiting(task.get_coro()):
                    print(f"    awaits {where}", file=file)
            if name == "agents":  # `async for` hides the generators a task waits in: list them
                for gen in gc.get_objects():
                    if inspect.isasyncgen(gen) and gen.ag_running and gen.ag_frame is not None:
                        code = gen.ag_frame.f_code
                        print(f"  async generator {code.co_name} at {code.co_filename}:"
                              f"{gen.ag_frame.f_lineno} awaits {list(_awaiting(gen.ag_await))}",
                              file=file)  # fmt: skip
            file.flush()

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(write)
