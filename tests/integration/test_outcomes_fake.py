"""Failures, truncation and throughput of successes, against the fake server (issue 12).

Truth comes from what the fake server was told (its fault rate, its own count of injected faults
on /metrics, a stall that outlives the run) and from the raw records, not from the summary.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from google.adk.evaluation.eval_case import get_all_tool_calls

from bench.evalset import load_evalset
from bench.runner.sla_search import SloCheck
from bench.testing.fake_server import (
    Reply,
    ReplyPolicy,
    ToolCallReply,
    _answered_tool,
    _last_user_text,
)
from tests.fixtures.scripted_fake import scripted_fake_server
from tests.integration.test_faults import KEY, finish, start_run, table

MULTI_TURN = "home_automation"  # cases of 1 to 3 turns


def home_automation_policy() -> ReplyPolicy:
    """The eval set's own expected calls, then its reference answer, for every user message:
    every session that completes passes its case (tool trajectory and ROUGE both met)."""
    script: dict[str, tuple[list[ToolCallReply], str]] = {}
    for case in load_evalset(MULTI_TURN).cases:
        for inv in case.conversation:
            user = "".join(p.text or "" for p in inv.user_content.parts).lower()
            calls = [ToolCallReply(c.name, dict(c.args or {}))
                     for c in get_all_tool_calls(inv.intermediate_data)]  # fmt: skip
            answer = "".join(p.text or "" for p in inv.final_response.parts)
            assert script.setdefault(user, (calls, answer)) == (calls, answer), user

    def policy(request: dict) -> Reply:
        messages = request.get("messages") or []
        calls, answer = script[_last_user_text(messages)]
        if _answered_tool(messages) is None and calls:
            return Reply(tool_calls=calls)
        return Reply(text=answer)

    return policy


def raw(run: Path, name: str) -> list[dict]:
    return [json.loads(line) for f in sorted((run / "raw").glob(f"{name}.*.jsonl"))
            for line in f.read_text().splitlines() if line.strip()]  # fmt: skip


def fake_counter(url: str, name: str) -> float:
    """A counter from the fake server's own /metrics (summed over labels)."""
    text = httpx.get(url.removesuffix("/v1").rstrip("/") + "/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(rf"^{re.escape(name)}{{[^}}]*}} (\S+)$", text, re.M))


def run_once(tmp_path: Path, run_id: str, fail_rate: float) -> tuple[Path, dict, float, float]:
    policy = home_automation_policy()
    with scripted_fake_server(
        policy, api_key=KEY, latency_ms=20, fail_rate=fail_rate, seed=11
    ) as url:
        code, out, err = finish(
            start_run(
                url,
                tmp_path,
                run_id,
                "--evalset",
                MULTI_TURN,
                "--users",
                "2",
                "--duration",
                "15s",
                "--processes",
                "1",
            )  # fmt: skip
        )
        assert code == 0, out[-2000:] + err[-2000:]
        faults = fake_counter(url, "fake:faults_total")
        requests = fake_counter(url, "fake:requests_total")
    summary = table(tmp_path / run_id, "summary").iloc[0].to_dict()
    return tmp_path / run_id, summary, faults, requests


@pytest.mark.fault
def test_sessions_cut_short_by_failures_are_failed_tasks(tmp_path: Path) -> None:
    run, summary, faults, requests = run_once(tmp_path, "half", 0.5)
    # what the fake server was told: about half its chat requests failed, each one a failed call
    assert 0.35 < faults / requests < 0.65
    calls = raw(run, "llm_calls")
    assert sum(1 for c in calls if c["error_type"] not in (None, "CancelledError")) == faults

    sessions = [s for s in raw(run, "sessions") if not s["warmup"]]
    cut = [s for s in sessions if s["errors"] or s["turns"] < s["turns_expected"]]
    truncated = [s for s in sessions if s["truncated"]]
    assert cut, "half the calls failed: some sessions must have been cut short"
    assert len(cut) < len(sessions), "some sessions must have completed"
    # a failed call ends its session: the sessions cut short are those with a failed call
    failed_sessions = {c["session_id"] for c in calls if c["error_type"] and not c["warmup"]}
    assert {s["session_id"] for s in cut if not s["truncated"]} == failed_sessions - {
        s["session_id"] for s in truncated
    }

    table_rows = table(run, "sessions").set_index("session_id")
    passed = set(table_rows.index[table_rows["case_passed"].fillna(False).astype(bool)])
    # the script answers right: the sessions that passed are exactly those that completed
    cut_ids = {s["session_id"] for s in cut} | {s["session_id"] for s in truncated}
    assert passed == {s["session_id"] for s in sessions} - cut_ids
    for s in cut:
        if not s["truncated"]:  # every session cut short is a miss, in every table
            assert table_rows.loc[s["session_id"], "case_passed"] == False  # noqa: E712
    measured = len(sessions) - len(truncated)
    assert summary["task_success_rate"] == pytest.approx(len(passed) / measured)
    assert summary["sessions_cut_short"] == len([s for s in cut if not s["truncated"]])
    cases = table(run, "cases")
    assert cases["trials"].sum() == measured and cases["passes"].sum() == len(passed)
    assert cases["cut_short"].sum() == summary["sessions_cut_short"]
    # tool accuracy stays a figure of completed turns: failures do not dilute it
    turns = table(run, "turns")
    done = turns[~turns["warmup"] & turns["error_type"].isna() & ~turns["truncated"].fillna(False)]
    assert summary["tool_accuracy"] == pytest.approx(done["trajectory_score"].mean())
    assert summary["failed_turns_per_s"] > 0

    _, clean, clean_faults, _ = run_once(tmp_path, "clean", 0.0)
    assert clean_faults == 0 and clean["errors"] == 0
    # throughput counts successes: failing fast does not make the server look faster
    assert summary["turns_per_s"] < clean["turns_per_s"]
    assert summary["sessions_per_s"] < clean["sessions_per_s"]
    assert clean["task_success_rate"] == 1.0  # the script is right: every session passes
    assert summary["task_success_rate"] < clean["task_success_rate"]


