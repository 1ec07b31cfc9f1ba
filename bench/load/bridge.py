"""Run asyncio coroutines (ADK, LiteLLM) from gevent greenlets (Locust users).

One asyncio event loop per process runs in a real OS thread, started with gevent's original
`start_new_thread` on first use, so after Locust's `--processes` fork, never before it.
`run_coroutine` submits a coroutine to that loop and parks only the calling greenlet on a gevent
async watcher, which the future's done-callback wakes from the loop thread (`async_.send()` is
thread-safe). Blocking a greenlet on a `concurrent.futures` result would block the whole hub.
If the greenlet is killed (Locust stopping users), the coroutine is cancelled.

`ThreadSafeNotifier` carries work the other way: the loop thread queues callables that run in
the gevent hub thread (Locust's stats are not thread-safe, so events are fired there).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import gevent
from gevent import monkey
from gevent.hub import Waiter

T = TypeVar("T")

_start_new_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")


class AsyncioThread:
    """An asyncio loop in a real OS thread, owned by the process that started it."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None
        self._guard = _allocate_lock()
        self._finished: Any = None  # a real lock held while the thread runs

    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None and self._pid == os.getpid():
            return self._loop
        with self._guard:
            if self._loop is None or self._pid != os.getpid():
                self._loop = self._start()
                self._pid = os.getpid()
        return self._loop

    def _start(self) -> asyncio.AbstractEventLoop:
        ready = _allocate_lock()
        ready.acquire()
        finished = _allocate_lock()
        finished.acquire()
        self._finished = finished
        box: list[asyncio.AbstractEventLoop] = []

        def run() -> None:
            try:
                loop = asyncio.new_event_loop()  # created inside its own thread (else LoopExit)
                asyncio.set_event_loop(loop)
                box.append(loop)
                ready.release()
                loop.run_forever()
                loop.close()
            finally:
                finished.release()

        _start_new_thread(run, ())
        ready.acquire()  # a real lock: the thread signals within milliseconds
        return box[0]

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Close LiteLLM's async clients, stop the loop and wait for its thread to end.

        Call before the interpreter exits: a thread frozen at shutdown while it holds an import
        lock deadlocks the finaliser of LiteLLM's HTTP handler in the main thread.
        """
        loop, finished = self._loop, self._finished
        if loop is None or self._pid != os.getpid() or finished is None:
            return True

        async def close_clients() -> None:
            try:
                from litellm.llms.custom_httpx.async_client_cleanup import (
                    close_litellm_async_clients,
                )

                await asyncio.wait_for(close_litellm_async_clients(), timeout_s / 2)
            except Exception:
                pass

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close_clients(), loop).result(timeout_s / 2)
        loop.call_soon_threadsafe(loop.stop)
        self._loop = None
        return bool(finished.acquire(True, timeout_s))


_THREAD = AsyncioThread()


def loop() -> asyncio.AbstractEventLoop:
    return _THREAD.loop()


def shutdown(timeout_s: float = 5.0) -> bool:
    """Stop this process's asyncio thread (see `AsyncioThread.shutdown`); True if it ended."""
    return _THREAD.shutdown(timeout_s)


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the process's asyncio thread; block only the calling greenlet."""
    future = asyncio.run_coroutine_threadsafe(coro, loop())
    hub = gevent.get_hub()
    watcher = hub.loop.async_()
    waiter = Waiter(hub)
    watcher.start(waiter.switch, None)
    future.add_done_callback(lambda _f: watcher.send())
    try:
        waiter.get()
    except BaseException:
        future.cancel()  # GreenletExit from Locust stopping the user: stop the session too
        raise
    finally:
        watcher.stop()
        watcher.close()
    return future.result()


class ThreadSafeNotifier:
    """Queue callables from any thread; they run in the hub thread that created the notifier."""

    def __init__(self) -> None:
        self._queue: collections.deque[Callable[[], None]] = collections.deque()
        self._watcher = gevent.get_hub().loop.async_()
        self._watcher.start(self._drain)

    def call(self, fn: Callable[[], None]) -> None:
        self._queue.append(fn)
        self._watcher.send()

    def _drain(self) -> None:
        while self._queue:
            fn = self._queue.popleft()
            try:
                fn()
            except Exception:  # a listener failing must not stop the pump
                logging.getLogger(__name__).exception("event listener failed")

    def drain(self) -> None:
        """Run what is queued now (call from the hub thread, e.g. before quitting)."""
        self._drain()
