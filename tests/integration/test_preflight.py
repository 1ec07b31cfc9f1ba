"""Tool-calling preflight against the fake server (issue 15, part 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.schemas.raw import read_records
from bench.testing.fake_server import running_fake_server

KEY = "sk-preflight-test-0123456789"


def _bench(url: str, results: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args, "--endpoint", url, "--api-key-env", "FAKE_KEY",
         "--model", "fake", "--results-dir", str(results)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "FAKE_KEY": KEY},
    )  # fmt: skip


def test_server_without_auto_tool_choice_stops_the_run_in_the_preflight(tmp_path: Path) -> None:
    with running_fake_server(api_key=KEY, no_auto_tool_choice=True) as url:
        t0 = time.monotonic()
        done = _bench(url, tmp_path, "run", "--run-id", "off", "--sessions", "20")
        elapsed = time.monotonic() - t0
    assert done.returncode == 1, done.stderr[-2000:]
    error = done.stderr.strip().splitlines()[-1]
    assert "preflight" in error and "auto tool choice is off" in error
    assert "--enable-auto-tool-choice" in error  # vLLM's own words, and the fix
    run = tmp_path / "off"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "preflight_failed"
    # The preflight sessions are recorded apart; the load never started.
    assert read_records(run, "sessions") == []
    preflight = read_records(run / "preflight", "turns")
    assert preflight and all("400" in (t["error"] or "") or t["error_type"] for t in preflight)
    verdict = json.loads((run / "preflight" / "preflight.json").read_text())
    assert verdict["ok"] is False and verdict["reason"] == "auto_tool_choice_off"
    assert elapsed < 60  # no Locust was started for 20 sessions


def test_check_runs_the_preflight_alone_and_no_preflight_skips_it(tmp_path: Path) -> None:
    with running_fake_server(api_key=KEY) as url:
        ok = _bench(url, tmp_path, "check")
        assert ok.returncode == 0, ok.stderr[-2000:]
        assert "preflight passed" in ok.stdout
    with running_fake_server(api_key=KEY, no_auto_tool_choice=True) as url:
        bad = _bench(url, tmp_path, "check")
        assert bad.returncode == 1 and "auto tool choice is off" in bad.stderr
        skipped = _bench(url, tmp_path, "run", "--run-id", "skip", "--sessions", "2",
                         "--no-preflight")  # fmt: skip
    # Without the preflight the run starts and its tool turns fail on the 400 instead.
    assert not (tmp_path / "skip" / "preflight").exists()
    turns = read_records(tmp_path / "skip", "turns")
    assert turns and any("enable-auto-tool-choice" in (t["error"] or "") for t in turns)
    assert skipped.returncode in (0, 1)


def test_passing_preflight_is_left_out_of_the_summary(tmp_path: Path) -> None:
    with running_fake_server(api_key=KEY) as url:
        done = _bench(url, tmp_path, "run", "--run-id", "ok", "--sessions", "2", "--users", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "ok"
    preflight_sessions = read_records(run / "preflight", "sessions")
    assert len(preflight_sessions) == 3
    verdict = json.loads((run / "preflight" / "preflight.json").read_text())
    assert verdict["ok"] and verdict["parsed_calls"] > 0
    import pyarrow.parquet as pq

    summary = pq.read_table(run / "summary.parquet").to_pylist()[0]
    assert summary["sessions"] == 2  # the preflight's three are not counted
    ids = set(pq.read_table(run / "sessions.parquet").column("session_id").to_pylist())
    assert not ids & {s["session_id"] for s in preflight_sessions}
