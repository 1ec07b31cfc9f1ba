"""Session tickets shared by every Locust process of a run (a counter file under flock).

Ticket k names the k-th measured session of the run: with n cases in the case order (file
order, or shuffled once by the seed) repeated, ticket k runs case `order[k % n]` as trial
`k // n`. Tickets stop at `max_sessions`, or at `n * trials` when trials > 1 and no
`max_sessions` is set; otherwise they never run out (the duration ends the run).

This makes round robin global across `--processes` and gives `--sessions N` exact counts. With
a session rate (open loop) each ticket also carries its arrival time on one schedule shared by
all processes, starting at the first claim: constant gaps of 1/rate, or exponential gaps
(Poisson arrivals) drawn from a generator seeded per ticket, so the schedule is reproducible.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from bench.schemas.run_dir import RunDir


@dataclass(frozen=True)
class Ticket:
    number: int
    case_index: int
    trial: int
    arrival_at: float | None = None  # epoch seconds; None in a closed loop


class TicketCounter:
    def __init__(
        self,
        run_dir: str | Path,
        n_cases: int,
        *,
        seed: int | None = None,
        trials: int = 1,
        max_sessions: int | None = None,
        session_rate: float | None = None,
        arrival: str = "poisson",
    ):
        if n_cases < 1:
            raise ValueError("n_cases must be at least 1")
        self.path = RunDir(Path(run_dir)).tickets
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.n_cases = n_cases
        self.order = list(range(n_cases))
        if seed is not None:
            random.Random(seed).shuffle(self.order)
        self.seed = seed
        self.session_rate = session_rate
        self.arrival = arrival
        if max_sessions is not None:
            self.limit: int | None = max_sessions
        elif trials > 1:
            self.limit = n_cases * trials
        else:
            self.limit = None

    def _gap_s(self, number: int) -> float:
        assert self.session_rate
        if self.arrival == "constant":
            return 1.0 / self.session_rate
        return random.Random(f"{self.seed}:{number}").expovariate(self.session_rate)

    def claim(self) -> Ticket | None:
        """The next ticket, or None when they have run out. Safe across processes."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        with os.fdopen(fd, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                text = fh.read()
                state = json.loads(text) if text.strip() else {}
                number = int(state.get("next", 0))
                if self.limit is not None and number >= self.limit:
                    return None
                arrival_at = None
                if self.session_rate:
                    t0 = float(state.get("t0") or time.time())
                    offset = float(state.get("next_arrival_s", 0.0))
                    arrival_at = t0 + offset
                    state["t0"] = t0
                    state["next_arrival_s"] = offset + self._gap_s(number)
                state["next"] = number + 1
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps(state))
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return Ticket(
            number=number,
            case_index=self.order[number % self.n_cases],
            trial=number // self.n_cases,
            arrival_at=arrival_at,
        )
