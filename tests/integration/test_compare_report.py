"""`bench compare` and `bench report` on real short runs (real Locust and ADK, the fake server),
the query examples of docs/results.md against those run folders, a CI gate against a slower fake server,
and the A/A false-positive rate of the noise mark from the records of a real run."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.constants import REPO_ROOT
from bench.report.metrics import METRICS, Samples, rate_records, samples
from bench.report.noise import MIN_SESSIONS, noise_verdict
from bench.report.runs import Run
from bench.testing.fake_server import running_fake_server

KEY_ENV = "BENCH_TEST_SERVER_KEY"
AA_POOL = 80
API_KEY = "test-key-not-a-secret-4567"


def bench(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, KEY_ENV: API_KEY}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def results_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real runs against the fake server: 1 user (80 sessions: the A/A test's pool), then
    3 users with 4x slower tokens (16 sessions)."""
    root = tmp_path_factory.mktemp("results")
    for users, itl_ms, sessions in ((1, 1, AA_POOL), (3, 4, 16)):
        with running_fake_server(api_key=API_KEY, itl_ms=itl_ms) as url:
            done = bench("run", "--endpoint", f"{url}/v1", "--api-key-env", KEY_ENV, "--model", "fake", "--evalset",
                         "weather_time", "--users", str(users), "--sessions", str(sessions),
                         "--results-dir", str(root), "--run-id", f"users-{users}")  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
    return root


def test_compare_real_runs_in_every_format(results_root: Path, tmp_path: Path) -> None:
    done = bench("compare", str(results_root), "--by", "users", "--format", "csv")
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(io.StringIO(done.stdout))
    assert list(frame["run_id"]) == ["users-1", "users-3"] and list(frame["users"]) == [1, 3]
    assert frame["baseline"].tolist() == [True, False]
    summaries = {
        r: pd.read_parquet(results_root / r / "summary.parquet").iloc[0] for r in frame["run_id"]
    }
    expected = (summaries["users-3"]["turns_per_s"] / summaries["users-1"]["turns_per_s"] - 1) * 100
    assert frame.loc[1, "turns_per_s_delta_pct"] == pytest.approx(expected)
    assert frame.loc[1, "tpot_p50_ms_noise"] in (False, "False")  # 4x the inter-token latency
    markdown = bench(
        "compare", str(results_root / "users-1"), str(results_root / "users-3"), "-f", "markdown"
    )
    assert re.search(r"\| users-3 \| [\d.]+ \([+-][\d.]+%", markdown.stdout), markdown.stdout
    table = bench("compare", str(results_root), "--baseline", "users-3")
    assert table.returncode == 0 and "baseline: users-3" in table.stdout
    out = tmp_path / "c.parquet"
    assert bench("compare", str(results_root), "-f", "parquet", "-o", str(out)).returncode == 0
    assert len(pd.read_parquet(out)) == 2
    html = tmp_path / "c.html"
    assert bench("compare", str(results_root), "-f", "html", "-o", str(html)).returncode == 0
    assert "<table" in html.read_text()
    bad = bench("compare", str(results_root), "--metrics", "nope")
    assert bad.returncode == 2 and "--metrics" in bad.stderr


