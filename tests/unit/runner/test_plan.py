"""The sweep plan: Cartesian product, ids, resume bookkeeping, the summary rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.cli.config_flags import run_config_from_flags
from bench.runner.sweep_folder import (
    describe_plan,
    finished_points,
    next_run_id,
    save_or_check_plan,
    write_sweep_summary,
)
from bench.runner.sweep_plan import (
    EngineAxis,
    SweepPlan,
    combo_config,
    load_for,
    parse_engine_axes,
    plan_sweep,
    typed,
)
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.errors import BenchError
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus


def _plan(**kw):
    axes, _ = parse_engine_axes(["max-num-seqs=32,64,128", "enable_prefix_caching=true,false"])
    return plan_sweep("s", kw.pop("models", ["tiny"]), axes, "users", [1, 8, 32],
                      step_duration_s=30, **kw)  # fmt: skip


def test_engine_axes_and_fixed_flags() -> None:
    axes, fixed = parse_engine_axes(["max-num-seqs=8,16", "max-model-len=2048", "enforce-eager"])
    assert axes == [EngineAxis("max-num-seqs", ("8", "16"))]
    assert fixed == ["--max-model-len", "2048", "--enforce-eager"]
    with pytest.raises(BenchError, match="swept twice"):
        parse_engine_axes(["a=1,2", "a=3,4"])
    with pytest.raises(BenchError):
        parse_engine_axes(["a=1,"])


def test_cartesian_product() -> None:
    plan = _plan()
    assert len(plan.combos) == 6 and len(plan.points) == 18
    assert {tuple(c.flags.items()) for c in plan.combos} == {
        (("max-num-seqs", m), ("enable-prefix-caching", p))
        for m in ("32", "64", "128") for p in ("true", "false")
    }  # fmt: skip
    assert len({p.point_id for p in plan.points}) == 18
    c = plan.combos[1]
    assert c.engine_args() == ["--max-num-seqs", "32", "--no-enable-prefix-caching"]
    assert [p.load for p in plan.points_of(c.combo_id)] == [1, 8, 32]


def test_model_matrix_and_repeats() -> None:
    plan = _plan(models=["tiny", "Qwen/Qwen2.5-3B-Instruct"], repeats=2)
    assert len(plan.combos) == 12 and len(plan.points) == 72
    assert plan.combos[6].model == "Qwen/Qwen2.5-3B-Instruct"
    assert "Qwen2.5-3B-Instruct" in plan.combos[6].combo_id
    with pytest.raises(BenchError, match="twice"):
        _plan(models=["tiny", "tiny"])


def test_typed_values() -> None:
    assert [typed(v) for v in ("8", "0.9", "true", "False", "fp8")] == [8, 0.9, True, False, "fp8"]


def test_point_load_and_combo_config(tmp_path: Path) -> None:
    base = RunConfig(load=LoadConfig(user_steps=[1, 2], users=1, duration_s=60, sessions=None))
    load = load_for(base.load, "users", 8, 10)
    assert (load.users, load.duration_s, load.user_steps, load.steps()) == (8, 10, None, [load])
    rate = load_for(base.load, "session_rate", 0.5, 10)
    assert rate.session_rate == 0.5
    plan = _plan()
    cfg = combo_config(base, plan.combos[0], tmp_path, "run-x")
    assert cfg.server.engine.extra_args == ["--max-num-seqs", "32", "--enable-prefix-caching"]
    assert (cfg.results_dir, cfg.run_id) == (tmp_path, "run-x")


def _fake_point(sweep_dir: Path, run: str, step: str, pid: str, status: str, **summary) -> Path:
    d = sweep_dir / run / step
    d.mkdir(parents=True)
    write_manifest(RunDir(d), Manifest(run_id=f"{run}/{step}", sweep_point=pid,
                                       status=RunStatus(status), prefix_cache_reset="ok"))  # fmt: skip
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist([{"sessions": 3, "turn_p90_ms": 100.0, **summary}]),
                   d / "summary.parquet")  # fmt: skip
    return d


def test_resume_bookkeeping_and_summary(tmp_path: Path) -> None:
    plan = _plan()
    sweep_dir = tmp_path / "s"
    save_or_check_plan(sweep_dir, plan, resume=False)
    with pytest.raises(BenchError, match="already exists"):
        save_or_check_plan(sweep_dir, plan, resume=False)
    save_or_check_plan(sweep_dir, plan, resume=True)
    other = plan_sweep("s", ["tiny"], [], "users", [1], step_duration_s=30)
    with pytest.raises(BenchError, match="differ"):
        save_or_check_plan(sweep_dir, other, resume=True)

    c0 = plan.combos[0].combo_id
    p0, p1 = plan.points[0].point_id, plan.points[1].point_id
    _fake_point(sweep_dir, c0, "step-00-users-1", p0, "completed", users=1)
    _fake_point(sweep_dir, c0, "step-01-users-8", p1, "running", users=8)  # interrupted
    assert set(finished_points(sweep_dir)) == {p0}
    assert next_run_id(sweep_dir, c0) == f"{c0}-resume1"
    assert next_run_id(sweep_dir, plan.combos[1].combo_id) == plan.combos[1].combo_id
    _fake_point(sweep_dir, f"{c0}-resume1", "step-00-users-8", p1, "completed", users=8)
    assert next_run_id(sweep_dir, c0) == f"{c0}-resume2"

    path, rows = write_sweep_summary(plan, sweep_dir)
    assert path is not None
    table = pq.read_table(path).to_pandas()
    assert list(table["point_id"]) == [p0, p1]
    assert list(table["max_num_seqs"]) == [32, 32] and list(table["enable_prefix_caching"]) == [
        True,
        True,
    ]
    assert list(table["users"]) == [1, 8] and list(table["point_dir"])[1].startswith(
        f"{c0}-resume1"
    )
    text = "\n".join(describe_plan(plan, sweep_dir))
    assert f"[done] {p0}" in text and f"[todo] {plan.points[2].point_id}" in text
    assert "6 combination(s) = 6 server start(s)" in text


def test_resume_refuses_another_workload(tmp_path: Path) -> None:
    """Same models, flags and loads, but another eval set or user simulator: the points would
    not compare, so --resume names what differs. A plan saved before plans kept the workload
    still resumes."""
    from bench.runner.sweep_plan import workload_of

    def plan_for(**flags: object) -> SweepPlan:
        cfg = run_config_from_flags({"model": "tiny", **flags})
        return plan_sweep("s", ["tiny"], [], "users", [1, 8], step_duration_s=30,
                          workload=workload_of(cfg))  # fmt: skip

    sweep_dir = tmp_path / "s"
    save_or_check_plan(sweep_dir, plan_for(evalset="weather_time"), resume=False)
    save_or_check_plan(sweep_dir, plan_for(evalset="weather_time"), resume=True)
    with pytest.raises(BenchError, match=r"evalset\)"):
        save_or_check_plan(sweep_dir, plan_for(evalset="research_notes"), resume=True)
    with pytest.raises(BenchError, match=r"user_simulator\)"):
        save_or_check_plan(sweep_dir, plan_for(evalset="weather_time", max_turns=2), resume=True)
    with pytest.raises(BenchError, match=r"load\)"):
        save_or_check_plan(sweep_dir, plan_for(evalset="weather_time", think_time="2s"),
                           resume=True)  # fmt: skip

    secret = plan_for(evalset="weather_time", user_simulator_endpoint="http://u:pw-123@127.0.0.1:9")
    assert secret.workload is not None and "pw-123" not in json.dumps(secret.workload)

    old = tmp_path / "old"
    save_or_check_plan(old, plan_sweep("s", ["tiny"], [], "users", [1, 8], step_duration_s=30),
                       resume=False)  # fmt: skip
    save_or_check_plan(old, plan_for(evalset="research_notes"), resume=True)
