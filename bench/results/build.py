"""Raw JSONL -> scored Parquet tables. Idempotent: `bench results rebuild` runs it again any time.

Everything it needs is in the run folder (`manifest.json` holds the criteria and provenance),
so the tables can be rebuilt after any crash.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results.manifest import read_manifest
from bench.results.raw import read_raw
from bench.results.schemas import TABLES
from bench.results.summary import compute_summary
from bench.results.writer import to_table, write_table
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


def roll_up_sessions(sessions: list[dict[str, Any]], turns: list[dict[str, Any]], threshold: float) -> None:
    """ADK's case score per session: the mean of its invocations' trajectory scores."""
    by_session: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for turn in turns:
        by_session[turn["session_id"]].append(turn)
    for session in sessions:
        scores = [t["trajectory_score"] for t in by_session.get(session["session_id"], []) if "trajectory_score" in t]
        rouge = [t["response_match"] for t in by_session.get(session["session_id"], []) if t.get("response_match") is not None]
        complete = bool(scores) and len(scores) == (session.get("turns_expected") or len(scores))
        session["trajectory_score"] = sum(scores) / len(scores) if scores else None
        session["trajectory_passed"] = (session["trajectory_score"] >= threshold) if complete else None
        session["response_match"] = sum(rouge) / len(rouge) if rouge else None


def build_results(run_dir: Path) -> BuildResult:
    manifest = read_manifest(run_dir)
    reads = {name: read_raw(run_dir, name) for name in ("llm_calls", "turns", "sessions")}
    llm_calls, turns, sessions = (reads[n].records for n in ("llm_calls", "turns", "sessions"))
    scorer = TurnScorer(manifest.get("criteria") or {})
    score_turns(turns, scorer)
    roll_up_sessions(sessions, turns, scorer.criterion.threshold)
    run_info = {
        "run_id": manifest["run_id"],
        "status": manifest.get("status"),
        "trajectory_match_type": scorer.match_type,
        **manifest.get("summary_info", {}),
    }
    summary = compute_summary(llm_calls, turns, sessions, run_info)
    provenance = manifest.get("provenance", {})
    rows = {"llm_calls": llm_calls, "turns": turns, "sessions": sessions, "summary": [summary]}
    for name, records in rows.items():
        for r in records:
            r.setdefault("run_id", manifest["run_id"])
        write_table(run_dir / f"{name}.parquet", to_table(records, TABLES[name]), provenance)
    return BuildResult(
        run_dir=run_dir,
        counts={n: len(r) for n, r in rows.items()},
        bad_lines=sum(r.bad_lines for r in reads.values()),
        summary=summary,
    )
