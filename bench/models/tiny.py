"""A tiny scripted Llama model that makes real tool calls through vLLM's tool parsers.

`tiny` writes its calls in the hermes format; the variants in `bench.models.tiny_variants`
(`tiny-pythonic`, `tiny-llama3-json`, `tiny-mistral`) follow the same script and are built by the
same code, each with its family's call format, chat template and special tokens. Below, the
formats and tokens are tiny's (hermes); the variants differ only there. `tiny-reasoning` writes
a scripted thought before each of tiny's replies (`TinyCase.thought`, `chunk_thinking`): its
marker leads into the thought and the reply after it, its quiet marker (thinking off) into
tiny's reply alone.

Built locally in about a second with numpy + safetensors + tokenizers (no torch, no
transformers, no model hub), so tests and the CPU demo have a real model to serve:

    HF_HUB_OFFLINE=1 ... python -m vllm.entrypoints.openai.api_server --model DIR \\
        --served-model-name tiny --enable-auto-tool-choice --tool-call-parser hermes ...

What it answers. The chat template looks at the request and picks the first matching row
(user text = the last user message, lowercased, substring match):

| # | case (marker `<\\|tiny:NAME\\|>`) | condition | reply |
|---|---|---|---|
| 1 | time_answer | last message is a tool result answering get_current_time | `The current time is ready for you.` |
| 2 | notes_open_top | last message is a tool result answering search_notes and "open the top" | read_note {"note_id": "BAT-06"} |
| 3 | notes_search_answer | last message is a tool result answering search_notes | `These notes match your search.` |
| 4 | notes_read_answer | last message is a tool result answering read_note | `Here is what that note says.` |
| 5 | notes_compare_answer | last message is a tool result answering compare_notes | `These are the main differences between the two notes.` |
| 6 | weather_answer | last message is a tool result (any other tool) | `Here is the weather report you asked for.` |
| 7 | usersim_finish | "tiny scenario" and "the current time is ready for you" | `Thank you, that is all I needed. </finished>` (ADK's stop signal) |
| 8 | usersim_ask_time | "tiny scenario" | `What time is it in Tokyo?` |
| 9 | greeting | no tools in the request | `Hello! I am a tiny scripted model.` |
| 10 | madrid_time_and_weather | "weather" and "time" and "madrid" | two calls in one reply: get_current_time {"city": "Madrid"}, get_weather {"city": "Madrid"} |
| 11 | london_weather | "weather" and "london" | get_weather {"city": "London"} |
| 12 | paris_weather | "weather" and "paris" | get_weather {"city": "Paris"} |
| 13 | tokyo_time | "time" and "tokyo" | get_current_time {"city": "Tokyo"} |
| 14 | new_york_weather_wrong_city | "weather" and "new york" | get_weather {"city": "Boston"} (wrong argument) |
| 15 | berlin_time_wrong_tool | "time" and "berlin" | get_weather {"city": "Berlin"} (wrong tool) |
| 16 | sydney_weather_no_call | "weather" and "sydney" | `I am not able to look that up.` (no call) |
| 17 | notes_top_recycling | "recycling" and "open the top" | search_notes {"query": "recycling"} |
| 18 | notes_search_sodium | "search" and "sodium" | search_notes {"query": "sodium-ion"} |
| 19 | notes_search_recycling | "search" and "recycling" | search_notes {"query": "recycling"} |
| 20 | notes_search_heat_pump | "search" and "heat pump" | search_notes {"query": "heat pump"} |
| 21 | notes_compare | "compare" and "bat-02" and "bat-05" | compare_notes {"first_id": "BAT-02", "second_id": "BAT-05"} |
| 22 | notes_open_1 | "open" and "bat-01" | read_note {"note_id": "BAT-01"} |
| 23 | notes_open_2 | "open" and "bat-02" | read_note {"note_id": "BAT-02"} |
| 24 | notes_open_3 | "open" and "bat-03" | read_note {"note_id": "BAT-03"} |
| 25 | notes_open_4 | "open" and "bat-04" | read_note {"note_id": "BAT-04"} |
| 26 | notes_open_5 | "open" and "bat-05" | read_note {"note_id": "BAT-05"} |
| 27 | notes_open_6 | "open" and "bat-06" | read_note {"note_id": "BAT-06"} |
| 28 | notes_open_7 | "open" and "bat-07" | read_note {"note_id": "BAT-70"} (wrong argument) |
| 29 | notes_open_8 | "open" and "bat-08" | read_note {"note_id": "BAT-08"} |
| 30 | fallback | anything else (tools given) | `Hello! Ask me about the weather or the time in a city.` |

"Answering get_current_time" means: the assistant tool call whose id equals the tool message's
`tool_call_id` (else the tool message's `name`, else the last call of the last assistant message)
was a get_current_time call. Tool calls are emitted as
`<tool_call>\\n{"name": "get_weather", "arguments": {"city": "London"}}\\n</tool_call>` (several
joined by a newline), so vLLM returns them as `tool_calls` with finish_reason "tool_calls".
The table is data: `TINY_CASES` in `bench.models.tiny_script` (re-exported here).

How it works (a bigram model):
- Every attention `o_proj` and MLP `down_proj` is zero, so the residual stream is the token
  embedding and the logits depend only on the current token.
- The template ends the generation prompt with the case's marker (a special token). Each marker
  and each output token has its own one-hot embedding dimension; the LM head maps it to the next
  token of its script with a logit margin of ~128, and the last one to EOS (`<|im_end|>`).
  Greedy and sampled decoding (temperature 1 or 2) give the same text.
- Output tokens are non-special added tokens: the reply text cut into chunks (~6 characters)
  whose strings are unique across all scripts, because a token has exactly one successor. The
  hermes parser works on text, so a chunk may split `<tool_call>` anywhere.
- Every other token (the byte-level BPE vocabulary used for prompts) shares one dimension that
  maps to EOS, so a prompt without a marker gets an empty reply rather than noise.
- `<tool_call>` and `</tool_call>` are not tokens: vLLM 0.32's hermes parser finds them in the
  decoded text (streaming and not) and does not look them up in the vocabulary.
- Sizes: hidden 320 (one-hot dims: 1 shared + 30 markers + ~280 output tokens), 2 layers,
  5 heads x 64, 1 KV head, MLP 64, vocab ~830 (512 BPE + added); float16 on disk, config dtype
  bfloat16 (all values are exact in both); ~2.4 MB.

Bump `TINY_MODEL_VERSION` whenever the output of `build_tiny_model` changes (table, chunking,
template, sizes, a variant): `ensure_tiny_model` caches by variant name and version only.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

from bench.models.tiny_script import TINY_CASES, TinyCase
from bench.models.tiny_variants import HERMES, TINY_VARIANTS, TinyVariant

__all__ = [
    "TINY_CASES",
    "TINY_MODEL_VERSION",
    "TINY_SERVED_NAME",
    "TINY_TOOL_PARSER",
    "TINY_VARIANTS",
    "build_tiny_model",
    "chat_template",
    "chunk_outputs",
    "chunk_thinking",
    "ensure_tiny_model",
    "reasoning_tokens",
]

TINY_SERVED_NAME = HERMES.name
TINY_TOOL_PARSER = HERMES.tool_parser
# 5: tiny-reasoning; 4: the user-simulator rows; 3: the research_notes rows; 2: the variants
TINY_MODEL_VERSION = 5

# Sizes. HEAD_DIM >= 32 for vLLM's CPU attention; hidden grows in steps of HEAD_DIM when the
# script needs more one-hot dimensions than MIN_HIDDEN.
HEAD_DIM = 64
MIN_HIDDEN = 256
NUM_LAYERS = 2
NUM_KV_HEADS = 1
INTERMEDIATE = 64
BPE_VOCAB = 512  # prompt tokenizer; output tokens are added on top
MAX_POSITIONS = 4096
RMS_EPS = 1e-5
LOGIT_WEIGHT = 8.0  # lm_head entry; after RMSNorm of a one-hot (~sqrt(hidden)) gives ~128

# Preferred chunk lengths (characters per output token), tried in order until unique.
CHUNK_SIZES = (6, 7, 5, 8, 4, 9, 10, 11, 12)
MIN_CHUNK = 3


# --------------------------------------------------------------------------- chunking


def _split(text: str, first: int, size: int) -> list[str]:
    pieces = [text[:first]]
    pieces += [text[i : i + size] for i in range(first, len(text), size)]
    if len(pieces) > 1 and len(pieces[-1]) < MIN_CHUNK:
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return [p for p in pieces if p]


def _first_chunk_options(size: int, min_first: int) -> list[int]:
    options = [size, *range(size - 1, MIN_CHUNK - 1, -1), *range(size + 1, 2 * size + 1)]
    if min_first <= MIN_CHUNK:
        return options
    longer = [f for f in range(min_first, min_first + 2 * size + 1) if f not in options]
    return [f for f in options if f >= min_first] + longer


def _cuts_any(pieces: list[str], unsplit: tuple[str, ...]) -> bool:
    """Whether a boundary between two pieces falls inside one of the `unsplit` strings."""
    text, bound = "".join(pieces), 0
    for piece in pieces[:-1]:
        bound += len(piece)
        for s in unsplit:
            start = text.find(s, max(0, bound - len(s) + 1))
            if start != -1 and start < bound < start + len(s):
                return True
    return False


def _greedy_split(
    text: str, used: set[str], min_first: int, unsplit: tuple[str, ...]
) -> list[str] | None:
    """Left to right, the next piece (lengths tried in CHUNK_SIZES order) that is new,
    non-blank and cuts no `unsplit`; backs off when the rest of the text cannot be cut."""

    def cuts(bound: int) -> bool:
        return any(
            start < bound < start + len(s)
            for s in unsplit
            for start in range(len(text))
            if text.startswith(s, start)
        )

    def cut_from(pos: int, taken: list[str]) -> list[str] | None:
        if pos == len(text):
            return taken
        low = max(MIN_CHUNK, min_first) if not taken else MIN_CHUNK
        sizes = [*CHUNK_SIZES, *range(MIN_CHUNK, 4 * CHUNK_SIZES[-1])]
        ends = dict.fromkeys(min(len(text), pos + n) for n in sizes if n >= low)
        for end in ends:
            piece = text[pos:end]
            if 0 < len(text) - end < MIN_CHUNK or not piece.strip():
                continue  # never leave a tail too short to be a piece
            if piece in used or piece in taken or (end < len(text) and cuts(end)):
                continue
            found = cut_from(end, [*taken, piece])
            if found is not None:
                return found
        return None

    return cut_from(0, [])


def _cut(text: str, used: set[str], keep_whole: str, unsplit: tuple[str, ...]) -> list[str]:
    """One reply cut into token strings none of which is in `used`, nor repeats.

    Deterministic: the first (size, first-chunk length) that gives only new, non-blank strings
    wins. A text starting with `keep_whole` keeps it inside its first chunk.
    """
    min_first = len(keep_whole) if keep_whole and text.startswith(keep_whole) else 0
    for size in CHUNK_SIZES:
        for first in _first_chunk_options(size, min_first):
            pieces = _split(text, first, size)
            if (
                len(set(pieces)) == len(pieces)
                and not used.intersection(pieces)
                and all(p.strip() for p in pieces)
                and not _cuts_any(pieces, unsplit)
            ):
                return pieces
    # Near-identical replies (one tool, one argument that differs near the end) share long
    # prefixes that no even cut can keep unique: cut those greedily instead.
    greedy = _greedy_split(text, used, min_first, unsplit)
    if greedy is None:
        raise ValueError(f"cannot cut {text[:40]!r}... into unique tokens")
    return greedy


def chunk_outputs(
    cases: tuple[TinyCase, ...] = TINY_CASES, variant: TinyVariant = HERMES
) -> dict[str, list[str]]:
    """Cut each case's reply into token strings that are unique across all cases (a reasoning
    variant's thoughts are cut after the replies: `chunk_thoughts`)."""
    used: set[str] = set(variant.special_tokens) | {c.marker for c in cases}
    result: dict[str, list[str]] = {}
    for case in cases:
        try:
            pieces = _cut(case.reply_text(variant.format_calls), used, variant.keep_whole,
                          variant.unsplit)  # fmt: skip
        except ValueError:
            raise ValueError(
                f"cannot cut the reply of case {case.name!r} into unique tokens"
            ) from None
        used.update(pieces)
        result[case.name] = pieces
    return result


