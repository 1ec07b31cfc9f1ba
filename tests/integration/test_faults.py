"""Faults survived and nothing lost, against the fake server (controlled faults, fast)."""

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

from bench.testing.fake_server import running_fake_server

KEY = "sk-fault-test-key-0123456789"


def start_run(
    url: str, results: Path, run_id: str, *args: str, headers: list[str] | None = None,
    preflight: bool = False,
) -> subprocess.Popen:  # fmt: skip
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "run",
        "--endpoint",
        url,
        "--api-key-env",
        "FAKE_KEY",
        "--model",
        "fake",
        "--results-dir",
        str(results),
        "--run-id",
        run_id,
        *([] if preflight else ["--no-preflight"]),
        *args,
    ]  # fmt: skip  (the faults count against the run's own calls)
    if "--processes" not in args:  # one load process: what these tests count (auto may add more)
        cmd += ["--processes", "1"]
    for h in headers or []:
        cmd += ["--header", h]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FAKE_KEY": KEY},
    )


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def table(run: Path, name: str):
    return pq.read_table(run / f"{name}.parquet").to_pandas()


def locust_children(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [k for k in kids if "locust" in " ".join(k.cmdline())]


def wait_for_sessions(run: Path, n: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = (
            sum(f.read_text().count("\n") for f in (run / "raw").glob("sessions.*.jsonl"))
            if (run / "raw").exists()
            else 0
        )
        if lines >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"fewer than {n} sessions after {timeout} s")


@pytest.mark.fault
@pytest.mark.parametrize(
    ("fault", "extra"),
    [
        ("500", []),
        ("reset", []),
        ("stall", ["--request-timeout", "2s"]),
        ("malformed", ["--no-stream"]),
    ],
)
def test_server_faults_are_errors_on_the_call_and_turn_and_the_run_goes_on(
    tmp_path: Path, fault: str, extra: list[str]
):
    with running_fake_server(api_key=KEY, fail_rate=0.3, fault=fault, stall_s=30, seed=7) as url:
        code, out, err = finish(
            start_run(url, tmp_path, "f", "--sessions", "10", "--users", "2", *extra)
        )
    assert code == 0, out[-2000:] + err[-2000:]
    run = tmp_path / "f"
    turns, calls, sessions = table(run, "turns"), table(run, "llm_calls"), table(run, "sessions")
    assert (~sessions["warmup"]).sum() == 10
    failed_turns = turns[turns["error_type"].notna()]
    failed_calls = calls[calls["error_type"].notna()]
    assert len(failed_turns) > 0 and len(failed_calls) > 0
    assert failed_calls["error_type"].str.len().min() > 0  # the error class is named
    summary = table(run, "summary").iloc[0]
    assert summary["errors"] == (~turns["warmup"] & turns["error_type"].notna()).sum() > 0
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"


@pytest.mark.fault
def test_slow_server_hits_the_request_timeout(tmp_path: Path):
    with running_fake_server(api_key=KEY, latency_ms=3000) as url:
        code, out, err = finish(
            start_run(
                url, tmp_path, "slow", "--sessions", "2", "--users", "2", "--request-timeout", "1s"
            )
        )
    assert code == 0, out[-2000:] + err[-2000:]
    calls = table(tmp_path / "slow", "llm_calls")
    assert calls["error_type"].notna().all()
    measured = calls[~calls["warmup"]]
    # Cut at the 1 s timeout, not the server's 3 s (the warm-up call also pays the first-call cost).
    assert len(measured) and measured["e2e_ms"].max() < 2500


@pytest.mark.fault
def test_locust_crash_is_detected_and_partial_results_kept(tmp_path: Path):
    with running_fake_server(api_key=KEY, latency_ms=50) as url:
        proc = start_run(url, tmp_path, "crash", "--duration", "60s", "--users", "2")
        wait_for_sessions(tmp_path / "crash", 4)
        for child in locust_children(proc):
            child.kill()
        code, out, err = finish(proc)
    assert code == 1
    assert "load_failed" in err
    run = tmp_path / "crash"
    assert len(table(run, "sessions")) >= 4
    assert json.loads((run / "manifest.json").read_text())["status"] == "load_failed"


@pytest.mark.fault
def test_hung_locust_is_hard_killed(tmp_path: Path):
    with running_fake_server(api_key=KEY, latency_ms=50) as url:
        # a short drain: nothing to wait for in a Locust that hangs
        proc = start_run(url, tmp_path, "hang", "--duration", "5s", "--users", "2", "--drain", "5s")
        wait_for_sessions(tmp_path / "hang", 2)
        hung = locust_children(proc)
        for child in hung:
            child.suspend()  # SIGSTOP: deaf to SIGINT and SIGTERM, like a hung process
        code, out, err = finish(proc, timeout=180)
    assert code == 1 and "hung" in err
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in hung)
    assert len(table(tmp_path / "hang", "sessions")) >= 2


