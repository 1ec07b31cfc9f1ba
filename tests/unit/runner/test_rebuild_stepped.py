"""`bench results rebuild` of a run with load steps: every step's tables, then the run's own
(a summary row per step, by turn index, cases by step); nothing built from the run folder's own
empty raw records."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from bench.cli.app import app
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from tests.unit.results.test_under_load import _write_step


def _stepped_run(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "run")
    (run.path / "raw").mkdir(parents=True)  # a stepped run's own raw folder stays empty
    write_manifest(run, Manifest.model_validate({"run_id": "run", "status": "completed",
                                                 "provenance": {"model": "tiny"}}))  # fmt: skip
    _write_step(run.step(0, "users-1").path, 0, 1, [("a", "right"), ("b", "right")])
    _write_step(run.step(1, "users-4").path, 1, 4, [("a", "right"), ("b", "unparsed"),
                                                    ("b", "right")])  # fmt: skip
    return run


def test_rebuild_builds_each_step_then_the_runs_own_tables(tmp_path: Path) -> None:
    run = _stepped_run(tmp_path)
    result = CliRunner().invoke(app, ["results", "rebuild", str(run.path)])
    assert result.exit_code == 0, result.output
    summary = pq.read_table(run.summary).to_pylist()
    assert [(r["step"], r["users"], r["sessions"]) for r in summary] == [(0, 1, 2), (1, 4, 3)]
    for step in run.steps():
        assert pq.read_table(step.summary).num_rows == 1
        assert pq.read_table(step.table("turns")).num_rows == len(
            (step.raw / "turns.1.jsonl").read_text().splitlines()
        )
    assert not run.table("turns").exists()  # no tables from the run folder's empty raw
    by_turn = pq.read_table(run.by_turn_index).to_pylist()
    assert sorted(r["step"] for r in by_turn) == [0, 1]
    flagged = [(r["case_id"], r["users"]) for r in pq.read_table(run.cases_by_step).to_pylist()
               if r["degrades_under_load"]]  # fmt: skip
    assert flagged == [("b", 4)]
    assert "load steps" in result.output  # the per-step table is printed, and the degrading case
    assert "degrades under load (run): 1 of 2 case(s)" in result.output


def test_rebuild_of_a_flat_run_is_unchanged(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "flat")
    _write_step(run.path, 0, 2, [("a", "right")])
    result = CliRunner().invoke(app, ["results", "rebuild", str(run.path)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(run.summary).num_rows == 1 and run.table("turns").exists()
    assert not run.cases_by_step.exists()
