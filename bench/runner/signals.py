"""SIGINT and SIGTERM during a run: finish cleanly (stop the load, write the tables), keep the
signal so the exit code is 128 + its number (130, 143), and force on a second Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_pending: list[int] = []


class Interrupted(Exception):
    """Raised where waiting cannot be cut into ticks (the server start)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, _frame: object) -> None:
    if _pending:  # a second Ctrl-C forces
        raise KeyboardInterrupt
    _pending.append(signum)


def pending_signal() -> int | None:
    """The first signal received since the handlers were installed, if any."""
    return _pending[0] if _pending else None


def check_interrupt() -> None:
    if _pending:
        raise Interrupted(_pending[0])


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


@contextmanager
def trap_signals() -> Iterator[None]:
    """SIGINT/SIGTERM are recorded instead of killing the process, inside the block."""
    _pending.clear()
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
