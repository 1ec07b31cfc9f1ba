"""The tiny model's variants: one script, four tool-call formats (one per vLLM parser family),
and a variant that thinks first.

A variant is a declaration, not code: how a reply's calls are written (exactly as that family's
models write them), the family's chat template (tiny_templates/NAME.jinja: how the conversation,
the tools, assistant calls and tool results are rendered), the special tokens, and the vLLM
parser that reads the reply. `bench.models.tiny` builds any of them with the same bigram
technique and the same script (`bench.models.tiny_script`), so all of them make the same calls,
the same mistakes and give the same accuracy; only the wire format differs.

| variant | parser | a reply with two calls |
|---|---|---|
| tiny | hermes | `<tool_call>\\n{"name": "a", "arguments": {...}}\\n</tool_call>\\n<tool_call>...` |
| tiny-pythonic | pythonic | `[a(x=1), b(y="z")]` (Gemma 3, Llama 4) |
| tiny-llama3-json | llama3_json | `{"name": "a", "parameters": {...}}; {"name": "b", ...}` (Llama 3.1) |
| tiny-mistral | mistral | `[TOOL_CALLS][{"name": "a", "arguments": {...}}, {...}]` (Mistral v0.3) |
| tiny-reasoning | hermes + reasoning parser qwen3 | `<think>\\n...\\n</think>\\n\\n` then tiny's reply (Qwen3 in thinking mode) |

Choices where the families leave room (read from vLLM 0.32's parsers):
- llama3_json: Llama 3.1 has no parallel-call format. The parser accepts several JSON objects
  separated by "; " (non-streaming: every `{` that decodes; streaming: exactly "; " between
  objects), so the two-call case is written that way. The parser requires `<|python_tag|>` in
  the vocabulary; the replies do not start with it (Llama 3.1 omits it for JSON calls).
- mistral: with a Hugging Face tokenizer, vLLM's mistral parser takes its pre-v11 path when
  `[ARGS]` is not in the vocabulary, which reads `[TOOL_CALLS][{...}, ...]` (the v0.3 format of
  the catalog's mistral-7b-instruct). It needs `[TOOL_CALLS]` in the vocabulary and finds it in
  the decoded text (it keeps special tokens when tools are given), so `[TOOL_CALLS]` is a special
  token of the vocabulary but the model writes it as text at the start of its first output token:
  a bigram model cannot emit one token id in several scripts, and a delta must hold the whole
  marker for the streaming parser to see it (`keep_whole`). No token boundary falls between a
  key's closing quote and its colon (`unsplit`): the streaming parser mishandles that boundary.
- pythonic: string values are double-quoted (JSON-compatible Python literals), as Gemma 3 writes.
- tiny-reasoning (Qwen3's hybrid thinking): the reply is `<think>\\nTHOUGHT\\n</think>\\n\\n` and
  then tiny's hermes reply, THOUGHT being the case's scripted `TinyCase.thought`. The model
  writes the tags as text inside its first thought token and its first reply token (a bigram
  model cannot emit one token id in several scripts). Unlike Qwen3's tokenizer, the vocabulary
  has no `<think>` / `</think>` tokens: vLLM 0.32's `qwen3` parser matches the tags by token id
  when the vocabulary has them, and then misses them inside a longer token while streaming
  (every delta came back as reasoning, tool calls included); without them it matches the text.
  Thinking off (`chat_template_kwargs={"enable_thinking": false}`) renders Qwen3's empty
  `<think>\\n\\n</think>\\n\\n` into the generation prompt and ends it with the case's quiet marker,
  which leads into tiny's reply tokens: the same calls, no thinking.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.models.tiny_script import CallFormatter, TinyCase, ToolCall

TEMPLATES_DIR = Path(__file__).parent / "tiny_templates"


@dataclass(frozen=True)
class Thinking:
    """How a reasoning variant writes its thought: `<think>\\nTHOUGHT\\n</think>\\n\\n` (Qwen3's
    tags, also DeepSeek-R1's). The thought's tokens hold only the opening tag and the thought;
    the closing tag opens the reply's first token, so vLLM's parser counts every thought token as
    reasoning and the first reply token as content, as it does for a real Qwen3."""

    open: str = "<think>\n"  # inside the first thought token
    close: str = "</think>\n\n"  # inside the first reply token
    # What the template renders into the generation prompt when thinking is off.
    off_prompt: str = "<think>\n\n</think>\n\n"

    def thought_text(self, thought: str) -> str:
        return f"{self.open}{thought}\n"

    def wrap(self, thought: str, reply: str) -> str:
        return self.thought_text(thought) + self.close + reply


@dataclass(frozen=True)
class TinyVariant:
    name: str  # catalog name, served model name and cache folder prefix
    tool_parser: str  # vLLM --tool-call-parser
    family: str  # whose output format this is, for docs and `bench models list`
    format_calls: CallFormatter
    template: str  # tiny_templates/<template>.jinja renders the conversation
    generation_prompt: str  # opens the assistant turn; the case marker follows it
    pad: str
    bos: str
    eos: str  # ends every reply; vLLM stops on it
    special_tokens: tuple[str, ...]  # every special token, in vocabulary order (pad/bos/eos in it)
    keep_whole: str = ""  # a reply prefix that must stay inside the first output token
    unsplit: tuple[str, ...] = ()  # strings no boundary between two output tokens may cut
    reasoning_parser: str | None = None  # vLLM --reasoning-parser; None: the model never thinks
    thinking: Thinking | None = None  # set: every reply starts with the case's thought

    def reply_text(self, case: TinyCase, *, thinking: bool = True) -> str:
        """What the model generates for `case` (before vLLM's parsers), without EOS: the
        thought first when the variant thinks and thinking is on."""
        reply = case.reply_text(self.format_calls)
        if self.thinking is None or not thinking:
            return reply
        return self.thinking.wrap(case.thought, reply)

    def template_body(self) -> str:
        """The family's rendering part of the chat template (its leading comment removed)."""
        text = (TEMPLATES_DIR / f"{self.template}.jinja").read_text(encoding="utf-8")
        return re.sub(r"\A\{#.*?#\}\n", "", text, count=1, flags=re.S).strip()


# --------------------------------------------------------------------------- reply formats


def hermes_calls(calls: tuple[ToolCall, ...]) -> str:
    """`<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`, one block per call."""
    return "\n".join(
        f"<tool_call>\n{json.dumps({'name': c.name, 'arguments': c.arguments})}\n</tool_call>"
        for c in calls
    )


def _python_literal(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(k)}: {_python_literal(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_python_literal(v) for v in value) + "]"
    return json.dumps(value)  # str, int, float: the JSON spelling is a valid Python literal


def pythonic_calls(calls: tuple[ToolCall, ...]) -> str:
    """`[get_weather(city="Paris")]`; several calls in one list."""
    parts = [
        f"{c.name}(" + ", ".join(f"{k}={_python_literal(v)}" for k, v in c.arguments.items()) + ")"
        for c in calls
    ]
    return "[" + ", ".join(parts) + "]"


def llama3_json_calls(calls: tuple[ToolCall, ...]) -> str:
    """`{"name": ..., "parameters": ...}`; several joined by "; " (see the module docstring)."""
    return "; ".join(json.dumps({"name": c.name, "parameters": c.arguments}) for c in calls)


def mistral_calls(calls: tuple[ToolCall, ...]) -> str:
    """`[TOOL_CALLS][{"name": ..., "arguments": ...}, ...]` (Mistral v0.3, pre-v11 tokenizers)."""
    return "[TOOL_CALLS]" + json.dumps([{"name": c.name, "arguments": c.arguments} for c in calls])


# --------------------------------------------------------------------------- the variants

HERMES = TinyVariant(
    name="tiny",
    tool_parser="hermes",
    family="Hermes / Qwen2.5 / Qwen3",
    format_calls=hermes_calls,
    template="hermes",
    generation_prompt="<|im_start|>assistant\n",
    pad="<|endoftext|>",
    bos="<|im_start|>",
    eos="<|im_end|>",
    special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
)

PYTHONIC = TinyVariant(
    name="tiny-pythonic",
    tool_parser="pythonic",
    family="Gemma 3 / Llama 4 (pythonic)",
    format_calls=pythonic_calls,
    template="pythonic",
    generation_prompt="<start_of_turn>model\n",
    pad="<pad>",
    bos="<bos>",
    eos="<end_of_turn>",
    special_tokens=("<pad>", "<bos>", "<end_of_turn>", "<start_of_turn>", "<eos>"),
)

LLAMA3_JSON = TinyVariant(
    name="tiny-llama3-json",
    tool_parser="llama3_json",
    family="Llama 3.1 / 3.2 (JSON)",
    format_calls=llama3_json_calls,
    template="llama3_json",
    generation_prompt="<|start_header_id|>assistant<|end_header_id|>\n\n",
    pad="<|finetune_right_pad_id|>",
    bos="<|begin_of_text|>",
    eos="<|eot_id|>",
    special_tokens=(
        "<|finetune_right_pad_id|>",
        "<|begin_of_text|>",
        "<|eot_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|python_tag|>",  # the llama3_json parser refuses a vocabulary without it
        "<|eom_id|>",
    ),
)

MISTRAL = TinyVariant(
    name="tiny-mistral",
    tool_parser="mistral",
    family="Mistral v0.3 ([TOOL_CALLS])",
    format_calls=mistral_calls,
    template="mistral",
    generation_prompt="",  # Mistral has no assistant header: the reply follows [/INST]
    pad="<unk>",
    bos="<s>",
    eos="</s>",
    # No [ARGS] and no [THINK]: with them vLLM would switch to the v11+ `name{args}` path.
    special_tokens=(
        "<unk>",
        "<s>",
        "</s>",
        "[INST]",
        "[/INST]",
        "[TOOL_CALLS]",  # the mistral parser refuses a vocabulary without it
        "[AVAILABLE_TOOLS]",
        "[/AVAILABLE_TOOLS]",
        "[TOOL_RESULTS]",
        "[/TOOL_RESULTS]",
    ),
    keep_whole="[TOOL_CALLS]",
    # vLLM 0.32's pre-v11 streaming parser puts ': ' into the arguments when a key's closing
    # quote ends one delta and the colon starts the next (real Mistral tokens keep `":`
    # together). Deltas only ever merge tokens, so no token boundary there means no delta
    # boundary either.
    unsplit=('":',),
)

# Qwen3 in thinking mode: hermes calls after a <think> block, Qwen3's chat template (thinking
# switched by enable_thinking, earlier thoughts dropped once a new user message comes).
REASONING = replace(
    HERMES,
    name="tiny-reasoning",
    family="Qwen3 (thinking)",
    template="qwen3",
    reasoning_parser="qwen3",
    thinking=Thinking(),
)

TINY_VARIANTS: dict[str, TinyVariant] = {
    v.name: v for v in (HERMES, PYTHONIC, LLAMA3_JSON, MISTRAL, REASONING)
}


def variant_by_name(name: str) -> TinyVariant:
    try:
        return TINY_VARIANTS[name]
    except KeyError:
        raise KeyError(
            f"unknown tiny variant {name!r} (known: {', '.join(TINY_VARIANTS)})"
        ) from None
