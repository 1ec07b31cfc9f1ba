"""What a run is doing, reported while it does it (the CLI shows it as a live line or log lines).

A `Progress` is one report: the phase (checking the inputs, measuring the client, starting vLLM
and its loading stage, the preflight, starting load processes, the load) and how long it has
been in it. Phases that block without reports of their own run inside `ticking(...)`, which
reports them every second from a thread of its own, so the user hears from bench at least that
often whatever the phase is doing.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

TICK_S = 1.0


@dataclass
class Progress:
    elapsed_s: float
    duration_s: float | None
    sessions: int
    sessions_target: int | None
    turns: int
    phase: str  # ... | starting load processes | load | draining
    note: str | None = None  # a line to show once and keep (the web UI's address when it answers)
    # failed turns so far by error class, and the first message of each class
    errors: dict[str, int] = field(default_factory=dict)
    first_errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_phase(cls, phase: str, elapsed_s: float, note: str | None = None) -> Progress:
        """A report of a phase before the load (no sessions yet)."""
        return cls(elapsed_s, None, 0, None, 0, phase, note)


OnProgress = Callable[[Progress], None]


@contextlib.contextmanager
def ticking(on_progress: OnProgress | None, phase: str) -> Iterator[None]:
    """Report `phase` at once and then every second until the block ends."""
    if on_progress is None:
        yield
        return
    started = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while True:
            on_progress(Progress.of_phase(phase, time.monotonic() - started))
            if done.wait(TICK_S):
                return

    thread = threading.Thread(target=tick, name=f"progress: {phase}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=2 * TICK_S)
