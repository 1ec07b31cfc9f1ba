"""Every tiny variant: builds, follows the one script, writes replies in its family's format.

vLLM's own parser classes are exercised in tests/e2e/test_tiny_variants.py (importing them
costs ~10 s of vLLM start-up); here the reply formats are checked with the same means those
parsers use (`ast` for pythonic, `json` for llama3_json and mistral).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import jinja2.ext
import numpy as np
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from tokenizers.decoders import DecodeStream

from bench.models.catalog import BUILTIN_MODELS
from bench.models.tiny import (
    TINY_CASES,
    build_tiny_model,
    chunk_outputs,
    chunk_thinking,
    ensure_tiny_model,
    reasoning_tokens,
)
from bench.models.tiny_script import TinyCase, ToolCall, case_by_name
from bench.models.tiny_variants import (
    HERMES,
    LLAMA3_JSON,
    MISTRAL,
    PYTHONIC,
    TINY_VARIANTS,
    TinyVariant,
    variant_by_name,
)
from tests.unit.models.test_tiny import TOOLS  # the same two tools

VARIANTS = list(TINY_VARIANTS.values())
MADRID = case_by_name("madrid_time_and_weather").calls


def _tojson(x: Any, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    return json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def compile_template(text: str) -> jinja2.Template:
    """Compiled the way transformers compiles chat templates."""
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    return env.from_string(text)


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda v: v.name)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    variant: TinyVariant = request.param
    out = build_tiny_model(tmp_path_factory.mktemp(variant.name), variant)
    return variant, out, compile_template((out / "chat_template.jinja").read_text())


def conversation(case: TinyCase) -> tuple[list[dict], list | None]:
    messages: list[dict] = [
        {"role": "system", "content": "You answer questions about weather and time."},
        {"role": "user", "content": [{"type": "text", "text": case.example}]},
    ]
    cond = case.condition
    if cond.kind == "no_tools":
        return messages, None
    if cond.kind == "after_tool":
        call = {
            "id": "c1",
            "type": "function",
            "function": {"name": cond.tool or "get_weather", "arguments": {"city": "Tokyo"}},
        }
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": '{"status": "success"}'},
        ]
    return messages, TOOLS


def render(
    template: jinja2.Template, messages: list[dict], tools: list | None, **kwargs: Any
) -> str:
    return template.render(messages=messages, tools=tools, add_generation_prompt=True, **kwargs)


# --------------------------------------------------------------------------- reply formats


def parse_reply(variant: TinyVariant, text: str) -> list[tuple[str, dict]]:
    """The calls in a reply, read the way the variant's vLLM parser reads them."""
    if variant is PYTHONIC:
        tree = ast.parse(text).body[0]
        assert isinstance(tree, ast.Expr) and isinstance(tree.value, ast.List)
        calls = tree.value.elts
        assert all(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) for c in calls)
        return [
            (c.func.id, {kw.arg: ast.literal_eval(kw.value) for kw in c.keywords})  # type: ignore[attr-defined]
            for c in calls
        ]
    if variant is LLAMA3_JSON:
        objs = [json.loads(part) for part in text.split("; ")]
        return [(o["name"], o["parameters"]) for o in objs]
    if variant is MISTRAL:
        assert text.startswith("[TOOL_CALLS][")
        return [(o["name"], o["arguments"]) for o in json.loads(text[len("[TOOL_CALLS]") :])]
    body = text.replace("<tool_call>\n", "").replace("\n</tool_call>", "")
    return [(o["name"], o["arguments"]) for o in map(json.loads, body.split("\n"))]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
@pytest.mark.parametrize("case", [c for c in TINY_CASES if c.calls], ids=lambda c: c.name)
def test_replies_carry_the_script_calls(variant: TinyVariant, case: TinyCase) -> None:
    text = case.reply_text(variant.format_calls)
    assert parse_reply(variant, text) == [(c.name, c.arguments) for c in case.calls]


def test_reply_formats_are_the_families_own() -> None:
    paris = (ToolCall("get_weather", {"city": "Paris"}),)
    assert PYTHONIC.format_calls(paris) == '[get_weather(city="Paris")]'
    assert PYTHONIC.format_calls((ToolCall("a", {"x": 1}), ToolCall("b", {"y": "z"}))) == (
        '[a(x=1), b(y="z")]'
    )
    assert (
        PYTHONIC.format_calls((ToolCall("f", {"on": True, "v": None}),)) == "[f(on=True, v=None)]"
    )
    assert LLAMA3_JSON.format_calls(paris) == (
        '{"name": "get_weather", "parameters": {"city": "Paris"}}'
    )
    assert MISTRAL.format_calls(paris) == (
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]'
    )
    assert LLAMA3_JSON.format_calls(MADRID).count("}; {") == 1


