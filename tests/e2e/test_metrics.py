"""Server metrics, goodput and repeated trials on the real vLLM (CPU) with the tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bench.server.process import Endpoint

pytestmark = pytest.mark.e2e

SLO = {"ttft_ms": 300.0, "turn_ms": 1500.0}


@pytest.fixture(scope="module")
def trials_run(tiny_endpoint: Endpoint, tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    slo = ",".join(f"{k}={v:g}" for k, v in SLO.items())
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--endpoint", tiny_endpoint.base_url, "--api-key-env", "TINY_KEY",
         "--model", "tiny", "--evalset", "weather_time", "--trials", "3", "--users", "3", "--duration", "120s",
         "--slo", slo, "--metrics-interval", "0.5s", "--results-dir", str(results), "--run-id", "trials"],
        capture_output=True, text=True, timeout=400, env={**os.environ, "TINY_KEY": tiny_endpoint.api_key or ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "goodput" in proc.stdout and "prefix-cache hit rate" in proc.stdout
    return results / "trials"


def table(run: Path, name: str) -> pd.DataFrame:
    return pq.read_table(run / f"{name}.parquet").to_pandas()


def test_server_metrics_are_scraped_and_counters_are_window_deltas(trials_run: Path):
    metrics = table(trials_run, "server_metrics")
    names = set(metrics["metric"])
    for name in ("vllm:time_to_first_token_seconds_bucket", "vllm:prefix_cache_hits_total",
                 "vllm:kv_cache_usage_perc", "vllm:num_requests_running", "vllm:request_success_total"):  # fmt: skip
        assert name in names
    summary = table(trials_run, "summary").iloc[0]
    at = metrics.groupby(["timestamp", "metric"])["value"].sum()

    def delta(metric: str) -> float:
        return (
            at[(summary["server_window_end"], metric)]
            - at[(summary["server_window_start"], metric)]
        )

    assert summary["server_requests"] == delta("vllm:request_success_total")
    assert summary["server_prefix_cache_hits"] == delta("vllm:prefix_cache_hits_total")
    assert summary["server_generation_tokens"] == delta("vllm:generation_tokens_total")
    assert summary["server_requests"] >= summary["llm_calls"] > 0
    # Multi-turn and repeated prompts share prefixes: the cache must hit.
    assert summary["prefix_cache_hit_rate"] > 0
    assert summary["server_ttft_p50_ms"] > 0 and summary["client_saturated"] in (True, False)


def test_goodput_recomputed_from_records(trials_run: Path):
    calls, turns, sessions = (
        table(trials_run, "llm_calls"),
        table(trials_run, "turns"),
        table(trials_run, "sessions"),
    )
    summary = table(trials_run, "summary").iloc[0]
    calls_ok = (
        calls.assign(ok=(calls["ttft_ms"] <= SLO["ttft_ms"]) & calls["error_type"].isna())
        .groupby("turn_id")["ok"]
        .all()
    )
    turn_ok = (
        (turns["latency_ms"] <= SLO["turn_ms"])
        & (turns["trajectory_score"] == 1.0)
        & turns["turn_id"].map(calls_ok).fillna(True).astype(bool)
    )
    session_ok = turn_ok.groupby(turns["session_id"]).all()
    measured = sessions[~sessions["warmup"]]
    good = measured["session_id"].map(session_ok).fillna(False).astype(bool) & (
        measured["trajectory_passed"].eq(True)
    )
    assert summary["goodput_sessions_per_s"] == pytest.approx(good.sum() / summary["window_s"])
    assert summary["slo_attainment_sessions_pct"] == pytest.approx(100 * good.sum() / len(measured))
    assert json.loads(summary["slo"]) == SLO


def test_pass_hat_k_equals_pass_hat_1_on_the_deterministic_model(trials_run: Path):
    cases = table(trials_run, "cases")
    assert len(cases) == 9 and (cases["trials"] == 3).all()
    assert (cases["pass_hat_k"] == cases["pass_rate"]).all()
    assert set(cases["pass_rate"]) <= {0.0, 1.0}
    assert not cases["trajectory_differs"].any()
    summary = table(trials_run, "summary").iloc[0]
    assert summary["pass_k"] == 3 and summary["trajectory_inconsistency_rate"] == 0
    tools = table(trials_run, "tools").set_index("tool")
    assert tools.loc["get_weather", "calls_made"] > 0 and not tools["unknown"].any()
