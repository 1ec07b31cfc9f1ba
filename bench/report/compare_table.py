"""The terminal table of `bench compare`: as many columns as fit, never a cut number.

Each metric cell is two lines, the value and under it the change against the baseline with its
noise mark, so a column is as wide as its longest number, not as a whole `value (+change ≈)`.
Columns are never narrower than that: by default the headline metrics are added in their order
(`bench.report.metrics.DEFAULT_METRICS`) while the table fits the width, and a line says which
were left out and how to see them; with columns asked for by name (`--columns`), every one is
shown, in as many tables (each with the run column) as the width needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.table import Table

from bench.report.compare import Comparison
from bench.report.compare_format import cell_parts, run_label
from bench.report.metrics import Metric

RUN_COLUMN_MAX = 28  # at 80 columns; longer run ids wrap in their column (names, not numbers)


@dataclass(frozen=True)
class _Column:
    header: str
    cells: list[str]
    metric: Metric | None  # None: the run or a --by key (left-aligned)

    @property
    def min_width(self) -> int:
        words = [w for w in self.header.split() if w]
        longest_line = max((len(line) for c in self.cells for line in c.split("\n")), default=0)
        return max([longest_line, *(len(w) for w in words)])


def _columns(comparison: Comparison) -> tuple[list[_Column], list[_Column]]:
    rows = comparison.frame.to_dict("records")
    fixed = [_Column("run", [run_label(comparison, r) for r in rows], None)]
    fixed += [
        _Column(key, ["-" if r.get(key) is None else str(r.get(key)) for r in rows], None)
        for key in comparison.by
    ]
    metrics = []
    for m in comparison.metrics:
        cells = []
        for r in rows:
            value, change = cell_parts(m, r)
            cells.append(f"{value}\n{change}" if change else value)
        metrics.append(_Column(m.label, cells, m))
    return fixed, metrics


def _width(column: _Column, first: bool, total: int) -> int:
    if first:  # the run: whole up to a quarter of the width, wrapped beyond
        return min(column.min_width, max(RUN_COLUMN_MAX, total // 4))
    return max(column.min_width, math.ceil(len(column.header) / 2))  # headers of <= 2-3 lines


def _table(fixed: list[_Column], chosen: list[_Column], total: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_lines=False, pad_edge=False, collapse_padding=True)
    for i, column in enumerate(fixed + chosen):
        width = _width(column, i == 0, total)
        table.add_column(
            column.header,
            justify="left" if column.metric is None else "right",
            width=width,  # headers wrap at spaces; numbers never do (see min_width)
            overflow="fold",
        )
    for r in range(len(fixed[0].cells)):
        table.add_row(*[c.cells[r] for c in fixed + chosen], end_section=True)
    return table


def table_width(table: Table) -> int:
    probe = Console(width=10_000, record=False, color_system=None)
    with probe.capture() as captured:
        probe.print(table)
    return max((len(line) for line in captured.get().splitlines()), default=0)


def fit_tables(
    comparison: Comparison, width: int, every_column: bool
) -> tuple[list[Table], list[Metric]]:
    """The tables to print at `width` columns, and the metrics left out (none when
    `every_column`: then the metrics are spread over as many tables as needed)."""
    fixed, metrics = _columns(comparison)
    tables: list[Table] = []
    chosen: list[_Column] = []
    for i, column in enumerate(metrics):
        if not chosen or table_width(_table(fixed, [*chosen, column], width)) <= width:
            chosen.append(column)
            continue
        tables.append(_table(fixed, chosen, width))
        if not every_column:
            return tables, [c.metric for c in metrics[i:] if c.metric is not None]
        chosen = [column]
    tables.append(_table(fixed, chosen, width))
    return tables, []


def hidden_note(hidden: list[Metric], shown: int) -> str:
    names = ",".join(m.name for m in hidden)
    return (
        f"showing {shown} of {shown + len(hidden)} metrics (the headline ones that fit); the rest: "
        f"--columns {names} (or --columns all), or --format markdown|csv|html|json"
    )
