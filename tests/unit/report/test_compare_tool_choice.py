"""`bench compare` warns when forced (--force-tools) and free runs are compared."""

from __future__ import annotations

from pathlib import Path

from bench.report.compare import CompareOptions, compare_runs
from bench.report.compare_format import to_markdown
from bench.report.runs import find_runs
from tests.unit.report.runs_factory import write_run


def test_mixed_tool_choice_is_flagged(tmp_path: Path) -> None:
    free = write_run(tmp_path, "free", sessions=20, accuracy=0.1)
    forced = write_run(tmp_path, "forced", sessions=20, accuracy=0.9, seed=1,
                       tool_choice="required_when_expected")  # fmt: skip
    mixed = compare_runs(find_runs([free, forced]), CompareOptions(resamples=50))
    warning = [n for n in mixed.warnings if n.startswith("WARNING")]
    assert warning and "Forced: forced" in warning[0] and "free" not in warning[0].split(":")[-1]
    assert "mix free and forced tool use" in to_markdown(mixed)


def test_like_with_like_has_no_warning(tmp_path: Path) -> None:
    a = write_run(tmp_path, "a", sessions=20)
    b = write_run(tmp_path, "b", sessions=20, seed=1)
    same = compare_runs(find_runs([a, b]), CompareOptions(resamples=50))
    assert not [n for n in same.warnings if n.startswith("WARNING")]
