"""Server histogram percentiles outside the buckets' resolution are bounds, never numbers.

vLLM's queue and e2e histograms start at 0.3 s: a percentile that falls in that first bucket
is only known to be below 300 ms, and one in the +Inf bucket only above the last bound. The
synthetic scrapes below put known counts in known buckets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.cli.console import console
from bench.cli.summary import print_summary
from bench.report.compare import CompareOptions, compare_runs
from bench.report.compare_format import to_markdown
from bench.report.html import render_report
from bench.report.runs import find_runs
from bench.results.build import build_results
from bench.results.server_summary import histogram_quantile, quantile_or_bound, server_summary
from tests.unit.report.runs_factory import T0, write_run

QUEUE = "vllm:request_queue_time_seconds"
E2E = "vllm:e2e_request_latency_seconds"
BOUNDS = ("0.3", "0.5", "0.8", "1.0", "+Inf")


def _scrape(t: float, queue: list[int], e2e: list[int], queue_sum: float, e2e_sum: float) -> dict:
    """Cumulative bucket counts per histogram (one count per bound in BOUNDS)."""
    samples = []
    for name, counts, total in ((QUEUE, queue, queue_sum), (E2E, e2e, e2e_sum)):
        for le, count in zip(BOUNDS, counts, strict=True):
            samples.append([f"{name}_bucket", json.dumps({"le": le, "engine": "0"}), count])
        samples.append([f"{name}_sum", '{"engine":"0"}', total])
        samples.append([f"{name}_count", '{"engine":"0"}', counts[-1]])
    samples.append(["vllm:request_success_total", '{"engine":"0"}', counts[-1]])
    return {"timestamp": t, "answered_at": t, "samples": samples}


def _scrapes(t0: float, t1: float) -> list[dict]:
    # In the window: 100 requests, every queue wait below 0.3 s (4 ms mean), e2e: 10 under 0.3 s,
    # 85 between 0.3 and 1.0 s, 5 above 1.0 s.
    return [
        _scrape(t0, [0] * 5, [0] * 5, 0.0, 0.0),
        _scrape(t1, [100] * 5, [10, 40, 70, 95, 100], 0.4, 70.0),
    ]


def test_quantile_in_first_or_last_bucket_is_a_bound():
    buckets = [(0.3, 60.0), (0.5, 90.0), (float("inf"), 100.0)]
    assert quantile_or_bound(0.5, buckets) == (None, "< 300 ms")
    assert quantile_or_bound(0.75, buckets) == (pytest.approx(0.4), None)
    assert quantile_or_bound(0.99, buckets) == (None, "> 500 ms")
    assert quantile_or_bound(0.5, []) == (None, None)
    # Prometheus' histogram_quantile would invent a number for both
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.25)


def test_server_summary_stores_null_and_a_bound_and_keeps_exact_means():
    row = server_summary(_scrapes(0.0, 10.0), start=1.0, end=9.0)
    for p in (50, 90, 99):
        assert row[f"server_queue_p{p}_ms"] is None
        assert row[f"server_queue_p{p}_ms_bound"] == "< 300 ms"
    assert row["server_queue_mean_ms"] == pytest.approx(4.0)  # exact: 0.4 s / 100
    assert row["server_e2e_p50_ms"] == pytest.approx(500 + 300 * (50 - 40) / 30)
    assert row["server_e2e_p50_ms_bound"] is None
    assert row["server_e2e_p99_ms"] is None and row["server_e2e_p99_ms_bound"] == "> 1000 ms"
    assert row["server_e2e_mean_ms"] == pytest.approx(700.0)


@pytest.fixture(scope="module")
def run_with_server_metrics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = write_run(tmp_path_factory.mktemp("results"), "bounds", sessions=30)
    with (run / "raw" / "server_metrics.1.jsonl").open("w") as fh:
        fh.writelines(json.dumps(s) + "\n" for s in _scrapes(T0 - 5, T0 + 60))
    build_results(run)
    return run


def test_parquet_keeps_the_percentile_numeric_and_the_bound_as_text(run_with_server_metrics):
    summary = pd.read_parquet(run_with_server_metrics / "summary.parquet")
    assert summary["server_queue_p50_ms"].dtype == "float64"
    assert summary["server_queue_p50_ms"].isna().all()
    assert summary["server_queue_p50_ms_bound"].tolist() == ["< 300 ms"]
    assert summary["server_queue_mean_ms"].iloc[0] == pytest.approx(4.0)


def test_console_summary_shows_bounds_not_invented_numbers(run_with_server_metrics):
    built = build_results(run_with_server_metrics)
    with console.capture() as captured:
        print_summary(built.summary, built.counts)
    line = next(x for x in captured.get().splitlines() if "server queue time" in x)
    assert "< 300" in line and "150.0" not in line and "4.0" in line
    e2e = next(x for x in captured.get().splitlines() if "server request e2e" in x)
    assert "> 1000" in e2e


def test_compare_and_report_show_the_bound(run_with_server_metrics):
    runs = find_runs([run_with_server_metrics])
    text = to_markdown(compare_runs(runs, CompareOptions(metrics=["server_queue_p50_ms"])))
    assert "< 300 ms" in text and "150" not in text
    page, _ = render_report(runs)
    assert "&lt; 300 ms" in page
