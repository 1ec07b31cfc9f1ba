"""What each LLM call sent: its OpenAI-format messages, tools and tool_choice, for trace export.

The hook is the LiteLLM client of `bench.agent.timed_model`, which ADK's LiteLlm calls with the
LlmRequest already turned into OpenAI messages and tools (google/adk/models/lite_llm.py,
`_get_completion_inputs`). LiteLLM then rewrites them for the provider (hosted_vllm drops
thinking blocks and null fields, flattens content lists) into the request body. That body is
taken from LiteLLM itself: the call passes a per-call `logger_fn`, which LiteLLM's logging calls
with the details of the call just before sending it, body included
(`additional_args.complete_input_dict`; litellm_core_utils/litellm_logging.py, `pre_call`).
Should a LiteLLM version not call it, the messages as ADK handed them over are kept.

Only the messages, the tools and tool_choice are taken: never headers or other arguments, which
hold the API key.

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
    from_body: bool = False  # True once LiteLLM's own request body replaced the handed-over

    def as_json(self) -> CapturedRequest:
        """Plain JSON values (only the handed-over objects need converting)."""
        if self.from_body:
            return self
        return CapturedRequest(
            messages=to_json_value(self.messages),
            tools=to_json_value(self.tools),
            tool_choice=to_json_value(self.tool_choice),
        )

    def take_body(self, details: Any) -> None:
        """LiteLLM's `logger_fn`: called with the call's details before it is sent."""
        if self.from_body or not isinstance(details, dict):
            return
        body = (details.get("additional_args") or {}).get("complete_input_dict")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return
        try:
            self.messages = to_json_value(body["messages"])
            self.tools = to_json_value(body["tools"]) if body.get("tools") else None
            self.tool_choice = to_json_value(body.get("tool_choice"))
            self.from_body = True
        except (TypeError, ValueError):  # never fail the call over the record
            pass


def _plain(value: Any) -> Any:
    """JSON-ready copy of LiteLLM/pydantic message objects."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True)
    return str(value)


def to_json_value(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_plain))


def capture(messages: Any, tools: Any, kwargs: dict[str, Any]) -> CapturedRequest:
    """The request of one `acompletion(model, messages, tools, **kwargs)` call, as plain JSON;
    `kwargs` gets the `logger_fn` that replaces it by the body LiteLLM sends."""
    request = CapturedRequest(
        messages=list(messages or []), tools=list(tools) if tools else None,
        tool_choice=kwargs.get("tool_choice"),
    )  # fmt: skip
    kwargs["logger_fn"] = request.take_body
    return request


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
        request = request.as_json()
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
