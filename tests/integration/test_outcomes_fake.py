"""Failures, incomplete work and completed throughput, against the fake server (issues 12, 26).

Truth comes from what the fake server was told (its fault rate, its own count of injected faults
on /metrics and its fault log, a stall that outlives the run and its drain) and from the raw
records, not from the summary.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
from google.adk.evaluation.eval_case import get_all_tool_calls

from bench.evalset import load_evalset
from bench.testing.fake_server import (
    Reply,
    ReplyPolicy,
    ToolCallReply,
    answered_tool,
    last_user_text,
)
from bench.testing.fake_server.faults import read_fault_log
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
        calls, answer = script[last_user_text(messages)]
        if answered_tool(messages) is None and calls:
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
    assert sum(1 for c in calls if c["error_type"] is not None) == faults

    sessions = [s for s in raw(run, "sessions") if not s["warmup"]]
    cut = [s for s in sessions if s["errors"] or s["turns"] < s["turns_expected"]]
    incomplete = [s for s in sessions if s["incomplete"]]
    assert cut, "half the calls failed: some sessions must have been cut short"
    assert len(cut) < len(sessions), "some sessions must have completed"
    # a failed call ends its session: the sessions cut short are those with a failed call
    failed_sessions = {c["session_id"] for c in calls if c["error_type"] and not c["warmup"]}
    assert {s["session_id"] for s in cut if not s["incomplete"]} == failed_sessions - {
        s["session_id"] for s in incomplete
    }

    table_rows = table(run, "sessions").set_index("session_id")
    passed = set(table_rows.index[table_rows["case_passed"].fillna(False).astype(bool)])
    # the script answers right: the sessions that passed are exactly those that completed
    cut_ids = {s["session_id"] for s in cut} | {s["session_id"] for s in incomplete}
    assert passed == {s["session_id"] for s in sessions} - cut_ids
    for s in cut:
        if not s["incomplete"]:  # every session cut short is a miss, in every table
            assert table_rows.loc[s["session_id"], "case_passed"] == False  # noqa: E712
    measured = len(sessions) - len(incomplete)
    assert summary["task_success_rate"] == pytest.approx(len(passed) / measured)
    assert summary["sessions_cut_short"] == len([s for s in cut if not s["incomplete"]])
    cases = table(run, "cases")
    assert cases["trials"].sum() == measured and cases["passes"].sum() == len(passed)
    assert cases["cut_short"].sum() == summary["sessions_cut_short"]
    # tool accuracy stays a figure of completed turns: failures do not dilute it
    turns = table(run, "turns")
    done = turns[~turns["warmup"] & turns["error_type"].isna() & ~turns["incomplete"].fillna(False)]
    assert summary["tool_accuracy"] == pytest.approx(done["trajectory_score"].mean())
    assert summary["failed_turns_per_s"] > 0

    _, clean, clean_faults, _ = run_once(tmp_path, "clean", 0.0)
    assert clean_faults == 0 and clean["errors"] == 0
    # throughput counts successes: failing fast does not make the server look faster
    assert summary["turns_per_s"] < clean["turns_per_s"]
    assert summary["sessions_per_s"] < clean["sessions_per_s"]
    assert clean["task_success_rate"] == 1.0  # the script is right: every session passes
    assert summary["task_success_rate"] < clean["task_success_rate"]


STALL_ARGS = ["--evalset", MULTI_TURN, "--users", "3", "--processes", "1", "--drain", "11s"]
DURATION_S = 12.0


def stall_server(seed: int):
    """A fifth of the requests hang for 120 s (the request timeout), far past the run and its
    drain: the sessions that hit one are still running at the cut. Every other request gets the
    eval set's right answer. The seed lets the first requests through (the warm-up session's,
    and the preflight's where there is one: a stalled preflight call waits the 120 s out)."""
    return scripted_fake_server(home_automation_policy(), api_key=KEY, latency_ms=50,
                                fail_rate=0.2, fault="stall", stall_s=120, seed=seed)  # fmt: skip


