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
    provenance = read_manifest(run_dir).provenance
    write_table(run_dir.summary, to_table(summaries, TABLES["summary"], "summary"), provenance)
    # by turn index: one row per (step, turn index), the steps' rows together
    by_turn = [
        row
        for s in steps
        if s.run_dir.by_turn_index.exists()
        for row in pq.read_table(s.run_dir.by_turn_index).to_pylist()
    ]
    write_table(
        run_dir.by_turn_index,
        to_table(by_turn, TABLES["by_turn_index"], "by_turn_index"),
        provenance,
    )
    counts = {k: sum(s.counts.get(k, 0) for s in steps) for k in steps[0].counts}
    counts["cases_by_step"] = write_cases_by_step(run_dir, [s.run_dir for s in steps], provenance)
    return Built(counts, sum(s.bad_lines for s in steps), summaries[-1], summaries)
