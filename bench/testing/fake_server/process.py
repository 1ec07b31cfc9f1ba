"""`running_fake_server`: the fake server in a child process, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench.testing.fake_server.app import READY_LINE_PREFIX
from bench.testing.fake_server.cli import argv_for


def _read_ready_line(proc: subprocess.Popen[str], url_box: list[str], lines: list[str]) -> None:
    """The URL from the ready line into `url_box`; the first 200 other lines into `lines`."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if not url_box and line.startswith(READY_LINE_PREFIX):
            url_box.append(line[len(READY_LINE_PREFIX) :].strip())
        elif len(lines) < 200:
            lines.append(line.rstrip())


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def running_fake_server(
    *, api_key: str | None = None, startup_timeout_s: float = 20.0, **knobs: Any
) -> Iterator[str]:
    """Start the fake server in a child process on a free loopback port; yield its base URL.

    `knobs` are settings of `FakeServerConfig` by name. The child runs
    `python -m bench.testing.fake_server` so its CPU time is not the caller's; `api_key`
    reaches it through an environment variable, never the command line.
    """
    flags, env = argv_for({"port": 0, **knobs, "api_key": api_key or None})
    argv = [sys.executable, "-m", "bench.testing.fake_server", *flags]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **env}, start_new_session=True)  # fmt: skip
    url_box: list[str] = []
    lines: list[str] = []
    threading.Thread(target=_read_ready_line, args=(proc, url_box, lines), daemon=True).start()
    deadline = time.monotonic() + startup_timeout_s
    try:
        while not url_box:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake server did not start:\n" + "\n".join(lines[-20:]))
            time.sleep(0.02)
        yield url_box[0]
    finally:
        _stop(proc)
