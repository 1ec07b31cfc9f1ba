"""Bad input: one line on stderr naming the input, exit code 2, nothing started.

The cases that need a real process (a port in use, a missing vLLM environment, a server to attach
to, the console script itself). Flag and config-file errors are checked in process:
tests/unit/cli/test_config_errors.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bad_input

BENCH = [sys.executable, "-m", "bench"]


def bench(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*BENCH, *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unknown_model():
    assert_one_line_error(bench("serve", "--model", "no-such-model"), "--model", "no-such-model")


def test_port_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert_one_line_error(
            bench("serve", "--model", "tiny", "--port", str(port)), "--port", str(port), "in use"
        )


def test_missing_vllm_environment(tmp_path: Path):
    missing = tmp_path / "nowhere" / "python"
    proc = bench("serve", "--model", "tiny", env={"BENCH_VLLM_PYTHON": str(missing)})
    assert_one_line_error(proc, "BENCH_VLLM_PYTHON", str(missing))


def test_gated_model_without_token(tmp_path: Path):
    env = {"HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": "", "HF_HOME": str(tmp_path)}
    assert_one_line_error(
        bench("run", "--model", "gemma-3-4b-it", env=env), "--model", "gated", "HF_TOKEN"
    )


def test_results_dir_not_writable(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = bench(
        "run", "--endpoint", "http://127.0.0.1:9/v1", "--results-dir", str(blocker / "results")
    )
    assert proc.returncode == 2, proc.stderr
    # The endpoint is unreachable too, but the results folder is checked and named first or second:
    # either way one line, exit 2, nothing started.
    assert len([line for line in proc.stderr.splitlines() if line.strip()]) == 1


def test_unknown_config_key(tmp_path: Path):
    """A config error through the real console script (the rest: in process)."""
    cfg = tmp_path / "run.toml"
    cfg.write_text('users = 2\ncolour = "red"\n')
    assert_one_line_error(bench("run", "--config", str(cfg)), str(cfg), "colour")


def test_every_command_has_help():
    for args in (["--help"], ["run", "--help"], ["serve", "--help"], ["models", "--help"], ["doctor", "--help"],
                 ["results", "rebuild", "--help"], ["models", "show", "--help"]):  # fmt: skip
        proc = bench(*args)
        assert proc.returncode == 0, args
        assert "Usage" in proc.stdout


def test_unknown_command_is_a_usage_error():
    """Commands load lazily; a name that is none of them is click's usage error, not a traceback."""
    proc = bench("no-such-command")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "No such command 'no-such-command'" in proc.stderr


def test_attach_with_a_name_the_server_does_not_serve(tmp_path: Path):
    """Issue 17: exit 2 before the load, naming the names /v1/models lists."""
    import httpx

    from bench.testing.fake_server import running_fake_server

    with running_fake_server(served_model_name="alpha beta") as url:
        # The fake answers an unknown name as vLLM does: 404 on the call.
        body = {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10).status_code == 404
        proc = bench("run", "--endpoint", url, "--model", "nope", "--sessions", "1",
                     "--results-dir", str(tmp_path), "--run-id", "r")  # fmt: skip
        assert_one_line_error(proc, "--model", "nope", "served: alpha, beta")
        assert not list((tmp_path / "r").glob("raw/*.jsonl"))  # no load started
        assert not (tmp_path / "r" / "locust.log").exists()
        ok = bench("run", "--endpoint", url, "--model", "beta", "--sessions", "1", "--users", "1",
                   "--results-dir", str(tmp_path), "--run-id", "ok", timeout=180)  # fmt: skip
        assert ok.returncode == 0, ok.stderr[-2000:]
