"""Locust master/worker: `bench run --master` and two `bench worker`s on 127.0.0.1, fake server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from bench.schemas.raw import read_records
from bench.schemas.run_dir import RunDir
from bench.testing.fake_server import running_fake_server

KINDS = ("llm_calls", "turns", "sessions")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


TOKEN = "run-token-for-the-test"


def bench(*args: str, token: str | None = TOKEN) -> subprocess.Popen:
    env = {**os.environ, "BENCH_RUN_TOKEN": token} if token else dict(os.environ)
    if args[0] == "worker" and "--processes" not in args:
        # one Locust process per worker (auto: one per core): the tests count processes
        args = (*args, "--processes", "1")
    return subprocess.Popen([sys.executable, "-m", "bench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)  # fmt: skip


def test_master_and_two_workers_lose_no_record(tmp_path: Path) -> None:
    port = free_port()
    with running_fake_server(latency_ms=20, served_model_name="fake") as url:
        master = bench("run", "--master", "--expect-workers", "2", "--master-bind-port", str(port),
                       "--endpoint", url, "--model", "fake", "--users", "4", "--duration", "15s",
                       "--results-dir", str(tmp_path), "--run-id", "dist")  # fmt: skip
        workers = [bench("worker", "--master-port", str(port), "--results-dir", str(tmp_path / f"w{i}"))
                   for i in (1, 2)]  # fmt: skip
        try:
            out, _ = master.communicate(timeout=300)
            worker_out = [w.communicate(timeout=60)[0] for w in workers]
        finally:
            for proc in (master, *workers):
                if proc.poll() is None:
                    proc.kill()
    assert master.returncode == 0, out[-3000:]
    run_dir = tmp_path / "dist"
    shipped = []
    for i, text in zip((1, 2), worker_out, strict=True):
        files = list((tmp_path / f"w{i}").glob(f"*/worker-*/{RunDir(tmp_path).shipped.name}"))
        assert len(files) == 1, text[-2000:]
        report = json.loads(files[0].read_text())
        assert f"bench worker shipped {json.dumps(report, sort_keys=True)}" in text
        local = files[0].parent  # the worker's own copy equals what it shipped
        assert {k: len(read_records(local, k)) for k in KINDS} == {k: report[k] for k in KINDS}
        assert report["sessions"] > 0
        shipped.append(report)
    for kind in KINDS:
        table = pq.read_table(run_dir / f"{kind}.parquet")
        assert table.num_rows == sum(r[kind] for r in shipped), kind
    sessions = pq.read_table(run_dir / "sessions.parquet").to_pandas()
    assert sessions["session_id"].is_unique
    measured = sessions[~sessions["warmup"]]
    assert measured["ticket"].is_unique  # tickets come from the master: global across workers
    summary = pq.read_table(run_dir / "summary.parquet").to_pandas().iloc[0]
    assert summary["sessions"] == len(measured) and summary["tool_trajectory_exact"] > 0
    reports = json.loads(RunDir(run_dir).workers.read_text())
    assert len(reports) == 2
    for r in reports:  # (client samples go on being taken after the flush; records do not)
        assert {k: r["shipped"][k] for k in KINDS} == {k: r["received"][k] for k in KINDS}


def test_open_loop_across_workers_keeps_one_schedule(tmp_path: Path) -> None:
    """Issue 12: in an open loop the workers start sessions at the master's arrival times."""
    port = free_port()
    with running_fake_server(latency_ms=20, served_model_name="fake") as url:
        master = bench("run", "--master", "--expect-workers", "2", "--master-bind-port", str(port),
                       "--endpoint", url, "--model", "fake", "--session-rate", "4",
                       "--arrival", "constant", "--duration", "20s",
                       "--results-dir", str(tmp_path), "--run-id", "open")  # fmt: skip
        workers = [bench("worker", "--master-port", str(port), "--results-dir", str(tmp_path / f"w{i}"))
                   for i in (1, 2)]  # fmt: skip
        try:
            out, _ = master.communicate(timeout=300)
            for w in workers:
                w.communicate(timeout=60)
        finally:
            for proc in (master, *workers):
                if proc.poll() is None:
                    proc.kill()
    assert master.returncode == 0, out[-3000:]
    run_dir = tmp_path / "open"
    sessions = pq.read_table(run_dir / "sessions.parquet").to_pandas()
    measured = sessions[~sessions["warmup"]].sort_values("ticket")
    assert len(measured) >= 8 and measured["pid"].nunique() == 2  # both workers played
    scheduled = measured["scheduled_at"].map(lambda t: t.timestamp()).to_numpy()
    gaps = scheduled[1:] - scheduled[:-1]
    assert abs(float(gaps.mean()) - 0.25) < 0.01  # one schedule at 4/s across the workers
    assert measured["start_delay_ms"].max() < 1000
    arrivals = read_records(run_dir, "arrivals")
    assert len(arrivals) >= len(measured)


def test_master_refuses_a_worker_without_the_run_token(tmp_path: Path) -> None:
    """Issue 17: a process that reaches the master's port without the token gets no users."""
    port = free_port()
    with running_fake_server(latency_ms=20, served_model_name="fake") as url:
        master = bench("run", "--master", "--expect-workers", "1", "--master-bind-port", str(port),
                       "--endpoint", url, "--model", "fake", "--users", "2", "--duration", "8s",
                       "--results-dir", str(tmp_path), "--run-id", "gate")  # fmt: skip
        rogue_env = {**os.environ, "BENCH_RUN_TOKEN": "wrong-token"}
        rogue = subprocess.Popen(
            [sys.executable, "-m", "bench", "worker", "--master-port", str(port),
             "--results-dir", str(tmp_path / "rogue"), "--processes", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=rogue_env,
        )  # fmt: skip
        good = None
        log = tmp_path / "gate" / "locust.log"
        try:
            deadline = time.monotonic() + 120
            while "did not present the run's token" not in (
                log.read_text() if log.exists() else ""
            ):
                assert time.monotonic() < deadline and master.poll() is None, "rogue not refused"
                time.sleep(0.5)
            good = bench("worker", "--master-port", str(port), "--results-dir", str(tmp_path / "w"))
            out, _ = master.communicate(timeout=300)
            good.communicate(timeout=60)
        finally:
            for proc in (master, rogue, good):
                if proc is not None and proc.poll() is None:
                    proc.kill()
    assert master.returncode == 0, out[-3000:]
    assert not list(
        (tmp_path / "rogue").glob(f"*/worker-*/{RunDir(tmp_path).shipped.name}")
    )  # it ran no user
    assert not list((tmp_path / "rogue").rglob("sessions.*.jsonl"))
    reports = json.loads(RunDir(tmp_path / "gate").workers.read_text())
    assert len(reports) == 1 and reports[0]["received"]["sessions"] > 0


def test_worker_without_a_token_is_refused_before_it_starts(tmp_path: Path) -> None:
    proc = bench("worker", "--master-port", "9", "--results-dir", str(tmp_path), token=None)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "BENCH_RUN_TOKEN" in out, out
