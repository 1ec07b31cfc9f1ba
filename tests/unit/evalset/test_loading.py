"""load_evalset on fixtures in every ADK format: the exact cases, invocations and tool uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.evalset import load_evalset
from bench.schemas.errors import BenchError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "evalsets"


def _calls(invocation) -> list[tuple[str, dict]]:
    from google.adk.evaluation.eval_case import get_all_tool_calls

    return [(c.name, dict(c.args or {})) for c in get_all_tool_calls(invocation.intermediate_data)]


def _shape(loaded) -> list[tuple[str, list[tuple[str, str, list]]]]:
    return [
        (
            case.eval_id,
            [(i.invocation_id, i.user_content.parts[0].text, _calls(i)) for i in case.conversation],
        )
        for case in loaded.cases
        if case.conversation_scenario is None
    ]


def test_current_evalset_format() -> None:
    loaded = load_evalset(str(FIXTURES / "current" / "mini.evalset.json"))
    assert loaded.eval_set_id == "mini"
    assert loaded.formats == {str(FIXTURES / "current" / "mini.evalset.json"): "evalset"}
    assert _shape(loaded) == [
        (
            "one_call",
            [("inv-a", "What is the weather in London?", [("get_weather", {"city": "London"})])],
        ),
        (
            "two_turns",
            [
                ("two_turns-1", "Hi", []),  # an empty invocation id gets a stable one
                (
                    "inv-c",
                    "Time in Tokyo and weather in Paris?",
                    [("get_current_time", {"city": "Tokyo"}), ("get_weather", {"city": "Paris"})],
                ),
            ],
        ),
    ]
    assert loaded.cases[0].session_input.state == {"units": "metric"}
    assert loaded.cases[0].conversation[0].final_response.parts[0].text == "Rainy."
    # the user-simulator case is runnable (ADK's simulator plays it), last in file order
    assert [c.eval_id for c in loaded.cases][-1] == "simulated_user"
    assert loaded.scenario_cases == 1
    assert loaded.criteria == {"tool_trajectory_avg_score": 1.0, "response_match_score": 0.8}


def test_evalset_content_inside_test_json() -> None:
    loaded = load_evalset(str(FIXTURES / "test_json" / "inside.test.json"))
    assert loaded.eval_set_id == "inside_test_json"
    assert list(loaded.formats.values()) == ["evalset"]
    assert _shape(loaded) == [
        (
            "one_call",
            [("inv-a", "What is the weather in London?", [("get_weather", {"city": "London"})])],
        )
    ]


def test_legacy_list_with_initial_session_and_test_config() -> None:
    loaded = load_evalset(str(FIXTURES / "legacy" / "home.test.json"))
    assert list(loaded.formats.values()) == ["legacy"]
    assert loaded.eval_set_id == "home"
    assert _shape(loaded) == [
        (
            "home",
            [
                (
                    "home-1",
                    "Turn off device_2 in the Bedroom.",
                    [
                        (
                            "set_device_info",
                            {"location": "Bedroom", "device_id": "device_2", "status": "OFF"},
                        )
                    ],
                ),
                (
                    "home-2",
                    "What's the status of device_2?",
                    [("get_device_info", {"device_id": "device_2"})],
                ),
                ("home-3", "Thanks!", []),
            ],
        )
    ]
    session = loaded.cases[0].session_input
    assert (session.app_name, session.user_id) == ("home_automation_agent", "test_user")
    assert session.state == {"allowlist": ["device_1", "device_2"]}
    assert loaded.cases[0].conversation[1].final_response.parts[0].text == "device_2 is OFF."
    assert loaded.criteria["tool_trajectory_avg_score"]["match_type"] == "IN_ORDER"


def test_pre_1_0_web_ui_format() -> None:
    loaded = load_evalset(str(FIXTURES / "webui" / "old_ui.evalset.json"))
    assert list(loaded.formats.values()) == ["webui"]
    assert _shape(loaded) == [
        (
            "roll_twice",
            [
                ("roll_twice-1", "What can you do?", []),
                (
                    "roll_twice-2",
                    "Roll a 17 sided dice twice for me",
                    [("roll_die", {"sides": 17}), ("roll_die", {"sides": 17})],
                ),
            ],
        ),
        ("check_prime", [("check_prime-1", "Is 7 prime?", [("check_prime", {"nums": [7]})])]),
    ]
    assert loaded.cases[0].session_input.state == {"lucky": 7}
    assert loaded.cases[0].session_input.app_name == "hello_world"
    assert loaded.cases[1].session_input.state == {"lucky": 3}  # from `initial_state`


def test_directory_of_eval_files_in_sorted_order() -> None:
    loaded = load_evalset(str(FIXTURES / "mixed_dir"))
    assert loaded.eval_set_id == "mixed_dir"
    assert [p.name for p in loaded.files] == ["a_legacy.test.json", "b_current.evalset.json"]
    assert [c.eval_id for c in loaded.cases] == ["a_legacy", "one_call", "two_turns"]
    assert sorted(loaded.formats.values()) == ["evalset", "legacy"]


def test_case_selection_keeps_the_order_given() -> None:
    loaded = load_evalset(f"{FIXTURES / 'mixed_dir'}:two_turns,a_legacy")
    assert [c.eval_id for c in loaded.cases] == ["two_turns", "a_legacy"]
    assert loaded.selected_case_ids == ["two_turns", "a_legacy"]
    shipped = load_evalset("weather_time:greeting")
    assert [c.eval_id for c in shipped.cases] == ["greeting"]


def test_a_user_simulator_case_is_runnable_alone() -> None:
    """A file holding only a scenario case ran into "no eval cases to run" (exit 2) before."""
    loaded = load_evalset(f"{FIXTURES / 'current' / 'mini.evalset.json'}:simulated_user")
    assert [c.eval_id for c in loaded.cases] == ["simulated_user"]
    assert loaded.cases[0].conversation_scenario.starting_prompt
    assert loaded.scenario_cases == 1


def test_user_simulator_config_is_read_from_test_config(tmp_path: Path) -> None:
    shipped = load_evalset("weather_time_scenario")
    assert shipped.user_simulator_config == {"type": "llm_backed", "max_allowed_invocations": 4}
    assert load_evalset("weather_time").user_simulator_config is None
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.evalset.json").write_text((FIXTURES / "current" / "mini.evalset.json").read_text())
    (folder / "test_config.json").write_text('{"criteria": {}, "user_simulator_config": 3}')
    with pytest.raises(BenchError, match="user_simulator_config' is not an object"):
        load_evalset(str(folder))


@pytest.mark.parametrize("name", ["legacy/home.test.json", "webui/old_ui.evalset.json", "current"])
def test_same_file_same_cases(name: str) -> None:
    first = load_evalset(str(FIXTURES / name))
    second = load_evalset(str(FIXTURES / name))
    assert first.eval_set.model_dump() == second.eval_set.model_dump()
    assert first.content_sha256 == second.content_sha256


def _write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "invalid JSON"),
        (
            {"eval_set_id": "x", "eval_cases": [{"eval_id": "c1", "conversation": [{}]}]},
            "case 'c1' invocation 1: user_content: Field required",
        ),
        ({"eval_set_id": "x", "eval_cases": [{"eval_id": "c1"}]}, "case 'c1'"),
        (
            [{"query": "hi", "expected_tool_use": [{"tool_input": {}}]}],
            "turn 1: expected_tool_use[0].tool_name missing",
        ),
        ([{"name": "c", "data": [{"reference": "x"}]}], "case 'c' turn 1: field 'query' missing"),
        ({"something": "else"}, "not an ADK eval set"),
    ],
)
def test_bad_files_give_one_line_naming_file_and_field(
    tmp_path: Path, content, needle: str
) -> None:
    path = _write(tmp_path, "bad.evalset.json", content)
    with pytest.raises(BenchError) as info:
        load_evalset(str(path))
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)) and needle in message, message


def test_unknown_case_id_and_duplicates(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="unknown case id nope"):
        load_evalset(f"{FIXTURES / 'current'}:nope")
    data = json.loads((FIXTURES / "current" / "mini.evalset.json").read_text())
    data["eval_cases"][1]["evalId"] = "one_call"
    path = _write(tmp_path, "dup.evalset.json", data)
    with pytest.raises(BenchError, match="case id 'one_call' appears twice"):
        load_evalset(str(path))


def test_only_user_simulator_cases_is_runnable(tmp_path: Path) -> None:
    """The issue's fixture: a file holding only a scenario case (exit 2 before)."""
    data = json.loads((FIXTURES / "current" / "mini.evalset.json").read_text())
    data["eval_cases"] = data["eval_cases"][2:]
    path = _write(tmp_path, "sim.evalset.json", data)
    loaded = load_evalset(str(path))
    assert [c.eval_id for c in loaded.cases] == ["simulated_user"]
    data["eval_cases"] = []
    empty = _write(tmp_path, "empty.evalset.json", data)
    with pytest.raises(BenchError, match="no eval cases to run"):
        load_evalset(str(empty))


def test_null_reference_means_no_expected_final_response() -> None:
    """ADK v0.5.0's fixtures write `"reference": null` on a tool-call turn (issue 17)."""
    loaded = load_evalset(str(FIXTURES / "adk_v050" / "weather_null_reference.test.json"))
    first, second = loaded.cases[0].conversation
    assert first.final_response.parts[0].text == "Here is the weather report you asked for."
    assert second.final_response is None  # not "" and not the text "None"
    assert _calls(second) == [("get_current_time", {"city": "Tokyo"})]
