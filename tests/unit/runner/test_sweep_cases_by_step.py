"""A sweep folder's cases_by_step: every finished point, judged within its combination, across
a resumed combination's two run folders, with the engine flags as columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.runner.sweep_folder import save_or_check_plan, write_sweep_summary
from bench.runner.sweep_plan import parse_engine_axes, plan_sweep
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus


def _point(sweep_dir: Path, run: str, step: str, combo: str, pid: str, users: int,
           rates: dict[str, float]) -> None:  # fmt: skip
    """A finished point with built tables: a summary row and one cases row per case."""
    d = RunDir(sweep_dir / run / step)
    d.path.mkdir(parents=True)
    write_manifest(d, Manifest(run_id=run, sweep_point=pid, sweep_combo=combo,
                               status=RunStatus.COMPLETED))  # fmt: skip
    pq.write_table(pa.Table.from_pylist([{"step": 0, "users": users}]), d.summary)
    cases = [{"run_id": run, "case_id": c, "eval_set_id": "e", "trials": 4, "passes": int(4 * r),
              "cut_short": 0, "pass_rate": r, "k": 1, "pass_hat_k": r, "turns": 4,
              "unparsed_tool_calls": 4 - int(4 * r)} for c, r in rates.items()]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(cases), d.table("cases"))


def test_points_are_compared_within_their_combination(tmp_path: Path) -> None:
    axes, _ = parse_engine_axes(["max-num-seqs=8,64"])
    plan = plan_sweep("s", ["tiny"], axes, "users", [1, 8], step_duration_s=30)
    sweep_dir = tmp_path / "s"
    save_or_check_plan(sweep_dir, plan, resume=False)
    (c8, c64), points = plan.combos, {(p.combo_id, p.load): p.point_id for p in plan.points}
    # max-num-seqs 8: "a" passes at 1 user and fails at 8 (run after a resume, its own folder)
    _point(sweep_dir, c8.combo_id, "step-00-users-1", c8.combo_id, points[(c8.combo_id, 1)], 1,
           {"a": 1.0, "b": 1.0})  # fmt: skip
    _point(sweep_dir, f"{c8.combo_id}-resume1", "step-00-users-8", c8.combo_id,
           points[(c8.combo_id, 8)], 8, {"a": 0.5, "b": 1.0})  # fmt: skip
    # max-num-seqs 64: "a" fails at both loads, "b" fails at 8 only
    _point(sweep_dir, c64.combo_id, "step-00-users-1", c64.combo_id, points[(c64.combo_id, 1)], 1,
           {"a": 0.0, "b": 1.0})  # fmt: skip
    _point(sweep_dir, c64.combo_id, "step-01-users-8", c64.combo_id, points[(c64.combo_id, 8)], 8,
           {"a": 0.0, "b": 0.75})  # fmt: skip

    write_sweep_summary(plan, sweep_dir)
    rows = pq.read_table(RunDir(sweep_dir).cases_by_step).to_pylist()
    flagged = {(r["max_num_seqs"], r["case_id"], r["users"]) for r in rows
               if r["degrades_under_load"]}  # fmt: skip
    assert flagged == {(8, "a", 8), (64, "b", 8)}
    assert len(rows) == 8 and {r["point_id"] for r in rows} == set(points.values())
    a8 = next(r for r in rows if (r["combo_id"], r["case_id"], r["users"]) == (c8.combo_id, "a", 8))
    assert a8["run_id"] == f"{c8.combo_id}-resume1" and a8["unparsed_rate"] == 0.5
