"""tiny-reasoning renders conversations as Qwen3's own chat template does (thoughts kept within a
turn, dropped once the next user message comes; `enable_thinking`), then appends its marker.

The reference is the official Qwen3 template in the fetched tokenizer (`bench models
fetch-tokenizers`, which `scripts/setup.sh` runs); rendered in-process with jinja2 the way
transformers compiles chat templates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench.models.real_tokenizers import is_fetched, tokenizer_dir
from bench.models.tiny import build_tiny_model, chunk_outputs, chunk_thinking, reasoning_tokens
from bench.models.tiny_script import TINY_CASES, case_by_name
from bench.models.tiny_variants import REASONING
from bench.schemas.settings import settings
from tests.unit.models.test_tiny import TOOLS
from tests.unit.models.test_tiny_variants import compile_template

LONDON = {"id": "c1", "type": "function",
          "function": {"name": "get_weather", "arguments": '{"city": "London"}'}}  # fmt: skip
THOUGHT = "The user asks for London. I call get_weather."


def _official_qwen3() -> Any:
    cache = settings().cache_dir
    if not is_fetched(cache, "qwen3"):
        message = "the qwen3 tokenizer is not cached: run `bench models fetch-tokenizers`"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI's set-up must have fetched it)")
        pytest.skip(message)
    config = json.loads((tokenizer_dir(cache, "qwen3") / "tokenizer_config.json").read_text())
    return compile_template(config["chat_template"])


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = build_tiny_model(tmp_path_factory.mktemp("tiny-reasoning"), REASONING)
    return compile_template((out / "chat_template.jinja").read_text())


CONVERSATIONS: dict[str, list[dict[str, Any]]] = {
    "first call": [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": "What is the weather in London?"},
    ],
    "tool loop, thought sent back": [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": "What is the weather in London?"},
        {"role": "assistant", "content": "", "reasoning_content": THOUGHT, "tool_calls": [LONDON]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"report": "sunny"}'},
    ],
    "next turn: the earlier thought dropped": [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": "What is the weather in London?"},
        {"role": "assistant", "content": "", "reasoning_content": THOUGHT, "tool_calls": [LONDON]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"report": "sunny"}'},
        {"role": "assistant", "content": "It is sunny.", "reasoning_content": "Answer it."},
        {"role": "user", "content": "What time is it in Tokyo?"},
    ],
    "thought inside the text, no reasoning field": [
        {"role": "user", "content": "What is the weather in London?"},
        {"role": "assistant", "content": f"<think>\n{THOUGHT}\n</think>\n\n", "tool_calls": [LONDON]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"report": "sunny"}'},
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", CONVERSATIONS)
@pytest.mark.parametrize("thinking", [None, True, False], ids=["default", "on", "off"])
def test_renders_like_qwen3_then_its_marker(
    tiny_template: Any, name: str, thinking: bool | None
) -> None:
    official = _official_qwen3()
    messages = CONVERSATIONS[name]
    kwargs = {} if thinking is None else {"enable_thinking": thinking}
    args = {"messages": messages, "tools": TOOLS, "add_generation_prompt": True, **kwargs}
    ours, theirs = tiny_template.render(**args), official.render(**args)
    last_user = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    case = next(c for c in TINY_CASES if c.condition.kind == "keywords"
                and all(k in last_user.lower() for k in c.condition.keywords))  # fmt: skip
    if messages[-1]["role"] == "tool":
        case = case_by_name("weather_answer")
    marker = case.quiet_marker if thinking is False else case.marker
    assert ours == theirs + marker


def test_the_thought_drops_out_of_the_prompt_at_the_next_turn(tiny_template: Any) -> None:
    """What changes the prefix-cache reuse across turns: within a turn the thought sent back is
    in the prompt; at the next user message it is gone, so the prompt differs from there on."""
    within = tiny_template.render(messages=CONVERSATIONS["tool loop, thought sent back"],
                                  tools=TOOLS, add_generation_prompt=True)  # fmt: skip
    later = tiny_template.render(messages=CONVERSATIONS["next turn: the earlier thought dropped"],
                                 tools=TOOLS, add_generation_prompt=True)  # fmt: skip
    assert f"<think>\n{THOUGHT}\n</think>\n\n<tool_call>" in within
    assert THOUGHT not in later and "Answer it." not in later
    start = within.index("<|im_start|>assistant\n") + len("<|im_start|>assistant\n")
    assert within[:start] == later[:start]  # same up to the first assistant message
    assert within[start:].startswith("<think>") and later[start:].startswith("<tool_call>")


def test_thinking_lengths_are_scripted_per_case() -> None:
    """Every case thinks; lengths differ (the truth the e2e tests compare vLLM's counts with)."""
    counts = {c.name: reasoning_tokens(c, REASONING) for c in TINY_CASES}
    assert min(counts.values()) > 3 and len(set(counts.values())) > 5
    assert counts["madrid_time_and_weather"] == max(counts.values())  # two calls to plan
    thinking = chunk_thinking(variant=REASONING)
    for case in TINY_CASES:
        on = thinking[case.name]
        assert on.thought[0].startswith("<think>\n") and on.thought[-1].endswith("\n")
        assert "</think>" not in "".join(on.thought)
        assert (
            on.reply[0].startswith("</think>\n\n") and len(on.reply[0]) >= len("</think>\n\n") + 2
        )
        assert "".join(on.reply) == "</think>\n\n" + "".join(
            chunk_outputs(variant=REASONING)[case.name]
        )


def test_other_variants_do_not_think(tmp_path: Path) -> None:
    from bench.models.tiny_variants import HERMES

    assert chunk_thinking(variant=HERMES) == {}
    assert reasoning_tokens(case_by_name("london_weather"), HERMES) == 0
    assert HERMES.reply_text(case_by_name("london_weather")) == case_by_name(
        "london_weather"
    ).reply_text(HERMES.format_calls)
