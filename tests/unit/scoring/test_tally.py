"""Per-tool and per-case tool accuracy: the one counter behind the tools table, the report and the web UI."""

from __future__ import annotations

import json

from bench.scoring.breakdown import tool_table
from bench.scoring.tally import AccuracyBoard, board_from_turns, tally_turn

W = {"name": "get_weather", "args": {"city": "Paris"}}
T = {"name": "get_current_time", "args": {"city": "Paris"}}


def test_tally_pairs_calls_by_name_then_compares_arguments() -> None:
    wrong_args = {"name": "get_weather", "args": {"city": "Rome"}}
    tallies = tally_turn([wrong_args, T, T], json.dumps([W, T]))
    assert (tallies["get_weather"].expected, tallies["get_weather"].matched) == (1, 1)
    assert tallies["get_weather"].exact == 0
    assert (tallies["get_current_time"].called, tallies["get_current_time"].extra) == (2, 1)
    assert tallies["get_current_time"].exact == 1


def test_board_rows_and_wire_round_trip() -> None:
    """Tool accuracy counts completed turns only; failed and incomplete turns are counted apart
    (older runs' `truncated` and "Cancelled" turns too)."""
    turns = [
        {"case_id": "a", "tool_calls": [W], "expected_tool_calls": [W]},
        {"case_id": "a", "tool_calls": [T], "expected_tool_calls": [W]},
        {"case_id": "b", "tool_calls": [T], "expected_tool_calls": [W], "error_type": "Timeout"},
        {"case_id": "b", "tool_calls": [], "expected_tool_calls": [W], "incomplete": True},
        {"case_id": "b", "tool_calls": [], "expected_tool_calls": [W], "truncated": True},
        {"case_id": "b", "tool_calls": [], "expected_tool_calls": [W], "error_type": "Cancelled"},
        {"case_id": "b", "tool_calls": [W], "expected_tool_calls": [W], "warmup": True},
    ]
    sessions = [
        {"case_id": "a", "outcome": "passed"},
        {"case_id": "a", "outcome": "cut_short"},
        {"case_id": "a", "outcome": "incomplete"},
        {"case_id": "b", "outcome": "passed", "warmup": True},
    ]
    board = board_from_turns(turns, sessions)
    cases = {r["case"]: r for r in board.case_rows()}
    assert (cases["a"]["turns"], cases["a"]["exact_turns"], cases["a"]["recall"]) == (2, 1, 0.5)
    assert (cases["b"]["turns"], cases["b"]["errors"], cases["b"]["incomplete_turns"]) == (0, 1, 3)
    assert (cases["a"]["sessions"], cases["a"]["sessions_passed"]) == (3, 1)
    assert cases["a"]["task_success_rate"] == 0.5  # the cut-short one failed, incomplete aside
    assert cases["a"]["sessions_incomplete"] == 1
    assert cases["b"]["sessions"] == 0 and cases["b"]["task_success_rate"] is None
    tools = {r["tool"]: r for r in board.tool_rows()}
    assert tools["get_weather"]["expected"] == 2 and tools["get_weather"]["missed"] == 1
    assert tools["get_current_time"]["extra"] == 1 and tools["get_current_time"]["precision"] == 0
    again = AccuracyBoard.from_dict(json.loads(json.dumps(board.to_dict())))
    again.merge(board)
    assert again.by_tool["get_weather"].expected == 4 and again.by_case["a"].turns == 4
    assert again.by_case["b"].incomplete == 6 and again.task_success().counts["cut_short"] == 2


def test_the_tools_table_and_the_board_count_the_same_calls() -> None:
    """tools.parquet and the report/web UI tabs come from the one counter."""
    half = {"name": "get_weather", "args": {"city": "Paris", "units": "f"}}
    want = {"name": "get_weather", "args": {"city": "Paris", "units": "c"}}
    turns = [
        {"case_id": "a", "tool_calls": [half], "expected_tool_calls": [want]},
        {"case_id": "a", "tool_calls": [want, T], "expected_tool_calls": [want]},
        {"case_id": "a", "tool_calls": [want], "expected_tool_calls": [want], "warmup": True},
    ]
    rows = {r["tool"]: r for r in tool_table(turns, known_tools={"get_weather"})}
    board = {r["tool"]: r for r in board_from_turns(turns).tool_rows()}
    weather = rows["get_weather"]
    assert (weather["calls_made"], weather["calls_expected"], weather["names_matched"]) == (2, 2, 2)
    assert weather["arg_exact_match_rate"] == 0.5  # one of the two pairs has equal arguments
    assert weather["arg_partial_credit"] == 0.75  # (1/2 + 2/2) / 2 pairs
    assert rows["get_current_time"]["unknown"] and rows["get_current_time"]["precision"] == 0.0
    for name, row in rows.items():
        assert (row["calls_made"], row["calls_expected"], row["names_matched"]) == (
            board[name]["called"],
            board[name]["expected"],
            board[name]["matched"],
        )
