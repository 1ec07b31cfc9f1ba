"""A sweep's folder: its plan, the points already finished, and the summary tables.

Layout of `results/<sweep_id>/`:

    sweep.json                       the plan (models, engine axes, loads, repeats)
    c00-tiny-max-num-seqs-8/         one run per combination (server.log: one server start)
      step-00-users-1/               one point: a run folder of its own (manifest, raw, tables)
    c00-...-resume1/                 a resumed combination: only its unfinished points
    sweep_summary.parquet            one row per finished point: engine flags as columns + the
                                     point's summary columns
    cases_by_step.parquet            one row per case and finished point, engine flags as
                                     columns; degradation judged per combination

A point is finished when its folder's manifest says `completed`; `--resume` runs only the
others, so nothing is run twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.runner.sweep_plan import SweepPlan, format_duration, typed
from bench.schemas.errors import BenchError
from bench.schemas.manifest import Manifest, read_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus
from bench.schemas.tables import SWEEP_CASES_BY_STEP_ROWS, SWEEP_SUMMARY_ROWS


def save_or_check_plan(sweep_dir: Path, plan: SweepPlan, resume: bool) -> None:
    """A new sweep writes its plan; `--resume` insists the same command is being continued."""
    path = RunDir(sweep_dir).sweep_plan
    if not resume:
        if sweep_dir.exists() and any(sweep_dir.iterdir()):
            raise BenchError(f"--sweep-id: {sweep_dir} already exists; add --resume to continue it")
        sweep_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(plan.model_dump_json(indent=2) + "\n")
        return
    if not path.exists():
        raise BenchError(f"--resume: {sweep_dir} has no {path.name}; nothing to resume")
    saved = SweepPlan.model_validate_json(path.read_text())
    theirs, mine = saved.fingerprint(), plan.fingerprint()
    if saved.workload is None:  # saved before plans kept the workload: compare what it kept
        theirs.pop("workload")
        mine.pop("workload")
    differ = [k for k in mine if k != "workload" and mine[k] != theirs[k]]
    if "workload" in mine:  # name what differs inside it: the eval set, the user simulator, ...
        ours, saved_w = mine["workload"] or {}, theirs["workload"] or {}
        differ += [k for k in sorted(ours.keys() | saved_w.keys()) if ours.get(k) != saved_w.get(k)]
    if differ:
        raise BenchError(
            f"--resume: the flags differ from the saved plan of sweep {plan.sweep_id} "
            f"({path}: {', '.join(differ)}); rerun the original command with --resume"
        )


@dataclass
class FinishedPoint:
    point_id: str
    step_dir: RunDir
    manifest: Manifest


def _step_manifests(sweep_dir: Path) -> Iterator[tuple[RunDir, Manifest]]:
    runs = sorted(p for p in sweep_dir.iterdir() if p.is_dir()) if sweep_dir.is_dir() else []
    for run in runs:
        for step_dir in RunDir(run).steps():
            with contextlib.suppress(OSError, BenchError):  # a torn manifest: not finished
                yield step_dir, read_manifest(step_dir)


def finished_points(sweep_dir: Path) -> dict[str, FinishedPoint]:
    """Point id -> the folder of its completed run (the latest, should there be two)."""
    done: dict[str, FinishedPoint] = {}
    for step_dir, manifest in _step_manifests(sweep_dir):
        pid = manifest.sweep_point
        if pid and manifest.status is RunStatus.COMPLETED:
            done[pid] = FinishedPoint(pid, step_dir, manifest)
    return done


def next_run_id(sweep_dir: Path, combo_id: str) -> str:
    if not (sweep_dir / combo_id).exists():
        return combo_id
    n = 1
    while (sweep_dir / f"{combo_id}-resume{n}").exists():
        n += 1
    return f"{combo_id}-resume{n}"


def point_summary(step_dir: RunDir) -> dict[str, Any]:
    """The point's summary row; built from its raw records when the run did not get that far."""
    if not step_dir.summary.exists():
        from bench.results.build import build_results  # heavy: ADK's evaluators

        return dict(build_results(step_dir.path).summary)
    import pyarrow.parquet as pq

    rows = pq.read_table(step_dir.summary).to_pylist()
    return rows[0] if rows else {}


