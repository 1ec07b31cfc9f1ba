"""The load's stop as a session sees it: from then on no session or turn starts.

k6's graceful stop, per turn: when the load stops (`--duration` is over, `--sessions N` are done,
Ctrl-C), a session finishes the turn it is in but starts no other; one in think time ends at once.
Work still in flight when the drain (`--drain`, Locust's stop timeout) ends is cancelled by Locust
and recorded incomplete, with its age at the cut (`bench.agent.session`, `bench.agent.timed_model`).

`stop()` is called from the Locust hub thread; sessions run on the asyncio thread
(`bench.load.bridge`) and wait on it with `sleep()`, which wakes at the stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


class LoadStop:
    """Set once, when the load stops; thread-safe."""

    def __init__(self) -> None:
        self.stopped_at: float | None = None  # epoch seconds
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def is_set(self) -> bool:
        return self.stopped_at is not None

    def stop(self) -> float:
        """Stop now (a second call keeps the first time); returns when it stopped."""
        with self._lock:
            if self.stopped_at is None:
                self.stopped_at = time.time()
            waiters, stopped_at = list(self._waiters), self.stopped_at
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(event.set)
        return stopped_at

    async def sleep(self, seconds: float) -> bool:
        """Sleep `seconds` unless the load stops first; True when it has stopped."""
        if seconds <= 0 or self.is_set:
            return self.is_set
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            if self.stopped_at is not None:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter[1].wait(), seconds)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)
        return self.is_set
