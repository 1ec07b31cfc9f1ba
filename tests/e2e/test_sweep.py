"""`bench sweep` on the real vLLM (CPU, tiny model): 2 engine combinations x 2 user counts.

One server start per combination (read from each run folder's server.log), the sweep is killed
with SIGTERM half way and resumed: every point exactly once in the sweep summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e

START_LINE = "Starting vLLM server on"


def sweep_args(results: Path) -> list[str]:
    return [sys.executable, "-m", "bench", "sweep", "--model", "tiny",
            "--engine-arg", "max-num-seqs=8,16", "--users", "1,2", "--step-duration", "10s",
            "--processes", "1", "--results-dir", str(results), "--sweep-id", "sw"]  # fmt: skip


def test_dry_run_prints_the_plan(tmp_path: Path) -> None:
    out = subprocess.run([*sweep_args(tmp_path), "--dry-run"], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "2 combination(s) = 2 server start(s); 4 point(s) of 10 s" in out.stdout
    assert "c00-tiny-max-num-seqs-8: --model tiny --max-num-seqs 8" in out.stdout
    assert "[todo] c01-tiny-max-num-seqs-16/users-2" in out.stdout
    assert not (tmp_path / "sw").exists()


def test_sweep_killed_and_resumed(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sw"
    proc = subprocess.Popen(sweep_args(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ))  # fmt: skip
    # Kill it once the second combination's server is up (its first point started).
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if list(sweep_dir.glob("c01-*/step-00-*/manifest.json")):
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out[-3000:]
    assert "--resume" in out

    resumed = subprocess.run([*sweep_args(tmp_path), "--resume"], capture_output=True, text=True,
                             timeout=400)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]

    summary = pq.read_table(sweep_dir / "sweep_summary.parquet").to_pandas()
    assert len(summary) == 4 and summary["point_id"].is_unique
    assert sorted(zip(summary["max_num_seqs"], summary["users"], strict=True)) == [
        (8, 1), (8, 2), (16, 1), (16, 2)
    ]  # fmt: skip
    assert (summary["status"] == "completed").all() and (summary["sessions"] > 0).all()
    assert (summary["prefix_cache_reset"] == "ok").all()
    runs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir())
    assert runs == ["c00-tiny-max-num-seqs-8", "c01-tiny-max-num-seqs-16",
                    "c01-tiny-max-num-seqs-16-resume1"]  # fmt: skip
    for run in runs:  # one server start per run folder
        assert (sweep_dir / run / "server.log").read_text().count(START_LINE) == 1
    # the first combination ran both its points in its one server lifetime
    assert len(list((sweep_dir / runs[0]).glob("step-*"))) == 2
