"""Quality under load: each eval case's pass rate per load step, and the cases that degrade
(`cases_by_step.parquet`, one row per case and step).

Parser and engine bugs that appear only under concurrency (a tool call the parser misses when
the batch is full, a corrupted reply under preemption) do not move the latency figures; they
turn passing cases into failing ones at higher load. The rows come from each step's own tables,
so every figure keeps its definition there:

- `sessions`, `passed`, `pass_rate`, `pass_hat_k`: the step's `cases.parquet`
  (`bench.scoring.reliability.case_table`): task success per case, a session cut short by a
  failure counting as not passed, an incomplete one left out; pass^k only with `--trials` > 1;
- `unparsed_rate`: completed turns whose reply text holds a tool call the server's parser did
  not extract (`bench.scoring.unparsed`), over the case's completed turns, as in the summary;
- `degrades_under_load`: the case passed every session at the lowest load (pass rate 1.0) and
  not at this step (below 1.0). In a sweep only rows of one engine-flag combination
  (`combo_id`) are compared. The lowest-load row itself is False; null where this row or the
  lowest-load one has no verdict.

A run without load steps has no such table: there is no second load to compare with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pyarrow.parquet as pq

from bench.results.writer import write_table
from bench.schemas.manifest import read_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.tables import CASES_BY_STEP, STEPPED_TABLES, to_table


def load_of(summary: dict[str, Any]) -> float | None:
    """What the steps vary: the session rate in open loop, the users otherwise."""
    for column in ("session_rate", "users"):
        if summary.get(column) is not None:
            return float(summary[column])
    return None


def case_step_rows(
    cases: Iterable[dict[str, Any]],
    summary: dict[str, Any],
    combo_id: str | None = None,
    point_id: str | None = None,
) -> list[dict[str, Any]]:
    """The rows of one step, from its `cases.parquet` rows and its summary row."""
    rows = []
    for case in cases:
        k = case.get("k")
        turns = case.get("turns")
        unparsed = case.get("unparsed_tool_calls")
        rows.append(
            {
                "run_id": case.get("run_id"),
                "combo_id": combo_id,
                "point_id": point_id,
                "step": summary.get("step") or 0,
                "users": summary.get("users"),
                "session_rate": summary.get("session_rate"),
                "load": load_of(summary),
                "case_id": case["case_id"],
                "eval_set_id": case.get("eval_set_id"),
                "sessions": case["trials"],
                "passed": case["passes"],
                "cut_short": case.get("cut_short") or 0,
                "pass_rate": case.get("pass_rate"),
                "k": k,
                "pass_hat_k": case.get("pass_hat_k") if k and k > 1 else None,
                "turns": turns,
                "unparsed_tool_calls": unparsed,
                "unparsed_rate": unparsed / turns if turns and unparsed is not None else None,
            }
        )
    return rows


def _order(row: dict[str, Any]) -> tuple[float, int]:
    load = row.get("load")
    return (float("inf") if load is None else load, row.get("step") or 0)


def mark_degrades(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set `degrades_under_load` on every row (in place; returned for chaining)."""
    by_combo: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_combo[row.get("combo_id")].append(row)
    for combo_rows in by_combo.values():
        lowest = min(_order(r)[0] for r in combo_rows)
        by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in combo_rows:
            by_case[row["case_id"]].append(row)
        for case_rows in by_case.values():
            base = [r.get("pass_rate") for r in case_rows if _order(r)[0] == lowest]
            judged = bool(base) and all(rate is not None for rate in base)
            passed_at_lowest = judged and all(rate == 1.0 for rate in base)
            for row in case_rows:
                rate = row.get("pass_rate")
                if _order(row)[0] == lowest:
                    row["degrades_under_load"] = False
                elif not judged or rate is None:
                    row["degrades_under_load"] = None
                else:
                    row["degrades_under_load"] = passed_at_lowest and rate < 1.0
    return rows


def step_rows(step_dir: RunDir) -> list[dict[str, Any]]:
    """The rows of one step folder, from its built tables (none when it has no cases table)."""
    cases_path, summary_path = step_dir.table("cases"), step_dir.summary
    if not cases_path.exists() or not summary_path.exists():
        return []
    summaries = pq.read_table(summary_path).to_pylist()
    if not summaries:
        return []
    manifest = read_manifest(step_dir)
    return case_step_rows(
        pq.read_table(cases_path).to_pylist(),
        summaries[0],
        combo_id=manifest.sweep_combo,
        point_id=manifest.sweep_point,
    )


def cases_by_step(step_dirs: Iterable[RunDir]) -> list[dict[str, Any]]:
    """Every step's rows in load order (per combination), degradations marked."""
    rows = [row for step_dir in step_dirs for row in step_rows(step_dir)]
    rows.sort(key=lambda r: (r.get("combo_id") or "", *_order(r), r["case_id"]))
    return mark_degrades(rows)


def degrading(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows flagged `degrades_under_load`."""
    return [r for r in rows if r.get("degrades_under_load")]


def write_cases_by_step(
    run_dir: RunDir, step_dirs: Iterable[RunDir], provenance: dict[str, Any]
) -> int:
    """`cases_by_step.parquet` of a run with load steps; its number of rows."""
    rows = cases_by_step(step_dirs)
    for row in rows:
        row["run_id"] = row.get("run_id") or run_dir.path.name
    table = to_table(rows, STEPPED_TABLES[CASES_BY_STEP], CASES_BY_STEP)
    write_table(run_dir.cases_by_step, table, provenance)
    return len(rows)