@pytest.mark.fault
def test_sessions_running_when_the_load_stops_are_truncated_not_errors(tmp_path: Path) -> None:
    """A fifth of the requests stall far longer than the run (and its 10 s stop timeout): the
    sessions that hit one are still running at the stop. Seed 5 lets the warm-up session's
    first six requests through; every other request gets the eval set's right answer."""
    policy = home_automation_policy()
    args = ["--evalset", MULTI_TURN, "--users", "3", "--duration", "12s", "--processes", "1"]
    with scripted_fake_server(
        policy, api_key=KEY, latency_ms=50, fail_rate=0.2, fault="stall", stall_s=120, seed=5
    ) as url:
        code, out, err = finish(start_run(url, tmp_path, "cut", *args))
        stalled = fake_counter(url, "fake:faults_total")
    assert code == 0, out[-2000:] + err[-2000:]
    run = tmp_path / "cut"
    sessions = [s for s in raw(run, "sessions") if not s["warmup"]]
    truncated = [s for s in sessions if s["truncated"]]
    assert stalled > 0 and truncated, "stalled requests must outlive the run"
    assert all(s["errors"] == 0 for s in sessions)
    assert any(t["truncated"] for t in raw(run, "turns"))
    summary = table(run, "summary").iloc[0].to_dict()
    assert summary["errors"] == 0 and summary["error_rate"] == 0
    assert summary["sessions_truncated"] == len(truncated)
    assert summary["sessions"] == len(sessions) > len(truncated)
    assert summary["turn_p99_ms"] < 10_000  # no stalled turn in the latencies
    assert "truncated at the stop" in out and f"/ {len(truncated)}" in out
    # truncated sessions do not lower task success: every session that completed passed
    assert summary["task_success_rate"] == 1.0
    # an SLA probe with truncated sessions and no errors passes (max error rate 0, the default)
    check = SloCheck(
        {"turn_ms": 10_000}, min_tool_accuracy=1.0, accuracy_metric="task_success_rate"
    )
    passed, reasons = check.verdict(summary)
    assert passed, reasons


@pytest.mark.fault
def test_an_sla_probe_with_truncated_sessions_and_no_errors_passes(tmp_path: Path) -> None:
    """The same stalls under `bench sweep --find-max-load`: the probe's sessions still running
    at its end are truncated, its error rate stays 0 (the default limit) and it passes."""
    policy = home_automation_policy()
    with scripted_fake_server(
        policy, api_key=KEY, latency_ms=50, fail_rate=0.2, fault="stall", stall_s=120, seed=5
    ) as url:
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "sweep", "--find-max-load", "--slo", "turn_ms=10000",
             "--min-tool-accuracy", "1.0", "--accuracy-metric", "task_success_rate",
             "--endpoint", url, "--api-key-env", "FAKE_KEY", "--model", "fake",
             "--evalset", MULTI_TURN, "--users", "3,3", "--step-duration", "12s",
             "--processes", "1", "--results-dir", str(tmp_path), "--sweep-id", "sla"],
            capture_output=True, text=True, timeout=600, env={**os.environ, "FAKE_KEY": KEY},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    probes = pq.read_table(tmp_path / "sla" / "sla_probes.parquet").to_pandas()
    (probe,) = probes.itertuples()
    assert probe.sessions_truncated > 0, "stalled requests must outlive the probe"
    assert probe.error_rate == 0 and probe.failed_turns_per_s == 0
    assert probe.passed, probe.reasons
