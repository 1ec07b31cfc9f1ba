"""Sweeps: models x engine-flag combinations x loads, one vLLM server lifetime per combination.

    plan_sweep(base, models, axes, loads)      -> SweepPlan (saved as <sweep_dir>/sweep.json)
    run_sweep(plan, base)                      -> each combination is one `run_benchmark` whose
                                                  load steps are the combination's points
    collect_points(sweep_dir) / write_sweep_summary(...)

Layout of `results/<sweep_id>/`:

    sweep.json                       the plan (models, engine axes, loads, repeats)
    c00-tiny-max-num-seqs-8/         one run per combination (server.log: one server start)
      step-00-users-1/               one point: a run folder of its own (manifest, raw, tables)
      step-01-users-2/
    c00-...-resume1/                 a resumed combination: only its unfinished points
    sweep_summary.parquet            one row per finished point: engine flags as columns + the
                                     point's summary columns

A point is finished when its folder's manifest says `completed`; `--resume` runs only the
others, so nothing is run twice. The prefix cache is reset before every point through vLLM's
`POST /reset_prefix_cache`, which vLLM serves only with `VLLM_SERVER_DEV_MODE=1` (set for the
servers a sweep launches; they listen on 127.0.0.1 only). Where the endpoint is missing (an
attached deployment) each point's `prefix_cache_reset` column says so.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from bench.config import LoadConfig, RunConfig
from bench.errors import BenchError
from bench.schemas.tables import SWEEP_SUMMARY_ROWS
from bench.server.argv import parse_engine_arg
from bench.server.process import Endpoint

PLAN_FILE = "sweep.json"
SUMMARY_FILE = "sweep_summary.parquet"
DEV_MODE_ENV = "VLLM_SERVER_DEV_MODE"
RESET_PATH = "/reset_prefix_cache"
# Rough costs for the time-left estimate until real ones are measured.
SERVER_START_ESTIMATE_S = 30.0
POINT_OVERHEAD_ESTIMATE_S = 10.0  # Locust start and stop, tables

LoadAxis = Literal["users", "session_rate"]


@dataclass(frozen=True)
class EngineAxis:
    """One swept vLLM flag: `max-num-seqs=32,64,128` -> name max-num-seqs, three values."""

    name: str
    values: tuple[str, ...]

    @property
    def column(self) -> str:
        return self.name.replace("-", "_")


def parse_engine_axes(args: list[str]) -> tuple[list[EngineAxis], list[str]]:
    """`--engine-arg` values -> swept axes (a comma list) and fixed vLLM flags (one value)."""
    axes: list[EngineAxis] = []
    fixed: list[str] = []
    for text in args:
        key, sep, value = text.partition("=")
        key = key.strip().lstrip("-").replace("_", "-")
        values = tuple(v.strip() for v in value.split(",")) if sep else ()
        if sep and len(values) > 1:
            if not key or any(not v for v in values):
                raise BenchError(f"--engine-arg: '{text}' is not KEY=V1,V2,...")
            if any(a.name == key for a in axes):
                raise BenchError(f"--engine-arg: {key} is swept twice")
            axes.append(EngineAxis(key, values))
        else:
            fixed += parse_engine_arg(text)
    return axes, fixed


def typed(value: str) -> Any:
    """A flag value as a column value: true/false -> bool, numbers -> int/float, else text."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(value)
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:60] or "x"


class Combo(BaseModel):
    """One server lifetime: a model and one value per swept engine flag."""

    model_config = ConfigDict(extra="forbid")

    combo_id: str
    model: str
    flags: dict[str, str]  # flag name (dashes) -> value as given

    def engine_args(self) -> list[str]:
        return [a for k, v in self.flags.items() for a in parse_engine_arg(f"{k}={v}")]


class Point(BaseModel):
    """One load step of one combination, repeated `repeat` times (0-based)."""

    model_config = ConfigDict(extra="forbid")

    point_id: str
    combo_id: str
    load: float  # users (an integer) or sessions/s
    repeat: int = 0


class SweepPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sweep_id: str
    load_axis: LoadAxis
    step_duration_s: float
    axes: list[dict[str, Any]]  # [{"name": ..., "values": [...]}]
    combos: list[Combo]
    points: list[Point]  # empty when the loads are searched (`--find-max-load`)
    endpoint_attached: bool = False
    find_max_load: dict[str, Any] | None = None  # the search settings (bench.sla)

    def fingerprint(self) -> dict[str, Any]:
        """What must match for `--resume` to continue this sweep."""
        return self.model_dump(mode="json", include={"load_axis", "step_duration_s", "axes",
                                                     "combos", "points", "find_max_load"})  # fmt: skip

    def points_of(self, combo_id: str) -> list[Point]:
        return [p for p in self.points if p.combo_id == combo_id]

    def estimate_s(self, n_points: int, n_servers: int) -> float:
        start = 0.0 if self.endpoint_attached else SERVER_START_ESTIMATE_S
        return n_points * (self.step_duration_s + POINT_OVERHEAD_ESTIMATE_S) + n_servers * start