# --------------------------------------------------------------------------- build


def test_builds_small_and_complete(built) -> None:
    variant, out, _ = built
    # v3: ~2.4 MB; a thinking variant has ~3x the output tokens (thoughts, the replies after)
    limit_mb = 20 if variant.thinking else 3
    assert sum(p.stat().st_size for p in out.iterdir()) < limit_mb * 1024 * 1024
    config = json.loads((out / "config.json").read_text())
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert config["eos_token_id"] == tok.token_to_id(variant.eos)
    assert config["bos_token_id"] == tok.token_to_id(variant.bos)
    tok_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_config["eos_token"] == variant.eos
    assert tok_config["chat_template"] == (out / "chat_template.jinja").read_text()
    added = {t.content: t.special for t in tok.get_added_tokens_decoder().values()}
    assert all(added[s] for s in variant.special_tokens)


def test_parser_vocabulary_needs() -> None:
    """What vLLM 0.32's parsers look up in the vocabulary (they raise when it is missing)."""
    assert "<|python_tag|>" in LLAMA3_JSON.special_tokens
    assert "[TOOL_CALLS]" in MISTRAL.special_tokens
    # [ARGS] or [THINK] would send the mistral parser down its v11+ `name{args}` path.
    assert not {"[ARGS]", "[THINK]"} & set(MISTRAL.special_tokens)


def test_mistral_marker_stays_in_the_first_token() -> None:
    chunks = chunk_outputs(variant=MISTRAL)
    for case in TINY_CASES:
        if case.calls:
            assert chunks[case.name][0].startswith("[TOOL_CALLS][")


def test_mistral_keeps_key_quote_and_colon_together() -> None:
    """vLLM's pre-v11 mistral streaming parser breaks on a delta boundary inside `":`."""
    chunks = chunk_outputs(variant=MISTRAL)
    for case in TINY_CASES:
        pieces = chunks[case.name]
        for left, right in zip(pieces, pieces[1:], strict=False):
            assert not (left.endswith('"') and right.startswith(":")), (case.name, left, right)


def test_no_output_token_repeats(built) -> None:
    variant, out, _ = built
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    chunks = chunk_outputs(variant=variant)
    thinking = chunk_thinking(variant=variant)
    seen = []
    for case in TINY_CASES:
        assert "".join(chunks[case.name]) == case.reply_text(variant.format_calls)
        seen += [tok.token_to_id(case.marker), *(tok.token_to_id(p) for p in chunks[case.name])]
        if variant.thinking is not None:
            on = thinking[case.name]
            assert "".join(on.thought + on.reply) == variant.reply_text(case)
            seen += [tok.token_to_id(p) for p in (case.quiet_marker, *on.thought, *on.reply)]
    assert None not in seen and len(seen) == len(set(seen))
    assert bool(thinking) == (variant.thinking is not None)


