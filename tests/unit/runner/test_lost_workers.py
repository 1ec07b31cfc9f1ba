"""A master run's lost workers: into the manifest, and load_failed when none remained."""

from __future__ import annotations

import json
from pathlib import Path

from bench.runner.load_step import _no_turn_played, _workers_lost
from bench.schemas.manifest import Manifest, read_manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus, Stop

LOST = {"worker": "host_a", "lost_at": "2026-12-02T10:00:05+00:00", "silent_s": 4.5, "users": 2,
        "records_received": {"sessions": 3}, "tickets_returned": 1, "workers_remaining": 1}  # fmt: skip


def _run(tmp_path: Path, workers: list[dict]) -> RunDir:
    tmp_path.mkdir(parents=True, exist_ok=True)
    run = RunDir(tmp_path)
    write_manifest(run, Manifest(run_id="r"))
    run.workers.write_text(json.dumps(workers))
    return run


def test_one_of_two_lost_completes_and_is_recorded(tmp_path: Path) -> None:
    run = _run(tmp_path, [{"worker": "host_a", "lost": LOST}, {"worker": "host_b", "lost": None}])
    stop = _workers_lost(run, Stop(RunStatus.COMPLETED))
    assert stop.status is RunStatus.COMPLETED and "1 of 2 Locust workers died" in stop.message
    [lost] = read_manifest(run).lost_workers
    assert lost.worker == "host_a" and lost.records_received == {"sessions": 3}


def test_all_lost_is_load_failed(tmp_path: Path) -> None:
    run = _run(tmp_path, [{"worker": "host_a", "lost": {**LOST, "workers_remaining": 0}}])
    stop = _workers_lost(run, Stop(RunStatus.COMPLETED))
    assert stop.status is RunStatus.LOAD_FAILED and "all 1 Locust workers died" in stop.message


def test_a_signal_keeps_its_status_and_no_loss_changes_nothing(tmp_path: Path) -> None:
    run = _run(tmp_path, [{"worker": "host_a", "lost": LOST}])
    interrupted = Stop(RunStatus.INTERRUPTED, "stopped by SIGINT", 2)
    assert _workers_lost(run, interrupted) == interrupted
    calm = _run(tmp_path / "calm", [{"worker": "host_a", "lost": None}])
    assert _workers_lost(calm, Stop(RunStatus.COMPLETED)) == Stop(RunStatus.COMPLETED)
    assert read_manifest(calm).lost_workers == []


def test_a_master_run_where_no_worker_played_a_turn_is_load_failed(tmp_path: Path) -> None:
    """Its only worker quit at once (a missing key): Locust's master ends the test and exits 0."""
    run = _run(tmp_path, [{"worker": "host_a", "lost": None}])
    stop = _no_turn_played(run, Stop(RunStatus.COMPLETED))
    assert stop.status is RunStatus.LOAD_FAILED and "no worker played a turn" in stop.message
    interrupted = Stop(RunStatus.INTERRUPTED, "stopped by SIGINT", 2)
    assert _no_turn_played(run, interrupted) == interrupted
    run.raw.mkdir(parents=True, exist_ok=True)
    run.raw_file("turns", "worker-1").write_text(json.dumps({"warmup": True}) + "\n")
    assert _no_turn_played(run, Stop(RunStatus.COMPLETED)) == Stop(RunStatus.COMPLETED)
