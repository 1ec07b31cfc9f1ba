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


def bench(*args: str, token: str | None = TOKEN, **more_env: str) -> subprocess.Popen:
    env = {**os.environ, "BENCH_RUN_TOKEN": token} if token else dict(os.environ)
    env.update(more_env)
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


SIM_KEY = "sk-worker-simulator-key-0123456789"


def test_worker_plays_the_masters_user_simulator(tmp_path: Path) -> None:
    """The master's --user-simulator-endpoint, -model and --max-turns reach the worker with the
    load spec; the key is the worker's own. The master's variable holds a key the simulator's
    server refuses (and a loopback master ships it), so simulator calls that succeed prove the
    worker's --user-simulator-api-key-env won. Uncapped, the scripted simulator makes 2 calls
    and stops the conversation itself; `--max-turns 2` ends it after 1 call at the turn limit."""
    port = free_port()
    sim_log = tmp_path / "sim.jsonl"
    with (
        running_fake_server(latency_ms=1, served_model_name="fake") as url,
        running_fake_server(api_key=SIM_KEY, served_model_name="simfake", latency_ms=1,
                            record_bodies=str(sim_log)) as sim_url,
    ):  # fmt: skip
        master = bench("run", "--master", "--expect-workers", "1", "--master-bind-port", str(port),
                       "--endpoint", url, "--model", "fake", "--evalset", "weather_time_scenario",
                       "--users", "1", "--duration", "8s", "--no-preflight",
                       "--user-simulator-endpoint", sim_url, "--user-simulator-model", "simfake",
                       "--user-simulator-api-key-env", "SIM_KEY", "--max-turns", "2",
                       "--results-dir", str(tmp_path), "--run-id", "sim",
                       SIM_KEY="sk-refused")  # fmt: skip
        worker = bench("worker", "--master-port", str(port), "--results-dir", str(tmp_path / "w"),
                       "--user-simulator-api-key-env", "WORKER_SIM_KEY",
                       WORKER_SIM_KEY=SIM_KEY, SIM_KEY="sk-refused")  # fmt: skip
        try:
            out, _ = master.communicate(timeout=300)
            worker_out, _ = worker.communicate(timeout=60)
        finally:
            for proc in (master, worker):
                if proc.poll() is None:
                    proc.kill()
    assert master.returncode == 0, out[-3000:]
    run_dir = tmp_path / "sim"
    sessions = pq.read_table(run_dir / "sessions.parquet").to_pandas()
    done = sessions[sessions["user_simulator_status"].notna()]
    assert len(done) > 0, worker_out[-3000:]
    assert set(done["user_simulator_status"]) == {"turn_limit_reached"}
    assert set(done["turns"]) == {2}
    calls = pq.read_table(run_dir / "llm_calls.parquet").to_pandas()
    sim = calls[calls["call_role"] == "user_simulator"]
    assert len(sim) > 0 and sim["error_type"].isna().all(), sim["error"].tolist()[:3]
    assert len(sim) == len(set(sim["session_id"]))  # one simulator call per capped session
    assert sim_log.exists() and len(sim_log.read_text().splitlines()) >= len(sim)
    assert SIM_KEY not in out + worker_out


def test_worker_with_an_unset_simulator_key_variable_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "UNSET_SIM_KEY_VAR"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "worker", "--master-port", "9", "--results-dir",
         str(tmp_path), "--user-simulator-api-key-env", "UNSET_SIM_KEY_VAR"],
        capture_output=True, text=True, timeout=60, env={**env, "BENCH_RUN_TOKEN": TOKEN},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    assert len(lines) == 1 and "--user-simulator-api-key-env" in lines[0], lines
    assert "UNSET_SIM_KEY_VAR" in lines[0]
