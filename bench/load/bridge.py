"""Run asyncio coroutines (ADK, LiteLLM) from gevent greenlets (Locust users).

One asyncio event loop per process runs in a real OS thread, started with gevent's original
`start_new_thread` on first use, so after Locust's `--processes` fork, never before it.
`run_coroutine` submits a coroutine to that loop and parks only the calling greenlet on a gevent
async watcher, which the future's done-callback wakes from the loop thread (`async_.send()` is
thread-safe). Blocking a greenlet on a `concurrent.futures` result would block the whole hub.
If the greenlet is killed (Locust stopping users), the coroutine is cancelled.

`ThreadSafeNotifier` carries work the other way: the loop thread queues callables that run in
the gevent hub thread (Locust's stats are not thread-safe, so events are fired there).

The loop itself runs without gevent (`PlainLoop`). Locust patches `selectors` and `threading`, so
a stock loop in that thread would select through gevent's hub and run its executor work
(LiteLLM's request set-up, `asyncio.to_thread`, anyio's worker threads) as greenlets of that
hub: measured with `benchmarks/load_overhead.py`, that cost a load process about a fifth of its
CPU per turn (97 -> 76 CPU-ms on the 2-core test machine). The plain loop selects with the
standard library's selector and runs executor work in real OS threads; the few greenlets a
library may still start in the loop thread get the hub every 50 ms. Its self-pipe (how a worker
thread wakes the loop with a result) is a pair of C sockets, not gevent's wrappers. Its
subprocesses (an MCP toolset's stdio server) are reaped by a real thread, and started with the
standard library's `Popen` (`bench.compat.plain_subprocess`); anyio's worker threads are the
loop's real ones (`bench.compat.anyio_threads`).
"""

from __future__ import annotations

import _socket
import asyncio
import asyncio.unix_events
import collections
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import gevent
from gevent import monkey
from gevent.hub import Waiter

from bench.compat.anyio_threads import use_plain_threads_for_anyio
from bench.compat.plain_subprocess import use_plain_subprocess

T = TypeVar("T")

_start_new_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")


class AsyncioThread:
    """An asyncio loop in a real OS thread, owned by the process that started it. `agents`: the
    loop ADK and LiteLLM run on (its thread's gevent hub gets a turn now and then, for greenlets
    a library starts there, and LiteLLM's clients are closed at shutdown); else a loop that only
    reads (bench.agent.wire_arrival)."""

    def __init__(self, *, agents: bool = True) -> None:
        self._agents = agents
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
                use_plain_threads_for_anyio()
                use_plain_subprocess()
                loop = PlainLoop(hub_tick=self._agents)  # made in its thread (else LoopExit)
                if self._agents:
                    # This thread's hub is made now, while the caller waits on `ready`: two
                    # threads making their first hub at once deadlock in gevent's imports.
                    gevent.get_hub()
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

        if self._agents:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close_clients(), loop).result(timeout_s / 2)
        if isinstance(loop, PlainLoop):
            loop.stop_workers()
        loop.call_soon_threadsafe(loop.stop)
        self._loop = None
        return bool(finished.acquire(True, timeout_s))


_SimpleQueue = monkey.get_original("queue", "SimpleQueue")  # blocks a real thread, not a greenlet
_waitpid = monkey.get_original("os", "waitpid")
_EXECUTOR_THREADS = min(32, (os.cpu_count() or 1) + 4)  # concurrent.futures' default
_HUB_TICK_S = 0.05