@dataclass(frozen=True)
class ThinkingTokens:
    """A thinking variant's output tokens for one case with thinking on."""

    thought: list[str]  # `<think>\\nTHOUGHT\\n`: each streams a reasoning delta
    reply: list[str]  # `</think>\\n\\n` + the reply: the first one is the first output token


def chunk_thinking(
    cases: tuple[TinyCase, ...] = TINY_CASES, variant: TinyVariant = HERMES
) -> dict[str, ThinkingTokens]:
    """A thinking variant's tokens with thinking on, per case, cut into strings unique across
    every reply, thought and marker ({} for a variant that does not think). The reply after a
    thought is cut apart from the plain reply (thinking off), since its first token holds the
    closing tag."""
    thinking = variant.thinking
    if thinking is None:
        return {}
    replies = chunk_outputs(cases, variant)
    used = set(variant.special_tokens) | {c.marker for c in cases} | {c.quiet_marker for c in cases}
    used |= {p for pieces in replies.values() for p in pieces}
    result: dict[str, ThinkingTokens] = {}
    for case in cases:
        parts = []
        reply = thinking.close + case.reply_text(variant.format_calls)
        # The first reply token goes 2 characters past the tag: a token of just `</think>\n\n<`
        # would swallow the `<` of the quiet marker after the thinking-off prompt.
        keep_reply = reply[: len(thinking.close) + 2]
        for text, keep in ((thinking.thought_text(case.thought), thinking.open),
                           (reply, keep_reply)):  # fmt: skip
            try:
                pieces = _cut(text, used, keep, variant.unsplit)
            except ValueError:
                raise ValueError(f"cannot cut the thinking of case {case.name!r} into unique "
                                 "tokens") from None  # fmt: skip
            used.update(pieces)
            parts.append(pieces)
        result[case.name] = ThinkingTokens(*parts)
    return result


