"""Raw JSONL -> scored Parquet tables. Idempotent: `bench results rebuild` runs it again any time.

Everything it needs is in the run folder (`manifest.json` holds the criteria, SLOs and
provenance), so the tables can be rebuilt after any crash.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results.arrivals import arrival_summary
from bench.results.by_turn import by_turn_index
from bench.results.client_summary import client_summary
from bench.results.reasoning import reasoning_summary
from bench.results.kv_reuse import classify_calls, kv_reuse_summary
from bench.results.reply_kinds import reply_kind_summary
from bench.results.roofline import roofline
from bench.results.server_summary import server_summary
from bench.results.summary import compute_summary, measured
from bench.results.writer import write_table
from bench.schemas.manifest import read_manifest
from bench.schemas.raw import ARRIVALS, LOAD_STOPS, SERVER_METRICS, read_raw
from bench.schemas.run_dir import RunDir
from bench.schemas.tables import TABLES, to_table
from bench.scoring.breakdown import case_tool_columns, tool_table
from bench.scoring.case_pass import CaseVerdict
from bench.scoring.finish import classify_call, finish_counts
from bench.scoring.goodput import goodput, mark_slo
from bench.scoring.judge import JUDGE_COLUMNS
from bench.scoring.outcome import (
    CUT_SHORT,
    agent_calls,
    is_failed,
    is_incomplete,
    is_ok,
    is_scenario_session,
    is_user_simulator_call,
    outcome_passed,
    session_outcome,
    upgrade_legacy,
)
from bench.scoring.reliability import case_table, reliability_summary
from bench.scoring.trajectory import TurnScorer, invocation_from_record


@dataclass
class BuildResult:
    run_dir: Path
    counts: dict[str, int]
    bad_lines: int
    summary: dict[str, Any]


def score_turns(turns: list[dict[str, Any]], scorer: TurnScorer) -> None:
    for turn in turns:
        actual, expected = turn.get("actual_invocation"), turn.get("expected_invocation")
        if actual is None or expected is None:
            continue
        turn.update(scorer.score(invocation_from_record(actual), invocation_from_record(expected)))


def roll_up_sessions(
    sessions: list[dict[str, Any]],
    turns: list[dict[str, Any]],
    threshold: float,
    verdict: CaseVerdict | None = None,
) -> None:
    """ADK's case score per session: the mean of its invocations' trajectory scores; `outcome`
    (`bench.scoring.outcome`) and `case_passed`, every metric of the criteria met
    (`bench.scoring.case_pass`) on a complete session, False on one cut short by a failure."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for turn in turns:
        by_session[turn["session_id"]].append(turn)
    for session in sessions:
        mine = by_session.get(session["session_id"], [])
        # raw records before schema 3 marked only the turn ("Cancelled")
        session["incomplete"] = is_incomplete(session) or any(is_incomplete(t) for t in mine)
        scored = sorted(
            (t for t in mine if "trajectory_score" in t),
            key=lambda t: t.get("invocation_index") or 0,
        )
        scores = [t["trajectory_score"] for t in scored]
        rouge = [t["response_match"] for t in mine if t.get("response_match") is not None]
        complete = bool(scores) and len(scores) == (session.get("turns_expected") or len(scores))
        session["trajectory_score"] = sum(scores) / len(scores) if scores else None
        trajectory_ok = (session["trajectory_score"] or 0.0) >= threshold if complete else None
        if is_scenario_session(session):  # no trajectory, maybe a rubric
            played = sorted(
                (t for t in mine if t.get("actual_invocation") is not None),
                key=lambda t: t.get("invocation_index") or 0,
            )
            complete = bool(played) and len(played) == (session.get("turns") or 0)
            scored, trajectory_ok = played, None
        passed = verdict.passed(scored) if complete and verdict else None
        outcome = session_outcome(session, passed)
        session["outcome"] = outcome
        session["case_passed"] = outcome_passed(outcome)
        session["trajectory_passed"] = False if outcome == CUT_SHORT else trajectory_ok
        session["response_match"] = sum(rouge) / len(rouge) if rouge else None


