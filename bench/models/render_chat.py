"""Render chat templates with a real tokenizer, the way vLLM does. A script for the vLLM Python.

Run by `bench.models.template_check` in the vLLM environment (transformers, mistral_common,
vLLM); it imports nothing from bench. Reads one JSON job on stdin, writes one JSON answer:

    job:    {"tokenizer_dir": DIR, "mistral": bool, "templates": {NAME: TEXT | null},
             "conversations": {NAME: {"messages": [...], "tools": [...],
                                      "add_generation_prompt": bool}}}
    answer: {"renderings": {TEMPLATE: {CONVERSATION: {"text": STR} | {"error": STR}}},
             "split_markers": {TEMPLATE: [MARKER, ...]}}

A null template means the tokenizer's own (official) one. `split_markers` lists the
special-looking markers in a rendering that the tokenizer does not encode as one token (such a
template was written for another vocabulary). Mistral goes through vLLM's MistralTokenizer
(tokenizer_mode=mistral), which renders with mistral_common instead of Jinja.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from typing import Any

MARKER = re.compile(r"<\|[A-Za-z0-9_]+\|>|<(?:start|end)_of_[a-z]+>|\[/?[A-Z_]{3,}\]")


def _content_format(template: str) -> str:
    """'openai' (content as a list of parts) or 'string', detected the way vLLM detects it."""
    try:
        from vllm.renderers.hf import _detect_content_format
    except ImportError:  # another vLLM layout: the common case
        return "string"
    return _detect_content_format(template, default="string")


def _normalise(messages: list[dict[str, Any]], content_format: str) -> list[dict[str, Any]]:
    """vLLM's own preprocessing (vllm/renderers/chat_utils.py): tool-call arguments arrive as
    JSON text and reach the template as dicts; missing content becomes "" or []; in the
    'openai' format text becomes a list of text parts, except a tool result, which stays text."""
    out = copy.deepcopy(messages)
    for message in out:
        for call in message.get("tool_calls") or []:
            fn = call.get("function", {})
            if isinstance(fn.get("arguments"), str):
                fn["arguments"] = json.loads(fn["arguments"])
        content = message.get("content")
        if content_format == "openai" and message["role"] != "tool":
            message["content"] = [] if content is None else [{"type": "text", "text": content}]
        elif content is None:
            message["content"] = ""
    return out


def _render_hf(tokenizer: Any, template: str | None, conv: dict[str, Any]) -> str:
    fmt = _content_format(template or tokenizer.chat_template)
    return tokenizer.apply_chat_template(
        _normalise(conv["messages"], fmt),
        tools=conv.get("tools"),
        chat_template=template,
        tokenize=False,
        add_generation_prompt=conv.get("add_generation_prompt", False),
    )


def _split_markers(tokenizer: Any, texts: list[str]) -> list[str]:
    found = sorted({m for text in texts for m in MARKER.findall(text)})
    return [m for m in found if len(tokenizer.encode(m, add_special_tokens=False)) != 1]


def main() -> None:
    job = json.load(sys.stdin)
    renderings: dict[str, dict[str, Any]] = {}
    split: dict[str, list[str]] = {}
    if job.get("mistral"):
        from vllm.tokenizers.mistral import MistralTokenizer

        mistral = MistralTokenizer.from_pretrained(job["tokenizer_dir"])
        results: dict[str, Any] = {}
        for name, conv in job["conversations"].items():
            try:
                ids = mistral.apply_chat_template(
                    _normalise(conv["messages"], "string"),
                    tools=conv.get("tools"),
                    add_generation_prompt=conv.get("add_generation_prompt", False),
                )
                # Decoding piece by piece keeps the control tokens visible as text.
                text = "".join(mistral.convert_ids_to_tokens(ids)).replace("\u2581", " ")
                results[name] = {"text": text}
            except Exception as exc:  # the template's own refusal is a result to compare
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        for template_name in job["templates"]:
            renderings[template_name] = results
            split[template_name] = []
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(job["tokenizer_dir"])
        for template_name, text in job["templates"].items():
            results = {}
            for name, conv in job["conversations"].items():
                try:
                    results[name] = {"text": _render_hf(tokenizer, text, conv)}
                except Exception as exc:
                    results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            renderings[template_name] = results
            texts = [r["text"] for r in results.values() if "text" in r]
            split[template_name] = _split_markers(tokenizer, texts)
    json.dump({"renderings": renderings, "split_markers": split}, sys.stdout)


if __name__ == "__main__":
    main()
