"""Does a plain-text reply look like a tool call the server's parser failed to extract?

One pattern per vLLM tool parser, for the format that parser reads. A hit means the model tried
to call a tool and the call was lost (malformed JSON, wrong quoting, text around the call).
"""

from __future__ import annotations

import re

PATTERNS: dict[str, re.Pattern[str]] = {
    "hermes": re.compile(r"<tool_call>"),
    "pythonic": re.compile(r"^\s*\[\s*[A-Za-z_][\w.]*\(.*\)\s*\]\s*$", re.S),
    "llama4_pythonic": re.compile(r"^\s*\[\s*[A-Za-z_][\w.]*\(.*\)\s*\]\s*$", re.S),
    "llama3_json": re.compile(r'^\s*(<\|python_tag\|>)?\s*\{\s*"(name|function)"\s*:', re.S),
    "mistral": re.compile(r"\[TOOL_CALLS\]"),
    "openai": re.compile(r"<\|call\|>|to=functions\."),
}
GENERIC = re.compile(r'"name"\s*:\s*"[^"]+"\s*,\s*"(arguments|parameters)"\s*:', re.S)


def looks_like_unparsed_call(text: str | None, tool_parser: str | None) -> bool:
    if not text:
        return False
    pattern = PATTERNS.get(tool_parser or "")
    if pattern is not None and pattern.search(text):
        return True
    return bool(GENERIC.search(text))
