"""What the fake model answers: a reply policy, `reply_for(request_json) -> Reply`.

The default follows the script of the tiny model (`bench.models.tiny_script`), so a run against
the fake scores like a run against the real tiny model, and answers ADK's judge prompt as a
deterministic judge. Tests of other agents pass a policy of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCallReply:
    name: str
    arguments: dict[str, Any]


@dataclass
class Reply:
    """What the fake model says: plain text or tool calls (exactly one of them)."""

    text: str | None = None
    tool_calls: list[ToolCallReply] = field(default_factory=list)


ReplyPolicy = Callable[[dict[str, Any]], Reply]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The last user message's text, lower-cased ("" when there is none)."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content")).lower()
    return ""


def answered_tool(messages: list[dict[str, Any]]) -> str | None:
    """Name of the tool whose result is the last message (None when it is not a tool result)."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    last = messages[-1]
    calls: list[dict[str, Any]] = next(
        (m["tool_calls"] for m in reversed(messages)
         if m.get("role") == "assistant" and m.get("tool_calls")),
        [],
    )  # fmt: skip
    for call in calls:
        if call.get("id") and call.get("id") == last.get("tool_call_id"):
            return str(call.get("function", {}).get("name"))
    if last.get("name"):
        return str(last["name"])
    return str(calls[-1].get("function", {}).get("name")) if calls else ""


def builtin_reply(request: dict[str, Any]) -> Reply:
    """The rule used when the tiny model's script cannot be imported."""
    messages = request.get("messages") or []
    answered = answered_tool(messages)
    if answered is not None:
        if answered == "get_current_time":
            return Reply(text="The current time is ready for you.")
        return Reply(text="Here is the weather report you asked for.")
    user = last_user_text(messages)
    if request.get("tools"):
        for city in ("london", "paris"):
            if "weather" in user and city in user:
                return Reply(tool_calls=[ToolCallReply("get_weather", {"city": city.title()})])
        if "time" in user and "tokyo" in user:
            return Reply(tool_calls=[ToolCallReply("get_current_time", {"city": "Tokyo"})])
    return Reply(text="Hello! Ask me about the weather or the time in a city.")


def _case_hits(condition: Any, answered: str | None, user: str, tools: bool) -> bool:
    """Whether a tiny-script case's condition holds for this request."""
    if condition.kind == "after_tool":
        return (
            answered is not None
            and (condition.tool is None or condition.tool == answered)
            and all(k.lower() in user for k in condition.keywords)
        )
    if condition.kind == "no_tools":
        return not tools
    if condition.kind == "keywords":
        return all(k.lower() in user for k in condition.keywords)
    return True


def _tiny_script_policy() -> ReplyPolicy | None:
    """A policy that evaluates the tiny model's case table in Python, if the table exists."""
    try:
        from bench.models.tiny_script import TINY_CASES
    except Exception:  # the tiny model is optional for the fake
        return None

    def reply(request: dict[str, Any]) -> Reply:
        messages = request.get("messages") or []
        answered, user = answered_tool(messages), last_user_text(messages)
        for case in TINY_CASES:
            if _case_hits(case.condition, answered, user, bool(request.get("tools"))):
                if case.content is not None:
                    return Reply(text=case.content)
                return Reply(tool_calls=[ToolCallReply(c.name, dict(c.arguments))
                                         for c in case.calls])  # fmt: skip
        return builtin_reply(request)

    return reply


_JUDGE_FIELDS = re.compile(
    r'"agent response": (.*?),\n\s*"reference response": (.*?),\n\}', re.S | re.I
)


def judge_reply(request: dict[str, Any]) -> Reply | None:
    """Answers ADK's final_response_match_v2 judge prompt: valid when the texts are equal.

    A deterministic stand-in for a judge model, so judge metrics can be tested end to end.
    """
    text = last_user_text(request.get("messages") or [])
    if "is_the_agent_response_valid" not in text:
        return None
    match = _JUDGE_FIELDS.search(text)
    valid = match is not None and match.group(1).strip().lower() == match.group(2).strip().lower()
    label = "valid" if valid else "invalid"
    return Reply(
        text=f'{{"reasoning": "compared the two texts", "is_the_agent_response_valid": "{label}"}}'
    )


def default_policy() -> ReplyPolicy:
    agent = _tiny_script_policy() or builtin_reply

    def reply(request: dict[str, Any]) -> Reply:
        return judge_reply(request) or agent(request)

    return reply