def reasoning_tokens(case: TinyCase, variant: TinyVariant) -> int:
    """The reasoning tokens of the case's thought with thinking on, as vLLM's `qwen3` parser
    counts them (`usage.completion_tokens_details.reasoning_tokens`): every thought token but
    the first, which holds the opening tag (the parser counts no tag token; a real Qwen3 writes
    `<think>` as a token of its own). 0 for a variant that does not think."""
    tokens = chunk_thinking(variant=variant).get(case.name)
    return len(tokens.thought) - 1 if tokens else 0


# --------------------------------------------------------------------------- chat template

_TEMPLATE_MACROS = r"""
{%- macro text_of(content) -%}
    {%- if content is string -%}
        {{- content -}}
    {%- elif content is iterable and content is not mapping -%}
        {%- for part in content -%}
            {%- if part is string -%}
                {{- part -}}
            {%- elif part.type == 'text' -%}
                {{- part.text -}}
            {%- endif -%}
            {%- if not loop.last -%}{{- '\n' -}}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro -%}
"""

_TEMPLATE_SELECTION = r"""
{#- Script selection: which marker ends the generation prompt (see TINY_CASES). -#}
{%- set last = messages[-1] -%}
{%- set last_role = last.role -%}
{%- set ns = namespace(user_text='', id_call='', fallback_call='', last_call='', marker='') -%}
{%- for message in messages -%}
    {%- if message.role == 'user' -%}
        {%- set ns.user_text = text_of(message.content) | lower -%}
    {%- endif -%}
    {%- if message.role == 'assistant' and message.tool_calls -%}
        {%- for tc in message.tool_calls -%}
            {%- set fn = tc.function if tc.function is defined and tc.function else tc -%}
            {%- set ns.fallback_call = fn.name -%}
            {%- if last.tool_call_id is defined and last.tool_call_id
                  and tc.id is defined and tc.id == last.tool_call_id -%}
                {%- set ns.id_call = fn.name -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endfor -%}
{%- if ns.id_call -%}
    {%- set ns.last_call = ns.id_call -%}
{%- elif last.name is defined and last.name -%}
    {%- set ns.last_call = last.name -%}
{%- else -%}
    {%- set ns.last_call = ns.fallback_call -%}
{%- endif -%}
"""


