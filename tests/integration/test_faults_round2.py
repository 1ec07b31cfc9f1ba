"""More faults against the fake server (issue 17): malformed stream chunks, a server restart."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.testing.fake_server import READY_LINE_PREFIX, running_fake_server
from tests.integration.test_faults import KEY, finish, start_run, table, wait_for_sessions


def fake_faults(url: str, fault: str) -> int:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(rf'fake:faults_total\{{fault="{fault}"[^}}]*\}} (\d+)', text)
    return int(found.group(1)) if found else 0


@pytest.mark.fault
def test_malformed_chunk_in_a_stream_is_an_error_on_the_call_and_turn(tmp_path: Path):
    with running_fake_server(api_key=KEY, fail_rate=0.3, fault="malformed", seed=3) as url:
        code, out, err = finish(start_run(url, tmp_path, "m", "--sessions", "10", "--users", "2"))
        injected = fake_faults(url, "malformed")
    assert code == 0, out[-2000:] + err[-2000:]
    run = tmp_path / "m"
    calls, turns = table(run, "llm_calls"), table(run, "turns")
    assert injected > 0 and calls["stream"].all()
    bad_calls = calls[calls["error_type"] == "MalformedChunkError"]
    # Every chunk the fake broke is an error on its call: none passes as a shorter answer.
    assert len(bad_calls) == injected
    assert bad_calls["error"].str.contains("malformed stream chunk").all()
    bad_turns = turns[turns["error_type"] == "MalformedChunkError"]
    assert set(bad_turns["turn_id"]) == set(bad_calls["turn_id"])
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"


def epoch_s(column):
    return column.map(lambda t: t.timestamp()) if column.dtype.kind == "M" else column


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_fake(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.testing.fake_server", "--port", str(port),
         "--latency-ms", "40", "--api-key-env", "FAKE_KEY"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "FAKE_KEY": KEY}, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    for line in proc.stdout:
        if line.startswith(READY_LINE_PREFIX):
            return proc
        assert time.monotonic() < deadline
    raise AssertionError("fake server did not start")


@pytest.mark.fault
def test_attached_server_restart_is_a_gap_of_errors_then_the_run_goes_on(tmp_path: Path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start_fake(port)
    run = tmp_path / "restart"
    proc = start_run(url, tmp_path, "restart", "--duration", "40s", "--users", "2",
                     "--metrics-interval", "0.5s", "--request-timeout", "5s")  # fmt: skip
    try:
        wait_for_sessions(run, 2, timeout=180)  # Locust start-up is slow on a loaded machine
        os.killpg(server.pid, signal.SIGKILL)  # the server dies with requests in flight
        server.wait(10)
        down_at = time.time()
        time.sleep(4)
        server = _start_fake(port)  # back on the same port
        up_at = time.time()
        code, out, err = finish(proc, timeout=240)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
    assert code == 0, out[-2000:] + err[-2000:]
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"
    calls = table(run, "llm_calls")
    started = epoch_s(calls["started_at"])
    in_gap = calls[(started > down_at + 0.5) & (started < up_at - 0.5)]
    assert len(in_gap) and in_gap["error_type"].notna().all()  # calls in the gap are errors
    after = calls[started > up_at + 2]
    assert len(after) and after["error_type"].isna().sum() > 0  # and the run goes on after it
    # The gap is in the time series: no scrape answered while the server was down.
    metrics = table(run, "server_metrics")
    stamps = sorted(set(epoch_s(metrics["timestamp"])))
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False) if a < up_at and b > down_at]
    assert gaps and max(gaps) > 3.0
    assert any(s > up_at for s in stamps)  # scraping resumed
