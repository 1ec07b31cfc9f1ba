"""What each LLM call sent: its OpenAI-format messages, tools and tool_choice, for trace export.

The hook is the LiteLLM client of `bench.agent.timed_model`: ADK's LiteLlm has already turned
the LlmRequest into OpenAI messages and tools (google/adk/models/lite_llm.py,
`_get_completion_inputs`) and hands them to `litellm.acompletion`. LiteLLM's hosted_vllm
provider then rewrites assistant and user messages (`HostedVLLMChatConfig._transform_messages`:
drops thinking blocks, flattens content lists); that same rewrite is applied to a copy here, so
the record is what goes into the request body.

Only the messages, the tools and tool_choice are kept: never the call's other arguments, which
hold the API key and the extra headers.

Tools are the same for every call of an agent, and a run's prompts already grow every call, so
each distinct tool list is written once per load process (`ToolsRecord`, keyed by a hash of its
content, which stays right if two agents share a name or a tool list changes) and every prompt
record names it by that hash.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.schemas.raw import PROMPTS, TOOLS
from bench.schemas.records import LlmCallRecord, PromptRecord, ToolsRecord


@dataclass
class CapturedRequest:
    messages: list[Any]
    tools: list[Any] | None
    tool_choice: Any


def _plain(value: Any) -> Any:
    """JSON-ready copy of LiteLLM/pydantic message objects."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True)
    return str(value)


def to_json_value(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_plain))


def _as_sent(messages: list[Any], model: str) -> list[Any]:
    """LiteLLM's own rewrite for the hosted_vllm provider, on our copy."""
    if not model.startswith("hosted_vllm/"):
        return messages
    try:
        from litellm.llms.hosted_vllm.chat.transformation import HostedVLLMChatConfig

        return to_json_value(HostedVLLMChatConfig()._transform_messages(messages, model))
    except Exception:  # a LiteLLM change must not fail the call: keep the messages as handed over
        return messages


def capture(model: str, messages: Any, tools: Any, kwargs: dict[str, Any]) -> CapturedRequest:
    """The request of one `acompletion(model, messages, tools, **kwargs)` call, as plain JSON."""
    copied = to_json_value(list(messages or []))
    return CapturedRequest(
        messages=_as_sent(copied, model),
        tools=to_json_value(list(tools)) if tools else None,
        tool_choice=to_json_value(kwargs.get("tool_choice")),
    )


def tools_sha(tools: list[Any]) -> str:
    canonical = json.dumps(tools, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class PromptSink:
    """Turns a finished call and its captured request into raw records: the tool list the first
    time this process sees it, then the prompt. `write(table, record)` is the recorder's."""

    def __init__(self, write: Callable[[str, Any], None]):
        self._write = write
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, call: LlmCallRecord, request: CapturedRequest) -> None:
        sha = None
        if request.tools:
            sha = tools_sha(request.tools)
            with self._lock:
                new = sha not in self._seen
                self._seen.add(sha)
            if new:
                tools_record: ToolsRecord = {"tools_sha": sha, "tools": request.tools}
                self._write(TOOLS, tools_record)
        record: PromptRecord = {
            "run_id": call["run_id"],
            "session_id": call["session_id"],
            "turn_id": call["turn_id"],
            "call_index": call["call_index"],
            "agent_name": call["agent_name"],
            "started_at": call["started_at"],
            "prompt_tokens": call["prompt_tokens"],
            "completion_tokens": call["completion_tokens"],
            "error_type": call["error_type"],
            "warmup": call["warmup"],
            "messages": request.messages,
            "tools_sha": sha,
            "tool_choice": request.tool_choice,
            "pid": call["pid"],
        }
        self._write(PROMPTS, record)