@pytest.mark.fault
@pytest.mark.parametrize(("sig", "expected"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_stop_the_load_and_write_parquet(tmp_path: Path, sig: int, expected: int):
    with running_fake_server(api_key=KEY, latency_ms=50) as url:
        proc = start_run(url, tmp_path, "sig", "--duration", "120s", "--users", "2")
        wait_for_sessions(tmp_path / "sig", 3)
        kids = locust_children(proc)
        t0 = time.monotonic()
        proc.send_signal(sig)
        code, out, err = finish(proc, timeout=60)
    assert code == expected, err[-2000:]
    assert time.monotonic() - t0 < 40
    run = tmp_path / "sig"
    assert len(table(run, "sessions")) >= 3
    assert json.loads((run / "manifest.json").read_text())["status"] == "interrupted"
    time.sleep(0.5)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kids)


@pytest.mark.fault
def test_bench_killed_hard_then_rebuild_from_raw_is_idempotent(tmp_path: Path):
    with running_fake_server(api_key=KEY, latency_ms=50) as url:
        proc = start_run(url, tmp_path, "killed", "--duration", "120s", "--users", "2")
        run = tmp_path / "killed"
        wait_for_sessions(run, 4)
        kids = locust_children(proc)
        proc.kill()
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 30  # the Locust child dies with bench (PR_SET_PDEATHSIG)
        while time.monotonic() < deadline and any(
            p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kids
        ):
            time.sleep(0.2)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kids)
    assert not (run / "sessions.parquet").exists()
    raw_sessions = sum(f.read_text().count("\n") for f in (run / "raw").glob("sessions.*.jsonl"))
    rebuild = [sys.executable, "-m", "bench", "results", "rebuild", str(run)]
    first = subprocess.run(rebuild, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    sessions = table(run, "sessions")
    assert len(sessions) == raw_sessions
    turns_before = pq.read_table(run / "turns.parquet")
    second = subprocess.run(rebuild, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0
    assert pq.read_table(run / "turns.parquet").equals(turns_before)


@pytest.mark.fault
def test_secrets_never_reach_files_logs_or_console(tmp_path: Path):
    header_secret = "hdr-PLANTED-SECRET-42"
    with running_fake_server(api_key=KEY, latency_ms=10) as url:
        code, out, err = finish(
            start_run(
                url,
                tmp_path,
                "sec",
                "--sessions",
                "3",
                "--users",
                "2",
                headers=[f"X-Org-Token: {header_secret}"],
            )
        )
    assert code == 0, err[-2000:]
    for secret in (KEY, header_secret):
        assert secret not in out and secret not in err
        for f in (tmp_path / "sec").rglob("*"):
            if f.is_file():
                assert secret.encode() not in f.read_bytes(), f


@pytest.mark.fault
def test_disk_full_mid_run_stops_cleanly_and_keeps_the_records(tmp_path: Path):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(small)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        with running_fake_server(api_key=KEY) as url:
            started = time.monotonic()
            code, out, err = finish(
                start_run(url, small, "full", "--duration", "120s", "--users", "2"), timeout=200
            )
        assert code == 1, err[-2000:]
        assert "disk_full" in err
        assert time.monotonic() - started < 110  # stopped by the full disk, not by the duration
        raw = list((small / "full" / "raw").glob("turns.*.jsonl"))
        assert raw and sum(f.read_text().count("\n") for f in raw) > 0  # what was written is kept
        manifest = json.loads((small / "full" / "manifest.json").read_text())
        assert manifest["status"] == "disk_full"
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


@pytest.mark.fault
def test_a_second_ctrl_c_forces(tmp_path: Path):
    with running_fake_server(api_key=KEY, latency_ms=50) as url:
        proc = start_run(url, tmp_path, "force", "--duration", "120s", "--users", "2")
        wait_for_sessions(tmp_path / "force", 2)
        kids = locust_children(proc)
        for child in kids:
            child.suspend()  # a load process that would make the graceful stop wait
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code, out, err = finish(proc, timeout=60)
    assert code == 130
    assert time.monotonic() - t0 < 8
    time.sleep(0.5)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in kids)
