"""The content checks of `bench models check-template` (no tokenizer needed)."""

from __future__ import annotations

import json

import pytest

from bench.models.catalog import BUILTIN_MODELS, ModelEntry
from bench.models.template_check import (
    FAMILIES,
    ONE_CALL,
    TOOLS,
    TWO_CALLS,
    TemplateReport,
    _check_content,
    _json_objects,
    conversations,
    expected_call_text,
    family_of,
    plain_conversations,
)
from bench.schemas.errors import BenchError


def test_every_builtin_served_entry_names_a_family() -> None:
    for entry in BUILTIN_MODELS.values():
        if entry.builder != "tiny" and not entry.name.startswith("tiny"):
            assert entry.template_family in FAMILIES, entry.name


def test_unknown_family_is_a_one_line_error() -> None:
    entry = ModelEntry(name="x", hf_id="org/x", template_family="nope")
    with pytest.raises(BenchError, match="template_family 'nope'"):
        family_of(entry)


def test_expected_call_text_per_parser() -> None:
    assert expected_call_text("pythonic", TWO_CALLS) == [
        '[get_current_time(city="Madrid"), get_weather(city="Madrid")]'
    ]
    assert expected_call_text("llama3_json", ONE_CALL) == [
        '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    ]
    assert expected_call_text("hermes", ONE_CALL)[0].startswith(
        '<tool_call>\n{"name": "get_weather"'
    )


def test_conversations_cover_the_turns() -> None:
    convs = conversations(mistral=False)
    roles = [m["role"] for m in convs["two_parallel_calls"]["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant"]
    assert len(convs["two_parallel_calls"]["messages"][2]["tool_calls"]) == 2
    # mistral_common renders only prompts that end on a tool result.
    assert conversations(mistral=True)["one_call"]["messages"][-1]["role"] == "tool"


def _rendering(call_text: str, *, result_first: bool = False) -> dict:
    tools = json.dumps(TOOLS, indent=4)
    result = json.dumps({"output": ONE_CALL[0][2]})  # escaped inside JSON, as Llama 3.1 does
    parts = [result, call_text] if result_first else [call_text, result]
    text = f"You are a weather assistant. Use the tools. {tools} {' '.join(parts)} It is sunny and 21 degrees in Paris."
    return {"text": text}


def test_official_templates_without_tools_get_tool_free_conversations() -> None:
    assert not FAMILIES["gemma3"].official_renders_tools
    assert not FAMILIES["llama3_1"].official_renders_tools
    assert FAMILIES["qwen2_5"].official_renders_tools and FAMILIES["qwen3"].official_renders_tools
    for conv in plain_conversations().values():
        assert "tools" not in conv and conv["add_generation_prompt"]
        assert all("tool_calls" not in m for m in conv["messages"])
    roles = [m["role"] for m in plain_conversations()["plain_answer"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_json_objects_finds_nested_schemas_at_any_indent() -> None:
    schema = TOOLS[0]["function"]["parameters"]
    for indent in (None, 2, 4):
        text = "before " + json.dumps(TOOLS, indent=indent) + " after {not json"
        assert schema in _json_objects(text)
    assert schema not in _json_objects('{"type": "object"}')


def test_check_content_finds_a_missing_call_and_accepts_escaped_results() -> None:
    entry = BUILTIN_MODELS["llama-3.1-8b-instruct"]
    family = FAMILIES["llama3_1"]
    good = {
        "one_call": _rendering('{"name": "get_weather", "parameters": {"city": "Paris"}}'),
        "two_parallel_calls": {"error": "TemplateError: only single tool-calls"},
    }
    report = TemplateReport("m", "llama3_1", "t", "r")
    _check_content(entry, family, good, report, final=True)
    assert report.problems == [] and report.notes
    bad = dict(good, one_call=_rendering("get_weather(city='Paris')"))
    report = TemplateReport("m", "llama3_1", "t", "r")
    _check_content(entry, family, bad, report, final=True)
    assert any("lacks" in p and "parameters" in p for p in report.problems)


def test_check_content_wants_schemas_and_results_after_the_call() -> None:
    entry = BUILTIN_MODELS["llama-3.1-8b-instruct"]
    call = '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    report = TemplateReport("m", "llama3_1", "t", "r")
    _check_content(entry, FAMILIES["llama3_1"], {"one_call": _rendering(call, result_first=True)},
                   report, final=True)  # fmt: skip
    assert any("missing or out of order" in p for p in report.problems)
    no_schema = {"text": _rendering(call)["text"].replace('"required"', '"needed"')}
    report = TemplateReport("m", "llama3_1", "t", "r")
    _check_content(entry, FAMILIES["llama3_1"], {"one_call": no_schema}, report, final=True)
    assert report.problems == [
        "one_call: the JSON schema of get_weather is not in the rendering",
        "one_call: the JSON schema of get_current_time is not in the rendering",
    ]