def plan_sweep(
    sweep_id: str,
    models: list[str],
    axes: list[EngineAxis],
    load_axis: LoadAxis,
    loads: list[float],
    *,
    step_duration_s: float,
    repeats: int = 1,
    endpoint_attached: bool = False,
    find_max_load: dict[str, Any] | None = None,
) -> SweepPlan:
    """The Cartesian product models x axes (combinations) x loads x repeats (points)."""
    if not models:
        raise BenchError("--model: give at least one model")
    if len(set(models)) != len(models):
        raise BenchError("--model: a model is given twice")
    if repeats < 1:
        raise BenchError("--trials: must be at least 1")
    combos: list[Combo] = []
    for model in models:
        for values in itertools.product(*(a.values for a in axes)):
            flags = {a.name: v for a, v in zip(axes, values, strict=True)}
            parts = [f"c{len(combos):02d}", _slug(Path(model).name)]
            parts += [_slug(f"{k}-{v}") for k, v in flags.items()]
            combos.append(Combo(combo_id="-".join(parts), model=model, flags=flags))
    points: list[Point] = []
    if find_max_load is None:
        for combo in combos:
            for load in loads:
                for repeat in range(repeats):
                    label = f"{load:g}" + (f"-r{repeat}" if repeats > 1 else "")
                    pid = f"{combo.combo_id}/{load_axis}-{label}"
                    points.append(Point(point_id=pid, combo_id=combo.combo_id, load=load,
                                        repeat=repeat))  # fmt: skip
    return SweepPlan(
        sweep_id=sweep_id,
        load_axis=load_axis,
        step_duration_s=step_duration_s,
        axes=[{"name": a.name, "values": list(a.values)} for a in axes],
        combos=combos,
        points=points,
        endpoint_attached=endpoint_attached,
        find_max_load=find_max_load,
    )


def save_or_check_plan(sweep_dir: Path, plan: SweepPlan, resume: bool) -> None:
    """A new sweep writes its plan; `--resume` insists the same command is being continued."""
    path = sweep_dir / PLAN_FILE
    if not resume:
        if sweep_dir.exists() and any(sweep_dir.iterdir()):
            raise BenchError(f"--sweep-id: {sweep_dir} already exists; add --resume to continue it")
        sweep_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(plan.model_dump_json(indent=2) + "\n")
        return
    if not path.exists():
        raise BenchError(f"--resume: {sweep_dir} has no {PLAN_FILE}; nothing to resume")
    saved = SweepPlan.model_validate_json(path.read_text())
    if saved.fingerprint() != plan.fingerprint():
        raise BenchError(
            f"--resume: the flags differ from the saved plan of sweep {plan.sweep_id} "
            f"({path}); rerun the original command with --resume"
        )


def load_for(base: LoadConfig, axis: LoadAxis, value: float, duration_s: float) -> LoadConfig:
    """The LoadConfig of one point: the base load shape at this users count or session rate."""
    update: dict[str, Any] = {"user_steps": None, "rate_steps": None, "step_duration_s": None,
                              "sessions": None, "duration_s": duration_s}  # fmt: skip
    if axis == "users":
        update["users"] = int(value)
    else:
        update["session_rate"] = float(value)
    return base.model_copy(update=update)


def combo_config(base: RunConfig, combo: Combo, sweep_dir: Path, run_id: str) -> RunConfig:
    engine = base.server.engine.model_copy(
        update={"extra_args": [*base.server.engine.extra_args, *combo.engine_args()]}
    )
    server = base.server.model_copy(update={"model": combo.model, "engine": engine})
    return base.model_copy(update={"server": server, "results_dir": sweep_dir, "run_id": run_id})


# ----------------------------------------------------------------------------- finished points


@dataclass
class FinishedPoint:
    point_id: str
    step_dir: Path
    manifest: dict[str, Any]


