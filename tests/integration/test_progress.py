"""The first ten minutes: bench says what it is doing from the first second, mistakes that need
no server are reported before any wait, and --web gives its address once the page answers.

Real `bench run` processes against the fake server; every line of output is timestamped as it
arrives (the CLI must flush: a log or a pipe sees progress when it happens).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from bench.server.process import free_port
from bench.testing.fake_server import running_fake_server

BENCH = [sys.executable, "-m", "bench", "run"]


class TimedRun:
    """A `bench run` whose output lines are kept with the seconds since it started."""

    def __init__(self, args: list[str]) -> None:
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([*BENCH, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)  # fmt: skip
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic() - self.t0, line.rstrip()))

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def wait_for(self, prefix: str, timeout: float) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = next(((t, line) for t, line in self.lines if line.startswith(prefix)), None)
            if hit is not None:
                return hit
            time.sleep(0.05)
        raise AssertionError(f"no line starting {prefix!r}: {self.lines}")


def test_progress_from_the_first_second_to_the_summary(tmp_path: Path) -> None:
    with running_fake_server(ttft_ms=20, itl_ms=5) as url:
        run = TimedRun(["--endpoint", url, "--model", "fake", "--users", "2", "--duration", "8s",
                        "--results-dir", str(tmp_path)])  # fmt: skip
        assert run.wait(180) == 0, run.lines[-20:]
    stamps = [t for t, _ in run.lines]
    assert run.lines[0][1].startswith("bench run: model fake, eval set weather_time")
    assert stamps[0] < 2.0  # Python's start-up and the CLI's imports, on a busy CI machine
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps) <= 5.0, [(round(t, 1), line[:60]) for t, line in run.lines]
    said = [line for _, line in run.lines]
    order = ["checking the eval set", "run: model fake", "preflight", "starting load processes",
             "load:", "results:"]  # fmt: skip
    at = [next(i for i, line in enumerate(said) if line.startswith(p)) for p in order]
    assert at == sorted(at), said


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--evalset", "weather_tme"], "--evalset: weather_tme does not exist; did you mean weather_time?"),
     (["--model", "tiny-pythnic"], "--model: unknown model 'tiny-pythnic'; did you mean tiny-pythonic?")],
)  # fmt: skip
def test_mistakes_that_need_no_server_fail_at_once(flags: list[str], message: str) -> None:
    run = TimedRun(flags)
    assert run.wait(60) == 2
    t, last = run.lines[-1]
    assert last.startswith(f"error: {message}") and t < 2.5, run.lines


def test_web_gives_its_address_when_the_page_answers(tmp_path: Path) -> None:
    port = free_port()
    with running_fake_server() as url:
        run = TimedRun(["--endpoint", url, "--model", "fake", "--web", "--web-port", str(port),
                        "--results-dir", str(tmp_path)])  # fmt: skip
        try:
            _, line = run.wait_for("web UI: ", 120)
            address = f"http://127.0.0.1:{port}"
            assert line.startswith(f"web UI: {address} ")
            assert httpx.get(address, timeout=5).status_code == 200  # answers when announced
        finally:
            os.kill(run.proc.pid, signal.SIGINT)
            run.wait(60)
