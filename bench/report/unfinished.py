"""Work a run did not finish: a run whose requests hung never compares as clean.

Latency, throughput and accuracy count finished work only, so a run whose requests hung reads
as fast and accurate: the hung sessions simply drop out. `bench compare` names such runs above
its table, and a `--fail-on` gate fails on them (`bench.report.gates`). A run is not clean when:

- its manifest's status is not `completed` (interrupted, load failed, ...);
- it has work still in flight after the drain (`sessions_incomplete`, `turns_incomplete`,
  `llm_calls_incomplete`: the summary columns of the drain, in runs that have them);
- (older runs, without the drain's columns) a measured turn was still running at the stop after
  more than twice the run's slowest completed turn: a hung or stalled request, not a turn that
  merely started late. Twice, because a turn in flight at the stop is by chance the oldest now
  and then; a hang is older by far.

The counts of failed, unscored, truncated and cut-short sessions, and the finish-reason counts
(any summary column with `finish`, `empty`, `malformed` or `rescued` in its name), are listed
with the run whenever they are not zero: they explain a figure without making the run unclean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from bench.report.metrics import failed_mask, incomplete_mask
from bench.report.runs import Run

STALL_FACTOR = 2.0
INCOMPLETE = re.compile(r"^(sessions|turns|llm_calls|calls)_incomplete$")
COUNTED = re.compile(
    r"^sessions_(failed|unscored|cut_short)$|^llm_calls_failed$|finish|empty|malformed|rescued"
)


@dataclass
class Unfinished:
    """What a run left unfinished, and the counts that explain its figures."""

    run_id: str
    status: str
    stalled_turns: int = 0
    slowest_completed_ms: float | None = None
    incomplete: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.status == "completed" and not self.stalled_turns and not self.incomplete

    def reasons(self) -> list[str]:
        out = []
        if self.status != "completed":
            out.append(f"status {self.status}")
        out += [f"{n} {name.replace('_', ' ')} (in flight after the drain)"
                for name, n in self.incomplete.items()]  # fmt: skip
        if self.stalled_turns:
            slowest = (
                f"{STALL_FACTOR:g} x its slowest completed turn ({self.slowest_completed_ms:.1f} ms)"
                if self.slowest_completed_ms is not None
                else "any turn completed"
            )
            out.append(
                f"{self.stalled_turns} turn(s) still running at the stop after more than "
                f"{slowest}: hung requests"
            )
        return out

    def warning(self) -> str:
        return (
            f"WARNING: {self.run_id} did not finish cleanly: {'; '.join(self.reasons())}. "
            "Incomplete work counts in its latency percentiles at its age (a lower bound, >=) "
            "and has no verdict in task success."
        )

    def counts_text(self) -> str:
        return ", ".join(f"{name} {n}" for name, n in self.counts.items())


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return 0
    return int(value)


def stalled_turns(run: Run) -> tuple[int, float | None]:
    """Measured turns in flight at the stop, older than STALL_FACTOR x the slowest completed."""
    if run.summary.get("turns_incomplete") == 0:
        return 0, None  # nothing was in flight: no need to read the turns
    turns = run.measured("turns")
    if turns.empty or "latency_ms" not in turns.columns:
        return 0, None
    cut = incomplete_mask(turns)
    done = turns[~cut & ~failed_mask(turns)]["latency_ms"].dropna()
    ages = turns[cut]["latency_ms"].to_numpy(dtype=float, na_value=np.nan)
    if done.empty:
        return int(cut.sum()), None
    slowest = float(done.max())
    return int((ages > STALL_FACTOR * slowest).sum()), slowest


def unfinished(run: Run) -> Unfinished:
    status = run.manifest.status.value if run.manifest else str(run.summary.get("status") or "")
    stalled, slowest = stalled_turns(run)
    summary = run.summary
    incomplete = {k: _count(v) for k, v in summary.items() if INCOMPLETE.match(k) and _count(v)}
    counts = {
        k: _count(v)
        for k, v in summary.items()
        if COUNTED.search(k) and not INCOMPLETE.match(k) and _count(v)
    }
    if incomplete:
        stalled = 0  # the drain's own count says it; the stall rule is for older runs
    return Unfinished(run.run_id, status or "completed", stalled, slowest, incomplete, counts)