def user_simulator_summary(
    simulator_calls: list[dict[str, Any]], sessions_m: list[dict[str, Any]]
) -> dict[str, Any]:
    """Scenario cases: sessions played with ADK's user simulator and its LLM calls (measured
    ones), reported apart from the agent's; None when the run had no scenario case."""
    scenario = [s for s in sessions_m if is_scenario_session(s)]
    calls = [c for c in simulator_calls if not c.get("warmup")]
    if not scenario and not calls:
        return {"scenario_sessions": None, "user_simulator_calls": None,
                "user_simulator_failed_calls": None}  # fmt: skip
    return {
        "scenario_sessions": len(scenario),
        "user_simulator_calls": len(calls),
        "user_simulator_failed_calls": sum(1 for c in calls if is_failed(c)),
    }


def server_metric_rows(scrapes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"timestamp": s["timestamp"], "metric": name, "labels": labels, "value": value}
        for s in scrapes
        for name, labels, value in s["samples"]
    ]


def classify_calls_finish(
    calls: list[dict[str, Any]], turns: list[dict[str, Any]], tool_parser: str | None
) -> None:
    """Each call's finish (`bench.scoring.finish`); a turn holds an unparsed tool call when any
    of its LLM calls does (not only its last reply)."""
    unparsed_turns = set()
    for call in calls:
        classify_call(call, tool_parser)
        if call["unparsed_tool_call"]:
            unparsed_turns.add(call.get("turn_id"))
    for turn in turns:
        if turn.get("turn_id") in unparsed_turns:
            turn["unparsed_tool_call"] = True


def merge_judge_scores(turns: list[dict[str, Any]], judged: list[dict[str, Any]]) -> None:
    by_turn = {(r["turn_id"], r["metric"]): r.get("score") for r in judged}
    for turn in turns:
        for metric, column in JUDGE_COLUMNS.items():
            if (turn["turn_id"], metric) in by_turn:
                turn[column] = by_turn[(turn["turn_id"], metric)]


