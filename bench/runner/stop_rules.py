"""Why a load step ends: a list of small rules, each asked once per tick.

Each rule looks at one `Tick` (the facts gathered once per tick) and returns None (go on) or a
`Stop` (bench.schemas.status). The first rule that stops wins, so the order is the priority: a signal beats a full
disk beats a dead server beats Locust's own exit beats the targets and the watchdogs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.runner.signals import signal_name
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus, Stop

LOAD_START_TIMEOUT_S = 180.0  # Locust's imports on a busy machine; no user by then = stuck
LOAD_EXIT_DEADLINE_S = 15.0  # after the duration and Locust's stop timeout: a hung Locust is killed
LOCUST_OK_CODES = (0, 1)  # Locust exits 1 when any request failed; that is data, not a crash


@dataclass(frozen=True)
class Tick:
    """What the load loop saw at one tick."""

    run_dir: RunDir
    since_start_s: float  # since the Locust child started
    elapsed_s: float  # since the first record (Locust's imports take a while), else since start
    load_started: bool  # a record exists: a user ran
    sessions: int  # measured (not warm-up) sessions completed
    turns: int
    disk_free_bytes: int
    server_alive: bool = True  # an attached server always counts as alive
    server_code: int | None = None
    locust_code: int | None = None  # None while Locust runs
    signum: int | None = None  # a SIGINT/SIGTERM received


StopRule = Callable[[Tick], Stop | None]


def signal_received(t: Tick) -> Stop | None:
    if t.signum is None:
        return None
    return Stop(RunStatus.INTERRUPTED, f"stopped by {signal_name(t.signum)}", t.signum)


@dataclass(frozen=True)
class DiskFull:
    min_free_bytes: int

    def __call__(self, t: Tick) -> Stop | None:
        if t.disk_free_bytes >= self.min_free_bytes:
            return None
        return Stop(RunStatus.DISK_FULL, f"the results folder {t.run_dir} is full; "
                    "the raw records written so far are kept")  # fmt: skip


def server_exited(t: Tick) -> Stop | None:
    if t.server_alive:
        return None
    code = "?" if t.server_code is None else t.server_code
    return Stop(RunStatus.SERVER_FAILED,
                f"the vLLM server exited (code {code}); see {t.run_dir.server_log}")  # fmt: skip


def locust_exited(t: Tick) -> Stop | None:
    if t.locust_code is None:
        return None
    if t.locust_code in LOCUST_OK_CODES and (t.load_started or t.locust_code == 0):
        return Stop(RunStatus.COMPLETED)
    if not t.load_started:  # it failed before any session (no request could have failed)
        return Stop(RunStatus.LOAD_FAILED, f"the load process failed before any session: "
                    f"{_last_error(t.run_dir.locust_log)} (see {t.run_dir.locust_log})")  # fmt: skip
    return Stop(RunStatus.LOAD_FAILED, f"the Locust process exited with code {t.locust_code}; "
                f"see {t.run_dir.locust_log}")  # fmt: skip


def _last_error(log: Path) -> str:
    """The last exception line of a log (its message), or a pointer to the log."""
    try:
        lines = log.read_text(errors="replace").splitlines()[-200:]
    except OSError:
        return "no log"
    for line in reversed(lines):
        name, sep, message = line.partition(": ")
        if sep and name.rsplit(".", 1)[-1].endswith(("Error", "Exception")) and " " not in name:
            return f"{name.rsplit('.', 1)[-1]}: {message}"
    return "no error line in its log"


@dataclass(frozen=True)
class SessionTarget:
    """--sessions N: done once N measured sessions completed."""

    sessions: int

    def __call__(self, t: Tick) -> Stop | None:
        return Stop(RunStatus.COMPLETED) if t.sessions >= self.sessions else None


@dataclass(frozen=True)
class LoadNeverStarted:
    """No record within the timeout: the Locust child is stuck (not in web mode: a human starts)."""

    timeout_s: float = LOAD_START_TIMEOUT_S

    def __call__(self, t: Tick) -> Stop | None:
        if t.load_started or t.since_start_s <= self.timeout_s:
            return None
        return Stop(RunStatus.LOAD_FAILED,
                    f"the Locust process ran no user in {self.timeout_s:.0f} s; killed it")  # fmt: skip


@dataclass(frozen=True)
class LoadHung:
    """Still running well past the duration: Locust did not stop by itself."""

    deadline_s: float  # duration + Locust's stop timeout + slack

    def __call__(self, t: Tick) -> Stop | None:
        if not t.load_started or t.elapsed_s <= self.deadline_s:
            return None
        return Stop(RunStatus.LOAD_FAILED,
                    "the Locust process did not stop after the duration (hung); killed it")  # fmt: skip


def stop_rules(
    *,
    sessions: int | None,
    duration_s: float | None,
    web: bool,
    stop_timeout_s: float,
    extra_allowance_s: float = 0.0,
    min_free_bytes: int,
) -> list[StopRule]:
    """The rules of one load step, in priority order."""
    rules: list[StopRule] = [signal_received, DiskFull(min_free_bytes), server_exited,
                             locust_exited]  # fmt: skip
    if sessions is not None:
        rules.append(SessionTarget(sessions))
    if not web:  # in the web UI a human starts and stops the test
        rules.append(LoadNeverStarted(LOAD_START_TIMEOUT_S + extra_allowance_s))
        if duration_s is not None:
            deadline = duration_s + stop_timeout_s + LOAD_EXIT_DEADLINE_S + extra_allowance_s
            rules.append(LoadHung(deadline))
    return rules


def first_stop(rules: Sequence[StopRule], tick: Tick) -> Stop | None:
    for rule in rules:
        stop = rule(tick)
        if stop is not None:
            return stop
    return None
