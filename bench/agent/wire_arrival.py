"""Wire timestamps taken where the bytes arrive, not where the agent's event loop gets to them.

The agent's event loop (ADK, LiteLLM) is busy under load: a chunk that has arrived waits behind
the callbacks ahead of it, so a timestamp taken when that loop pulls the chunk reads late, and
chunks that waited together read as one batch (ITL near 0). So each HTTP exchange of a timed
call runs on a reader: a real OS thread with an event loop of its own that does nothing but
read. It stamps every body chunk on receipt, feeds it to the call's `WireTiming` there, and
hands it to the agent's loop, which notes how long the chunk waited for it (`note_pull`: the
pull delay, what the agent's own queueing adds to what it sees).

How: the httpx transport of the timed LiteLLM client (LiteLLM's own: aiohttp, or httpx's for
proxies) is wrapped in `ArrivalTransport`, which runs the transport's `handle_async_request` on
the reader's loop and reads the response body there as it comes. The request is the
`httpx.Request` the client built, sent by the same transport, so its bytes are unchanged
(tests/unit/load/test_lean_adk.py). A thread needs the interpreter lock to stamp: `enable` lowers
the switch interval (`SWITCH_INTERVAL_S`), so a busy agent thread hands the lock over within
that much of a chunk's arrival instead of CPython's default 5 ms.

Off unless `enable()`d (the load process does, bench.load.locustfile): elsewhere the timing
hooks of `bench.agent.wire_timing` stamp chunks as the agent's loop pulls them, as before.
Measured (benchmarks/timing_fidelity.py, the timing table of docs/development.md): see there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from bench.agent.wire_timing import TIMED_AT_ARRIVAL, WIRE_TIMING, WireTiming

SWITCH_INTERVAL_S = 0.0005  # how long a busy thread may keep the interpreter lock from the reader

ReaderLoop = Callable[[], asyncio.AbstractEventLoop]
_reader_loop: ReaderLoop | None = None


class _PlainReader:
    """The reader of a process without gevent: a daemon thread running its own event loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard = threading.Lock()

    def __call__(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=_run_then_close, args=(loop,), name="bench-wire-reader",
                                 daemon=True).start()  # fmt: skip
                self._loop = loop
            return self._loop

    def stop(self) -> None:
        with self._guard:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None


def _run_then_close(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_forever()
    loop.close()


def enable(reader_loop: ReaderLoop | None = None) -> None:
    """Read timed calls' responses on a reader loop from now on. `reader_loop()` returns that
    loop, running in its own thread (the load process passes one without gevent,
    bench.load.bridge); by default a daemon thread of this process."""
    global _reader_loop
    _reader_loop = reader_loop or _PlainReader()
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)


