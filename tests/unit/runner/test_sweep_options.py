"""Client options as sweep axes: `--thinking on,off` and `--thinking-budget` (one server, every
value), their point ids, loads, groups and the columns they give the sweep's tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.runner.sweep_folder import describe_plan, write_sweep_summary
from bench.runner.sweep_plan import (
    EngineAxis,
    load_for,
    parse_engine_axes,
    parse_option_axes,
    plan_sweep,
)
from bench.schemas.config import LoadConfig
from bench.schemas.errors import BenchError
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus


def test_option_axes_and_fixed_options() -> None:
    axes, fixed = parse_option_axes({"thinking": "on,off", "thinking_budget": "64"})
    assert axes == [EngineAxis("thinking", ("on", "off"))] and fixed == {"thinking_budget": "64"}
    assert parse_option_axes({"thinking": None}) == ([], {})
    for flags, flag in (({"thinking": "on,maybe"}, "--thinking"),
                        ({"thinking_budget": "8,-1"}, "--thinking-budget"),
                        ({"thinking": "on,on"}, "--thinking")):  # fmt: skip
        with pytest.raises(BenchError, match=flag):
            parse_option_axes(flags)


def test_points_per_option_value_share_one_server() -> None:
    engine, _ = parse_engine_axes(["max-num-seqs=8,16"])
    options, _ = parse_option_axes({"thinking": "on,off"})
    plan = plan_sweep("s", ["tiny-reasoning"], engine, "users", [1, 4], step_duration_s=30,
                      options=options)  # fmt: skip
    assert len(plan.combos) == 2 and len(plan.points) == 8  # servers: one per engine combination
    combo = plan.combos[0].combo_id
    assert [p.point_id for p in plan.points_of(combo)] == [
        f"{combo}/thinking-on/users-1", f"{combo}/thinking-on/users-4",
        f"{combo}/thinking-off/users-1", f"{combo}/thinking-off/users-4",
    ]  # fmt: skip
    assert {p.group_id for p in plan.points_of(combo)} == {f"{combo}/thinking-on",
                                                           f"{combo}/thinking-off"}  # fmt: skip
    assert plan.fingerprint()["options"] == [{"name": "thinking", "values": ["on", "off"]}]
    # Without options the point ids are what they were (a sweep saved before can resume).
    plain = plan_sweep("s", ["tiny"], [], "users", [1], step_duration_s=30)
    assert plain.points[0].point_id == f"{plain.combos[0].combo_id}/users-1"
    with pytest.raises(BenchError, match="--thinking: give one value with --find-max-load"):
        plan_sweep("s", ["tiny"], [], "users", [1], step_duration_s=30, options=options,
                   find_max_load={"low": 1})  # fmt: skip


def test_a_point_load_carries_its_options() -> None:
    base = LoadConfig(users=1, thinking_budget=32)
    load = load_for(base, "users", 4, 10, {"thinking": "off"})
    assert (load.users, load.thinking, load.thinking_budget) == (4, "off", 32)
    assert load_for(base, "users", 4, 10, {"thinking_budget": "0"}).thinking_budget == 0
    assert load_for(base, "users", 4, 10).thinking is None


def test_summary_and_cases_tables_get_an_option_column(tmp_path: Path) -> None:
    options, _ = parse_option_axes({"thinking": "on,off"})
    plan = plan_sweep("s", ["tiny-reasoning"], [], "users", [1], step_duration_s=30,
                      options=options)  # fmt: skip
    for point in plan.points:
        step = tmp_path / plan.combos[0].combo_id / f"step-{point.options['thinking']}"
        step.mkdir(parents=True)
        write_manifest(RunDir(step), Manifest(run_id="r", sweep_point=point.point_id,
                                              sweep_combo=point.group_id,
                                              status=RunStatus.COMPLETED))  # fmt: skip
        pq.write_table(pa.Table.from_pylist([{"sessions": 2, "users": 1,
                                              "thinking": point.options["thinking"]}]),
                       step / "summary.parquet")  # fmt: skip
        pq.write_table(pa.Table.from_pylist([{"case_id": "a", "trials": 2, "passes": 2,
                                              "pass_rate": 1.0}]), step / "cases.parquet")  # fmt: skip
    path, rows = write_sweep_summary(plan, tmp_path)
    assert path is not None and [r["thinking"] for r in rows] == ["on", "off"]
    cases = pq.read_table(RunDir(tmp_path).cases_by_step).to_pylist()
    assert sorted((r["thinking"], r["combo_id"].rsplit("/", 1)[1]) for r in cases) == [
        ("off", "thinking-off"), ("on", "thinking-on")]  # fmt: skip
    # Each option value is its own group: neither point is "degraded" against the other.
    assert [r["degrades_under_load"] for r in cases] == [False, False]
    assert "swept client options (one server, every value): thinking=on,off" in "\n".join(
        describe_plan(plan, tmp_path)
    )
