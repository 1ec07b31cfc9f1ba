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
    """The parser's own format and the generic JSON one; when the parser is not known (an
    attached server without --tool-parser) every known format."""
    if not text:
        return False
    own = PATTERNS.get(tool_parser or "")
    patterns = [own] if own is not None else list(PATTERNS.values())
    return any(p.search(text) for p in patterns) or bool(GENERIC.search(text))
