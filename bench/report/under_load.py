"""The cases that degrade under load, for `bench compare` (notes) and `bench report` (a section).

Runs with load steps are compared step by step (`bench.report.runs.expand_steps`); their
`cases_by_step.parquet` sits in the step folders' parent, the stepped run (a sweep's
combination run). A case degrades under load when it passed every session at the lowest load
and not at a higher one (`bench.results.under_load`).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.report.runs import Run
from bench.results.under_load import degrading
from bench.schemas.run_dir import RunDir


@dataclass
class StepTable:
    """One stepped run's `cases_by_step` rows."""

    folder: RunDir
    rows: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return self.folder.path.name

    def degrading(self) -> list[dict[str, Any]]:
        return degrading(self.rows)


def step_tables(runs: list[Run]) -> list[StepTable]:
    """The tables of the stepped runs among the runs (each once, in the runs' order)."""
    seen: set[str] = set()
    tables = []
    for run in runs:
        for folder in (run.dir, RunDir(run.path.parent)):
            key = str(folder.path.resolve())
            if key in seen or not folder.cases_by_step.is_file():
                continue
            seen.add(key)
            frame = pd.read_parquet(folder.cases_by_step)
            rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
            tables.append(StepTable(folder, rows))
    return tables


def load_text(row: dict[str, Any]) -> str:
    """The load of a row for people: `users 4`, or `0.5 sessions/s` in open loop."""
    rate = row.get("session_rate")
    if rate is not None and not (isinstance(rate, float) and math.isnan(rate)):
        return f"{rate:g} sessions/s"
    return f"users {row.get('users')}"


def _lowest(table: StepTable, row: dict[str, Any]) -> dict[str, Any] | None:
    """The case's row at the lowest load of its combination (what it passed)."""
    mine = [r for r in table.rows if r.get("combo_id") == row.get("combo_id")]
    loads = [r["load"] for r in mine if r.get("load") is not None]
    if not loads:
        return None
    low = min(loads)
    return next((r for r in mine if r["case_id"] == row["case_id"] and r.get("load") == low), None)


def _rate(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def degrading_rows(tables: list[StepTable]) -> list[dict[str, Any]]:
    """One row per case and step where it degraded, for the report's table."""
    out = []
    for table in tables:
        for row in table.degrading():
            base = _lowest(table, row)
            out.append(
                {
                    "run": table.name,
                    "combo": row.get("combo_id") or "-",
                    "case": row["case_id"],
                    "lowest load": load_text(base) if base else "-",
                    "pass rate there": _rate(base.get("pass_rate") if base else None),
                    "load": load_text(row),
                    "sessions": row.get("sessions"),
                    "pass rate": _rate(row.get("pass_rate")),
                    "pass^k": _rate(row.get("pass_hat_k")),
                    "unparsed rate": _rate(row.get("unparsed_rate")),
                }
            )
    return out


def notes(runs: list[Run]) -> list[str]:
    """`bench compare`'s lines: per stepped run, the cases that degrade under load, or none."""
    lines = []
    for table in step_tables(runs):
        cases = sorted({r["case_id"] for r in table.rows})
        flagged = table.degrading()
        if not flagged:
            lines.append(f"degrades under load ({table.name}): none of {len(cases)} case(s)")
            continue
        parts = []
        for row in flagged:
            base = _lowest(table, row)
            combo = f"[{row['combo_id']}] " if row.get("combo_id") else ""
            unparsed = row.get("unparsed_rate")
            extra = f", unparsed {unparsed:.2f}" if unparsed else ""
            parts.append(
                f"{combo}{row['case_id']} ({_rate(base.get('pass_rate') if base else None)} at "
                f"{load_text(base) if base else '-'} -> {_rate(row.get('pass_rate'))} at "
                f"{load_text(row)}{extra})"
            )
        lines.append(
            f"degrades under load ({table.name}): {len({r['case_id'] for r in flagged})} of "
            f"{len(cases)} case(s): " + "; ".join(parts)
        )
    return lines


def html_section(runs: list[Run]) -> str:
    """The report's table of degrading cases; "" when no run has load steps."""
    tables = step_tables(runs)
    if not tables:
        return ""
    rows = degrading_rows(tables)
    names = ", ".join(html.escape(t.name) for t in tables)
    intro = (
        "<p class='note'>A case degrades under load when it passed every session at the lowest "
        "load (of its engine-flag combination, in a sweep) and not at a higher one: the parser "
        f"and engine bugs that appear only under concurrency. From cases_by_step of {names}.</p>"
    )
    if not rows:
        return intro + "<p>No case degrades under load.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
        for r in rows
    )
    return f"{intro}<table class='under-load'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