@pytest.mark.fault
def test_hung_sessions_are_incomplete_with_their_age_and_miss_the_slo(tmp_path: Path) -> None:
    """The stall run of issue 26: nothing vanishes. Hung sessions are incomplete (no errors: the
    request timeout is not reached), kept with their age at the cut, which is past the 10 s SLO
    (the drain is 11 s, so every request in flight at the cut is older than that); the window
    runs to the stop, and rates and latencies count what the raw records say."""
    with stall_server(seed=5) as url:  # no stall in the first 6 requests
        code, out, err = finish(start_run(url, tmp_path, "cut", *STALL_ARGS, "--duration",
                                          f"{DURATION_S:g}s", "--slo", "turn_ms=10000"))  # fmt: skip
        stalled = fake_counter(url, "fake:faults_total")
    assert code == 0, out[-2000:] + err[-2000:]
    run = tmp_path / "cut"
    all_sessions = raw(run, "sessions")
    sessions = [s for s in all_sessions if not s["warmup"]]
    hung = [s for s in sessions if s["incomplete"]]
    assert stalled > 0 and hung, "stalled requests must outlive the run and its drain"
    assert all(s["errors"] == 0 for s in sessions)
    (stop,) = raw(run, "load_stops")
    summary = table(run, "summary").iloc[0].to_dict()
    # the window runs from the first measured start to the stop, not to the last completed
    # record: the 12 s of load after the warm-up session (the first turn of a process is slow)
    (warmup,) = [s for s in all_sessions if s["warmup"]]
    load_s = DURATION_S - (warmup["ended_at"] - warmup["started_at"])
    window_s = summary["window_s"]
    assert 0.9 * load_s <= window_s <= DURATION_S + 1, (window_s, load_s)
    assert summary["window_end"].timestamp() == pytest.approx(stop["stopped_at"])
    # completed sessions per second: those that ended in the window, never more than started
    done = [s for s in sessions if not s["incomplete"] and s["ended_at"] <= stop["stopped_at"]]
    assert summary["sessions_per_s"] == pytest.approx(len(done) / window_s)
    assert summary["sessions_per_s"] <= len(sessions) / window_s
    # hung sessions are counted, not dropped: incomplete, with their age at the cut
    assert summary["errors"] == 0 and summary["error_rate"] == 0
    assert summary["sessions"] == len(sessions) and summary["sessions_incomplete"] == len(hung)
    turns = [t for t in raw(run, "turns") if not t["warmup"]]
    open_turns = [t for t in turns if t["incomplete"]]
    assert open_turns and all(t["latency_ms"] > 10_000 for t in open_turns)  # older than drain
    assert summary["turns_incomplete"] == len(open_turns)
    # every incomplete turn missed the SLO; the session SLO attainment counts them
    table_sessions = table(run, "sessions").set_index("session_id")
    assert not table_sessions.loc[[s["session_id"] for s in hung], "slo_met"].any()
    met = table_sessions.loc[[s["session_id"] for s in sessions], "slo_met"]
    attained = 100 * met.sum() / met.notna().sum()
    assert summary["slo_attainment_sessions_pct"] == pytest.approx(attained)
    assert summary["slo_attainment_sessions_pct"] < 100
    # task success: passed over the decided; its bound counts the hung sessions as failures
    decided = len(sessions) - len(hung)
    verdicts = table_sessions.loc[[s["session_id"] for s in sessions], "case_passed"]
    passed = int(verdicts.fillna(False).astype(bool).sum())
    assert summary["task_success_rate"] == pytest.approx(passed / decided)
    assert summary["task_success_bound"] == pytest.approx(passed / len(sessions))
    # the turn percentile the hung turns reach is only a lower bound, printed as "≥"
    assert pd.isna(summary["turn_p99_ms"]) and summary["turn_p99_ms_bound"].startswith("≥ ")
    assert f"{summary['turn_p99_ms_bound'].removesuffix(' ms')}" in out
    assert "undecided" in out and "Traceback" not in out + err


@pytest.mark.fault
def test_an_sla_probe_counts_hung_sessions_at_their_age(tmp_path: Path) -> None:
    """The same stalls under `bench sweep --find-max-load` at p99: the probe's hung sessions are
    incomplete, not errors (its error rate stays 0), but their turns count at their age at the
    cut, past the SLO: the p99 turn latency is a bound past 10 s and the probe fails on it."""
    with stall_server(seed=35) as url:  # none in the first 17 (`bench sweep` has a preflight)
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "sweep", "--find-max-load", "--slo", "turn_ms=10000",
             "--slo-percentile", "99", "--min-tool-accuracy", "1.0",
             "--accuracy-metric", "task_success_rate", "--drain", "11s",
             "--endpoint", url, "--api-key-env", "FAKE_KEY", "--model", "fake",
             "--evalset", MULTI_TURN, "--users", "3,3", "--step-duration", "12s",
             "--processes", "1", "--results-dir", str(tmp_path), "--sweep-id", "sla"],
            capture_output=True, text=True, timeout=600, env={**os.environ, "FAKE_KEY": KEY},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    probes = pq.read_table(tmp_path / "sla" / "sla_probes.parquet").to_pandas()
    (probe,) = probes.itertuples()
    assert probe.sessions_incomplete > 0, "stalled requests must outlive the probe's drain"
    assert probe.error_rate == 0 and probe.failed_turns_per_s == 0
    assert not probe.passed
    assert re.search(r"turn_p99_ms ≥ \d+\.\d > 10000", probe.reasons), probe.reasons


