"""Quality under load on a real run with two load steps (real Locust, ADK) against the fake server.

The fake leaves tool calls unparsed (as malformed hermes text in the reply) only for requests
that saw more than one request in flight. One user never has two requests in flight (preflight
and warm-up run one session at a time too); four users do. So the cases that degrade under load
must be exactly those that pass at one user and whose replies include a tool call: the truth
comes from the eval set and the tiny model's script, which the fake follows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.evalset import load_evalset
from bench.testing.fake_server import running_fake_server
from tests.fixtures.tiny_walk import expected_turns, implied_exact, implied_turn

EVALSET = "weather_time"
LOW, HIGH = 1, 4


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("results")
    knobs = {"fail_rate": 1.0, "fault": "unparsed", "fault_above_inflight": LOW, "latency_ms": 150}
    with running_fake_server(**knobs) as url:
        done = bench("run", "--endpoint", f"{url}/v1", "--model", "fake", "--evalset", EVALSET,
                     "--users", f"{LOW},{HIGH}", "--step-duration", "20s", "--processes", "1",
                     "--results-dir", str(results), "--run-id", "steps")  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return results / "steps"


def _truth() -> tuple[set[str], set[str], set[str]]:
    """From the eval set and the script: all cases, those the script gets right at every
    invocation (they pass without faults), and those whose replies include a tool call."""
    cases = {case.eval_id for case in load_evalset(EVALSET).cases}
    exact = implied_exact(EVALSET)
    right = {c for c in cases if all(v == 1.0 for (case, _), v in exact.items() if case == c)}
    calls = {case for (case, _), text, _ in expected_turns(EVALSET) if implied_turn(text)[0]}
    return cases, right, calls


def test_exactly_the_tool_calling_cases_degrade(run: Path) -> None:
    cases, right, calls = _truth()
    expected = right & calls
    assert expected and right - calls, "the eval set must have passing cases with and without tools"
    rows = pd.read_parquet(run / "cases_by_step.parquet")
    low, high = (rows[rows["users"] == n].set_index("case_id") for n in (LOW, HIGH))
    assert set(low.index) == set(high.index) == cases  # every case ran at both steps
    # One user: no fault; the script's right cases pass every session, the others none.
    assert (low["unparsed_rate"] == 0).all()
    assert set(low.index[low["pass_rate"] == 1.0]) == right
    assert set(low.index[low["pass_rate"] == 0.0]) == cases - right
    # Four users: every case whose replies call a tool lost some calls to the fault.
    assert set(high.index[high["unparsed_rate"] > 0]) == calls
    assert (high.loc[sorted(expected), "pass_rate"] < 1.0).all()
    flagged = set(rows.loc[rows["degrades_under_load"].fillna(False).astype(bool), "case_id"])
    assert flagged == expected
    assert not low["degrades_under_load"].any()


def test_compare_and_report_list_the_degrading_cases(run: Path, tmp_path: Path) -> None:
    _, right, calls = _truth()
    done = bench("compare", str(run), "--format", "markdown")
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(ln for ln in done.stdout.splitlines() if "degrades under load (steps)" in ln)
    listed = {part.split(" (")[0] for part in line.split("case(s): ", 1)[1].split("; ")}
    assert listed == right & calls
    out = tmp_path / "report.html"
    done = bench("report", str(run), "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    page = out.read_text()
    section = page.split("Quality under load", 1)[1].split("</table>", 1)[0]
    shown = set(re.findall(r"<tr><td>steps</td><td>-</td><td>([^<]+)</td>", section))
    assert shown == right & calls