def _jinja_string(text: str) -> str:
    """A single-quoted Jinja string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "'" + escaped + "'"


def chat_template(cases: tuple[TinyCase, ...] = TINY_CASES, variant: TinyVariant = HERMES) -> str:
    """The Jinja chat template: the family's rendering of the conversation (the variant's file),
    then the script's selection block (generated from the case table), then the generation
    prompt ending with the selected case's marker."""
    lines = []
    for i, case in enumerate(cases):
        keyword = "if" if i == 0 else "elif"
        lines.append(f"{{%- {keyword} {case.condition.jinja()} -%}}  {{#- {case.name} -#}}")
        lines.append(f"    {{%- set ns.marker = {json.dumps(case.marker)} -%}}")
    lines.append("{%- endif -%}")
    tail = (
        "{%- if add_generation_prompt -%}\n"
        f"    {{{{- {_jinja_string(variant.generation_prompt)} + ns.marker -}}}}\n"
        "{%- endif -%}"
    )
    if variant.thinking is not None:
        # Thinking off (Qwen3's switch): its empty think block, then the case's quiet marker.
        quiet = _jinja_string(variant.generation_prompt + variant.thinking.off_prompt)
        tail = (
            "{%- if add_generation_prompt -%}\n"
            "    {%- if enable_thinking is defined and enable_thinking is false -%}\n"
            f"        {{{{- {quiet} + (ns.marker | replace('<|tiny:', '<|tiny-nothink:')) -}}}}\n"
            "    {%- else -%}\n"
            f"        {{{{- {_jinja_string(variant.generation_prompt)} + ns.marker -}}}}\n"
            "    {%- endif -%}\n"
            "{%- endif -%}"
        )
    parts = [_TEMPLATE_MACROS, variant.template_body(), _TEMPLATE_SELECTION, "\n".join(lines), tail]
    return "\n".join(part.strip() for part in parts) + "\n"


