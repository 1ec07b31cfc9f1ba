"""One chat completion: its tokens, timing and usage, and the non-streaming answer.

The time to first token counts from the end of `--latency-ms` (`prefill_from`); the server's
own work on the request comes out of it instead of adding to it, so `--ttft-ms` is the truth.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench.testing.fake_server.faults import CUT_IN_HALF, half
from bench.testing.fake_server.metrics import ServerMetrics
from bench.testing.fake_server.policy import Reply, ToolCallReply
from bench.testing.fake_server.settings import FakeServerConfig
from bench.testing.prefix_cache import PrefixCache

_WORD = re.compile(r"\s*\S+")


def text_tokens(text: str, n_tokens: int | None) -> list[str]:
    """Words with their leading space; with `n_tokens`, cycled or cut to exactly that many."""
    words = _WORD.findall(text) or [text]
    if n_tokens is None:
        return words
    return [words[i % len(words)] for i in range(max(1, n_tokens))]


def _pieces(text: str, n: int) -> list[str]:
    n = max(1, min(n, len(text)))
    size = -(-len(text) // n)
    return [text[i : i + size] for i in range(0, len(text), size)]


def tool_call_id() -> str:
    return f"chatcmpl-tool-{uuid.uuid4().hex[:16]}"


def tool_call_deltas(calls: list[ToolCallReply], n_tokens: int | None) -> list[dict[str, Any]]:
    """vLLM-style streamed tool-call deltas: a header per call, then argument pieces."""
    deltas: list[dict[str, Any]] = []
    per_call = None if n_tokens is None else max(1, n_tokens // len(calls) - 1)
    for index, call in enumerate(calls):
        args = json.dumps(call.arguments)
        deltas.append({"index": index, "id": tool_call_id(), "type": "function",
                       "function": {"name": call.name, "arguments": ""}})  # fmt: skip
        pieces = _pieces(args, per_call if per_call is not None else max(1, len(args) // 6))
        deltas.extend({"index": index, "function": {"arguments": p}} for p in pieces)
    return deltas


def estimate_prompt_tokens(request: dict[str, Any]) -> int:
    size = len(json.dumps(request.get("messages") or []))
    return max(1, (size + len(json.dumps(request.get("tools") or []))) // 4)


async def sleep_ms(ms: float) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000.0)


@dataclass
class Completion:
    """A request being answered, with what the server counts it into."""

    config: FakeServerConfig
    metrics: ServerMetrics
    prefix_cache: PrefixCache
    body: dict[str, Any]
    reply: Reply
    fault: str | None
    started: float  # when the request arrived
    prefill_from: float  # after --latency-ms: the time to first token counts from here
    thought: list[str] = field(init=False)  # the reasoning tokens before the reply

    def __post_init__(self) -> None:
        kwargs = self.body.get("chat_template_kwargs") or {}
        off = not self.config.reasoning_tokens or kwargs.get("enable_thinking") is False
        self.thought = [] if off else [f"thought{i} " for i in range(self.config.reasoning_tokens)]

    @property
    def model(self) -> str:
        return str(self.body.get("model") or self.config.served_model_name)

    async def first_token(self) -> float:
        """Wait for the time to first token; the moment the first token goes out."""
        await sleep_ms(self.config.ttft_ms - (time.monotonic() - self.prefill_from) * 1000.0)
        return self.metrics.first_token(self.started)

    def usage(self, first_token: float, n_tokens: int, reason: str) -> dict[str, Any]:
        """The last token went out: count the request and say its usage, as vLLM would."""
        self.metrics.decoded(first_token, n_tokens)
        prompt_tokens = estimate_prompt_tokens(self.body)
        self.metrics.finished(prompt_tokens, n_tokens, reason, self.started)
        usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": n_tokens,
                                 "total_tokens": prompt_tokens + n_tokens}  # fmt: skip
        if self.config.prompt_tokens_details:
            cached = self.prefix_cache.lookup_and_store(self.body, prompt_tokens)
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        if self.config.reasoning_tokens:  # a server with a reasoning parser reports the count
            usage["completion_tokens_details"] = {"reasoning_tokens": len(self.thought)}
        return usage

    async def json_response(self) -> web.Response:
        """The whole answer in one body (`"stream": false`)."""
        message, n_tokens, reason = self._message()
        first_token = await self.first_token()
        await sleep_ms(self.config.itl_ms * max(0, n_tokens - 1))
        usage = self.usage(first_token, n_tokens, reason)
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
        return web.json_response({"id": f"chatcmpl-{uuid.uuid4().hex}",
                                  "object": "chat.completion", "created": int(time.time()),
                                  "model": self.model, "choices": [choice], "usage": usage})  # fmt: skip

    def _message(self) -> tuple[dict[str, Any], int, str]:
        """The assistant message, the tokens it took and the finish reason."""
        cut = self.fault in CUT_IN_HALF  # half the reply, then finish "error" or "length"
        if self.fault == "empty":
            message: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": []}
            n_tokens, reason = 1, "stop"
        elif self.reply.tool_calls:
            message, n_tokens, reason = self._tool_call_message(cut)
        else:
            tokens = text_tokens(self.reply.text or "", self.config.tokens)
            tokens = tokens[: half(len(tokens))] if cut else tokens
            n_tokens, reason = len(tokens), "stop"
            message = {"role": "assistant", "content": "".join(tokens), "tool_calls": []}
        if self.fault in CUT_IN_HALF:
            reason = CUT_IN_HALF[self.fault]
        if self.thought:
            message["reasoning"] = "".join(self.thought)
            n_tokens += len(self.thought)
        return message, n_tokens, reason

    def _tool_call_message(self, cut: bool) -> tuple[dict[str, Any], int, str]:
        calls = []
        for c in self.reply.tool_calls:
            arguments = json.dumps(c.arguments)
            arguments = arguments[: half(len(arguments))] if cut else arguments
            calls.append({"id": tool_call_id(), "type": "function",
                          "function": {"name": c.name, "arguments": arguments}})  # fmt: skip
        n_tokens = len(tool_call_deltas(self.reply.tool_calls, self.config.tokens))
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        return message, n_tokens + self.config.tool_name_tokens, "tool_calls"
