"""The real vLLM (CPU) serving the tiny model through bench's launcher."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from bench.schemas.config import ServerConfig
from bench.server.launch import serving
from bench.server.probe import probe_tool_call

pytestmark = pytest.mark.e2e


def test_serve_tiny_answers_a_tool_call_refuses_no_key_and_leaves_nothing(tmp_path: Path):
    log = tmp_path / "server.log"
    with serving(ServerConfig(model="tiny"), log) as (endpoint, server):
        assert server is not None and server.proc is not None
        tree = [server.proc.pid] + [
            p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)
        ]
        assert len(tree) >= 2  # API server and engine core at least
        models = httpx.get(
            f"{endpoint.api_base}/models", headers=endpoint.auth_headers(), timeout=10
        ).json()
        assert [m["id"] for m in models["data"]] == ["tiny"]
        no_key = httpx.get(f"{endpoint.api_base}/models", timeout=10)
        assert no_key.status_code == 401
        assert server.host == "127.0.0.1"
        result = probe_tool_call(endpoint)
        assert result.tool_calls == [{"name": "get_weather", "args": {"city": "London"}}]
        key = endpoint.api_key
        t0 = time.monotonic()
    stop_s = time.monotonic() - t0
    assert stop_s < 5
    time.sleep(0.2)
    survivors = [
        pid
        for pid in tree
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert survivors == []
    assert key and key not in log.read_text()


def test_bad_engine_flag_fails_fast_with_vllm_error_text(tmp_path: Path):
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "serve", "--model", "tiny", "--log-file", str(tmp_path / "s.log"),
         "--engine-arg", "no-such-flag=3"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert elapsed < 60
    assert proc.returncode == 2
    assert "--no-such-flag" in proc.stderr  # vLLM's own argparse text, shown from its log
    assert "rerun by hand" in proc.stderr
    assert "Traceback" not in proc.stderr.split("---")[-1]


def test_serve_check_cli_prints_command_and_tool_call(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "serve", "--model", "tiny", "--check", "--log-file", str(tmp_path / "s.log")],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "vllm.entrypoints.openai.api_server" in proc.stdout
    assert "--tool-call-parser hermes" in proc.stdout
    assert '"name": "get_weather"' in proc.stdout and '"city": "London"' in proc.stdout
    assert "VLLM_API_KEY=<key>" in proc.stdout