def test_hermes_variant_is_the_tiny_model(tmp_path: Path) -> None:
    default = build_tiny_model(tmp_path / "default")
    explicit = build_tiny_model(tmp_path / "hermes", variant_by_name("tiny"))
    for name in ("model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (default / name).read_bytes() == (explicit / name).read_bytes()


def test_each_variant_caches_under_its_own_name(tmp_path: Path) -> None:
    paths = {ensure_tiny_model(tmp_path, v) for v in VARIANTS}
    assert {p.name.rsplit("-v", 1)[0] for p in paths} == set(TINY_VARIANTS)


def test_unknown_variant() -> None:
    with pytest.raises(KeyError, match="tiny-pythonic"):
        variant_by_name("tiny-gemma")


def test_catalog_entries() -> None:
    for name, variant in TINY_VARIANTS.items():
        entry = BUILTIN_MODELS[name]
        assert entry.builder == name and entry.tool_parser == variant.tool_parser
        assert entry.reasoning_parser == variant.reasoning_parser
        assert entry.chat_template is None, "the built model carries its own template"


# --------------------------------------------------------------------------- template + bigram


def _bigram(out: Path):
    weights = {k: v.astype(np.float32) for k, v in load_file(out / "model.safetensors").items()}
    config = json.loads((out / "config.json").read_text())
    embed, norm, head = (
        weights["model.embed_tokens.weight"],
        weights["model.norm.weight"],
        weights["lm_head.weight"],
    )

    def next_token(token_id: int) -> tuple[int, float]:
        x = embed[token_id]
        logits = head @ (x / np.sqrt(np.mean(x * x) + config["rms_norm_eps"]) * norm)
        top2 = np.sort(logits)[-2:]
        return int(np.argmax(logits)), float(top2[1] - top2[0])

    return next_token


def generate(out: Path, variant: TinyVariant, prompt: str, marker: str) -> tuple[str, list[int]]:
    """Greedy decoding with the built weights after the prompt, which must end in `marker`."""
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    ids = tok.encode(prompt, add_special_tokens=False).ids
    assert ids[-1] == tok.token_to_id(marker)
    next_token, eos, token, out_ids = _bigram(out), tok.token_to_id(variant.eos), ids[-1], []
    for _ in range(200):
        token, margin = next_token(token)
        assert margin > 100, "sampling at temperature 2 must not change the reply"
        if token == eos:
            break
        out_ids.append(token)
    stream = DecodeStream(skip_special_tokens=False)
    return "".join(p for p in (stream.step(tok, i) for i in out_ids) if p), out_ids


@pytest.mark.parametrize("case", TINY_CASES, ids=lambda c: c.name)
def test_prompt_selects_the_case_and_the_model_writes_its_reply(built, case: TinyCase) -> None:
    variant, out, template = built
    prompt = render(template, *conversation(case))
    assert prompt.endswith(variant.generation_prompt + case.marker)
    text, out_ids = generate(out, variant, prompt, case.marker)
    assert text == variant.reply_text(case)
    assert len(out_ids) >= 2
    if variant.thinking is None:
        return
    # Thinking on is the default; off renders Qwen3's empty thought and the quiet marker.
    assert render(template, *conversation(case), enable_thinking=True) == prompt
    quiet = render(template, *conversation(case), enable_thinking=False)
    assert quiet.endswith(variant.generation_prompt + "<think>\n\n</think>\n\n" + case.quiet_marker)
    text, out_ids = generate(out, variant, quiet, case.quiet_marker)
    assert text == case.reply_text(variant.format_calls) == variant.reply_text(case, thinking=False)
    thought = chunk_thinking(variant=variant)[case.name].thought
    assert len(out_ids) == len(chunk_outputs(variant=variant)[case.name])
    assert reasoning_tokens(case, variant) == len(thought) - 1 > 0


def test_history_is_rendered_in_the_family_format(built) -> None:
    """Tools in the prompt, the assistant's own calls in its reply format, tool results."""
    variant, _, template = built
    calls = [
        {"type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in MADRID
    ]
    messages = [
        {"role": "user", "content": "What is the weather and the time in Madrid?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "content": "It is 13:00 in Madrid."},
        {"role": "tool", "content": "Sunny in Madrid."},
    ]
    text = render(template, messages, TOOLS)
    assert variant.format_calls(MADRID) in text
    assert "It is 13:00 in Madrid." in text and "Sunny in Madrid." in text
    assert '"get_current_time"' in text.split(variant.format_calls(MADRID))[0], "tools first"
    assert text.endswith(variant.generation_prompt + case_by_name("weather_answer").marker)
    plain = render(template, [{"role": "user", "content": "hi"}], None)
    assert "get_weather" not in plain and plain.endswith(case_by_name("greeting").marker)


@pytest.mark.parametrize("variant", [LLAMA3_JSON, MISTRAL, HERMES], ids=lambda v: v.name)
def test_string_arguments_render_like_dicts(variant: TinyVariant, tmp_path: Path) -> None:
    """OpenAI clients send arguments as a JSON string; JSON families render it unchanged."""
    template = compile_template(
        (build_tiny_model(tmp_path, variant) / "chat_template.jinja").read_text()
    )
    call = MADRID[0]
    as_string = {"function": {"name": call.name, "arguments": json.dumps(call.arguments)}}
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": [as_string]},
    ]
    assert variant.format_calls((call,)) in render(template, messages, TOOLS)