# --------------------------------------------------------------------------- tokenizer


def _corpus(variant: TinyVariant) -> list[str]:
    """Text like the prompts the model will see, so the BPE merges compress them well."""
    cities = ["London", "Paris", "Tokyo", "New York", "Berlin", "Sydney", "Madrid", "Boston"]
    tools = [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Returns the current {what} in a city.\n\nArgs:\n"
                '    city: The name of the city, e.g. "London".',
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "description": "The city."}},
                    "required": ["city"],
                },
            },
        }
        for name, what in (("get_weather", "weather report"), ("get_current_time", "local time"))
    ]
    lines = [chat_template(variant=variant), *(json.dumps(t) for t in tools)]
    for city in cities:
        lines += [
            f"What is the weather in {city}? What time is it in {city}?",
            f'{{"status": "success", "report": "The weather in {city} is sunny, 21 C."}}',
            f'{{"status": "success", "report": "It is 12:00 in {city}."}}',
            f'{{"name": "get_weather", "arguments": {{"city": "{city}"}}}}',
        ]
    # research_notes: its tool results are long; these lines let BPE merge their common words.
    for n in range(1, 9):
        lines += [
            f'{{"status": "success", "note_id": "BAT-0{n}", "title": "Battery note", "tags": '
            f'["cells", "home storage"], "summary": "The battery kept its capacity over the '
            f'cycles; energy density, cost and efficiency are compared.", "measurements": '
            f'["week {n}: cycles {7 * n}, capacity 9{n}.{n} percent, round-trip efficiency '
            f'9{n}.{n} percent, cell spread {n} mV"]}}',
            f'{{"note_id": "BAT-0{n}", "title": "Sodium-ion cells", "score": {n}, "snippet": '
            f'"Recycling, sizing, inverter, heat pump, demand, lithium, LFP"}}',
        ]
    lines += [
        "You are an agent. Your internal name is weather_time_agent. You answer questions about "
        "the weather and the time in a city. Use get_weather for weather questions and "
        "get_current_time for time questions. Answer greetings without calling a tool.",
        "<|im_start|>system\n<|im_start|>user\n<|im_start|>assistant\n<tool_response>\n",
    ]
    return lines * 4


