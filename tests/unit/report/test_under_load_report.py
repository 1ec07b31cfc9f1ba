"""The cases that degrade under load in `bench compare`'s notes and the report's section, from a
stepped run's cases_by_step table with known flags."""

from __future__ import annotations

from pathlib import Path

from bench.report.runs import Run
from bench.report.under_load import html_section, notes
from bench.results.under_load import mark_degrades
from bench.results.writer import write_table
from bench.schemas.run_dir import RunDir
from bench.schemas.tables import CASES_BY_STEP, STEPPED_TABLES, to_table


def _stepped(tmp_path: Path, name: str, rates: dict[str, tuple[float, float]]) -> list[Run]:
    """A stepped run (users 1 and 8) with each case's pass rate per step; its step runs."""
    run = RunDir(tmp_path / name)
    rows = [
        {"case_id": case, "step": step, "users": users, "load": float(users), "sessions": 4,
         "passed": int(4 * rate), "cut_short": 0, "pass_rate": rate, "unparsed_rate": 1 - rate}
        for case, pair in rates.items()
        for step, (users, rate) in enumerate(zip((1, 8), pair, strict=True))
    ]  # fmt: skip
    mark_degrades(rows)
    run.path.mkdir()
    table = to_table(rows, STEPPED_TABLES[CASES_BY_STEP], CASES_BY_STEP)
    write_table(run.cases_by_step, table, {})
    return [Run(run.step(0, "users-1").path), Run(run.step(1, "users-8").path)]


def test_notes_and_section_name_exactly_the_degrading_cases(tmp_path: Path) -> None:
    runs = _stepped(tmp_path, "run", {"ok": (1.0, 1.0), "breaks": (1.0, 0.25),
                                      "<script>": (1.0, 0.5), "bad": (0.5, 0.0)})  # fmt: skip
    (line,) = notes(runs)
    assert line.startswith("degrades under load (run): 2 of 4 case(s): ")
    assert "breaks (1.00 at users 1 -> 0.25 at users 8, unparsed 0.75)" in line
    assert "<script> (1.00 at users 1 -> 0.50 at users 8" in line and "ok" not in line
    section = html_section(runs)
    assert section.count("<tr><td>run</td>") == 2 and "&lt;script&gt;" in section
    assert "<script>" not in section and "<td>bad</td>" not in section


def test_a_run_without_degrading_cases_says_none_and_a_flat_run_says_nothing(
    tmp_path: Path,
) -> None:
    runs = _stepped(tmp_path, "steady", {"a": (1.0, 1.0), "b": (0.0, 0.0)})
    assert notes(runs) == ["degrades under load (steady): none of 2 case(s)"]
    assert "No case degrades under load." in html_section(runs)
    flat = tmp_path / "flat"
    flat.mkdir()
    assert notes([Run(flat)]) == [] and html_section([Run(flat)]) == ""