def test_report_real_runs(results_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = bench("report", str(results_root), "--out", str(out))
    assert done.returncode == 0, done.stderr
    pngs = sorted(p.name for p in (tmp_path / "report_plots").glob("*.png"))
    assert "all-runs-latency_vs_throughput.png" in pngs and "users-3-server_state.png" in pngs
    text = out.read_text()
    assert "config.resolved.toml" in text and "weather_london" in text and API_KEY not in text
    single = bench("report", str(results_root / "users-1"))
    assert single.returncode == 0 and (results_root / "users-1" / "report.html").exists()


def test_docs_query_examples_run(results_root: Path, tmp_path: Path) -> None:
    readme = (REPO_ROOT / "docs" / "results.md").read_text()
    section = readme.split("## Query your results", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 2 and "duckdb" in section and "pandas" in section
    (tmp_path / "results").symlink_to(results_root)
    for block in blocks:
        done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, f"{block}\n{done.stderr}"
        assert done.stdout.strip()


def test_gate_fails_on_a_slower_server_and_passes_a_loose_threshold(results_root, tmp_path) -> None:
    """users-3 ran against a fake server streaming tokens 4 ms apart, users-1 1 ms apart: its
    TPOT is more than twice users-1's, by the servers' settings."""
    summary = tmp_path / "summary.md"
    strict = bench("compare", str(results_root), "--baseline", "users-1", "--fail-on",
                   "tpot_p50_ms>+50%", "-f", "markdown", "-o", str(summary))  # fmt: skip
    assert strict.returncode == 1, strict.stderr
    assert "FAILED tpot_p50_ms>+50%: users-3" in strict.stderr
    text = summary.read_text()
    assert (
        text.startswith("### Regression gates: FAILED") and "| tpot_p50_ms>+50% | users-3 |" in text
    )
    loose = bench("compare", str(results_root), "--baseline", "users-1", "--fail-on",
                  "tpot_p50_ms>+1000%", "-f", "json")  # fmt: skip
    assert loose.returncode == 0, loose.stderr
    data = json.loads(loose.stdout)
    tpot = data["runs"][1]["metrics"]["tpot_p50_ms"]
    assert data["gates"]["failed"] is False and tpot["noise"] is False and tpot["delta_pct"] > 100
    attached = [d for d in data["differences"] if d["setting"] == "attached endpoint"]
    assert attached and len(attached[0]["values"]) == 2  # two fake servers, two endpoints


AA_METRICS = (
    "sessions_per_s", "turns_per_s", "turn_p50_ms", "turn_p90_ms", "ttft_p50_ms", "tpot_p50_ms",
    "llm_e2e_p90_ms", "task_success_rate", "tool_accuracy", "error_rate", "tool_name_precision",
    "turn_llm_wire_mean_ms", "turn_other_mean_ms",
)  # fmt: skip
AA_TRIALS = 150


def test_aa_comparisons_call_at_most_10_percent_real(results_root: Path) -> None:
    """A/A: two runs of the same fake server with the same settings, made from the sessions of
    one real run. A run plays the eval cases in round robin, so each pseudo-run of k sessions
    plays the case sequence of the run's first k sessions, each case's session drawn at random
    (without replacement, the two runs never sharing one) from that case's sessions: both are
    then draws of the same system under the same load, and every difference between them is
    chance. The verdict is `bench compare`'s own (`noise_verdict` on the records, with the
    session counts); a 95% interval should call about 5% of A/A differences real."""
    real = Run(results_root / "users-1")
    measured = real.measured("sessions").sort_values("started_at")
    assert len(measured) == AA_POOL
    sequence = measured["case_id"].tolist()
    by_case: dict[str, list[str]] = defaultdict(list)
    for session, case in zip(measured["session_id"].astype(str), sequence, strict=True):
        by_case[case].append(session)
    metrics = [METRICS[n] for n in AA_METRICS]
    pool = {
        m.name: rate_records(real, m) if m.kind == "rate" else samples(real, m) for m in metrics
    }

    def records(metric, sessions: np.ndarray) -> Samples:
        found = pool[metric.name]
        if isinstance(found, Samples):
            return found.subset(sessions)
        return Samples(found.bins(np.isin(found.sessions, sessions)), time_ordered=True)

    rng = np.random.default_rng(2026)
    for k in (2, 3, 5, 20):
        called_real, decided = defaultdict(int), defaultdict(int)
        for trial in range(AA_TRIALS if k >= MIN_SESSIONS else 5):
            shuffled = {case: list(rng.permutation(ids)) for case, ids in by_case.items()}
            a = np.array([shuffled[case].pop() for case in sequence[:k]])
            b = np.array([shuffled[case].pop() for case in sequence[:k]])
            for m in metrics:
                verdict = noise_verdict(m, records(m, a), records(m, b), k, k, seed=trial)
                decided[m.name] += verdict.noise is not None
                called_real[m.name] += verdict.noise is False
        if k < MIN_SESSIONS:  # 2 or 3 sessions: no verdict at all
            assert sum(decided.values()) == 0
            continue
        rates = {n: called_real[n] / decided[n] for n in decided if decided[n]}
        # with 5 sessions (~7 turns, ~13 calls) no p90 has the 20 records it needs
        assert len(rates) >= len(AA_METRICS) - (2 if k == 5 else 0), f"{k} sessions: {rates}"
        print(f"A/A at {k} sessions a run, share called real:", rates)
        assert max(rates.values()) <= 0.10, f"{k} sessions a run: {rates}"
