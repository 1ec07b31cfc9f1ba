"""`bench sweep` against the fake server: points, summary, resume, and the SLA search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from bench.testing.fake_server import running_fake_server


def bench(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))  # fmt: skip


def test_sweep_points_summary_and_resume(tmp_path: Path) -> None:
    with running_fake_server(latency_ms=10, served_model_name="fake") as url:
        args = ["sweep", "--endpoint", url, "--model", "fake", "--users", "1,2",
                "--step-duration", "6s", "--processes", "1", "--results-dir", str(tmp_path),
                "--sweep-id", "s"]  # fmt: skip
        first = bench(*args)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        again = bench(*args, "--resume")  # everything is finished: nothing runs again
    assert again.returncode == 0, again.stderr[-2000:]
    sweep_dir = tmp_path / "s"
    assert [p.name for p in sorted(sweep_dir.iterdir()) if p.is_dir()] == ["c00-fake"]
    summary = pq.read_table(sweep_dir / "sweep_summary.parquet").to_pandas()
    assert list(summary["users"]) == [1, 2]
    assert list(summary["point_id"]) == ["c00-fake/users-1", "c00-fake/users-2"]
    assert (summary["sessions"] > 0).all() and (summary["status"] == "completed").all()
    # an attached endpoint has no reset route: each point says so
    assert summary["prefix_cache_reset"].str.startswith("unavailable").all()
    assert "2/2 points done" in first.stdout and "left" in first.stdout
    # --endpoint: the deployment's /metrics is scraped into each point's server_metrics table
    metrics = pq.read_table(sweep_dir / summary["point_dir"][0] / "server_metrics.parquet")
    assert "vllm:num_requests_running" in set(metrics.column("metric").to_pylist())
    dry = bench(*args, "--dry-run")
    assert "[done] c00-fake/users-1" in dry.stdout and "[done] c00-fake/users-2" in dry.stdout
    # each case per point, in the sweep folder and in the combination's run; no fault: none degrades
    for folder in (sweep_dir, sweep_dir / "c00-fake"):
        cases = pq.read_table(folder / "cases_by_step.parquet").to_pandas()
        assert set(cases["point_id"]) == set(summary["point_id"])
        assert set(cases["combo_id"]) == {"c00-fake"} and set(cases["users"]) == {1, 2}
        assert not cases["degrades_under_load"].fillna(False).any()


def test_find_max_load_with_latency_growing_with_load(tmp_path: Path) -> None:
    """Each LLM call waits 200 ms per request in flight: a 2-call turn at U users takes ~400*U ms,
    so a 2200 ms p90 turn SLO is met by 5 users and missed by 6."""
    with running_fake_server(latency_per_inflight_ms=200, served_model_name="fake") as url:
        proc = bench("sweep", "--find-max-load", "--slo", "turn_ms=2200",
                     "--min-tool-accuracy", "0.3", "--endpoint", url, "--model", "fake",
                     "--users", "2,8", "--step-duration", "10s", "--processes", "1",
                     "--results-dir", str(tmp_path), "--sweep-id", "sla", timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    probes = pq.read_table(tmp_path / "sla" / "sla_probes.parquet").to_pandas()
    assert list(probes["load"]) == [2, 4, 8, 6, 5]
    assert list(probes["passed"]) == [True, True, False, False, True]
    assert list(probes["phase"]) == ["ramp", "ramp", "ramp", "bisect", "bisect"]
    assert probes["reasons"].str.contains("turn_p90_ms").all()
    answer = pq.read_table(tmp_path / "sla" / "sla_summary.parquet").to_pandas().iloc[0]
    assert (answer["max_users"], answer["first_failing_users"]) == (5, 6)
    assert (
        "max 5 (fails at 6)" in proc.stdout and "probe 4 (bisect): users=5 -> PASS" in proc.stdout
    )
    # all probes ran as steps of one run (one server lifetime)
    runs = [p for p in (tmp_path / "sla").iterdir() if p.is_dir()]
    assert len(runs) == 1 and len(list(runs[0].glob("step-*"))) == 5
    manifest = json.loads((runs[0] / "step-04-users-5" / "manifest.json").read_text())
    assert manifest["sweep_load"] == 5
