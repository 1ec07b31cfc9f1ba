"""cases_by_step: each case's pass rate per load step, and `degrades_under_load`.

The rules on hand-made rows first, then the whole path: two step folders of raw records whose
outcome per case is known (passed, cut short, incomplete, an unparsed tool call), built by
`build_results` and joined by `write_cases_by_step`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.results.build import build_results
from bench.results.under_load import case_step_rows, degrading, mark_degrades, write_cases_by_step
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.tables import CASES_BY_STEP, STEPPED_TABLES
from tests.unit.results.test_build import invocation, llm_call, turn


def _row(case: str, load: float, rate: float | None, step: int = 0, combo: str | None = None):
    return {"case_id": case, "load": load, "pass_rate": rate, "step": step, "combo_id": combo}


def _flags(rows: list[dict[str, Any]]) -> dict[tuple[str | None, str, float], bool | None]:
    return {(r["combo_id"], r["case_id"], r["load"]): r["degrades_under_load"] for r in rows}


def test_a_case_degrades_when_it_passed_at_the_lowest_load_and_not_at_a_higher_one() -> None:
    rows = mark_degrades([
        _row("steady", 1, 1.0), _row("steady", 4, 1.0, 1), _row("steady", 8, 1.0, 2),
        _row("breaks", 1, 1.0), _row("breaks", 4, 1.0, 1), _row("breaks", 8, 0.5, 2),
        _row("never", 1, 0.5), _row("never", 4, 0.0, 1),  # failed at the lowest load already
        _row("late", 4, 0.0, 1),  # no row at the lowest load: cannot be judged
        _row("unjudged", 1, None), _row("unjudged", 4, 0.0, 1),
    ])  # fmt: skip
    assert _flags(rows) == {
        (None, "steady", 1): False, (None, "steady", 4): False, (None, "steady", 8): False,
        (None, "breaks", 1): False, (None, "breaks", 4): False, (None, "breaks", 8): True,
        (None, "never", 1): False, (None, "never", 4): False,
        (None, "late", 4): None,
        (None, "unjudged", 1): False, (None, "unjudged", 4): None,
    }  # fmt: skip
    assert [(r["case_id"], r["load"]) for r in degrading(rows)] == [("breaks", 8)]


def test_the_lowest_load_is_by_load_not_by_step_order() -> None:
    """`--users 8,2`: step 0 is the higher load."""
    rows = mark_degrades([_row("a", 8, 0.0, step=0), _row("a", 2, 1.0, step=1)])
    assert _flags(rows) == {(None, "a", 8): True, (None, "a", 2): False}


def test_a_sweep_compares_points_within_one_combination_only() -> None:
    rows = mark_degrades([
        # c0 (max_num_seqs 8): passes at users 1, fails at 4
        _row("a", 1, 1.0, combo="c0"), _row("a", 4, 0.0, 1, combo="c0"),
        # c1 (max_num_seqs 64): its lowest load is 4, where it passes; fails at 16
        _row("a", 4, 1.0, combo="c1"), _row("a", 16, 0.5, 1, combo="c1"),
        # b never passes in c2's lowest point, whatever c0 did
        _row("b", 1, 1.0, combo="c0"), _row("b", 4, 1.0, 1, combo="c0"),
        _row("b", 2, 0.0, combo="c2"), _row("b", 8, 0.0, 1, combo="c2"),
        # repeats: two points at the lowest load must both pass
        _row("r", 1, 1.0, combo="c3"), _row("r", 1, 0.5, 1, combo="c3"),
        _row("r", 4, 0.0, 2, combo="c3"),
    ])  # fmt: skip
    assert _flags(rows) == {
        ("c0", "a", 1): False, ("c0", "a", 4): True,
        ("c1", "a", 4): False, ("c1", "a", 16): True,
        ("c0", "b", 1): False, ("c0", "b", 4): False,
        ("c2", "b", 2): False, ("c2", "b", 8): False,
        ("c3", "r", 1): False, ("c3", "r", 4): False,
    }  # fmt: skip


def test_step_rows_take_the_cases_table_and_the_load() -> None:
    cases = [
        {"case_id": "a", "eval_set_id": "e", "trials": 4, "passes": 3, "cut_short": 1,
         "pass_rate": 0.75, "k": 2, "pass_hat_k": 0.5, "turns": 8, "unparsed_tool_calls": 2},
        {"case_id": "b", "eval_set_id": "e", "trials": 2, "passes": 2, "cut_short": 0,
         "pass_rate": 1.0, "k": 2, "pass_hat_k": 1.0, "turns": 0, "unparsed_tool_calls": 0},
    ]  # fmt: skip
    closed = case_step_rows(cases, {"step": 1, "users": 4, "session_rate": None})
    assert [(r["load"], r["users"], r["step"]) for r in closed] == [(4.0, 4, 1), (4.0, 4, 1)]
    a, b = closed
    assert (a["sessions"], a["passed"], a["cut_short"], a["pass_rate"]) == (4, 3, 1, 0.75)
    assert a["pass_hat_k"] == 0.5 and a["unparsed_rate"] == 0.25
    assert b["unparsed_rate"] is None  # no completed turn
    open_loop = case_step_rows(cases, {"step": 0, "users": 1, "session_rate": 0.5}, "c0", "p0")
    assert open_loop[0]["load"] == 0.5 and open_loop[0]["combo_id"] == "c0"
    # one trial per case: pass^k is the pass rate again, so it is left out
    single = case_step_rows([{**cases[0], "k": 1, "pass_hat_k": 0.75}], {"users": 1})
    assert single[0]["pass_hat_k"] is None


# ----------------------------------------------------------------------------- from raw records

RIGHT = invocation("q", [("get_weather", {"city": "Paris"})])
WRONG = invocation("q", [("get_weather", {"city": "Boston"})])
# A reply that left the tool call in its text (the parser missed it): no call, the text matches.
UNPARSED = {
    **invocation("q", []),
    "final_response": {"role": "model", "parts": [{"text": '<tool_call>\n{"name": "get_weather", '
                                                           '"arguments": {"city": "Paris"}}\n'
                                                           "</tool_call>"}]},
}  # fmt: skip


def _write_step(step_dir: Path, step: int, users: int, outcomes: list[tuple[str, str]]) -> None:
    """Sessions of one step, each (case, what happened): right, wrong, unparsed, cut, trunc."""
    (step_dir / "raw").mkdir(parents=True)
    write_manifest(RunDir(step_dir), Manifest.model_validate({
        "run_id": "run", "status": "completed", "step": step, "tool_parser": "hermes",
        "criteria": {"tool_trajectory_avg_score": {"threshold": 1.0, "match_type": "EXACT"}},
        "summary_info": {"users": users, "trials": 2},
    }))  # fmt: skip
    turns, sessions = [], []
    for i, (case, what) in enumerate(outcomes):
        sid, t0 = f"s{step}-{i}", 100.0 + i
        actual = {"right": RIGHT, "wrong": WRONG, "unparsed": UNPARSED}.get(what)
        record = {**turn(sid, 0, actual, RIGHT, t0), "case_id": case}
        if what == "cut":
            record |= {"error_type": "InternalServerError", "error": "500"}
        if what == "trunc":
            record |= {"incomplete": True}
        turns.append(record)
        sessions.append({
            "run_id": "run", "session_id": sid, "case_id": case, "eval_set_id": "e", "trial": 0,
            "ticket": i, "started_at": t0, "ended_at": t0 + 0.6, "duration_ms": 600.0, "turns": 1,
            "turns_expected": 1, "errors": int(what == "cut"), "warmup": False, "pid": 1,
            "user_index": 0, "incomplete": what == "trunc",
        })  # fmt: skip
    calls = [llm_call(t["session_id"], 0, t["started_at"]) for t in turns]
    for name, records in (("turns", turns), ("sessions", sessions), ("llm_calls", calls)):
        text = "".join(json.dumps(r) + "\n" for r in records)
        (step_dir / "raw" / f"{name}.1.jsonl").write_text(text)


def test_built_steps_give_pass_rates_unparsed_rates_and_the_degrading_cases(tmp_path: Path):
    run = RunDir(tmp_path / "run")
    low, high = run.step(0, "users-1"), run.step(1, "users-4")
    _write_step(low.path, 0, 1, [("a", "right"), ("a", "right"), ("b", "right"), ("c", "wrong"),
                                 ("d", "right")])  # fmt: skip
    _write_step(high.path, 1, 4, [
        ("a", "right"), ("a", "cut"), ("a", "trunc"),  # cut short fails, incomplete is no trial
        ("b", "right"), ("b", "unparsed"),  # the parser missed a call under load
        ("c", "wrong"),  # failed at the lowest load already
        ("d", "right"), ("d", "trunc"),  # still passes every trial
    ])  # fmt: skip
    for step in (low, high):
        build_results(step.path)
    assert write_cases_by_step(run, [low, high], {"model": "tiny"}) == 8
    table = pq.read_table(run.cases_by_step)
    assert table.schema.remove_metadata().equals(STEPPED_TABLES[CASES_BY_STEP])
    rows = {(r["case_id"], r["users"]): r for r in table.to_pylist()}
    a4, b4, d4 = rows[("a", 4)], rows[("b", 4)], rows[("d", 4)]
    assert (a4["sessions"], a4["passed"], a4["cut_short"], a4["pass_rate"]) == (2, 1, 1, 0.5)
    assert a4["pass_hat_k"] == 0.0  # 2 trials, 1 passed: C(1,2)/C(2,2)
    assert rows[("a", 1)]["pass_hat_k"] == 1.0
    assert (b4["pass_rate"], b4["unparsed_tool_calls"], b4["unparsed_rate"]) == (0.5, 1, 0.5)
    assert rows[("b", 1)]["unparsed_rate"] == 0.0
    assert (d4["sessions"], d4["pass_rate"]) == (1, 1.0)
    flagged = {key for key, r in rows.items() if r["degrades_under_load"]}
    assert flagged == {("a", 4), ("b", 4)}
    assert all(r["run_id"] == "run" and r["step"] in (0, 1) for r in rows.values())
    assert {r["degrades_under_load"] for key, r in rows.items() if key[1] == 1} == {False}


def test_without_repeated_trials_pass_hat_k_is_null(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    step = run.step(0, "users-1")
    _write_step(step.path, 0, 1, [("a", "right")])
    text = step.manifest.read_text().replace('"trials": 2', '"trials": 1')
    step.manifest.write_text(text)
    build_results(step.path)
    write_cases_by_step(run, [step], {})
    (row,) = pq.read_table(run.cases_by_step).to_pylist()
    assert row["pass_hat_k"] is None and row["pass_rate"] == 1.0
    assert row["degrades_under_load"] is False  # one step: the lowest load itself
