"""The load loop's stop rules, each against ticks the test makes up."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest

from bench.runner.run import RunResult
from bench.runner.signals import pending_signal, trap_signals
from bench.runner.stop_rules import (
    LOAD_EXIT_DEADLINE_S,
    LOAD_START_TIMEOUT_S,
    DiskFull,
    LoadHung,
    LoadNeverStarted,
    SessionTarget,
    Tick,
    first_stop,
    locust_exited,
    server_exited,
    signal_received,
    stop_rules,
)
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus, Stop

MiB = 1 << 20


def tick(**kw: object) -> Tick:
    base = Tick(run_dir=RunDir(Path("/r")), since_start_s=5.0, elapsed_s=2.0, load_started=True,
                sessions=0, turns=0, disk_free_bytes=100 * MiB)  # fmt: skip
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_each_rule_alone() -> None:
    assert signal_received(tick()) is None
    assert signal_received(tick(signum=signal.SIGTERM)) == Stop(
        RunStatus.INTERRUPTED, "stopped by SIGTERM", signal.SIGTERM
    )
    assert DiskFull(MiB)(tick()) is None
    assert DiskFull(MiB)(tick(disk_free_bytes=10)).status is RunStatus.DISK_FULL  # type: ignore[union-attr]
    assert server_exited(tick()) is None
    stop = server_exited(tick(server_alive=False, server_code=-9))
    assert stop is not None and stop.status is RunStatus.SERVER_FAILED
    assert "code -9" in stop.message and "/r/server.log" in stop.message
    assert locust_exited(tick()) is None
    assert locust_exited(tick(locust_code=0)) == Stop(RunStatus.COMPLETED)
    assert locust_exited(tick(locust_code=1)) == Stop(RunStatus.COMPLETED)  # failed requests: data
    stop = locust_exited(tick(locust_code=2))
    assert (
        stop is not None and stop.status is RunStatus.LOAD_FAILED and "locust.log" in stop.message
    )
    assert SessionTarget(5)(tick(sessions=4)) is None
    assert SessionTarget(5)(tick(sessions=5)) == Stop(RunStatus.COMPLETED)


def test_a_load_process_that_fails_before_any_session_fails_the_run(tmp_path: Path) -> None:
    """Python exits 1 on an exception at import, as Locust does when a request failed: before
    any record no request can have failed, so it is the load process's own failure, named."""
    run = RunDir(tmp_path)
    run.locust_log.write_text(
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
        "bench.schemas.errors.BenchError: agent folder /a/my_agent: its name is taken\n"
    )
    stop = locust_exited(tick(run_dir=run, locust_code=1, load_started=False))
    assert stop is not None and stop.status is RunStatus.LOAD_FAILED
    assert "BenchError: agent folder /a/my_agent: its name is taken" in stop.message
    # a web-mode Locust the user quit before starting any user exits 0: nothing failed
    assert locust_exited(tick(run_dir=run, locust_code=0, load_started=False)) == Stop(
        RunStatus.COMPLETED
    )


def test_watchdogs() -> None:
    never = LoadNeverStarted(timeout_s=10)
    assert never(tick(load_started=False, since_start_s=9)) is None
    assert never(tick(load_started=True, since_start_s=99)) is None
    assert never(tick(load_started=False, since_start_s=11)).status is RunStatus.LOAD_FAILED  # type: ignore[union-attr]
    hung = LoadHung(deadline_s=30)
    assert hung(tick(elapsed_s=29)) is None
    assert hung(tick(load_started=False, elapsed_s=99)) is None  # that is the other watchdog's job
    assert hung(tick(elapsed_s=31)).status is RunStatus.LOAD_FAILED  # type: ignore[union-attr]


