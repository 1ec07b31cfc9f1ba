"""The tiny scripted model: build, chat template, bigram logic, cache (no vLLM, no torch)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jinja2.ext
import numpy as np
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from tokenizers.decoders import DecodeStream

import bench.models.tiny as tiny
from bench.models.tiny import (
    TINY_CASES,
    TINY_MODEL_VERSION,
    build_tiny_model,
    chunk_outputs,
    ensure_tiny_model,
)
from bench.models.tiny_script import TinyCase, ToolCall, case_by_name
from bench.models.tiny_variants import HERMES, hermes_calls

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"Returns the {what} in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    for name, what in (("get_weather", "weather"), ("get_current_time", "local time"))
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def template(model_dir: Path) -> jinja2.Template:
    """The chat template compiled the way transformers compiles it."""

    def tojson(x: Any, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    return env.from_string((model_dir / "chat_template.jinja").read_text())


def _call(call_id: str, call: ToolCall, *, string_args: bool) -> dict:
    args: Any = json.dumps(call.arguments) if string_args else call.arguments
    return {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": args}}


def conversation(case: TinyCase, *, parts: bool = False) -> tuple[list[dict], list | None]:
    """A request (messages, tools) that must select `case`."""
    content: Any = [{"type": "text", "text": case.example}] if parts else case.example
    messages: list[dict] = [
        {"role": "system", "content": "You answer questions about weather and time."},
        {"role": "user", "content": content},
    ]
    cond = case.condition
    if cond.kind == "no_tools":
        return messages, None
    if cond.kind == "after_tool":
        call = ToolCall(cond.tool or "get_weather", {"city": "Tokyo"})
        messages += [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [_call("c1", call, string_args=True)],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"status": "success"}'},
        ]
    return messages, TOOLS


def render(template: jinja2.Template, messages: list[dict], tools: list | None = None) -> str:
    return template.render(messages=messages, tools=tools, add_generation_prompt=True)


# --------------------------------------------------------------------------- build


def test_builds_fast_small_and_complete(tmp_path: Path) -> None:
    start = time.perf_counter()
    out = build_tiny_model(tmp_path / "m")
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0, f"build took {elapsed:.1f} s"
    names = {p.name for p in out.iterdir()}
    assert names >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "generation_config.json",
        "special_tokens_map.json",
    }
    size = sum(p.stat().st_size for p in out.iterdir())
    assert size < 3 * 1024 * 1024, f"{size} bytes"  # grows with the script (v3: ~2.4 MB)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["head_dim"] >= 32
    assert config["hidden_size"] == config["num_attention_heads"] * config["head_dim"]
    tok_config = json.loads((out / "tokenizer_config.json").read_text())
    assert tok_config["chat_template"] == (out / "chat_template.jinja").read_text()
    assert tok_config["eos_token"] == "<|im_end|>"
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["eos_token_id"] == config["eos_token_id"]


def test_build_is_deterministic(tmp_path: Path, model_dir: Path) -> None:
    other = build_tiny_model(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "chat_template.jinja", "config.json"):
        assert (other / name).read_bytes() == (model_dir / name).read_bytes(), name


def test_constants() -> None:
    assert tiny.TINY_SERVED_NAME == "tiny"
    assert tiny.TINY_TOOL_PARSER == "hermes"
    assert TINY_MODEL_VERSION == 5


def test_docstring_table_mentions_every_case() -> None:
    doc = tiny.__doc__ or ""
    for i, case in enumerate(TINY_CASES, start=1):
        row = next(line for line in doc.splitlines() if line.startswith(f"| {i} | {case.name} |"))
        if case.content is not None:
            assert f"`{case.content}`" in row
        for call in case.calls:
            assert f"{call.name} {json.dumps(call.arguments)}" in row


# --------------------------------------------------------------------------- chat template


@pytest.mark.parametrize("parts", [False, True], ids=["str-content", "list-content"])
@pytest.mark.parametrize("case", TINY_CASES, ids=lambda c: c.name)
def test_template_ends_with_the_case_marker(
    template: jinja2.Template, case: TinyCase, parts: bool
) -> None:
    messages, tools = conversation(case, parts=parts)
    assert render(template, messages, tools).endswith("<|im_start|>assistant\n" + case.marker)


def test_no_generation_prompt_no_marker(template: jinja2.Template) -> None:
    messages, tools = conversation(case_by_name("london_weather"))
    text = template.render(messages=messages, tools=tools, add_generation_prompt=False)
    assert "<|tiny:" not in text
    assert text.endswith("<|im_end|>\n")


def test_keyword_match_is_case_insensitive_and_uses_last_user_message(
    template: jinja2.Template,
) -> None:
    messages = [
        {"role": "user", "content": "What is the weather in Sydney?"},
        {"role": "assistant", "content": "I am not able to look that up."},
        {"role": "user", "content": "OK. What TIME is it in TOKYO?"},
    ]
    assert render(template, messages, TOOLS).endswith(case_by_name("tokyo_time").marker)


def test_tool_result_is_matched_to_its_call(template: jinja2.Template) -> None:
    """Two calls in one reply; the answer depends on which call the last result answers."""
    madrid = case_by_name("madrid_time_and_weather")
    calls = [_call(f"c{i}", c, string_args=False) for i, c in enumerate(madrid.calls)]
    base = [
        {"role": "user", "content": madrid.example},
        {"role": "assistant", "content": "", "tool_calls": calls},
    ]
    time_result = {"role": "tool", "tool_call_id": "c0", "content": "It is 13:00."}
    weather_result = {"role": "tool", "tool_call_id": "c1", "content": "Sunny."}
    in_order = render(template, [*base, time_result, weather_result], TOOLS)
    assert in_order.endswith(case_by_name("weather_answer").marker)
    reversed_ = render(template, [*base, weather_result, time_result], TOOLS)
    assert reversed_.endswith(case_by_name("time_answer").marker)
    # Without ids: the tool message's name, else the last call of the last assistant message.
    no_ids = [{k: v for k, v in c.items() if k != "id"} for c in calls]
    base_no_ids = [base[0], {**base[1], "tool_calls": no_ids}]
    named = {"role": "tool", "name": "get_current_time", "content": "It is 13:00."}
    assert render(template, [*base_no_ids, named], TOOLS).endswith(
        case_by_name("time_answer").marker
    )
    anonymous = {"role": "tool", "content": "Sunny."}
    assert render(template, [*base_no_ids, anonymous], TOOLS).endswith(
        case_by_name("weather_answer").marker
    )


def test_history_rendering(template: jinja2.Template) -> None:
    call = ToolCall("get_weather", {"city": "London"})
    texts = []
    for string_args in (False, True):
        messages = [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": "What is the weather in London?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [_call("c1", call, string_args=string_args)],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"report": "rain"}'},
        ]
        texts.append(render(template, messages, TOOLS))
    assert texts[0] == texts[1], "dict and JSON-string arguments render the same"
    text = texts[0]
    assert text.startswith("<|im_start|>system\nBe brief.\n\n# Tools")
    assert "<tools>\n" + json.dumps(TOOLS[0]) + "\n" + json.dumps(TOOLS[1]) + "\n</tools>" in text
    assert "<|im_start|>assistant\n" + hermes_calls((call,)) + "<|im_end|>\n" in text
    assert (
        '<|im_start|>user\n<tool_response>\n{"report": "rain"}\n</tool_response><|im_end|>\n'
        in text
    )
    plain = render(template, [{"role": "user", "content": "hi"}])
    assert plain == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<|tiny:greeting|>"


# --------------------------------------------------------------------------- weights


def _rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x) + eps) * weight


@pytest.fixture(scope="module")
def bigram(model_dir: Path):
    """Logits of the next token given the current one.

    Every o_proj and down_proj is zero, so the residual stream after the layers is the
    embedding and the model reduces to embedding -> final RMSNorm -> lm_head.
    """
    weights = {
        k: v.astype(np.float32) for k, v in load_file(model_dir / "model.safetensors").items()
    }
    config = json.loads((model_dir / "config.json").read_text())
    for i in range(config["num_hidden_layers"]):
        assert not weights[f"model.layers.{i}.self_attn.o_proj.weight"].any()
        assert not weights[f"model.layers.{i}.mlp.down_proj.weight"].any()
    embed, norm, head = (
        weights["model.embed_tokens.weight"],
        weights["model.norm.weight"],
        weights["lm_head.weight"],
    )

    def logits(token_id: int) -> np.ndarray:
        return head @ _rms_norm(embed[token_id], norm, config["rms_norm_eps"])

    return logits


def _generate(bigram, start: int, eos: int, limit: int = 200) -> tuple[list[int], float]:
    ids, token, min_margin = [], start, np.inf
    for _ in range(limit):
        logits = bigram(token)
        top2 = np.sort(logits)[-2:]
        min_margin = min(min_margin, float(top2[1] - top2[0]))
        token = int(np.argmax(logits))
        if token == eos:
            return ids, min_margin
        ids.append(token)
    raise AssertionError("no EOS")


@pytest.mark.parametrize("case", TINY_CASES, ids=lambda c: c.name)
def test_bigram_generates_the_script(
    model_dir: Path, template: jinja2.Template, bigram, case: TinyCase
) -> None:
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|im_end|>")
    prompt_ids = tok.encode(render(template, *conversation(case)), add_special_tokens=False).ids
    assert prompt_ids[-1] == tok.token_to_id(case.marker)
    ids, margin = _generate(bigram, prompt_ids[-1], eos)
    assert tok.decode(ids, skip_special_tokens=False) == case.reply_text(HERMES.format_calls)
    assert len(ids) >= 4, "several tokens, so streaming yields several chunks"
    # Deterministic when sampling: at temperature 2 every other token is < e^-50 as likely.
    assert margin / 2.0 > 50.0, margin
    # vLLM detokenizes incrementally (tokenizers' DecodeStream): same text, chunk by chunk.
    stream = DecodeStream(skip_special_tokens=False)
    pieces = [stream.step(tok, i) for i in ids]
    assert "".join(p for p in pieces if p) == case.reply_text(HERMES.format_calls)


def test_prompt_without_marker_ends_immediately(model_dir: Path, bigram) -> None:
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    eos = tok.token_to_id("<|im_end|>")
    for token in ("<|im_start|>", "<|im_end|>", "\n"):
        token_id = tok.encode(token, add_special_tokens=False).ids[-1]
        assert _generate(bigram, token_id, eos)[0] == []


def test_no_output_token_repeats(model_dir: Path) -> None:
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    chunks = chunk_outputs()
    seen: list[int] = []
    for case in TINY_CASES:
        assert "".join(chunks[case.name]) == case.reply_text(HERMES.format_calls)
        seen.append(tok.token_to_id(case.marker))
        seen += [tok.token_to_id(piece) for piece in chunks[case.name]]
    assert None not in seen
    assert len(seen) == len(set(seen)), "a token id has two successors"
    assert tok.token_to_id("<|im_end|>") not in seen


# --------------------------------------------------------------------------- cache


def test_ensure_tiny_model_is_idempotent(tmp_path: Path) -> None:
    path = ensure_tiny_model(tmp_path)
    assert path == tmp_path / "models" / f"tiny-v{TINY_MODEL_VERSION}"
    assert (path / "model.safetensors").is_file()
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model(tmp_path) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp, "rebuilt"
    assert [p.name for p in (tmp_path / "models").iterdir()] == [path.name]


def test_ensure_tiny_model_concurrent_callers(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = set(pool.map(lambda _: ensure_tiny_model(tmp_path), range(4)))
    assert len(paths) == 1
    path = paths.pop()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [path.name], "temp dirs left"
    assert (path / "config.json").is_file()


def test_ensure_tiny_model_cleans_up_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(out_dir: Path, variant: object = None) -> Path:
        (Path(out_dir) / "partial").write_text("x")
        raise RuntimeError("crash")

    monkeypatch.setattr(tiny, "build_tiny_model", boom)
    with pytest.raises(RuntimeError):
        ensure_tiny_model(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []
