"""How a run ended: a closed set of values, and the exit code each maps to."""

from __future__ import annotations

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
