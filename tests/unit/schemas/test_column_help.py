"""Every summary column has one line for people (`bench.schemas.column_help`), and no line
describes a column the summary does not have."""

from __future__ import annotations

from bench.schemas.column_help import SUMMARY_HELP, summary_help
from bench.schemas.columns import record_keys
from bench.schemas.summaries import SummaryRow


def test_every_summary_column_is_described_once() -> None:
    columns = record_keys(SummaryRow)
    assert sorted(set(columns) - set(SUMMARY_HELP)) == []  # a new column needs its line
    assert sorted(set(SUMMARY_HELP) - set(columns)) == []  # a line for a removed column
    for column, line in SUMMARY_HELP.items():
        assert line.strip() and "\n" not in line and len(line) <= 140, column


def test_percentile_families_name_their_percentile() -> None:
    assert "p90" in summary_help("ttft_p90_ms") and "p99" in summary_help("turn_p99_ms")
    assert "server_queue_p50_ms" in summary_help("server_queue_p50_ms_bound")
    assert summary_help("no_such_column") == ""
