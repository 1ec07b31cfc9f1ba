"""vLLM killed with SIGKILL mid-run: the run stops within seconds, keeps its records, leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.fault]


def vllm_api_server(bench: psutil.Process) -> psutil.Process | None:
    for child in bench.children(recursive=True):
        try:
            if "vllm.entrypoints.openai.api_server" in " ".join(child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def test_server_killed_mid_run(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--model", "tiny", "--users", "2", "--duration", "300s",
         "--results-dir", str(tmp_path), "--run-id", "killed"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    run = tmp_path / "killed"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = (
            sum(f.read_text().count("\n") for f in (run / "raw").glob("sessions.*.jsonl"))
            if (run / "raw").exists()
            else 0
        )
        if done >= 5:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)
    bench = psutil.Process(proc.pid)
    server = vllm_api_server(bench)
    assert server is not None
    tree = [server, *server.children(recursive=True)]
    before_kill = sum(f.read_text().count("\n") for f in (run / "raw").glob("sessions.*.jsonl"))
    os.kill(server.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    out, err = proc.communicate(timeout=120)
    assert time.monotonic() - killed_at < 60
    assert proc.returncode != 0
    assert "server_failed" in err
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "server_failed"
    sessions = pq.read_table(run / "sessions.parquet").to_pandas()
    assert len(sessions) >= before_kill  # every record completed before the kill is in Parquet
    time.sleep(1)
    survivors = [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
    assert (
        not [c for c in bench.children(recursive=True) if c.is_running()]
        if bench.is_running()
        else True
    )