def engine_flag_columns(flags: dict[str, Any], taken: Container[str]) -> dict[str, Any]:
    """A combination's engine flags as row columns (`max-num-seqs` -> `max_num_seqs`), prefixed
    `engine_` where the row already has a column of that name."""
    columns = {}
    for name, value in flags.items():
        column = name.replace("-", "_")
        columns[column if column not in taken else f"engine_{column}"] = typed(value)
    return columns


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
            "point_dir": str(hit.step_dir.path.relative_to(sweep_dir)),
            "prefix_cache_reset": hit.manifest.prefix_cache_reset,
        }
        row.update(engine_flag_columns(combo.flags, summary))
        row.update({k: v for k, v in summary.items() if k not in row})
        row["model"] = combo.model
        rows.append(row)
    return rows


def write_rows(
    path: Path, rows: list[dict[str, Any]], metadata: dict[str, Any],
    declared: tuple[type, ...], plan: SweepPlan,
) -> Path | None:  # fmt: skip
    """Declared columns (bench.schemas.summaries) plus one column per swept engine flag and
    client option."""
    if not rows:
        return None
    from bench.results.writer import write_table
    from bench.schemas.tables import to_open_table

    flags = {name for combo in plan.combos for name in combo.flags}
    flags |= {axis["name"] for axis in plan.options}
    return write_table(path, to_open_table(rows, declared, flags, path.stem), metadata)


def case_rows(plan: SweepPlan, sweep_dir: Path) -> list[dict[str, Any]]:
    """Each case at each finished point (`bench.results.under_load`), the combination's engine
    flags as columns; a point is compared only with points of its own combination."""
    from bench.results.under_load import cases_by_step  # reads Parquet: pyarrow

    done = finished_points(sweep_dir)
    steps = [done[p.point_id].step_dir for p in plan.points if p.point_id in done]
    combos = {c.combo_id: c for c in plan.combos}
    rows = cases_by_step(steps)
    groups = {p.group_id: p for p in plan.points}
    for row in rows:
        point = groups.get(row.get("combo_id") or "")  # the point's group: combo and options
        combo = combos.get(point.combo_id) if point else None
        row.update(engine_flag_columns(combo.flags if combo else {}, row))
        if point is not None:
            row.update({k: typed(v) for k, v in point.options.items() if k not in row})
    return rows


def write_sweep_summary(
    plan: SweepPlan, sweep_dir: Path
) -> tuple[Path | None, list[dict[str, Any]]]:
    rows = summary_rows(plan, sweep_dir)
    meta = {"sweep_id": plan.sweep_id, "load_axis": plan.load_axis, "axes": plan.axes}
    folder = RunDir(sweep_dir)
    write_rows(folder.cases_by_step, case_rows(plan, sweep_dir), meta, SWEEP_CASES_BY_STEP_ROWS,
               plan)  # fmt: skip
    return write_rows(folder.sweep_summary, rows, meta, SWEEP_SUMMARY_ROWS, plan), rows


def describe_plan(plan: SweepPlan, sweep_dir: Path) -> list[str]:
    """The `--dry-run` text: combinations (server starts), points, folders, estimated time."""
    done = finished_points(sweep_dir)
    lines = [f"sweep {plan.sweep_id} -> {sweep_dir}"]
    axes = ", ".join(f"{a['name']}={','.join(a['values'])}" for a in plan.axes) or "none"
    lines.append(f"models: {', '.join(dict.fromkeys(c.model for c in plan.combos))}; "
                 f"swept engine flags: {axes}")  # fmt: skip
    if plan.options:
        options = ", ".join(f"{a['name']}={','.join(a['values'])}" for a in plan.options)
        lines.append(f"swept client options (one server, every value): {options}")
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
