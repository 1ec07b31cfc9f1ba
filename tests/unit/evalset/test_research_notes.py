"""The long-session eval set: six or more turns per case, and the tiny script's known answers."""

from __future__ import annotations

import json
import statistics
import sys

from bench.evalset import load_evalset
from bench.evalset_checks import EVALSETS_DIR
from tests.fixtures.tiny_walk import expected_turns, implied_exact, implied_turn


def test_cases_average_six_or_more_turns() -> None:
    cases = load_evalset("research_notes").cases
    assert len(cases) >= 10
    assert statistics.mean(len(c.conversation) for c in cases) >= 6


def test_tiny_script_answers_all_but_the_known_mistake() -> None:
    scores = implied_exact("research_notes")
    wrong = {key for key, score in scores.items() if score == 0}
    texts = {key: text for key, text, _ in expected_turns("research_notes")}
    # The script reads BAT-70 when asked for BAT-07: exactly those turns are wrong.
    assert wrong and all("BAT-07" in texts[key] for key in wrong)
    assert {key for key, text in texts.items() if "BAT-07" in text} == wrong
    # The search-then-read turn makes two calls within the turn (three LLM calls).
    assert implied_turn("Look up recycling and open the top result.")[1] == 3


def test_tool_results_grow_the_context() -> None:
    sys.path.insert(0, str(EVALSETS_DIR))
    try:
        from research_notes import agent  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EVALSETS_DIR))
    assert len(json.dumps(agent.read_note("BAT-03"))) > 600
    assert len(json.dumps(agent.compare_notes("BAT-02", "BAT-05"))) > 900
    assert agent.read_note("BAT-70")["status"] == "error"
    assert [r["note_id"] for r in agent.search_notes("recycling")["results"]][0] == "BAT-06"
