"""`bench report`: one self-contained HTML file with embedded plots and PNG copies."""

from __future__ import annotations

import re
from pathlib import Path

from bench.report.html import write_report
from bench.report.plots import pareto_front
from bench.report.runs import find_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _external_refs(text: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']?(?!data:|#)([a-z]+:)?//""", text)


def test_one_run(known_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "one.html"
    result = write_report(find_runs([known_runs["slow"]]), out)
    text = out.read_text()
    assert result.html_path == out and "Run slow" in text
    # CDFs, throughput, tools, turn index (no server metrics)
    assert text.count("data:image/png;base64,") == 4
    assert "No server metrics" in text and "Timeout" in text  # the errors table
    assert "case_0" in text and "get_weather" in text
    assert not _external_refs(text)
    assert len(result.png_paths) == 4
    assert "turn_index" in " ".join(p.name for p in result.png_paths)
    assert all(p.read_bytes().startswith(PNG_MAGIC) for p in result.png_paths)


def test_several_runs_add_the_comparison_and_pareto(
    known_runs: dict[str, Path], tmp_path: Path
) -> None:
    result = write_report(find_runs(list(known_runs.values())), tmp_path / "all.html")
    text = result.html_path.read_text()
    assert "Comparison" in text and "latency_vs_throughput" in " ".join(
        p.name for p in result.png_paths
    )
    assert text.count("data:image/png;base64,") == 3 * 4 + 2


def test_pareto_front() -> None:
    points = [(1.0, 100.0), (2.0, 150.0), (2.0, 200.0), (3.0, 140.0), (0.5, 90.0)]
    assert pareto_front(points) == [4, 0, 3]