def disable() -> None:
    global _reader_loop
    _reader_loop = None


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Enabled for a block, on a reader thread of its own (the client-capacity calibration
    measures the load process's stack from the orchestrator's process); then as before."""
    global _reader_loop
    saved, interval, reader = _reader_loop, sys.getswitchinterval(), _PlainReader()
    enable(reader)
    try:
        yield
    finally:
        _reader_loop = saved
        sys.setswitchinterval(interval)
        reader.stop()


def enabled() -> bool:
    return _reader_loop is not None


def reader_loop() -> asyncio.AbstractEventLoop | None:
    """The loop that reads and stamps the responses (started now if need be); None when off."""
    return _reader_loop() if _reader_loop is not None else None


_END = object()


class _ArrivedBody(httpx.AsyncByteStream):
    """The response body as the reader received it: (chunk, arrival time) pairs queued by the
    reader thread, taken by the agent's loop, which notes each chunk's wait (the pull delay)."""

    def __init__(self, consumer: asyncio.AbstractEventLoop, timing: WireTiming | None) -> None:
        self._consumer = consumer
        self._timing = timing
        self._items: collections.deque[Any] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._wake_sent = False
        self._stopped: asyncio.Future[None] = consumer.create_future()  # the reader let go
        self.pump: asyncio.Task[None] | None = None  # on the reader's loop

    def reader_done(self) -> None:
        """The reader thread has stopped reading this body (finished, failed or cancelled)."""
        with contextlib.suppress(RuntimeError):  # the agent's loop is closed
            self._consumer.call_soon_threadsafe(_settle, self._stopped)

    # -- the reader thread
    def put(self, item: Any) -> None:
        self._items.append(item)
        if not self._wake_sent:  # one wake-up per batch: a busy consumer takes them together
            self._wake_sent = True
            try:  # noqa: SIM105 (once per chunk: try is cheaper than contextlib.suppress)
                self._consumer.call_soon_threadsafe(self._wake)
            except RuntimeError:  # the agent's loop is closed: nobody reads this any more
                pass

    # -- the agent's loop
    def _wake(self) -> None:
        self._wake_sent = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        clock = time.perf_counter
        ended = False
        try:
            while True:
                while not self._items:
                    self._waiter = self._consumer.create_future()
                    try:
                        await self._waiter
                    finally:
                        self._waiter = None
                item = self._items.popleft()
                if item is _END:
                    ended = True
                    return
                if isinstance(item, BaseException):
                    ended = True
                    raise item
                chunk, arrived_at = item
                if self._timing is not None:
                    self._timing.note_pull(clock() - arrived_at)
                yield chunk
        finally:
            if not ended:  # the reader left mid-reply (cancelled, closed): stop reading it, as
                self._stop_reading()  # the transport would close it, so the server stops too

    def _stop_reading(self) -> bool:
        """Ask the reader to stop reading this body; False when it is already done."""
        pump = self.pump
        if pump is None or pump.done():
            return pump is not None
        try:
            pump.get_loop().call_soon_threadsafe(pump.cancel)
        except RuntimeError:  # the reader's loop is closed: nothing reads any more
            return False
        return True

    async def aclose(self) -> None:
        """Stop the reader reading (the reply is abandoned, or done) and wait until it has, so
        the call's record is made from a timing nobody writes to any more."""
        if self._stop_reading():
            await asyncio.shield(self._stopped)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _pump(response: httpx.Response, body: _ArrivedBody, timing: WireTiming | None) -> None:
    """On the reader's loop: read the body as it comes, stamp and time every chunk there."""
    clock = time.perf_counter
    try:
        async for chunk in response.stream:  # type: ignore[union-attr]
            now = clock()
            if timing is not None:
                timing.feed(chunk, now)
            body.put((chunk, now))
        if timing is not None:
            timing.last_byte_at = clock()
            timing.finish()
        body.put(_END)
    except asyncio.CancelledError:  # the reply was let go, or the reader is shutting down
        body.put(httpx.ReadError("the wire reader stopped reading this reply"))
        raise
    except Exception as exc:  # the agent's loop raises it where it reads, as the transport would
        body.put(exc)
    finally:
        close = getattr(response.stream, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()


class ArrivalTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose exchanges run on the reader's loop (see the module docstring)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, reader_loop: ReaderLoop) -> None:
        self._inner = inner
        self._reader_loop = reader_loop

    async def _exchange(
        self, request: httpx.Request, timing: WireTiming | None, body: _ArrivedBody
    ) -> httpx.Response:
        if timing is not None:
            timing.request_at = time.perf_counter()  # the request leaves from here
        response = await self._inner.handle_async_request(request)
        if timing is not None:
            timing.headers_at = time.perf_counter()
        pump = asyncio.get_running_loop().create_task(_pump(response, body, timing))
        pump.add_done_callback(lambda _task: body.reader_done())  # also when cancelled unstarted
        body.pump = pump
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=body,
            extensions={**response.extensions, TIMED_AT_ARRIVAL: True},
            request=request,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timing = WIRE_TIMING.get()
        body = _ArrivedBody(asyncio.get_running_loop(), timing)
        exchange = asyncio.run_coroutine_threadsafe(
            self._exchange(request, timing, body), self._reader_loop()
        )
        return await asyncio.wrap_future(exchange)

    async def aclose(self) -> None:
        done = asyncio.run_coroutine_threadsafe(self._inner.aclose(), self._reader_loop())
        await asyncio.wrap_future(done)


def wrap_transports(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Route every exchange of `client` through the reader, when enabled. httpx keeps its
    transports in `_transport` and `_mounts` (0.28); without them the client stays as it was
    and its chunks are stamped in the agent's loop."""
    reader_loop = _reader_loop
    transport = getattr(client, "_transport", None)
    mounts = getattr(client, "_mounts", None)
    if reader_loop is None or not isinstance(transport, httpx.AsyncBaseTransport):
        return client
    if not isinstance(mounts, dict):
        return client
    client._transport = ArrivalTransport(transport, reader_loop)
    client._mounts = {
        pattern: None if mounted is None else ArrivalTransport(mounted, reader_loop)
        for pattern, mounted in mounts.items()
    }
    return client
