"""ServerProcess: one `vllm serve` child in its own process group, on loopback, with a log file.

It fails fast: when the child exits before it is ready, or the wait times out, the error carries
the last lines of the log and the command to rerun by hand. Stopping signals the whole group
(SIGTERM, then SIGKILL after a grace period) so no EngineCore or worker survives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from bench import constants
from bench.schemas.errors import BenchError, RunFailed
from bench.server.argv import shell_quote_argv
from bench.server.lifetime import die_with_parent


@dataclass
class Endpoint:
    """An OpenAI-compatible server to talk to; the key and headers are never printed."""

    base_url: str
    served_model_name: str
    api_key: str | None = field(default=None, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    launched: bool = False

    @property
    def api_base(self) -> str:
        return self.base_url.rstrip("/") + "/v1"

    def auth_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


class ServerStartError(RunFailed):
    """The server did not become ready. `usage_error` when vLLM rejected its arguments."""

    def __init__(self, message: str, log_tail: list[str], rerun: str, usage_error: bool = False):
        super().__init__("server_failed", message)
        self.log_tail = log_tail
        self.rerun = rerun
        if usage_error:
            self.exit_code = 2


def free_port(host: str = constants.LOOPBACK_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int, host: str = constants.LOOPBACK_HOST, what: str = "--port") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise BenchError(f"{what}: {host}:{port} is already in use") from None


def tail(path: Path, lines: int = constants.LOG_TAIL_LINES) -> list[str]:
    try:
        with path.open(errors="replace") as fh:
            return [line.rstrip("\n") for line in deque(fh, maxlen=lines)]
    except FileNotFoundError:
        return []


# vLLM's start-up as its log tells it, in order: (what the log line contains, the stage).
_STAGES = (
    ("non-default args", "starting its API server"),
    ("Resolved architecture", "reading the model's config"),
    ("Initializing a V1 LLM engine", "starting the engine"),
    ("Starting to load model", "loading the model"),
    ("Loading weights took", "weights loaded"),
    ("KV cache", "allocating the KV cache"),
    ("Compiling a graph", "compiling the model"),
    ("Capturing CUDA graph", "capturing CUDA graphs"),
    ("init engine", "engine ready"),
    ("Supported tasks", "starting the HTTP server"),
    ("Starting vLLM API server", "starting the HTTP server"),
)


def startup_stage(log_path: Path) -> str:
    """The stage of vLLM's start-up its log has reached ("loading the model", ...)."""
    stage = "starting"
    for line in tail(log_path, 400):
        for needle, name in _STAGES:
            if needle in line:
                stage = name
    return stage


def stop_process_group(proc: subprocess.Popen, grace_s: float = constants.STOP_GRACE_S) -> None:
    """SIGTERM the child's whole group, SIGKILL after `grace_s`; also reap strays that left it."""
    if proc.poll() is None or _group_alive(proc.pid):
        try:
            descendants = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []
        _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and (proc.poll() is None or _group_alive(proc.pid)):
            time.sleep(0.05)
        if proc.poll() is None or _group_alive(proc.pid):
            _signal_group(proc.pid, signal.SIGKILL)
        for child in descendants:  # a child that moved to its own session is not in the group
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies of our own children still count until reaped; ignore them.
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(p.info["pid"]) == pgid and p.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, OSError):
            continue
    return False


class ServerProcess:
    """Launch, wait for, and stop one vLLM server. Use as a context manager."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        *,
        log_path: Path,
        host: str,
        port: int,
        served_model_name: str,
        api_key: str,
        health_timeout_s: float = constants.HEALTH_TIMEOUT_S,
    ):
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.host = host
        self.port = port
        self.served_model_name = served_model_name
        self._api_key = api_key
        self.health_timeout_s = health_timeout_s
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.base_url, self.served_model_name, self._api_key, launched=True)

    def rerun_command(self) -> str:
        """The command to run by hand; the key is shown as a placeholder, never its value."""
        extra = {
            k: v for k, v in self.env.items() if k in ("CUDA_VISIBLE_DEVICES", "HF_HUB_OFFLINE")
        }
        prefix = " ".join(f"{k}={v}" for k, v in extra.items())
        return f"VLLM_API_KEY=<key> {prefix + ' ' if prefix else ''}{shell_quote_argv(self.argv)}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() takes the whole tree
                preexec_fn=die_with_parent,
            )
        except OSError as exc:
            raise BenchError(f"cannot start vLLM ({self.argv[0]}): {exc.strerror}") from None
        finally:
            log.close()

    def wait_ready(self, on_tick=None) -> None:
        """Block until /health and /v1/models answer; raise ServerStartError early on death."""
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + self.health_timeout_s
        headers = self.endpoint.auth_headers()
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.proc.poll()
                if code is not None:
                    raise self._start_error(
                        f"vLLM exited with code {code} before it was ready", code == 2
                    )
                try:
                    if client.get(f"{self.base_url}/health").status_code == 200:
                        models = client.get(f"{self.base_url}/v1/models", headers=headers)
                        if models.status_code == 200:
                            return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise self._start_error(
                        f"vLLM was not ready after {self.health_timeout_s:.0f} s"
                    )
                if on_tick:
                    on_tick()
                time.sleep(0.5)

    def _start_error(self, message: str, usage_error: bool = False) -> ServerStartError:
        return ServerStartError(message, tail(self.log_path), self.rerun_command(), usage_error)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = constants.STOP_GRACE_S) -> None:
        if self.proc is None:
            return
        try:
            stop_process_group(self.proc, grace_s)
        except KeyboardInterrupt:  # a second Ctrl-C: kill, do not wait
            _signal_group(self.proc.pid, signal.SIGKILL)
            raise

    def __enter__(self) -> ServerProcess:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