def test_rule_list_follows_the_load() -> None:
    headless = stop_rules(sessions=None, duration_s=60, web=False, stop_timeout_s=10,
                          min_free_bytes=MiB)  # fmt: skip
    hung = [r for r in headless if isinstance(r, LoadHung)]
    assert len(hung) == 1 and hung[0].deadline_s == 60 + 10 + LOAD_EXIT_DEADLINE_S
    assert any(isinstance(r, LoadNeverStarted) for r in headless)
    assert not any(isinstance(r, SessionTarget) for r in headless)
    counted = stop_rules(sessions=3, duration_s=None, web=False, stop_timeout_s=10,
                         min_free_bytes=MiB)  # fmt: skip
    assert SessionTarget(3) in counted and not any(isinstance(r, LoadHung) for r in counted)
    web = stop_rules(
        sessions=None, duration_s=None, web=True, stop_timeout_s=10, min_free_bytes=MiB
    )
    assert not any(isinstance(r, (LoadHung, LoadNeverStarted)) for r in web)  # a human drives it
    # In the web UI an idle start is not stuck.
    assert first_stop(web, tick(load_started=False, since_start_s=LOAD_START_TIMEOUT_S + 1)) is None


def test_priority_signal_first_then_disk_then_server() -> None:
    rules = stop_rules(sessions=1, duration_s=1, web=False, stop_timeout_s=0, min_free_bytes=MiB)
    everything = tick(signum=signal.SIGINT, disk_free_bytes=0, server_alive=False, locust_code=3,
                      sessions=9, elapsed_s=999)  # fmt: skip
    order = []
    t = everything
    for field, calm in (("signum", None), ("disk_free_bytes", 100 * MiB), ("server_alive", True),
                        ("locust_code", None), ("sessions", 0)):  # fmt: skip
        stop = first_stop(rules, t)
        assert stop is not None
        order.append(stop.status)
        t = dataclasses.replace(t, **{field: calm})
    assert order == [RunStatus.INTERRUPTED, RunStatus.DISK_FULL, RunStatus.SERVER_FAILED,
                     RunStatus.LOAD_FAILED, RunStatus.COMPLETED]  # fmt: skip
    assert first_stop(rules, t).message.endswith("(hung); killed it")  # type: ignore[union-attr]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_exit_code_comes_from_the_signal(sig: signal.Signals, code: int) -> None:
    """A real signal to this process: recorded, turned into a Stop, then an exit code."""
    with trap_signals():
        os.kill(os.getpid(), sig)
        received = pending_signal()
    assert received == sig
    stop = signal_received(tick(signum=received))
    assert stop is not None
    result = RunResult(RunDir(Path("/r")), dataclasses.replace(stop, message="anything"))
    assert result.exit_code == code
    # The message is not what decides: a SIGTERM run whose message says SIGINT still exits 143.
    misleading = dataclasses.replace(result.stop, message="stopped by SIGINT")
    assert misleading.exit_code == code
    assert dataclasses.replace(result.stop, status=RunStatus.LOAD_FAILED).exit_code == 1
    assert dataclasses.replace(result, stop=Stop(RunStatus.COMPLETED)).exit_code == 0
    assert signal.getsignal(sig) is not None  # handlers restored after the block


class _FakeLocust:
    """Runs for `ticks` polls, then exits 0."""

    def __init__(self, ticks: int):
        self.left = ticks

    def poll(self) -> int | None:
        self.left -= 1
        return 0 if self.left < 0 else None


@pytest.mark.parametrize(("tables", "expected"), [(["server_metrics"], RunStatus.COMPLETED),
                                                  (["llm_calls"], RunStatus.LOAD_FAILED)])  # fmt: skip
def test_load_starts_with_a_load_record_not_the_metrics_file(
    tmp_path: Path, tables: list[str], expected: RunStatus
) -> None:
    """The /metrics baseline is on disk before Locust starts; only a user's record starts the
    clock of the hung-load watchdog."""
    from bench.runner.load_step import _watch
    from bench.schemas.config import LoadConfig

    run = RunDir(tmp_path)
    run.raw.mkdir()
    for table in tables:
        run.raw_file(table, "x").write_text("{}\n")
    rules = [locust_exited, LoadHung(deadline_s=0.0)]
    stop = _watch(_FakeLocust(ticks=2), rules, run, None, LoadConfig(), None)  # type: ignore[arg-type]
    assert stop.status is expected
