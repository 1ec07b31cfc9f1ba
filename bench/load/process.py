"""LocustProcess: `python -m locust -f bench/load/locustfile.py ...` as a child process group.

The orchestrator never imports locust: it writes the LoadSpec, starts this child with the spec's
path in `BENCH_LOAD_SPEC` and the API key in `SERVER_API_KEY_ENV`, polls it, and stops the
whole process group (SIGINT, then SIGTERM, then SIGKILL: a Locust process sometimes hangs at
exit). Output goes to `<run_dir>/locust.log`; Locust's CSVs to `<run_dir>/locust_*.csv`.

    proc = LocustProcess(spec, users=8, spawn_rate=8, duration_s=60)
    proc.start()
    while proc.poll() is None and count_records(spec.run_dir, "sessions") < wanted: ...
    proc.stop()
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench import constants
from bench.load.recorder import count_records
from bench.load.spec import LOAD_SPEC_ENV, LoadSpec
from bench.schemas.run_dir import RunDir
from bench.schemas.settings import SERVER_API_KEY_ENV
from bench.server.lifetime import die_with_parent

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
SELF_QUIT_S = 3.0  # a standalone Locust whose sessions are done quits in well under this

__all__ = ["LOCUSTFILE", "LocustProcess", "count_records"]


@dataclass
class LocustProcess:
    spec: LoadSpec
    users: int = constants.DEFAULT_USERS
    spawn_rate: float = constants.DEFAULT_SPAWN_RATE
    duration_s: float | None = (
        constants.DEFAULT_DURATION_S
    )  # None = until stopped / tickets run out
    processes: int = 1
    web: bool = False
    web_host: str = constants.LOOPBACK_HOST
    web_port: int = 8089
    autostart: bool = False  # web mode: start the test at once (with -u, -r, -t)
    # Locust's --stop-timeout: the drain (`--drain`), how long work in flight may finish
    stop_timeout_s: float = constants.DEFAULT_DRAIN_S
    only_summary: bool = True
    api_key: str | None = field(default=None, repr=False)  # else inherited from API_KEY_ENV
    extra_env: dict[str, str] = field(default_factory=dict, repr=False)  # e.g. the headers variable
    extra_args: list[str] = field(default_factory=list)  # e.g. --master / --worker options
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def run_dir(self) -> Path:
        return Path(self.spec.run_dir)

    @property
    def log_path(self) -> Path:
        return RunDir(self.run_dir).locust_log

    @property
    def web_url(self) -> str | None:
        return f"http://{self.web_host}:{self.web_port}" if self.web else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
        if not self.web:
            argv.append("--headless")
        elif self.autostart:
            argv.append("--autostart")
        argv += ["-u", str(self.users), "-r", _num(self.spawn_rate)]
        if self.duration_s is not None and (not self.web or self.autostart):
            argv += ["-t", f"{max(1, round(self.duration_s))}s"]
        if self.processes > 1:
            argv += ["--processes", str(self.processes)]
        argv += ["--csv", str(RunDir(self.run_dir).locust_csv_prefix)]
        if self.only_summary:
            argv.append("--only-summary")
        if self.web:
            argv += ["--web-host", self.web_host, "--web-port", str(self.web_port)]
        argv += ["--stop-timeout", _num(self.stop_timeout_s)]
        # Locust's exit code should say whether the load process worked, not whether the model
        # called the right tools (wrong trajectories are reported as Locust failures).
        argv += ["--exit-code-on-error", "0"]
        return argv + list(self.extra_args)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env[LOAD_SPEC_ENV] = str(RunDir(self.run_dir).load_spec)
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(constants.REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        if self.api_key:
            env[SERVER_API_KEY_ENV] = self.api_key
        return env

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("LocustProcess already started")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.spec.write()
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.argv(),
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches --processes children
            preexec_fn=die_with_parent,  # and it dies with bench, however bench dies
        )

    def poll(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None if still running after `timeout` seconds."""
        if self._proc is None:
            return None
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._close_log()
        return code

    def stop(
        self, grace_s: float = constants.STOP_GRACE_S, drain: bool = True,
        exiting_s: float = 0.0,
    ) -> int | None:  # fmt: skip
        """SIGINT the group (Locust drains the users in flight and writes its CSVs), then
        SIGTERM, then SIGKILL; return the code. `drain` False: the drain is not waited for (a
        hung Locust already had it). `exiting_s`: Locust is quitting by itself (a standalone run
        whose sessions are all done): give it that long first, so no signal interrupts its own
        shutdown (a KeyboardInterrupt traceback in locust.log)."""
        if self._proc is None:
            return None
        if exiting_s and self.wait(exiting_s) is not None:
            self._signal_group(signal.SIGKILL)  # --processes children, should any be left
            return self._proc.returncode
        try:
            return self._stop_gracefully(grace_s, self.stop_timeout_s if drain else 0.0)
        except KeyboardInterrupt:  # a second Ctrl-C: no more waiting
            self._signal_group(signal.SIGKILL)
            raise

    def _stop_gracefully(self, grace_s: float, drain_s: float) -> int | None:
        assert self._proc is not None
        for sig, wait_s in ((signal.SIGINT, grace_s + drain_s), (signal.SIGTERM, grace_s)):
            if self._proc.poll() is not None:
                break
            self._signal_group(sig)
            code = self.wait(wait_s)
            if code is not None:
                break
        if self._proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self._proc.wait(10)
        # children of --processes may outlive the parent: make sure the group is gone
        self._signal_group(signal.SIGKILL)
        self._close_log()
        return self._proc.returncode

    def self_quit_s(self) -> float:
        """How long Locust takes to quit by itself once its sessions are done: a standalone run
        does (bench.load.locustfile, out_of_tickets); with --processes or workers it does not."""
        standalone = self.processes == 1 and not self.web and "--master" not in self.extra_args
        return SELF_QUIT_S if standalone else 0.0

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def run(self, timeout_s: float | None = None, poll_s: float = 0.5) -> int | None:
        """Start, wait until Locust exits, `max_sessions` measured sessions exist, or the timeout."""
        self.start()
        deadline = time.monotonic() + timeout_s if timeout_s is not None else None
        while True:
            code = self.wait(poll_s)
            if code is not None:
                return code
            if (
                self.spec.load.sessions is not None
                and count_records(self.run_dir, "sessions") >= self.spec.load.sessions
            ):
                return self.stop(exiting_s=self.self_quit_s())
            if deadline is not None and time.monotonic() > deadline:
                return self.stop()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
