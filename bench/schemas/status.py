"""How a run ended: a closed set of values, the exit code each maps to, and `Stop`, the one
type that says how a step, run, sweep or search ended."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"  # SIGINT / SIGTERM: exit 130 / 143 from the signal itself
    SERVER_FAILED = "server_failed"
    LOAD_FAILED = "load_failed"
    DISK_FULL = "disk_full"
    PREFLIGHT_FAILED = "preflight_failed"  # tool calls do not work: wrong parser or template
    FAILED = "failed"  # a sweep or SLA search whose point failed for another reason

    @property
    def ok(self) -> bool:
        return self is RunStatus.COMPLETED


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def exit_code(status: RunStatus, signum: int | None = None) -> int:
    """0 completed; 128+signal when interrupted (130 SIGINT, 143 SIGTERM); 1 otherwise."""
    if status is RunStatus.COMPLETED:
        return EXIT_OK
    if status is RunStatus.INTERRUPTED:
        return 128 + (signum or 2)
    return EXIT_FAILED


@dataclass(frozen=True)
class Stop:
    """How a load step, run, sweep or SLA search ended: its status, what to tell the user, and
    the signal that stopped it (which sets the exit code of an interrupted run)."""

    status: RunStatus
    message: str = ""
    signum: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.COMPLETED

    @property
    def exit_code(self) -> int:
        return exit_code(self.status, self.signum)


COMPLETED = Stop(RunStatus.COMPLETED)


class Stopped:
    """Reads of the `stop` a result holds (status, message, signum, ok, exit_code)."""

    stop: Stop

    @property
    def status(self) -> RunStatus:
        return self.stop.status

    @property
    def message(self) -> str:
        return self.stop.message

    @property
    def signum(self) -> int | None:
        return self.stop.signum

    @property
    def ok(self) -> bool:
        return self.stop.ok

    @property
    def exit_code(self) -> int:
        return self.stop.exit_code
