"""The preflight's verdict on recorded turns (bench.runner.preflight)."""

from __future__ import annotations

import pytest

from bench.cli.config_flags import run_config_from_flags
from bench.runner.preflight import unparsed_format, verdict_from

CALL = [{"name": "get_weather", "args": {"city": "London"}}]


@pytest.mark.parametrize(
    ("text", "fmt"),
    [('<tool_call>{"name": "get_weather", "arguments": {"city": "London"}}</tool_call>', "hermes"),
     ('[get_weather(city="London")]', "pythonic"),
     ('{"name": "get_weather", "parameters": {"city": "London"}}', "llama3_json"),
     ('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "London"}}]', "mistral"),
     ("The weather in London is sunny.", None)],
)  # fmt: skip
def test_known_formats_are_named(text: str, fmt: str | None) -> None:
    assert unparsed_format(text) == fmt


def _turn(text: str | None, calls: list, error: str | None = None) -> dict:
    return {"session_id": "s", "expected_tool_calls": CALL, "tool_calls": calls,
            "final_response": text, "error": error}  # fmt: skip


def test_unparsed_hermes_under_pythonic_names_parser_template_excerpt_and_fix() -> None:
    cfg = run_config_from_flags({"tool_parser": "pythonic"})
    raw = '<tool_call>{"name": "get_weather", "arguments": {"city": "London"}}</tool_call>' * 5
    # ADK recovered the call from the text (its inline-JSON fallback); the server parsed none.
    v = verdict_from(cfg, [_turn("Here it is.", CALL)], ["stop", "stop"], ["", raw], "pythonic",
                     None)  # fmt: skip
    assert not v.ok and v.reason == "unparsed_calls" and v.unparsed_format == "hermes"
    assert "Tool parser: pythonic" in v.message and "chat template" in v.message
    assert repr(raw[:200]) in v.message and raw[:201] not in v.message
    assert "--tool-parser hermes" in v.message and "--chat-template" in v.message


def test_one_parsed_call_passes_and_prose_passes_with_a_note() -> None:
    cfg = run_config_from_flags({})
    turns = [_turn("ok", CALL), _turn("ok", [])]
    assert verdict_from(cfg, turns, ["tool_calls", "stop", "stop"], ["<tool_call>"], "hermes",
                        None).ok  # fmt: skip
    prose = verdict_from(cfg, [_turn("It is sunny.", [])], ["stop"], ["It is sunny."], "hermes",
                         None)  # fmt: skip
    assert prose.ok and prose.reason == "no_calls"


def test_auto_tool_choice_off_fails() -> None:
    error = ('BadRequestError: {"message": "\\"auto\\" tool choice requires '
             '--enable-auto-tool-choice and --tool-call-parser to be set"}')  # fmt: skip
    v = verdict_from(run_config_from_flags({}), [_turn(None, [], error)], [None], [], None, None)
    assert not v.ok and v.reason == "auto_tool_choice_off"


def test_calls_to_tools_the_agent_lacks_are_named_and_the_script_hint_given() -> None:
    """A wrong agent/eval-set pair on the tiny model: the run goes on, the user is told why."""
    cfg = run_config_from_flags({})
    turns = [_turn("Done.", CALL), _turn("Done.", CALL + [{"name": "add_to_cart", "args": {}}])]
    v = verdict_from(cfg, turns, ["tool_calls"] * 2, [""], "hermes", None,
                     known_tools=["add_to_cart"], scripted=True)  # fmt: skip
    assert v.ok and v.reason == "unknown_tools"
    assert "tools the agent does not have: get_weather (2 of 3 calls" in v.message
    assert "tiny model answers only the shipped eval sets" in v.message
    # The same calls with the tools the agent has: nothing to say.
    fine = verdict_from(cfg, turns, ["tool_calls"] * 2, [""], "hermes", None,
                        known_tools=["add_to_cart", "get_weather"], scripted=True)  # fmt: skip
    assert fine.ok and fine.reason == ""
    assert (
        fine.message
        == "preflight passed: 2 of 2 expected tool call(s) parsed by the server in 1 session(s)"
    )


def test_prose_on_the_scripted_model_says_why() -> None:
    cfg = run_config_from_flags({})
    prose = verdict_from(cfg, [_turn("Hello!", [])], ["stop"], ["Hello!"], "hermes", None,
                         known_tools=["get_weather"], scripted=True)  # fmt: skip
    assert prose.ok and "answered in prose" in prose.message
    assert "--model, or --endpoint" in prose.message


THOUGHT_REPLY = ('<think>\nThe user asks: What is the weather in London? I will call get_weather '
                 'with {"city": "London"}.\n</think>\n\n')  # fmt: skip


@pytest.mark.parametrize(
    ("text", "tags"),
    [(THOUGHT_REPLY, "<think>...</think>"),
     ("I should look it up.\n</think>\n\nIt is sunny.", "<think>...</think>"),  # R1: no <think>
     ('<think>\n<tool_call>\n{"name": "get_weather"}\n</tool_call>', "<think>...</think>"),
     ("[THINK]Plan it.[/THINK]Sunny.", "[THINK]...[/THINK]"),
     ("<|channel|>analysis<|message|>Plan.", "<|channel|>analysis")],
)  # fmt: skip
def test_thinking_in_the_reply_text_stops_the_run_with_the_fix(text: str, tags: str) -> None:
    """A thinking model served without its reasoning parser: caught even though the server
    parsed the call (hermes reads past the thought)."""
    cfg = run_config_from_flags({"model": "tiny-reasoning", "reasoning_parser": "none"})
    v = verdict_from(cfg, [_turn(None, CALL)], ["tool_calls", "stop"], [text, "Sunny."],
                     "hermes", None, reasoning_parser=None)  # fmt: skip
    assert not v.ok and v.reason == "unparsed_reasoning" and v.excerpt == text[:200]
    assert f"({tags} in the reply)" in v.message and "reasoning parser (none)" in v.message
    assert "run with --reasoning-parser NAME" in v.message and "tiny-reasoning" in v.message
    attached = run_config_from_flags({"endpoint": "http://127.0.0.1:9/v1"})
    v = verdict_from(attached, [_turn(None, CALL)], ["tool_calls"], [text], "hermes", None)
    assert "restart the server with --reasoning-parser NAME" in v.message


def test_a_parsed_thought_and_plain_answers_pass() -> None:
    cfg = run_config_from_flags({"model": "tiny-reasoning"})
    v = verdict_from(cfg, [_turn("It is sunny.", CALL)], ["tool_calls", "stop"],
                     ["\n\n", "\n\nHere is the weather report you asked for."], "hermes", None,
                     reasoning_parser="qwen3")  # fmt: skip
    assert v.ok and v.reason == ""


def test_a_budget_the_server_cannot_keep_stops_the_run() -> None:
    error = ('BadRequestError: {"message": "thinking_token_budget is set but reasoning_config is '
             'not configured. Please set --reasoning-parser and/or --reasoning-config"}')  # fmt: skip
    cfg = run_config_from_flags({"thinking_budget": "64"})
    v = verdict_from(cfg, [_turn(None, [], error)], [None], [], "hermes", None)
    assert not v.ok and v.reason == "thinking_budget_refused"
    assert "--reasoning-parser NAME, or drop --thinking-budget" in v.message
