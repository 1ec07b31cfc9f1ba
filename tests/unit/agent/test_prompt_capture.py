"""The prompt record takes LiteLLM's request body when LiteLLM reports it, and only the messages,
tools and tool_choice of it: never the headers or the key that the same details carry."""

from __future__ import annotations

import json

from bench.agent.prompt_capture import capture

SECRET = "sk-very-secret-key"


def test_body_from_litellm_replaces_the_handed_over_messages_and_keeps_no_secret() -> None:
    kwargs: dict = {"api_key": SECRET, "extra_headers": {"Authorization": f"Bearer {SECRET}"}}
    handed = [{"role": "assistant", "content": None, "tool_calls": []}]
    request = capture(handed, None, kwargs)
    assert request.messages == handed and not request.from_body
    sent = [{"role": "user", "content": "hi"}]
    tools = [{"type": "function", "function": {"name": "f"}}]
    kwargs["logger_fn"]({
        "api_key": SECRET,
        "additional_args": {
            "complete_input_dict": {"messages": sent, "tools": tools, "tool_choice": "required",
                                    "model": "fake"},
            "headers": {"Authorization": f"Bearer {SECRET}"},
        },
    })  # fmt: skip
    plain = request.as_json()
    assert (plain.messages, plain.tools, plain.tool_choice) == (sent, tools, "required")
    assert SECRET not in json.dumps(vars(plain))
    kwargs["logger_fn"]({"additional_args": {"complete_input_dict": {"messages": []}}})
    assert request.messages == sent  # the first body is the one sent; later calls change nothing


def test_without_a_body_the_handed_over_objects_become_json() -> None:
    class Obj:
        def model_dump(self, exclude_none: bool = False) -> dict:
            return {"role": "user", "content": "x"}

    request = capture([Obj()], None, {"tool_choice": "auto"})
    plain = request.as_json()
    assert plain.messages == [{"role": "user", "content": "x"}] and plain.tool_choice == "auto"
