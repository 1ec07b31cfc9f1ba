"""Repeated trials: pass^k and pass@k per case (tau-bench's definitions) and trajectory stability.

With n trials of a case of which c passed (`case_passed`: every metric of the criteria met): pass^k = C(c, k) / C(n, k), the chance that k trials
drawn without replacement all pass; pass@k = 1 - C(n - c, k) / C(n, k), the chance that at least
one does. Overall figures are the mean over cases.

A session cut short by a failure is a trial that did not pass (`case_passed` False); an
incomplete one (the load stopped) is no trial (`bench.scoring.outcome`). A case with fewer than
k trials has no pass^k or pass@k (null, not pass^n under the name pass^k); the summary counts
such cases (`pass_k_short_cases`) and averages over the others.
"""

from __future__ import annotations

import json
from collections import defaultdict
from math import comb
from typing import Any

from bench.scoring.calls import by_value
from bench.scoring.outcome import CUT_SHORT, is_scenario_session


def pass_hat_k(n: int, c: int, k: int) -> float | None:
    return comb(c, k) / comb(n, k) if 0 < k <= n else None


def pass_at_k(n: int, c: int, k: int) -> float | None:
    return 1 - comb(n - c, k) / comb(n, k) if 0 < k <= n else None


def case_table(
    sessions: list[dict[str, Any]], turns: list[dict[str, Any]], k: int
) -> list[dict[str, Any]]:
    """One row per case over its measured sessions with a verdict (cut-short ones included)."""
    trajectories: dict[str, list[str]] = defaultdict(list)
    for turn in sorted(turns, key=lambda t: (t["session_id"], t.get("invocation_index") or 0)):
        trajectories[turn["session_id"]].append(
            json.dumps(by_value(turn.get("tool_calls") or []), sort_keys=True)
        )
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in sessions:
        if s.get("case_passed") is not None:
            by_case[s["case_id"]].append(s)
    rows = []
    for case_id, runs in sorted(by_case.items()):
        n, c = len(runs), sum(1 for s in runs if s["case_passed"])
        distinct = {"|".join(trajectories.get(s["session_id"], [])) for s in runs}
        rows.append(
            {
                "case_id": case_id,
                "eval_set_id": runs[0].get("eval_set_id"),
                "trials": n,
                "passes": c,
                "cut_short": sum(1 for s in runs if s.get("outcome") == CUT_SHORT),
                "pass_rate": c / n,
                "k": k,
                "pass_hat_k": pass_hat_k(n, c, k),
                "pass_at_k": pass_at_k(n, c, k),
                "trajectory_variants": len(distinct),
                "trajectory_differs": len(distinct) > 1,
                "trajectory_score_mean": _trajectory_mean(runs),
            }
        )
    return rows


def _trajectory_mean(runs: list[dict[str, Any]]) -> float | None:
    """Mean session trajectory score; a session with none counts 0 (it failed before a scored
    turn), except a scenario session: trajectory is not applicable there, never 0."""
    scores = [
        s.get("trajectory_score") or 0.0
        for s in runs
        if not (is_scenario_session(s) and s.get("trajectory_score") is None)
    ]
    return sum(scores) / len(scores) if scores else None


def reliability_summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    if not cases:
        return {
            "pass_hat_k": None,
            "pass_at_k": None,
            "trajectory_inconsistency_rate": None,
            "pass_k": None,
            "pass_k_short_cases": None,
        }
    hats = [c["pass_hat_k"] for c in cases if c["pass_hat_k"] is not None]
    ats = [c["pass_at_k"] for c in cases if c["pass_at_k"] is not None]
    return {
        "pass_k": min(c["k"] for c in cases),
        "pass_hat_k": sum(hats) / len(hats) if hats else None,
        "pass_at_k": sum(ats) / len(ats) if ats else None,
        "trajectory_inconsistency_rate": sum(1 for c in cases if c["trajectory_differs"])
        / len(cases),
        "pass_k_short_cases": sum(1 for c in cases if c["trials"] < c["k"]),
    }
