"""The terminal table of `bench compare` fits the width, shows the headline metrics first, never
cuts a number, and says how to see the rest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.cli.app import main
from bench.report.compare import CompareOptions, compare_runs
from bench.report.compare_format import cell_parts
from bench.report.metrics import DEFAULT_METRICS, METRICS
from bench.report.runs import find_runs


def _table(capsys, monkeypatch, width: int, *args: str) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    main(["compare", *args])
    return capsys.readouterr().out


def _expected_cells(known_runs: dict[str, Path], names: list[str]) -> list[str]:
    """Every value and change as the formatter writes them: each must appear whole."""
    runs = find_runs([known_runs[k] for k in ("base", "again", "slow")])
    frame = compare_runs(runs, CompareOptions(metrics=names)).frame
    return [part for row in frame.to_dict("records") for n in names
            for part in cell_parts(METRICS[n], row) if part]  # fmt: skip


@pytest.mark.parametrize("width", [80, 200])
def test_the_table_fits_and_cuts_no_number(known_runs, capsys, monkeypatch, width: int) -> None:
    paths = [str(known_runs[k]) for k in ("base", "again", "slow")]
    out = _table(capsys, monkeypatch, width, *paths)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in out
    note = re.search(r"showing (\d+) of (\d+) metrics", out)
    if width == 80:  # not all fit: the headline ones first, and how to see the rest
        assert note and 3 <= int(note.group(1)) < int(note.group(2)) == len(DEFAULT_METRICS)
        assert "--columns" in out and "--format markdown|csv|html|json" in out.replace("\n", "")
        table = out.split("showing")[0]
        assert METRICS[DEFAULT_METRICS[int(note.group(1))]].label.split()[0] not in table
    shown = int(note.group(1)) if note else len(DEFAULT_METRICS)
    assert shown >= (4 if width == 80 else 14)
    for cell in _expected_cells(known_runs, list(DEFAULT_METRICS[:shown])):
        assert cell in out, f"{cell!r} cut or missing at {width} columns"  # number, change, mark


def test_named_columns_are_all_shown_in_as_many_tables_as_needed(known_runs, capsys, monkeypatch):
    paths = [str(known_runs[k]) for k in ("base", "again", "slow")]
    out = _table(capsys, monkeypatch, 80, *paths, "--columns", ",".join(DEFAULT_METRICS))
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out
    assert "showing" not in out and out.count("base (baseline)") > 2  # several tables
    for cell in _expected_cells(known_runs, list(DEFAULT_METRICS)):
        assert cell in out, cell


def test_no_width_wraps_a_cell(known_runs: dict[str, Path]) -> None:
    """At any width the tables chosen are printed as measured: rich never squeezes a column."""
    from rich.console import Console

    from bench.report.compare_table import fit_tables

    runs = find_runs([known_runs[k] for k in ("base", "again", "slow")])
    comparison = compare_runs(runs, CompareOptions(resamples=200))
    cells = [part for row in comparison.frame.to_dict("records") for m in comparison.metrics
             for part in cell_parts(m, row) if part]  # fmt: skip
    for width in range(60, 141, 6):
        console = Console(width=width, record=True, color_system=None)
        with console.capture() as captured:
            for table in fit_tables(comparison, width, every_column=True)[0]:
                console.print(table)
        out = captured.get()
        assert max(len(line) for line in out.splitlines()) <= width
        assert all(cell in out for cell in cells), f"a cell wrapped at {width} columns"
