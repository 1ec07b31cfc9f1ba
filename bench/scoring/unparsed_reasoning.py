"""Does a reply's text hold a thought the server's reasoning parser did not take out?

A thinking model served without its vLLM `--reasoning-parser` (or with another family's) sends
its whole thought as answer text: the thought reads as the reply, its tokens as output, and a
tool call written inside the thought is made as if it were meant. One entry per family's tags,
with the vLLM 0.32 parsers that read them. A closing tag alone is enough: DeepSeek-R1-style
templates open the thought in the prompt, so the model writes only the end of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ThinkTags:
    name: str  # as the message shows it
    pattern: re.Pattern[str]
    parsers: str  # the --reasoning-parser values that read these tags, for the fix


THINK_TAGS = (
    ThinkTags("<think>...</think>", re.compile(r"</?think>"),
              "qwen3 (Qwen3), deepseek_r1 (DeepSeek-R1, QwQ)"),
    ThinkTags("[THINK]...[/THINK]", re.compile(r"\[/?THINK\]"), "mistral (Magistral)"),
    ThinkTags("<seed:think>", re.compile(r"</?seed:think>"), "seed_oss (Seed-OSS)"),
    ThinkTags("<|channel|>analysis", re.compile(r"<\|channel\|>analysis"),
              "openai_gptoss (gpt-oss)"),
)  # fmt: skip


def unparsed_thinking(text: str | None) -> ThinkTags | None:
    """The tags of the first family whose thought markers the reply text holds, or None."""
    if not text:
        return None
    return next((tags for tags in THINK_TAGS if tags.pattern.search(text)), None)