NEW_FAULTS = ("finish-error", "length", "empty", "text-call")
SESSION_HEADER = "x-session-id"  # the fault log's header names are in lower case


@pytest.mark.fault
def test_every_finish_is_accounted_for_against_the_fault_log(tmp_path: Path) -> None:
    """One run, every new fault and a 500 drawn at random (35% of the requests, the preflight's
    too): each count equals what the fake server logged; sessions hit by a finish "error" or a
    500 are cut short, those with only text calls (ADK made them from the text) pass, a tool
    call cut by "length" or left empty fails its case; the console stays quiet."""
    log = tmp_path / "faults.jsonl"
    with scripted_fake_server(
        home_automation_policy(), api_key=KEY, fail_rate=0.35, seed=3, fault_log=str(log),
        fault=",".join((*NEW_FAULTS, "500")),
    ) as url:  # fmt: skip
        args = ["--evalset", MULTI_TURN, "--users", "2", "--sessions", "24",
                "--session-header", "X-Session-ID"]  # fmt: skip
        # with the preflight: its console is checked too
        code, out, err = finish(start_run(url, tmp_path, "faults", *args, preflight=True))
    assert code == 0, out[-2000:] + err[-2000:]
    run = tmp_path / "faults"
    entries = read_fault_log(str(log))
    calls = table(run, "llm_calls")
    preflight = {c["session_id"] for c in raw(run / "preflight", "llm_calls")}
    run_entries = [e for e in entries if e["headers"].get(SESSION_HEADER) not in preflight]
    logged = {f: sum(1 for e in run_entries if e["fault"] == f) for f in (*NEW_FAULTS, "500")}
    assert all(logged.values()), logged  # every fault was drawn
    # every call the fake server faulted, by what the call record says (warm-up included)
    assert (calls["server_finish_reason"] == "error").sum() == logged["finish-error"]
    assert (calls["error_type"] == "FinishReasonError").sum() == logged["finish-error"]
    assert (calls["server_finish_reason"] == "length").sum() == logged["length"]
    assert calls["empty_reply"].sum() == logged["empty"]
    assert calls["rescued_from_text"].sum() == logged["text-call"]
    assert calls["error_type"].isin(["InternalServerError"]).sum() == logged["500"]
    # the summary counts the measured ones
    sessions = table(run, "sessions").set_index("session_id")
    measured = set(sessions.index[~sessions["warmup"]])
    mine = [e for e in run_entries if e["headers"].get(SESSION_HEADER) in measured]
    summary = table(run, "summary").iloc[0]
    for fault, column in (("finish-error", "llm_calls_finish_error"),
                          ("length", "llm_calls_finish_length"), ("empty", "llm_calls_empty"),
                          ("text-call", "llm_calls_rescued_from_text")):  # fmt: skip
        assert summary[column] == sum(1 for e in mine if e["fault"] == fault), column
    assert summary["llm_calls_unparsed"] >= summary["llm_calls_rescued_from_text"]
    # task success drops accordingly
    faults_of: dict[str, set[str]] = {}
    for e in mine:
        faults_of.setdefault(e["headers"][SESSION_HEADER], set()).add(e["fault"])
    outcome = sessions.loc[sorted(measured), "outcome"]
    for sid, kinds in faults_of.items():
        if kinds & {"finish-error", "500"}:
            assert outcome[sid] == "cut_short", (sid, kinds)
        elif kinds == {"text-call"}:
            assert outcome[sid] == "passed", (sid, kinds)
    clean = measured - set(faults_of)
    assert clean and all(outcome[sid] == "passed" for sid in clean)
    cut_tool_calls = {e["headers"][SESSION_HEADER] for e in mine
                      if e["fault"] in ("length", "empty") and e["reply"] == "tool_call"}  # fmt: skip
    assert all(outcome[sid] != "passed" for sid in cut_tool_calls)
    assert summary["task_success_rate"] < 1.0
    assert summary["sessions_passed"] == (outcome == "passed").sum()
    # a quiet console: the first error of each class and the counts, the traces in the log files
    assert "Traceback" not in out + err and "Give Feedback" not in out + err
    assert "failed turn, first FinishReasonError" in out and "failed turn, first Internal" in out
    assert "Traceback" in (run / "bench.log").read_text() + (run / "locust.log").read_text()