def _build_tokenizer(
    variant: TinyVariant, chunks: dict[str, list[str]], thinking: dict[str, ThinkingTokens]
) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        special_tokens=list(variant.special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(variant), trainer)
    tok.add_special_tokens(
        [AddedToken(c.marker, special=True, normalized=False) for c in TINY_CASES]
    )
    tok.add_tokens(
        [
            AddedToken(piece, special=False, normalized=False)
            for case in TINY_CASES
            for piece in chunks[case.name]
        ]
    )
    if thinking:  # a thinking variant: the quiet markers, then the tokens with thinking on
        tok.add_special_tokens(
            [AddedToken(c.quiet_marker, special=True, normalized=False) for c in TINY_CASES]
        )
        tok.add_tokens(
            [
                AddedToken(piece, special=False, normalized=False)
                for case in TINY_CASES
                for piece in (*thinking[case.name].thought, *thinking[case.name].reply)
            ]
        )
    return tok


# --------------------------------------------------------------------------- weights


def _weights(
    variant: TinyVariant,
    tok: Tokenizer,
    chunks: dict[str, list[str]],
    thinking: dict[str, ThinkingTokens],
) -> tuple[dict[str, np.ndarray], dict]:
    """Bigram weights plus the matching config.json dict."""
    eos = _id(tok, variant.eos)
    # Token chains, each ending in EOS: marker -> reply tokens. A thinking variant's marker
    # leads into its thought and the reply after it, its quiet marker into the plain reply.
    chains = []
    for case in TINY_CASES:
        reply = [_id(tok, p) for p in chunks[case.name]]
        if case.name in thinking:
            on = thinking[case.name]
            thought = [_id(tok, p) for p in (*on.thought, *on.reply)]
            chains += [[_id(tok, case.marker), *thought, eos],
                       [_id(tok, case.quiet_marker), *reply, eos]]  # fmt: skip
        else:
            chains.append([_id(tok, case.marker), *reply, eos])
    successor: dict[int, int] = {}
    for chain in chains:
        for cur, nxt in itertools.pairwise(chain):
            if successor.setdefault(cur, nxt) != nxt:
                raise AssertionError("a token has two successors; each must have one")

    n_dims = 1 + len(successor)  # dim 0: every non-script token
    hidden = max(MIN_HIDDEN, -(-n_dims // HEAD_DIM) * HEAD_DIM)
    heads = hidden // HEAD_DIM
    vocab = -(-(max(tok.get_vocab(with_added_tokens=True).values()) + 1) // 64) * 64

    embed = np.zeros((vocab, hidden), dtype=np.float32)
    lm_head = np.zeros((vocab, hidden), dtype=np.float32)
    embed[:, 0] = 1.0
    lm_head[eos, 0] = LOGIT_WEIGHT
    for dim, (cur, nxt) in enumerate(successor.items(), start=1):
        embed[cur, :] = 0.0
        embed[cur, dim] = 1.0
        lm_head[nxt, dim] = LOGIT_WEIGHT

    def zeros(*shape: int) -> np.ndarray:
        return np.zeros(shape, dtype=np.float16)

    tensors: dict[str, np.ndarray] = {
        "model.embed_tokens.weight": embed.astype(np.float16),
        "model.norm.weight": np.ones(hidden, dtype=np.float16),
        "lm_head.weight": lm_head.astype(np.float16),
    }
    for i in range(NUM_LAYERS):
        p = f"model.layers.{i}."
        tensors |= {
            p + "input_layernorm.weight": np.ones(hidden, dtype=np.float16),
            p + "post_attention_layernorm.weight": np.ones(hidden, dtype=np.float16),
            p + "self_attn.q_proj.weight": zeros(heads * HEAD_DIM, hidden),
            p + "self_attn.k_proj.weight": zeros(NUM_KV_HEADS * HEAD_DIM, hidden),
            p + "self_attn.v_proj.weight": zeros(NUM_KV_HEADS * HEAD_DIM, hidden),
            p + "self_attn.o_proj.weight": zeros(hidden, heads * HEAD_DIM),  # zero: bigram
            p + "mlp.gate_proj.weight": zeros(INTERMEDIATE, hidden),
            p + "mlp.up_proj.weight": zeros(INTERMEDIATE, hidden),
            p + "mlp.down_proj.weight": zeros(hidden, INTERMEDIATE),  # zero: bigram
        }

    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": NUM_LAYERS,
        "num_attention_heads": heads,
        "num_key_value_heads": NUM_KV_HEADS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITIONS,
        "rms_norm_eps": RMS_EPS,
        "rope_theta": 10000.0,
        "vocab_size": vocab,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": _id(tok, variant.bos),
        "eos_token_id": eos,
        "pad_token_id": _id(tok, variant.pad),
        # Stored as float16 (numpy has no bfloat16); every value is exact in both.
        "dtype": "bfloat16",
    }
    return tensors, config


def _id(tok: Tokenizer, token: str) -> int:
    token_id = tok.token_to_id(token)
    if token_id is None:
        raise KeyError(token)
    return token_id


# --------------------------------------------------------------------------- build / cache


def build_tiny_model(out_dir: Path, variant: TinyVariant = HERMES) -> Path:
    """Write a complete HF model directory (Llama, tokenizer, chat template) into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chunks = chunk_outputs(variant=variant)
    thinking = chunk_thinking(variant=variant)
    tok = _build_tokenizer(variant, chunks, thinking)
    tensors, config = _weights(variant, tok, chunks, thinking)
    template = chat_template(variant=variant)

    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    tok.save(str(out_dir / "tokenizer.json"))
    special_map = {"bos_token": variant.bos, "eos_token": variant.eos, "pad_token": variant.pad}
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special_map,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MAX_POSITIONS,
        "chat_template": template,
    }
    generation_config = {
        "bos_token_id": config["bos_token_id"],
        "eos_token_id": config["eos_token_id"],
        "pad_token_id": config["pad_token_id"],
    }
    files = {
        "config.json": config,
        "tokenizer_config.json": tokenizer_config,
        "special_tokens_map.json": special_map,
        "generation_config.json": generation_config,
    }
    for name, data in files.items():
        (out_dir / name).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out_dir / "chat_template.jinja").write_text(template, encoding="utf-8")
    for path in out_dir.iterdir():  # safetensors writes 0600; make the model readable
        path.chmod(0o644)
    return out_dir


def ensure_tiny_model(cache_root: Path, variant: TinyVariant = HERMES) -> Path:
    """Return `cache_root/models/{variant.name}-v{TINY_MODEL_VERSION}`, building it only when missing.

    Builds into a temporary sibling directory and renames it into place, so a crash never
    leaves a half-written model and concurrent callers all end up with one complete copy.
    """
    target = Path(cache_root) / "models" / f"{variant.name}-v{TINY_MODEL_VERSION}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        build_tiny_model(tmp, variant)
        tmp.chmod(0o755)  # mkdtemp makes it 0700
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