def _manifests(sweep_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(sweep_dir.glob("*/step-*/manifest.json")):
        with contextlib.suppress(OSError, json.JSONDecodeError):
            yield path.parent, json.loads(path.read_text())


def finished_points(sweep_dir: Path) -> dict[str, FinishedPoint]:
    """Point id -> the folder of its completed run (the latest, should there be two)."""
    done: dict[str, FinishedPoint] = {}
    for step_dir, manifest in _manifests(sweep_dir):
        pid = manifest.get("sweep_point")
        if pid and manifest.get("status") == "completed":
            done[pid] = FinishedPoint(pid, step_dir, manifest)
    return done


def next_run_id(sweep_dir: Path, combo_id: str) -> str:
    if not (sweep_dir / combo_id).exists():
        return combo_id
    n = 1
    while (sweep_dir / f"{combo_id}-resume{n}").exists():
        n += 1
    return f"{combo_id}-resume{n}"


def point_summary(step_dir: Path) -> dict[str, Any]:
    """The point's summary row; built from its raw records when the run did not get that far."""
    path = step_dir / "summary.parquet"
    if not path.exists():
        from bench.results.build import build_results

        return dict(build_results(step_dir).summary)
    rows = pq.read_table(path).to_pylist()
    return rows[0] if rows else {}


def summary_rows(plan: SweepPlan, sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per finished point in plan order: sweep columns, engine flags, summary columns."""
    done = finished_points(sweep_dir)
    combos = {c.combo_id: c for c in plan.combos}
    rows = []
    for point in plan.points:
        hit = done.get(point.point_id)
        if hit is None:
            continue
        combo = combos[point.combo_id]
        summary = point_summary(hit.step_dir)
        row: dict[str, Any] = {
            "sweep_id": plan.sweep_id,
            "point_id": point.point_id,
            "combo_id": combo.combo_id,
            "repeat": point.repeat,
            "point_dir": str(hit.step_dir.relative_to(sweep_dir)),
            "prefix_cache_reset": hit.manifest.get("prefix_cache_reset"),
        }
        for name, value in combo.flags.items():
            column = name.replace("-", "_")
            row[column if column not in summary else f"engine_{column}"] = typed(value)
        row.update({k: v for k, v in summary.items() if k not in row})
        row["model"] = combo.model
        rows.append(row)
    return rows


def write_rows(
    path: Path, rows: list[dict[str, Any]], metadata: dict[str, Any],
    declared: tuple[type, ...], plan: SweepPlan,
) -> Path | None:  # fmt: skip
    """Declared columns (bench.schemas.summaries) plus one column per swept engine flag."""
    if not rows:
        return None
    from bench.results.writer import write_table
    from bench.schemas.tables import to_open_table

    flags = {name for combo in plan.combos for name in combo.flags}
    return write_table(path, to_open_table(rows, declared, flags, path.stem), metadata)


def write_sweep_summary(
    plan: SweepPlan, sweep_dir: Path
) -> tuple[Path | None, list[dict[str, Any]]]:
    rows = summary_rows(plan, sweep_dir)
    meta = {"sweep_id": plan.sweep_id, "load_axis": plan.load_axis, "axes": plan.axes}
    return write_rows(sweep_dir / SUMMARY_FILE, rows, meta, SWEEP_SUMMARY_ROWS, plan), rows


# ----------------------------------------------------------------------------- the prefix cache


def reset_prefix_cache(endpoint: Endpoint, attempts: int = 3) -> str:
    """`ok`, or why the cache could not be reset (said in each point's manifest and summary)."""
    url = endpoint.base_url.rstrip("/") + RESET_PATH
    for attempt in range(attempts):
        try:
            resp = httpx.post(url, headers=endpoint.auth_headers(), timeout=30)
        except httpx.HTTPError as exc:
            return f"failed: {type(exc).__name__}"
        if resp.status_code in (404, 405):
            return (f"unavailable: {RESET_PATH} answered HTTP {resp.status_code} "
                    f"(vLLM serves it only with {DEV_MODE_ENV}=1)")  # fmt: skip
        if resp.status_code != 200:
            return f"failed: HTTP {resp.status_code}"
        with contextlib.suppress(ValueError):
            if resp.json().get("success") is False:  # blocks still held: retry
                time.sleep(1.0 + attempt)
                continue
        return "ok"
    return "failed: the server kept refusing (blocks still in use)"


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


# ----------------------------------------------------------------------------- running it


@dataclass
class SweepProgress:
    """What `bench sweep` prints: points done out of all, the point starting, time left."""

    done: int
    total: int
    current: str | None
    left_s: float


@dataclass
class SweepResult:
    sweep_dir: Path
    status: str  # completed | interrupted | failed
    message: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary_path: Path | None = None
    runs: list[Path] = field(default_factory=list)
    exit_signal: str = ""


class _Clock:
    """Time left from the plan's estimate, replaced by measured costs as points finish."""

    def __init__(self, plan: SweepPlan, pending_points: int, pending_servers: int):
        self.plan = plan
        self.points_left = pending_points
        self.servers_left = pending_servers
        self.started = time.monotonic()
        self.points_timed = 0

    def left_s(self) -> float:
        if self.points_timed:
            per_point = (time.monotonic() - self.started) / self.points_timed
            return per_point * self.points_left
        return self.plan.estimate_s(self.points_left, self.servers_left)


def run_sweep(
    plan: SweepPlan,
    base: RunConfig,
    sweep_dir: Path,
    *,
    on_progress: Callable[[SweepProgress], None] | None = None,
) -> SweepResult:
    """Every unfinished point, one `run_benchmark` (one server lifetime) per combination."""
    from bench.pipeline import run_benchmark  # heavy: ADK, pyarrow

    done = finished_points(sweep_dir)
    pending = {c.combo_id: [p for p in plan.points_of(c.combo_id) if p.point_id not in done]
               for c in plan.combos}  # fmt: skip
    total = len(plan.points)
    clock = _Clock(plan, sum(map(len, pending.values())), sum(1 for v in pending.values() if v))
    finished = [len(done)]
    result = SweepResult(sweep_dir, "completed")
    with dev_mode_env():
        for combo in plan.combos:
            points = pending[combo.combo_id]
            if not points:
                continue
            run_id = next_run_id(sweep_dir, combo.combo_id)
            cfg = combo_config(base, combo, sweep_dir, run_id)
            loads = [load_for(base.load, plan.load_axis, p.load, plan.step_duration_s)
                     for p in points]  # fmt: skip

            def before_step(index: int, endpoint: Endpoint, step_dir: Path,
                            points: list[Point] = points, combo: Combo = combo) -> dict[str, Any]:  # fmt: skip
                if index > 0:  # the previous point of this server lifetime is finished
                    finished[0] += 1
                    clock.points_timed += 1
                    clock.points_left -= 1
                if on_progress:
                    on_progress(SweepProgress(finished[0], total, points[index].point_id,
                                              clock.left_s()))  # fmt: skip
                return {
                    "sweep_id": plan.sweep_id,
                    "sweep_point": points[index].point_id,
                    "sweep_combo": combo.combo_id,
                    "engine_flags_swept": combo.flags,
                    "prefix_cache_reset": reset_prefix_cache(endpoint),
                }

            run = run_benchmark(cfg, steps=loads, before_step=before_step)
            result.runs.append(run.run_dir)
            clock.servers_left -= 1
            finished[0] = len(finished_points(sweep_dir))
            clock.points_timed += 1
            clock.points_left = total - finished[0]
            if run.status != "completed":
                result.status = "interrupted" if run.status == "interrupted" else "failed"
                result.message = f"{run.run_dir.name}: {run.status}: {run.message}"
                result.exit_signal = run.message
                break
    result.summary_path, result.rows = write_sweep_summary(plan, sweep_dir)
    if on_progress:
        on_progress(SweepProgress(len(finished_points(sweep_dir)), total, None, 0.0))
    return result


def describe_plan(plan: SweepPlan, sweep_dir: Path) -> list[str]:
    """The `--dry-run` text: combinations (server starts), points, folders, estimated time."""
    done = finished_points(sweep_dir) if sweep_dir.exists() else {}
    lines = [f"sweep {plan.sweep_id} -> {sweep_dir}"]
    axes = ", ".join(f"{a['name']}={','.join(a['values'])}" for a in plan.axes) or "none"
    lines.append(f"models: {', '.join(dict.fromkeys(c.model for c in plan.combos))}; "
                 f"swept engine flags: {axes}")  # fmt: skip
    servers = 0 if plan.endpoint_attached else len(plan.combos)
    lines.append(f"{len(plan.combos)} combination(s) = {servers} server start(s); "
                 f"{len(plan.points)} point(s) of {plan.step_duration_s:g} s")  # fmt: skip
    for combo in plan.combos:
        flags = " ".join(combo.engine_args()) or "(no swept flags)"
        lines.append(f"  {combo.combo_id}: --model {combo.model} {flags}")
        for p in plan.points_of(combo.combo_id):
            state = "done" if p.point_id in done else "todo"
            lines.append(f"    [{state}] {p.point_id}")
    todo = [p for p in plan.points if p.point_id not in done]
    todo_servers = len({p.combo_id for p in todo})
    if plan.find_max_load is None:
        left = plan.estimate_s(len(todo), todo_servers)
        lines.append(f"to run: {len(todo)} point(s), about {format_duration(left)}")
    return lines


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def make_sweep_id() -> str:
    return "sweep-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
