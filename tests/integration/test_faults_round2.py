"""More faults (issue 17): malformed stream chunks, a server restart, a distributed worker killed."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
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


# ----------------------------------------------------------------------------- a worker dies

# Locust's heartbeat: a worker beats every 1 s (HEARTBEAT_INTERVAL); the master marks it missing
# after 3 silent intervals (HEARTBEAT_LIVENESS), checked once per interval: 4 to 5 s after the
# kill. The bound adds 2 s for a loaded machine.
NOTICE_BOUND_S = 1.0 * (3 + 2) + 2.0


def _master(url: str, tmp_path: Path, run_id: str, port: int, workers: int, *args: str):
    from tests.integration.test_distributed import bench

    return bench("run", "--master", "--expect-workers", str(workers), "--master-bind-port",
                 str(port), "--endpoint", url, "--model", "fake", "--results-dir", str(tmp_path),
                 "--run-id", run_id, *args)  # fmt: skip


def _worker(tmp_path: Path, port: int, name: str):
    from tests.integration.test_distributed import bench

    return bench("worker", "--master-port", str(port), "--results-dir", str(tmp_path / name))


def _local_sessions(folder: Path) -> list[dict]:
    """The sessions a worker wrote to its own copy (written just before it ships each one)."""
    rows = []
    for path in folder.glob("*/worker-*/raw/sessions.*.jsonl"):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def _kill_worker_after(
    proc: subprocess.Popen, folder: Path, sessions: int, users: int = 1
) -> float:
    """SIGKILL the worker's Locust process (and `bench worker` around it) once it shipped some
    sessions, played by `users` different users (all of its users are running by then)."""
    import psutil

    deadline = time.monotonic() + 240  # three Locust processes start on a shared machine
    while True:
        rows = _local_sessions(folder)
        if len(rows) >= sessions and len({r["user_index"] for r in rows}) >= users:
            break
        assert time.monotonic() < deadline and proc.poll() is None, "the worker ran no session"
        time.sleep(0.3)
    time.sleep(1.0)  # what it finished by now has reached the master
    children = psutil.Process(proc.pid).children(recursive=True)
    killed_at = time.time()
    for child in children:
        child.send_signal(signal.SIGKILL)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return killed_at


def _shipped_before(folder: Path, killed_at: float) -> set[str]:
    return {s["session_id"] for s in _local_sessions(folder) if s["ended_at"] < killed_at - 1.0}


def _stop_all(*procs: subprocess.Popen | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()


@pytest.mark.fault
def test_a_worker_dies_the_master_notices_keeps_its_records_and_goes_on(tmp_path: Path):
    # enough sessions that the survivor still has some to play once the loss is noticed (the
    # lean load process played 40 in 1.3 s, all started before the kill)
    port, n = _free_port(), 240
    run = tmp_path / "lost1"
    with running_fake_server(latency_ms=30, served_model_name="fake") as url:
        master = _master(url, tmp_path, "lost1", port, 2, "--users", "4", "--sessions", str(n))
        doomed, survivor = _worker(tmp_path, port, "w1"), _worker(tmp_path, port, "w2")
        try:
            killed_at = _kill_worker_after(doomed, tmp_path / "w1", 3, users=2)
            out, _ = master.communicate(timeout=300)
            survivor.communicate(timeout=60)
        finally:
            _stop_all(master, doomed, survivor)
    assert master.returncode == 0, out[-3000:]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed", manifest["message"]
    assert "1 of 2 Locust workers died" in manifest["message"]
    [lost] = manifest["lost_workers"]
    lost_at = datetime.fromisoformat(lost["lost_at"]).timestamp()
    assert killed_at < lost_at <= killed_at + NOTICE_BOUND_S  # noticed within the heartbeat
    assert lost["silent_s"] is not None and lost["silent_s"] <= NOTICE_BOUND_S
    assert lost["workers_remaining"] == 1 and lost["users"] == 2
    sessions = table(run, "sessions")
    # Every session the dead worker had finished well before it died is in the results.
    shipped = _shipped_before(tmp_path / "w1", killed_at)
    assert len(shipped) >= 3 and shipped <= set(sessions["session_id"])
    assert lost["records_received"]["sessions"] >= len(shipped)
    reports = json.loads((run / "workers.json").read_text())
    assert len(reports) == 2 and sum(r["lost"] is not None for r in reports) == 1
    assert len(sessions) == sum(r["received"].get("sessions", 0) for r in reports)
    # The run went on with the survivor: sessions after the loss, and `--sessions N` still exact
    # (the dead worker's unfinished tickets were run by the other).
    measured = sessions[~sessions["warmup"]]
    assert (epoch_s(measured["started_at"]) > lost_at).sum() > 0
    assert sorted(measured["ticket"]) == list(range(n))


@pytest.mark.fault
def test_the_only_worker_dies_and_the_run_ends_load_failed(tmp_path: Path):
    port = _free_port()
    run = tmp_path / "lost-all"
    with running_fake_server(latency_ms=30, served_model_name="fake") as url:
        master = _master(url, tmp_path, "lost-all", port, 1, "--users", "2", "--duration", "120s")
        doomed = _worker(tmp_path, port, "w1")
        try:
            killed_at = _kill_worker_after(doomed, tmp_path / "w1", 3)
            out, _ = master.communicate(timeout=120)
            ended_at = time.time()
        finally:
            _stop_all(master, doomed)
    assert master.returncode == 1, out[-3000:]  # bench.schemas.status: load_failed -> 1
    assert ended_at - killed_at < 60  # it does not sit out the 120 s duration
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "load_failed"
    assert "all 1 Locust workers died" in manifest["message"]
    [lost] = manifest["lost_workers"]
    lost_at = datetime.fromisoformat(lost["lost_at"]).timestamp()
    assert killed_at < lost_at <= killed_at + NOTICE_BOUND_S
    assert lost["workers_remaining"] == 0
    shipped = _shipped_before(tmp_path / "w1", killed_at)
    assert len(shipped) >= 3 and shipped <= set(table(run, "sessions")["session_id"])
