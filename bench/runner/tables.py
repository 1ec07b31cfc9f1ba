"""Parquet from the raw records: of a flat run, or of each step with the parent's summary one
row per step, `by_turn_index` of every step and `cases_by_step` (each case's pass rate per step,
`bench.results.under_load`). A step whose tables were already built (the SLA search's probes) is
not rebuilt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from bench.results.build import build_results
from bench.results.under_load import write_cases_by_step
from bench.results.writer import write_table
from bench.runner.load_step import StepResult
from bench.schemas.manifest import read_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.tables import TABLES, to_table


@dataclass
class Built:
    counts: dict[str, int] = field(default_factory=dict)
    bad_lines: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    step_summaries: list[dict[str, Any]] = field(default_factory=list)


def build_step(step: StepResult) -> dict[str, Any]:
    """The step's tables (once); its summary row."""
    if step.summary is None:
        built = build_results(step.run_dir.path)
        step.summary, step.counts, step.bad_lines = (
            dict(built.summary),
            built.counts,
            built.bad_lines,
        )
    return step.summary


def build_tables(run_dir: RunDir, steps: list[StepResult], stepped: bool) -> Built:
    if not stepped:
        built = build_results(run_dir.path)
        return Built(built.counts, built.bad_lines, built.summary, [built.summary])
    if not steps:
        return Built()
    summaries = [build_step(s) for s in steps]
    return join_steps(run_dir, [s.run_dir for s in steps], summaries, [s.counts for s in steps],
                      sum(s.bad_lines for s in steps))  # fmt: skip


def join_steps(
    run_dir: RunDir, step_dirs: list[RunDir], summaries: list[dict[str, Any]],
    step_counts: list[dict[str, int]], bad_lines: int,
) -> Built:  # fmt: skip
    """The stepped run's own tables from its built steps: the summary (a row per step), every
    step's rows by turn index, and each case per step."""
    provenance = read_manifest(run_dir).provenance
    write_table(run_dir.summary, to_table(summaries, TABLES["summary"], "summary"), provenance)
    # by turn index: one row per (step, turn index), the steps' rows together
    by_turn = [
        row
        for step_dir in step_dirs
        if step_dir.by_turn_index.exists()
        for row in pq.read_table(step_dir.by_turn_index).to_pylist()
    ]
    write_table(
        run_dir.by_turn_index,
        to_table(by_turn, TABLES["by_turn_index"], "by_turn_index"),
        provenance,
    )
    counts = {k: sum(c.get(k, 0) for c in step_counts) for k in step_counts[0]}
    counts["cases_by_step"] = write_cases_by_step(run_dir, step_dirs, provenance)
    return Built(counts, bad_lines, summaries[-1], summaries)


def rebuild_tables(run_dir: RunDir) -> Built:
    """`bench results rebuild`: a run's tables from its raw records; with load steps, every
    step's and then the run's own (its folder holds no raw records of its own)."""
    step_dirs = [step for step in run_dir.steps() if step.is_run()]
    if not step_dirs:
        return build_tables(run_dir, [], stepped=False)
    builds = [build_results(step.path) for step in step_dirs]
    return join_steps(run_dir, step_dirs, [dict(b.summary) for b in builds],
                      [b.counts for b in builds], sum(b.bad_lines for b in builds))  # fmt: skip
