"""`bench compare` and `bench report` on real short runs (real Locust and ADK, the fake server),
and the README's query examples against those run folders."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.constants import REPO_ROOT
from bench.testing.fake_server import running_fake_server

KEY_ENV = "BENCH_TEST_SERVER_KEY"
API_KEY = "test-key-not-a-secret-4567"


def bench(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, KEY_ENV: API_KEY}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)  # fmt: skip


@pytest.fixture(scope="module")
def results_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real runs against the fake server: 1 user, then 3 users with slower tokens."""
    root = tmp_path_factory.mktemp("results")
    for users, itl_ms in ((1, 1), (3, 4)):
        with running_fake_server(api_key=API_KEY, itl_ms=itl_ms) as url:
            done = bench("run", "--endpoint", f"{url}/v1", "--api-key-env", KEY_ENV, "--model", "fake", "--evalset",
                         "weather_time", "--users", str(users), "--sessions", "16",
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


def test_readme_query_examples_run(results_root: Path, tmp_path: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Query your results", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 2 and "duckdb" in section and "pandas" in section
    (tmp_path / "results").symlink_to(results_root)
    for block in blocks:
        done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, f"{block}\n{done.stderr}"
        assert done.stdout.strip()
