"""How each LLM call's reply ended, beyond failed or not: the counts of the summary.

Taken from what the server sent (the wire, `bench.agent.wire_timing`) and what ADK made of it
(`bench.agent.timed_model` records both):

- **finish error**: the server ended the reply with finish reason "error" (a failed call);
- **finish length**: it ended with "length" (the token limit hit, maybe mid-call);
- **empty reply**: a call that completed with no text and no tool call;
- **malformed tool call**: ADK dropped a call whose arguments did not parse
  (`error_code` MALFORMED_FUNCTION_CALL);
- **unparsed tool call**: the server sent no tool call, yet the reply text holds one in the tool
  parser's format (every known format when the parser is not known): the server's parser missed
  it. Checked on every LLM call, not only a turn's last reply;
- **rescued from text**: the server sent no tool call, yet ADK made one: ADK's LiteLlm pulled a
  well-formed JSON call out of the text, so the tools ran though the server's tool path failed.

A call the wire did not see (`server_tool_calls_n` null) is counted in none of the last four.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bench.scoring.outcome import is_ok
from bench.scoring.unparsed import looks_like_unparsed_call

MALFORMED_CODE = "MALFORMED_FUNCTION_CALL"


def classify_call(call: dict[str, Any], tool_parser: str | None) -> None:
    """Set the call's `unparsed_tool_call`, `rescued_from_text` and `empty_reply` (in place)."""
    server_calls = call.get("server_tool_calls_n")  # null (or NaN): the wire saw no reply
    no_server_call = server_calls is not None and server_calls == 0
    text = call.get("reply_text")
    text = text if isinstance(text, str) else ""
    call["unparsed_tool_call"] = no_server_call and looks_like_unparsed_call(text, tool_parser)
    call["rescued_from_text"] = no_server_call and int(call.get("tool_calls_n") or 0) > 0
    call["empty_reply"] = (
        no_server_call and is_ok(call) and not text.strip() and not call["rescued_from_text"]
    )


def finish_counts(calls: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The summary's counts over the measured agent calls (classified first)."""
    counts = dict.fromkeys(
        ("llm_calls_finish_error", "llm_calls_finish_length", "llm_calls_empty",
         "llm_calls_malformed_tool_call", "llm_calls_unparsed", "llm_calls_rescued_from_text"),
        0,
    )  # fmt: skip
    for c in calls:
        reason = c.get("server_finish_reason") or None
        counts["llm_calls_finish_error"] += reason == "error"
        counts["llm_calls_finish_length"] += (reason or c.get("finish_reason")) == "length"
        counts["llm_calls_empty"] += bool(c.get("empty_reply"))
        counts["llm_calls_malformed_tool_call"] += c.get("adk_error_code") == MALFORMED_CODE
        counts["llm_calls_unparsed"] += bool(c.get("unparsed_tool_call"))
        counts["llm_calls_rescued_from_text"] += bool(c.get("rescued_from_text"))
    return counts
