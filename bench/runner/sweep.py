"""A sweep: every unfinished point, one server lifetime per combination, the points as its steps.

    for combo in plan:                       with open_run(combo's config) as run:
        for point in combo's pending points:     reset the prefix cache; run.step(point's load)

The prefix cache is reset before every point through vLLM's `POST /reset_prefix_cache`, which
vLLM serves only with `VLLM_SERVER_DEV_MODE=1` (set for the servers a sweep launches; they
listen on 127.0.0.1 only). Where the endpoint is missing (an attached deployment) each point's
`prefix_cache_reset` column says so.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.runner.run import Run, RunResult, open_run
from bench.runner.server_session import DEV_MODE_ENV
from bench.runner.sweep_folder import finished_points, next_run_id, write_sweep_summary
from bench.runner.sweep_plan import Combo, Point, SweepPlan, combo_config, load_for
from bench.schemas.config import RunConfig
from bench.schemas.manifest import ManifestFields
from bench.schemas.status import COMPLETED, RunStatus, Stop, Stopped


@contextlib.contextmanager
def dev_mode_env() -> Iterator[None]:
    """vLLM servers launched inside the block serve `/reset_prefix_cache` (loopback only)."""
    previous = os.environ.get(DEV_MODE_ENV)
    os.environ[DEV_MODE_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(DEV_MODE_ENV, None)
        else:
            os.environ[DEV_MODE_ENV] = previous


@dataclass
class SweepProgress:
    """What `bench sweep` prints: points done out of all, the point starting, time left."""

    done: int
    total: int
    current: str | None
    left_s: float


@dataclass
class SweepResult(Stopped):
    sweep_dir: Path
    stop: Stop = COMPLETED  # completed | interrupted | failed
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary_path: Path | None = None
    runs: list[Path] = field(default_factory=list)


def run_stopped(run: RunResult) -> Stop:
    """A combination's run that did not complete ends the sweep (or the SLA search): the
    sweep is interrupted by the run's signal, or failed, and says which run and why."""
    status = RunStatus.INTERRUPTED if run.status is RunStatus.INTERRUPTED else RunStatus.FAILED
    return Stop(status, f"{run.run_dir.path.name}: {run.status}: {run.message}", run.signum)


class _Clock:
    """Time left from the plan's estimate, replaced by measured costs as points finish."""

    def __init__(self, plan: SweepPlan, pending_points: int, pending_servers: int):
        self.plan = plan
        self.points_left = pending_points
        self.servers_left = pending_servers
        self.started = time.monotonic()
        self.points_timed = 0

    def point_done(self) -> None:
        self.points_timed += 1
        self.points_left -= 1

    def left_s(self) -> float:
        if self.points_timed:
            per_point = (time.monotonic() - self.started) / self.points_timed
            return per_point * self.points_left
        return self.plan.estimate_s(self.points_left, self.servers_left)


def point_fields(
    plan: SweepPlan, combo: Combo, point_id: str, load: float, run: Run,
    group_id: str | None = None,
) -> ManifestFields:  # fmt: skip
    """What a point's manifest says about it (and the prefix-cache reset just made).
    `sweep_combo` is the point's group: the combination and its client options."""
    return {
        "sweep_id": plan.sweep_id,
        "sweep_point": point_id,
        "sweep_combo": group_id or combo.combo_id,
        "sweep_load": load,
        "engine_flags_swept": combo.flags,
        "prefix_cache_reset": run.server().reset_prefix_cache(),
    }


def run_sweep(
    plan: SweepPlan,
    base: RunConfig,
    sweep_dir: Path,
    *,
    on_progress: Callable[[SweepProgress], None] | None = None,
) -> SweepResult:
    """Every unfinished point, one run (one server lifetime) per combination."""
    done = finished_points(sweep_dir)
    pending = {c.combo_id: [p for p in plan.points_of(c.combo_id) if p.point_id not in done]
               for c in plan.combos}  # fmt: skip
    total = len(plan.points)
    clock = _Clock(plan, sum(map(len, pending.values())), sum(1 for v in pending.values() if v))
    finished = len(done)
    result = SweepResult(sweep_dir)
    with dev_mode_env():
        for combo in plan.combos:
            points: list[Point] = pending[combo.combo_id]
            if not points:
                continue
            cfg = combo_config(base, combo, sweep_dir, next_run_id(sweep_dir, combo.combo_id))
            with open_run(cfg, stepped=True) as run:
                for point in points:
                    if on_progress:
                        on_progress(SweepProgress(finished, total, point.point_id, clock.left_s()))
                    load = load_for(base.load, plan.load_axis, point.load, plan.step_duration_s,
                                    point.options)  # fmt: skip
                    fields = point_fields(plan, combo, point.point_id, point.load, run,
                                          point.group_id)  # fmt: skip
                    if not run.step(load, **fields).ok:
                        break
                    finished += 1
                    clock.point_done()
            clock.servers_left -= 1
            result.runs.append(run.run_dir.path)
            assert run.result is not None
            if not run.result.status.ok:
                result.stop = run_stopped(run.result)
                break
    result.summary_path, result.rows = write_sweep_summary(plan, sweep_dir)
    if on_progress:
        on_progress(SweepProgress(len(finished_points(sweep_dir)), total, None, 0.0))
    return result