class PlainLoop(asyncio.SelectorEventLoop):
    """An asyncio loop that uses no gevent: the standard selector, executor work in real threads.

    `run_in_executor(None, ...)` (and so `asyncio.to_thread`, `loop.getaddrinfo`, LiteLLM's
    request set-up) runs in a pool of real OS threads started with gevent's original
    `start_new_thread`; results come back with `call_soon_threadsafe`. A named executor is used
    as given.
    """

    def __init__(self, *, hub_tick: bool = True) -> None:
        super().__init__(monkey.get_original("selectors", "DefaultSelector")())
        self._jobs: Any = _SimpleQueue()
        self._guard = _allocate_lock()
        self._threads = 0
        self._idle = 0
        if hub_tick:
            self.call_soon(self._hub_tick)

    def _make_self_pipe(self) -> None:
        # The socket module is patched, so asyncio's self-pipe would be a pair of gevent sockets:
        # every `call_soon_threadsafe` from a worker thread (each executor result) went through
        # gevent's Python socket layer. The C sockets under it do the same job.
        self._ssock, self._csock = _socket.socketpair()
        self._ssock.setblocking(False)
        self._csock.setblocking(False)
        self._internal_fds += 1  # type: ignore[attr-defined]  # asyncio's own bookkeeping
        self._add_reader(self._ssock.fileno(), self._read_from_self)  # type: ignore[attr-defined]

    def _hub_tick(self) -> None:
        # Greenlets a library starts from this thread (patched threading.Thread) run only when
        # this thread's hub does: give it a turn now and then.
        gevent.sleep(0)
        self.call_later(_HUB_TICK_S, self._hub_tick)

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        if executor is not None:
            return super().run_in_executor(executor, func, *args)
        if self.is_closed():
            raise RuntimeError("Event loop is closed")
        future: asyncio.Future[T] = self.create_future()

        def job() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (func(*args), None)
            except BaseException as exc:  # handed to the awaiting task, as an executor does
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                self.call_soon_threadsafe(_settle, future, *outcome)

        with self._guard:
            # Take an idle worker for this job at once (as concurrent.futures does): jobs submitted
            # together must not all count on the same idle worker and run one after another.
            start = False
            if self._idle > 0:
                self._idle -= 1
            elif self._threads < _EXECUTOR_THREADS:
                self._threads += 1
                start = True
        self._jobs.put(job)
        if start:
            _start_new_thread(self._work, ())
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()
            with self._guard:
                self._idle += 1

    async def _make_subprocess_transport(  # type: ignore[override]
        self, protocol: Any, args: Any, shell: bool, stdin: Any, stdout: Any, stderr: Any,
        bufsize: int, extra: Any = None, **kwargs: Any,
    ) -> Any:  # fmt: skip
        """asyncio's own steps (unix_events) with a real reaper thread instead of the policy's
        child watcher, whose threads are greenlets here (patched `threading`); `Popen` is the
        standard library's (bench.compat.plain_subprocess)."""
        waiter = self.create_future()
        transport = asyncio.unix_events._UnixSubprocessTransport(  # type: ignore[attr-defined]
            self, protocol, args, shell, stdin, stdout, stderr, bufsize, waiter=waiter,
            extra=extra, **kwargs)  # fmt: skip
        _start_new_thread(self._reap, (transport.get_pid(), transport))
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transport.close()
            await transport._wait()
            raise
        return transport

    def _reap(self, pid: int, transport: Any) -> None:
        try:
            _, status = _waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped by someone else (a waitpid(-1) elsewhere)
            code = 255
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.call_soon_threadsafe(transport._process_exited, code)

    def stop_workers(self) -> None:
        with self._guard:
            threads = self._threads
        for _ in range(threads):
            self._jobs.put(None)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


_THREAD = AsyncioThread()
# Reads the timed calls' responses and stamps each chunk on arrival (bench.agent.wire_arrival):
# a loop of its own, so chunks are not stamped when the busy agent loop gets to them.
_READER = AsyncioThread(agents=False)


def loop() -> asyncio.AbstractEventLoop:
    return _THREAD.loop()


def reader_loop() -> asyncio.AbstractEventLoop:
    return _READER.loop()


def running_loops() -> dict[str, asyncio.AbstractEventLoop]:
    """This process's loops that are running, by role (none is started here)."""
    loops = {"agents": _THREAD._loop, "reader": _READER._loop}
    return {name: lp for name, lp in loops.items() if lp is not None and not lp.is_closed()}


def shutdown(timeout_s: float = 5.0) -> bool:
    """Stop this process's asyncio threads (see `AsyncioThread.shutdown`), the agents' loop
    first (its calls read on the reader's); True if they ended."""
    ended = _THREAD.shutdown(timeout_s)
    return _READER.shutdown(timeout_s) and ended


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