def finer_tool_summary(turns: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(turns)
    compared = sum(t.get("args_compared") or 0 for t in turns)
    return {
        "unparsed_rate": sum(1 for t in turns if t.get("unparsed_tool_call")) / n if n else None,
        "unknown_tool_calls": sum(t.get("unknown_tool_calls") or 0 for t in turns),
        "unexpected_call_rate": sum(1 for t in turns if t.get("unexpected_call")) / n
        if n
        else None,
        "arg_partial_credit": sum(t.get("args_partial_sum") or 0.0 for t in turns) / compared
        if compared
        else None,
    }


def build_results(run_dir: Path) -> BuildResult:
    rd = RunDir(run_dir)
    manifest = read_manifest(rd)
    kinds = ("llm_calls", "turns", "sessions", "client", "judge", ARRIVALS)
    reads = {name: read_raw(rd, name) for name in kinds}
    scrapes_read = read_raw(rd, SERVER_METRICS)
    all_calls, turns, sessions, client, judged, arrivals = (reads[n].records for n in kinds)
    for record in all_calls + turns + sessions:  # raw records of older results schemas
        upgrade_legacy(record)
    load_stops = read_raw(rd, LOAD_STOPS).records
    # ADK's user simulator's calls (scenario cases) are written to llm_calls flagged by
    # call_role, and kept out of every agent figure below
    llm_calls = agent_calls(all_calls)
    simulator_calls = [c for c in all_calls if is_user_simulator_call(c)]
    merge_judge_scores(turns, judged)
    known_tools = set(manifest.known_tools) if manifest.known_tools else None
    scorer = TurnScorer(manifest.criteria, known_tools, manifest.tool_parser)
    score_turns(turns, scorer)
    classify_calls_finish(all_calls, turns, manifest.tool_parser)
    verdict = CaseVerdict(manifest.criteria or {}, judged=bool(judged))
    roll_up_sessions(sessions, turns, scorer.criterion.threshold, verdict)
    slo = manifest.slo or {}
    if slo:  # an incomplete record misses an SLO it is past already, else is undecided
        mark_slo(llm_calls, turns, sessions, slo)

    classify_calls(llm_calls, turns)
    turns_m, sessions_m, calls_m = measured(turns), measured(sessions), measured(llm_calls)
    completed = [t for t in turns_m if is_ok(t)]  # tool accuracy is over completed turns
    info = manifest.summary_info
    cases = case_table(sessions_m, turns_m, k=info.trials or 1)
    per_case = case_tool_columns(completed)
    for row in cases:
        row.update(per_case.get(row["case_id"], {}))
    tools = tool_table(turns_m, known_tools)

    run_info = {
        "run_id": manifest.run_id,
        "status": manifest.status.value,
        "trajectory_match_type": scorer.match_type,
        "skipped_cases": len(manifest.skipped_cases),
        "case_pass_metrics": ",".join(verdict.metrics),
        "case_metrics_not_evaluated": ",".join(verdict.not_evaluated) or None,
        "step": manifest.step,
        **info.model_dump(exclude={"trials"}),
    }
    summary = compute_summary(llm_calls, turns, sessions, run_info, load_stops)
    start, end = summary["window_start"], summary["window_end"]
    summary.update(
        reply_kind_summary(
            [c for c in calls_m if is_ok(c)], [c for c in calls_m if is_incomplete(c)]
        )
    )
    summary.update(finish_counts(calls_m))
    summary.update(arrival_summary(arrivals, sessions_m))
    summary.update(user_simulator_summary(simulator_calls, sessions_m))
    summary.update(finer_tool_summary(completed))
    summary.update(kv_reuse_summary([c for c in calls_m if is_ok(c)]))
    summary.update(reasoning_summary([c for c in calls_m if is_ok(c)], completed))
    summary.update(reliability_summary(cases))
    if slo:
        summary["slo"] = json.dumps(slo, sort_keys=True)
        summary.update(goodput(turns_m, sessions_m, end, summary["window_s"]))
    if judged:
        summary["judge_model"] = manifest.judge_model or judged[0].get("judge_model")
        for column in JUDGE_COLUMNS.values():
            scores = [t[column] for t in completed if t.get(column) is not None]
            summary[column] = sum(scores) / len(scores) if scores else None
    summary.update(server_summary(scrapes_read.records, start, end))
    summary.update(client_summary(client, start, end, summary))
    provenance = manifest.provenance
    summary.update(
        roofline(
            provenance.get("gpus") or [],
            provenance.get("weight_bytes"),
            summary.get("users"),
            summary.get("tpot_p50_ms"),
            summary.get("server_tpot_p50_ms") or summary.get("server_tpot_mean_ms"),
        )
    )

    rows = {
        "llm_calls": llm_calls + simulator_calls,
        "turns": turns,
        "sessions": sessions,
        "cases": cases,
        "tools": tools,
        "server_metrics": server_metric_rows(scrapes_read.records),
        "client": client,
        "summary": [summary],
        "by_turn_index": by_turn_index(calls_m, turns_m, manifest.step or 0),
    }
    for name, records in rows.items():
        for r in records:
            r.setdefault("run_id", manifest.run_id)
        write_table(rd.table(name), to_table(records, TABLES[name], name), provenance)
    counts = {n: len(r) for n, r in rows.items()}
    if arrivals:  # open loop: the manifest keeps the arrivals that never started, too
        counts["arrivals"] = summary["arrivals"]
        counts["arrivals_not_started"] = summary["arrivals_not_started"]
    return BuildResult(
        run_dir=run_dir,
        counts=counts,
        bad_lines=sum(r.bad_lines for r in reads.values()) + scrapes_read.bad_lines,
        summary=summary,
    )
