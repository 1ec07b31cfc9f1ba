"""Validation against the agent: shipped sets are clean, planted mistakes are found once each."""

from __future__ import annotations

import enum
import inspect
import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from bench.constants import EVALSETS_DIR
from bench.evalset import load_eval_file, load_evalset
from bench.evalset_checks import (
    convert_to_evalset,
    shipped_evalset_dirs,
    summarize,
    type_mismatch,
    validate_evalsets,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BYO_AGENT = FIXTURES / "agents" / "byo_concierge"
SHIPPED = ["weather_time", "home_automation", "customer_support_orders", "unit_conversion",
           "travel_multi_agent", "research_notes"]  # fmt: skip


SCENARIO_SETS = ["weather_time_scenario"]  # conversation_scenario cases only


def test_every_shipped_agent_has_an_eval_set() -> None:
    assert [d.name for d in shipped_evalset_dirs()] == sorted(SHIPPED + SCENARIO_SETS)


def test_shipped_scenario_set_counts_as_runnable() -> None:
    report = validate_evalsets(EVALSETS_DIR / "weather_time_scenario")
    assert report.ok and report.scenarios == 1
    summary = summarize(EVALSETS_DIR / "weather_time_scenario")
    assert (summary.cases, summary.scenarios, summary.turns) == (1, 1, 0)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_eval_set_validates_clean(name: str) -> None:
    report = validate_evalsets(EVALSETS_DIR / name)
    assert report.problems == []
    assert report.agents == {str(f): str(EVALSETS_DIR / name) for f in report.files}
    assert report.notes == []
    summary = summarize(EVALSETS_DIR / name)
    assert 9 <= summary.cases <= 30 and summary.formats == ["evalset"]
    config = json.loads((EVALSETS_DIR / name / "test_config.json").read_text())
    assert config["criteria"]["tool_trajectory_avg_score"]["match_type"] in (
        "EXACT", "IN_ORDER", "ANY_ORDER")  # fmt: skip


@pytest.mark.parametrize("name", SHIPPED[1:])
def test_new_shipped_sets_have_cases_without_tool_calls_and_multi_turn(name: str) -> None:
    cases = load_evalset(name).cases
    assert 10 <= len(cases) <= 30
    turns = [i for c in cases for i in c.conversation]
    assert any(not (i.intermediate_data and i.intermediate_data.tool_uses) for i in turns)
    assert any(len(c.conversation) > 1 for c in cases)


class _State(dict):
    pass


class _ToolContext:
    def __init__(self, state: dict[str, Any]):
        self.state = _State(state)


def _call(func: Any, args: dict[str, Any], context: _ToolContext) -> Any:
    if "tool_context" in inspect.signature(func).parameters:
        return func(**args, tool_context=context)
    return func(**args)


@pytest.mark.parametrize("name", SHIPPED[1:])
def test_expected_calls_succeed_against_the_real_tools(name: str) -> None:
    """Every expected call, played in order on a case's session state, returns success."""
    from google.adk.tools.agent_tool import AgentTool

    from bench.agent.loading import load_agent_folder
    from bench.agent.model_override import iter_agents

    functions = {
        tool.__name__: tool
        for agent in iter_agents(load_agent_folder(EVALSETS_DIR / name).root_agent)
        for tool in getattr(agent, "tools", [])
        if callable(tool) and not isinstance(tool, AgentTool)
    }
    for case in load_evalset(name).cases:
        context = _ToolContext(dict(case.session_input.state if case.session_input else {}))
        for invocation in case.conversation:
            for call in invocation.intermediate_data.tool_uses:
                if call.name == "transfer_to_agent":
                    continue
                result = _call(functions[call.name], dict(call.args), context)
                assert result["status"] == "success", (case.eval_id, call.name, result)


def test_planted_mistakes_are_reported_once_each() -> None:
    report = validate_evalsets(FIXTURES / "evalsets" / "planted", BYO_AGENT)
    found = sorted((p.case, p.invocation, p.field) for p in report.problems)
    assert found == [
        ("misspelt_then_unknown", 1, "tool_uses[0].args.booking"),  # wrong argument name
        ("misspelt_then_unknown", 2, "tool_uses[0].name"),  # unknown tool
        ("wrong_types", 1, "tool_uses[1].args.city"),  # wrong JSON type
        ("wrong_types", 2, "tool_uses[0].args.currency"),  # value outside the Literal
    ]
    by_field = {p.field: p.message for p in report.problems}
    assert "unknown tool 'book_spa'" in by_field["tool_uses[0].name"]
    assert (
        "has no argument 'booking' (it takes: booking_id)" in by_field["tool_uses[0].args.booking"]
    )
    assert "expected string, got integer 42" in by_field["tool_uses[1].args.city"]
    assert all(p.file.endswith("planted.evalset.json") for p in report.problems)


def test_unparseable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "good.evalset.json").write_text(
        (FIXTURES / "evalsets" / "byo" / "byo.evalset.json").read_text()
    )
    (tmp_path / "broken.test.json").write_text("[{")
    report = validate_evalsets(tmp_path, BYO_AGENT)
    assert [(Path(p.file).name, p.field) for p in report.problems] == [("broken.test.json", "file")]
    assert report.cases == 6


def test_transfer_to_an_unknown_agent(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "evalsets" / "byo" / "byo.evalset.json").read_text())
    data["eval_cases"][1]["conversation"][0]["intermediate_data"]["tool_uses"][0]["args"] = {
        "agent_name": "spa_desk"
    }
    (tmp_path / "t.evalset.json").write_text(json.dumps(data))
    report = validate_evalsets(tmp_path, BYO_AGENT)
    assert [p.field for p in report.problems] == ["tool_uses[0].args.agent_name"]
    assert "spa_desk" in report.problems[0].message


class Colour(enum.Enum):
    RED = "red"


class Item(BaseModel):
    sku: str
    quantity: int


@pytest.mark.parametrize(
    ("value", "annotation", "ok"),
    [
        (3, int, True), (3.0, int, False), (True, int, False), (3, float, True), ("3", float, False),
        (None, int | None, True), ("x", int | None, False), ("red", Colour, True),
        ("blue", Colour, False), ("a", Literal["a", "b"], True), ([1, 2], list[int], True),
        ([1, "2"], list[int], False), ({"a": 1.5}, dict[str, float], True),
        ([{"sku": "A", "quantity": 1}], list[Item], True),
        ([{"sku": "A", "qty": 1}], list[Item], False), ("x", Any, True), (False, bool, True),
    ],
)  # fmt: skip
def test_json_types_for_annotations(value: Any, annotation: Any, ok: bool) -> None:
    assert (type_mismatch(value, annotation) is None) is ok


@pytest.mark.parametrize("source", ["legacy/home.test.json", "webui/old_ui.evalset.json"])
def test_convert_writes_a_current_eval_set(tmp_path: Path, source: str) -> None:
    out = tmp_path / "converted.evalset.json"
    before = load_eval_file(FIXTURES / "evalsets" / source)
    convert_to_evalset(FIXTURES / "evalsets" / source, out)
    after = load_eval_file(out)
    assert after.format == "evalset"
    assert after.eval_set.model_dump() == before.eval_set.model_dump()
