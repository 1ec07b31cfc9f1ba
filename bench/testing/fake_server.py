"""An OpenAI-compatible fake of a vLLM server, for tests and for `bench fake-server`.

It speaks the parts of vLLM's API that bench uses: `/health`, `/v1/models`,
`/v1/chat/completions` (streaming SSE, with a final usage chunk when
`stream_options.include_usage` is set, and non-streaming) and `/metrics` (Prometheus text with
vLLM's metric names). What it answers comes from a reply policy, `reply_for(request_json) ->
Reply`; the default one follows the script of the tiny model (`bench.models.tiny_script`) so a
run against the fake scores like a run against the real tiny model.

Knobs: fixed latency per request, latency growing with the requests in flight, time to first
token, inter-token latency, tokens per reply, tokens a tool parser holds back before the first
tool-call delta, and fault injection (`--fail-rate` with `--fault` one or more of
500|malformed|stall|reset|unparsed|text-call|finish-error|length|empty, each given fault logged
with `--fault-log FILE`; `bench.testing.faults` says what each does), optionally only above N
requests in flight with `--fault-above-inflight N`.

With `--fault-above-inflight N` a fault is drawn only for requests that saw more than N requests
in flight (themselves included) at some moment before the draw: a bug that appears only under
concurrency.

Streaming follows vLLM: the first chunk (the role) is sent only with the first generated token,
after the time to first token, never at once. A tool-call reply with `--tool-name-tokens N`
streams its first tool-call delta N token-times after that, as vLLM's tool parsers emit nothing
until they know the tool name; those N tokens count in `completion_tokens`.

    python -m bench.testing.fake_server --port 8001 --api-key-env MY_KEY --itl-ms 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bench.schemas.settings import FAKE_SERVER_KEY_ENV
from bench.testing.faults import (
    CUT_IN_HALF,
    FAULTS,
    FaultLog,
    calls_in_text,
    draw_fault,
    half,
    parse_faults,
)
from bench.testing.prefix_cache import PrefixCache

__all__ = ["FAULTS", "FakeServer", "FakeServerConfig", "Reply", "ToolCallReply",
           "running_fake_server", "serve"]  # fmt: skip
DEFAULT_SERVED_NAME = "fake"
READY_LINE_PREFIX = "fake-server listening on "


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


# --------------------------------------------------------------------------- reply policy


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


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content")).lower()
    return ""


def _answered_tool(messages: list[dict[str, Any]]) -> str | None:
    """Name of the tool whose result is the last message (None when it is not a tool result)."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    last = messages[-1]
    calls: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") == "assistant" and message.get("tool_calls"):
            calls = message["tool_calls"]
            break
    for call in calls:
        if call.get("id") and call.get("id") == last.get("tool_call_id"):
            return str(call.get("function", {}).get("name"))
    if last.get("name"):
        return str(last["name"])
    return str(calls[-1].get("function", {}).get("name")) if calls else ""


def builtin_reply(request: dict[str, Any]) -> Reply:
    """The rule used when the tiny model's script cannot be imported."""
    messages = request.get("messages") or []
    answered = _answered_tool(messages)
    if answered is not None:
        if answered == "get_current_time":
            return Reply(text="The current time is ready for you.")
        return Reply(text="Here is the weather report you asked for.")
    user = _last_user_text(messages)
    if request.get("tools"):
        for city in ("london", "paris"):
            if "weather" in user and city in user:
                return Reply(tool_calls=[ToolCallReply("get_weather", {"city": city.title()})])
        if "time" in user and "tokyo" in user:
            return Reply(tool_calls=[ToolCallReply("get_current_time", {"city": "Tokyo"})])
    return Reply(text="Hello! Ask me about the weather or the time in a city.")


def _tiny_script_policy() -> ReplyPolicy | None:
    """A policy that evaluates the tiny model's case table in Python, if the table exists."""
    try:
        from bench.models.tiny_script import TINY_CASES
    except Exception:  # the tiny model is optional for the fake
        return None

    def reply(request: dict[str, Any]) -> Reply:
        messages = request.get("messages") or []
        answered = _answered_tool(messages)
        user = _last_user_text(messages)
        tools = bool(request.get("tools"))
        for case in TINY_CASES:
            cond = case.condition
            if cond.kind == "after_tool":
                hit = (
                    answered is not None
                    and (cond.tool is None or cond.tool == answered)
                    and all(k.lower() in user for k in cond.keywords)
                )
            elif cond.kind == "no_tools":
                hit = not tools
            elif cond.kind == "keywords":
                hit = all(k.lower() in user for k in cond.keywords)
            else:
                hit = True
            if hit:
                if case.content is not None:
                    return Reply(text=case.content)
                return Reply(
                    tool_calls=[ToolCallReply(c.name, dict(c.arguments)) for c in case.calls]
                )
        return builtin_reply(request)

    return reply


_JUDGE_FIELDS = re.compile(
    r'"agent response": (.*?),\n\s*"reference response": (.*?),\n\}', re.S | re.I
)


def judge_reply(request: dict[str, Any]) -> Reply | None:
    """Answers ADK's final_response_match_v2 judge prompt: valid when the texts are equal.

    A deterministic stand-in for a judge model, so judge metrics can be tested end to end.
    """
    text = _last_user_text(request.get("messages") or [])
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


# --------------------------------------------------------------------------- tokens

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


def tool_call_deltas(calls: list[ToolCallReply], n_tokens: int | None) -> list[dict[str, Any]]:
    """vLLM-style streamed tool-call deltas: a header per call, then argument pieces."""
    deltas: list[dict[str, Any]] = []
    per_call = None if n_tokens is None else max(1, n_tokens // len(calls) - 1)
    for index, call in enumerate(calls):
        args = json.dumps(call.arguments)
        deltas.append(
            {
                "index": index,
                "id": f"chatcmpl-tool-{uuid.uuid4().hex[:16]}",
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
        )
        pieces = _pieces(args, per_call if per_call is not None else max(1, len(args) // 6))
        deltas.extend({"index": index, "function": {"arguments": p}} for p in pieces)
    return deltas


def estimate_prompt_tokens(request: dict[str, Any]) -> int:
    size = len(json.dumps(request.get("messages") or [])) + len(
        json.dumps(request.get("tools") or [])
    )
    return max(1, size // 4)


# --------------------------------------------------------------------------- server


@dataclass
class FakeServerConfig:
    served_model_name: str = DEFAULT_SERVED_NAME
    api_key: str | None = field(default=None, repr=False)
    latency_ms: float = 0.0
    latency_per_inflight_ms: float = (
        0.0  # load-dependent latency: x requests in flight (incl. this)
    )
    ttft_ms: float = 0.0
    itl_ms: float = 0.0
    tokens: int | None = None
    tool_name_tokens: int = 0  # tokens of a tool-call reply streamed as nothing (parser lag)
    # a thinking model behind a reasoning parser: this many reasoning tokens before each reply
    # (one `reasoning` delta each, itl_ms apart), counted in usage.completion_tokens_details;
    # none for a request with chat_template_kwargs enable_thinking false
    reasoning_tokens: int = 0
    fail_rate: float = 0.0
    fault: str = "500"  # one fault or several, comma-separated (bench.testing.faults)
    fault_log: str | None = None  # JSONL file: every fault given, with the request's headers
    # only requests that see more than this many requests in flight (their own included) can fail
    fault_above_inflight: int | None = None
    stall_s: float = 300.0
    seed: int | None = None
    # report usage.prompt_tokens_details.cached_tokens from a simulated prefix cache, as vLLM
    # does with --enable-prompt-tokens-details; False: like a server that does not
    prompt_tokens_details: bool = True
    record_headers: str | None = None  # JSONL file: the headers of every chat request
    # JSONL file: every chat request's body as received, one per line (keys travel in headers)
    record_bodies: str | None = None
    no_auto_tool_choice: bool = False  # answer 400 to tool_choice "auto", as vLLM does without
    # --enable-auto-tool-choice


# Never written by --record-headers: credentials.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key",
                             "api-key"})  # fmt: skip


class _Metrics:
    def __init__(self) -> None:
        self.running = 0
        self.requests = 0
        self.success: dict[str, int] = {}
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.faults: dict[str, int] = {}
        self.e2e_sum_s = 0.0
        self.ttft_sum_s = 0.0
        self.ttft_count = 0
        self.tpot_sum_s = 0.0  # vLLM's request_time_per_output_token: decode time / (tokens - 1)
        self.tpot_count = 0

    def render(self, model: str) -> str:
        label = f'model_name="{model}"'
        lines = [
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{{{label}}} {self.running}",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{{{label}}} 0",
            "# TYPE vllm:prompt_tokens_total counter",
            f"vllm:prompt_tokens_total{{{label}}} {self.prompt_tokens}",
            "# TYPE vllm:generation_tokens_total counter",
            f"vllm:generation_tokens_total{{{label}}} {self.generation_tokens}",
            "# TYPE vllm:request_success_total counter",
        ]
        for reason, n in sorted(self.success.items()):
            lines.append(f'vllm:request_success_total{{finished_reason="{reason}",{label}}} {n}')
        lines += [
            "# TYPE vllm:e2e_request_latency_seconds histogram",
            f'vllm:e2e_request_latency_seconds_bucket{{le="+Inf",{label}}} {sum(self.success.values())}',
            f"vllm:e2e_request_latency_seconds_sum{{{label}}} {self.e2e_sum_s}",
            f"vllm:e2e_request_latency_seconds_count{{{label}}} {sum(self.success.values())}",
            "# TYPE vllm:time_to_first_token_seconds histogram",
            f'vllm:time_to_first_token_seconds_bucket{{le="+Inf",{label}}} {self.ttft_count}',
            f"vllm:time_to_first_token_seconds_sum{{{label}}} {self.ttft_sum_s}",
            f"vllm:time_to_first_token_seconds_count{{{label}}} {self.ttft_count}",
            "# TYPE vllm:request_time_per_output_token_seconds histogram",
            f'vllm:request_time_per_output_token_seconds_bucket{{le="+Inf",{label}}} {self.tpot_count}',
            f"vllm:request_time_per_output_token_seconds_sum{{{label}}} {self.tpot_sum_s}",
            f"vllm:request_time_per_output_token_seconds_count{{{label}}} {self.tpot_count}",
            "# TYPE fake:requests_total counter",
            f"fake:requests_total{{{label}}} {self.requests}",
            "# TYPE fake:faults_total counter",
        ]
        for fault, n in sorted(self.faults.items()):
            lines.append(f'fake:faults_total{{fault="{fault}",{label}}} {n}')
        return "\n".join(lines) + "\n"


async def _sleep_ms(ms: float) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000.0)


async def _first_token_after(since: float, ttft_ms: float) -> None:
    """Sleep until `ttft_ms` after `since`: the server's own work on the request (choosing the
    reply, sending headers) comes out of the TTFT instead of adding to it, so it is the truth."""
    await _sleep_ms(ttft_ms - (time.monotonic() - since) * 1000.0)


def _reset_connection(request: web.Request) -> None:
    """Close the TCP connection with RST (SO_LINGER 0), as a crashed peer would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class FakeServer:
    """The aiohttp application and its state; `build_app()` for embedding, `serve()` to run."""

    def __init__(self, config: FakeServerConfig, reply_for: ReplyPolicy | None = None):
        self.config = config
        self.reply_for = reply_for or default_policy()
        self.metrics = _Metrics()
        self.prefix_cache = PrefixCache()
        self._rng = random.Random(config.seed)
        self.faults = parse_faults(config.fault)
        self.fault_log = FaultLog(config.fault_log)
        self._peak_inflight: dict[int, int] = {}  # per request in flight: the most it saw
        self._next_key = 0
        # `--served-model-name a b`, as vLLM takes it: every name is listed and answered.
        self.served_names = config.served_model_name.split()

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.prometheus)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        return app

    # ---- helpers

    def _authorized(self, request: web.Request) -> bool:
        if not self.config.api_key:
            return True
        return request.headers.get("Authorization", "") == f"Bearer {self.config.api_key}"

    @staticmethod
    def _error(status: int, message: str, kind: str) -> web.Response:
        body = {"object": "error", "message": message, "type": kind, "param": None, "code": status}
        return web.json_response(body, status=status)

    def _arrive(self) -> int:
        """Count a request in flight; its key into `_peak_inflight`."""
        self.metrics.running += 1
        self._next_key += 1
        self._peak_inflight[self._next_key] = 0
        for key in self._peak_inflight:  # every request in flight now sees one more
            self._peak_inflight[key] = max(self._peak_inflight[key], self.metrics.running)
        return self._next_key

    def _leave(self, key: int) -> None:
        self.metrics.running -= 1
        self._peak_inflight.pop(key, None)

    def _pick_fault(self, reply: Reply, key: int, request: web.Request) -> str | None:
        """The fault this request gets, if any; counted in `fake:faults_total` and logged."""
        above = self.config.fault_above_inflight
        # the most requests in flight while this one was (not the count at the draw: the others
        # may just have finished)
        if above is not None and self._peak_inflight.get(key, 0) <= above:
            return None
        fault = draw_fault(self._rng, self.config.fail_rate, self.faults, bool(reply.tool_calls))
        if fault is not None:
            self.metrics.faults[fault] = self.metrics.faults.get(fault, 0) + 1
            headers = {k: v for k, v in request.headers.items()
                       if k.lower() not in _SECRET_HEADERS}  # fmt: skip
            self.fault_log.write(fault, [c.name for c in reply.tool_calls], headers)
        return fault

    # ---- endpoints

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(
            text=self.metrics.render(self.served_names[0]),
            content_type="text/plain",
            charset="utf-8",
        )

    async def models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Unauthorized", "Unauthorized")
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": name,
                        "object": "model",
                        "created": int(time.time()),
                        "owned_by": "vllm",
                        "root": name,
                        "max_model_len": 4096,
                    }
                    for name in self.served_names
                ],
            }
        )

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._error(401, "Unauthorized", "Unauthorized")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._error(400, "request body is not JSON", "BadRequestError")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error(400, "'messages' must be a list", "BadRequestError")
        if body.get("model") not in self.served_names:
            # vLLM's answer to a name it does not serve (serving_engine._check_model).
            return self._error(
                404, f"The model `{body.get('model')}` does not exist.", "NotFoundError"
            )

        if self.config.record_headers:
            self._record_headers(request)
        if self.config.record_bodies:
            await self._record_body(request)
        if (
            self.config.no_auto_tool_choice
            and body.get("tools")
            and (body.get("tool_choice") in (None, "auto"))
        ):
            # vLLM's answer (serving_chat) when the server runs without --enable-auto-tool-choice
            return self._error(
                400,
                '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
                "BadRequestError",
            )
        self.metrics.requests += 1
        key = self._arrive()
        started = time.monotonic()
        try:
            await _sleep_ms(
                self.config.latency_ms + self.config.latency_per_inflight_ms * self.metrics.running
            )
            prefill_from = time.monotonic()  # the TTFT counts from here (after --latency-ms)
            reply = self.reply_for(body)
            fault = self._pick_fault(reply, key, request)
            if fault == "500":
                return self._error(500, "injected fault", "InternalServerError")
            if fault == "stall":
                await asyncio.sleep(self.config.stall_s)
                return self._error(500, "stalled", "InternalServerError")
            if fault in ("unparsed", "text-call"):
                reply = Reply(text=calls_in_text(reply.tool_calls, fault == "text-call"))
            if body.get("stream"):
                return await self._stream(request, body, reply, fault, started, prefill_from)
            if fault == "reset":
                _reset_connection(request)
                return web.Response(status=500)
            if fault == "malformed":
                return web.Response(
                    text='{"id": "chatcmpl-broken", "choices": [', content_type="application/json"
                )
            return await self._complete(body, reply, fault, started, prefill_from)
        finally:
            self._leave(key)

    def _record_headers(self, request: web.Request) -> None:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS}
        assert self.config.record_headers is not None
        with open(self.config.record_headers, "a") as out:
            out.write(json.dumps({"at": time.time(), "headers": headers}) + "\n")

    async def _record_body(self, request: web.Request) -> None:
        """The body's bytes as sent, so two clients' requests compare byte for byte; a newline
        in JSON is whitespace (strings escape theirs), so a space keeps it one JSON line."""
        raw = await request.read()  # aiohttp caches the body: .json() read the same bytes
        assert self.config.record_bodies is not None
        with open(self.config.record_bodies, "ab") as out:
            out.write(raw.replace(b"\r", b" ").replace(b"\n", b" ") + b"\n")

    def _account(
        self, body: dict[str, Any], completion_tokens: int, reason: str, started: float
    ) -> dict[str, Any]:
        prompt_tokens = estimate_prompt_tokens(body)
        self.metrics.prompt_tokens += prompt_tokens
        self.metrics.generation_tokens += completion_tokens
        self.metrics.success[reason] = self.metrics.success.get(reason, 0) + 1
        self.metrics.e2e_sum_s += time.monotonic() - started
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if self.config.prompt_tokens_details:
            cached = self.prefix_cache.lookup_and_store(body, prompt_tokens)
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        return usage

    def _thought(self, body: dict[str, Any]) -> list[str]:
        """The reasoning tokens of this request's reply (none with thinking switched off)."""
        kwargs = body.get("chat_template_kwargs") or {}
        if not self.config.reasoning_tokens or kwargs.get("enable_thinking") is False:
            return []
        return [f"thought{i} " for i in range(self.config.reasoning_tokens)]

    def _reasoning_usage(self, usage: dict[str, Any], thought: list[str]) -> dict[str, Any]:
        if self.config.reasoning_tokens:  # a server with a reasoning parser reports the count
            usage["completion_tokens_details"] = {"reasoning_tokens": len(thought)}
        return usage

    def _account_tpot(self, first_token: float, n_tokens: int) -> None:
        if n_tokens > 1:
            self.metrics.tpot_sum_s += (time.monotonic() - first_token) / (n_tokens - 1)
            self.metrics.tpot_count += 1

    async def _complete(
        self, body: dict[str, Any], reply: Reply, fault: str | None, started: float,
        prefill_from: float,
    ) -> web.Response:  # fmt: skip
        cut = fault in CUT_IN_HALF  # half the reply, then finish "error" or "length"
        if fault == "empty":
            message: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": []}
            n_tokens, reason = 1, "stop"
        elif reply.tool_calls:
            deltas = tool_call_deltas(reply.tool_calls, self.config.tokens)
            n_tokens = len(deltas)
            calls = []
            for c in reply.tool_calls:
                arguments = json.dumps(c.arguments)
                calls.append({
                    "id": f"chatcmpl-tool-{uuid.uuid4().hex[:16]}",
                    "type": "function",
                    "function": {"name": c.name,
                                 "arguments": arguments[: half(len(arguments))] if cut else arguments},
                })  # fmt: skip
            message = {"role": "assistant", "content": None, "tool_calls": calls}
            reason = "tool_calls"
            n_tokens += self.config.tool_name_tokens
        else:
            tokens = text_tokens(reply.text or "", self.config.tokens)
            tokens = tokens[: half(len(tokens))] if cut else tokens
            n_tokens = len(tokens)
            message = {"role": "assistant", "content": "".join(tokens), "tool_calls": []}
            reason = "stop"
        if cut:
            assert fault is not None
            reason = CUT_IN_HALF[fault]
        thought = self._thought(body)
        if thought:
            message["reasoning"] = "".join(thought)
            n_tokens += len(thought)
        await _first_token_after(prefill_from, self.config.ttft_ms)
        first_token = time.monotonic()
        self.metrics.ttft_sum_s += first_token - started
        self.metrics.ttft_count += 1
        await _sleep_ms(self.config.itl_ms * max(0, n_tokens - 1))
        self._account_tpot(first_token, n_tokens)
        usage = self._reasoning_usage(self._account(body, n_tokens, reason, started), thought)
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.config.served_model_name,
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
                ],
                "usage": usage,
            }
        )

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        reply: Reply,
        fault: str | None,
        started: float,
        prefill_from: float,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        model = body.get("model") or self.config.served_model_name

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload: dict[str, Any] = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        hidden = 0  # tokens generated but streamed as nothing (a tool parser's lag)
        deltas: list[dict[str, Any]]
        if reply.tool_calls:
            deltas = [
                {"tool_calls": [d]} for d in tool_call_deltas(reply.tool_calls, self.config.tokens)
            ]
            reason = "tool_calls"
            hidden = self.config.tool_name_tokens
        else:
            deltas = [{"content": t} for t in text_tokens(reply.text or "", self.config.tokens)]
            reason = "stop"
        if fault in CUT_IN_HALF:  # half the reply, then finish "error" or "length"
            deltas, reason = deltas[: half(len(deltas))], CUT_IN_HALF[fault]
        elif fault == "empty":  # no text, no call: only the role chunk, then "stop"
            deltas, reason, hidden = [], "stop", 0
        thought = self._thought(body)
        reply_from = len(thought)  # the reply's first delta comes after the thought's
        deltas = [{"reasoning": t} for t in thought] + deltas
        first_token = started
        if not deltas:
            await _first_token_after(prefill_from, self.config.ttft_ms)
            first_token = time.monotonic()
            self.metrics.ttft_sum_s += first_token - started
            self.metrics.ttft_count += 1
            await response.write(chunk({"role": "assistant", "content": ""}))
        for i, delta in enumerate(deltas):
            if i == 0:
                # vLLM sends the role chunk only with the first generated token.
                await _first_token_after(prefill_from, self.config.ttft_ms)
                first_token = time.monotonic()
                self.metrics.ttft_sum_s += first_token - started
                self.metrics.ttft_count += 1
                await response.write(chunk({"role": "assistant", "content": ""}))
            else:
                await _sleep_ms(self.config.itl_ms)
            if i == reply_from:  # a tool parser streams nothing until it knows the name
                await _sleep_ms(self.config.itl_ms * hidden)
            if fault == "reset" and i == len(deltas) // 2:
                _reset_connection(request)
                return response
            if fault == "malformed" and i == len(deltas) // 2:
                await response.write(b'data: {"id": "broken", "choices": [{"delta": \n\n')
                continue
            await response.write(chunk(delta))
        await response.write(chunk({}, reason))
        n_tokens = max(1, len(deltas) + hidden)  # an empty reply still generated its end token
        self._account_tpot(first_token, n_tokens)
        usage = self._reasoning_usage(self._account(body, n_tokens, reason, started), thought)
        if (body.get("stream_options") or {}).get("include_usage"):
            payload: dict[str, Any] = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            await response.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


# --------------------------------------------------------------------------- running it


async def _serve_async(
    server: FakeServer, host: str, port: int, ready: Callable[[int], None]
) -> None:
    runner = web.AppRunner(server.build_app(), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr,attr-defined]
    bound = sockets[0].getsockname()[1] if sockets else port
    ready(int(bound))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def serve(
    config: FakeServerConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    reply_for: ReplyPolicy | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Run the fake server until interrupted. `ready(port)` is called once it listens."""

    def announce(bound: int) -> None:
        print(f"{READY_LINE_PREFIX}http://{host}:{bound}", flush=True)
        if ready:
            ready(bound)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_async(FakeServer(config, reply_for), host, port, announce))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fake-server", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 = a free port (printed)")
    p.add_argument(
        "--served-model-name",
        nargs="+",
        default=[DEFAULT_SERVED_NAME],
        help="names listed on /v1/models; any other model name gets 404, as from vLLM",
    )
    p.add_argument("--api-key-env", default=None, help="env var holding the API key to require")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    p.add_argument(
        "--latency-per-inflight-ms",
        type=float,
        default=0.0,
        help="added per request in flight (this one included): latency grows with load",
    )
    p.add_argument("--ttft-ms", type=float, default=0.0, help="time to the first token")
    p.add_argument("--itl-ms", type=float, default=0.0, help="time between tokens")
    p.add_argument("--tokens", type=int, default=None, help="tokens per reply (default: natural)")
    p.add_argument(
        "--tool-name-tokens",
        type=int,
        default=0,
        help="tool-call replies: tokens generated before the first streamed tool-call delta "
        "(vLLM's tool parsers stream nothing until they know the name)",
    )
    p.add_argument(
        "--reasoning-tokens",
        type=int,
        default=0,
        help="a thinking model: reasoning deltas before each reply, itl-ms apart, reported in "
        "usage.completion_tokens_details (none when the request sets enable_thinking false)",
    )
    p.add_argument("--fail-rate", type=float, default=0.0, help="fraction of requests that fail")
    p.add_argument(
        "--fault",
        type=_fault_list,
        default="500",
        help=f"what a failing request gets, one of {', '.join(FAULTS)}, or several "
        "comma-separated (each failing request draws one that fits its reply); see "
        "bench.testing.faults",
    )
    p.add_argument(
        "--fault-log",
        default=None,
        metavar="FILE",
        help="append each fault given as a JSON line (fault, the reply it replaced, the "
        "request's headers without credentials): the truth a test compares against",
    )
    p.add_argument(
        "--fault-above-inflight",
        type=int,
        default=None,
        metavar="N",
        help="draw faults only for requests that saw more than N requests in flight (their own "
        "included) before the draw: a fault that appears only under load",
    )
    p.add_argument("--stall-s", type=float, default=300.0, help="how long a stalled request hangs")
    p.add_argument("--seed", type=int, default=None, help="seed of the fault draw")
    p.add_argument(
        "--no-prompt-tokens-details",
        dest="prompt_tokens_details",
        action="store_false",
        help="leave out usage.prompt_tokens_details.cached_tokens (like a server without "
        "--enable-prompt-tokens-details)",
    )
    p.add_argument(
        "--record-headers",
        default=None,
        metavar="FILE",
        help="append each chat request's headers (credentials left out) as JSONL",
    )
    p.add_argument(
        "--record-bodies",
        default=None,
        metavar="FILE",
        help="append each chat request's body as received, one JSON line each (compare what "
        "clients send)",
    )
    p.add_argument(
        "--no-auto-tool-choice",
        action="store_true",
        help="answer 400 to tool_choice auto, as vLLM without --enable-auto-tool-choice",
    )
    return p


def _fault_list(text: str) -> str:
    try:
        return ",".join(parse_faults(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def config_from_args(args: argparse.Namespace) -> FakeServerConfig:
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise SystemExit(f"--api-key-env: environment variable {args.api_key_env} is not set")
    if not 0.0 <= args.fail_rate <= 1.0:
        raise SystemExit("--fail-rate must be between 0 and 1")
    if args.tool_name_tokens < 0:
        raise SystemExit("--tool-name-tokens must be 0 or more")
    if args.fault_above_inflight is not None and args.fault_above_inflight < 0:
        raise SystemExit("--fault-above-inflight must be 0 or more")
    return FakeServerConfig(
        served_model_name=" ".join(args.served_model_name),
        api_key=api_key,
        latency_ms=args.latency_ms,
        latency_per_inflight_ms=args.latency_per_inflight_ms,
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        tokens=args.tokens,
        tool_name_tokens=args.tool_name_tokens,
        reasoning_tokens=args.reasoning_tokens,
        fail_rate=args.fail_rate,
        fault=args.fault,
        fault_log=args.fault_log,
        fault_above_inflight=args.fault_above_inflight,
        stall_s=args.stall_s,
        seed=args.seed,
        prompt_tokens_details=args.prompt_tokens_details,
        record_headers=args.record_headers,
        record_bodies=args.record_bodies,
        no_auto_tool_choice=args.no_auto_tool_choice,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    serve(config_from_args(args), host=args.host, port=args.port)
    return 0


_SWITCHES_ON_BY_DEFAULT = frozenset({"prompt_tokens_details"})
_KNOB_FLAGS = {
    "served_model_name": "--served-model-name",
    "latency_ms": "--latency-ms",
    "latency_per_inflight_ms": "--latency-per-inflight-ms",
    "ttft_ms": "--ttft-ms",
    "itl_ms": "--itl-ms",
    "tokens": "--tokens",
    "tool_name_tokens": "--tool-name-tokens",
    "reasoning_tokens": "--reasoning-tokens",
    "fail_rate": "--fail-rate",
    "fault": "--fault",
    "fault_log": "--fault-log",
    "fault_above_inflight": "--fault-above-inflight",
    "stall_s": "--stall-s",
    "seed": "--seed",
    "prompt_tokens_details": "--no-prompt-tokens-details",  # a switch: given when False
    "record_headers": "--record-headers",
    "record_bodies": "--record-bodies",
    "no_auto_tool_choice": "--no-auto-tool-choice",
}


@contextlib.contextmanager
def running_fake_server(
    *, api_key: str | None = None, startup_timeout_s: float = 20.0, **knobs: Any
) -> Iterator[str]:
    """Start the fake server in a child process on a free loopback port; yield its base URL.

    The child runs `python -m bench.testing.fake_server` so its CPU time is not the caller's.
    `api_key` reaches it through an environment variable, never the command line.
    """
    argv = [sys.executable, "-m", "bench.testing.fake_server", "--port", "0"]
    for name, value in knobs.items():
        if name not in _KNOB_FLAGS:
            raise TypeError(f"running_fake_server: unknown knob {name!r}")
        if isinstance(value, bool):  # a switch: given when the value is not its default
            if value != (name in _SWITCHES_ON_BY_DEFAULT):
                argv.append(_KNOB_FLAGS[name])
        elif value is not None:
            argv += [_KNOB_FLAGS[name], str(value)]
    env = dict(os.environ)
    if api_key:
        env[FAKE_SERVER_KEY_ENV] = api_key
        argv += ["--api-key-env", FAKE_SERVER_KEY_ENV]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    url_box: list[str] = []
    lines: list[str] = []

    def read_output() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not url_box and line.startswith(READY_LINE_PREFIX):
                url_box.append(line[len(READY_LINE_PREFIX) :].strip())
            elif len(lines) < 200:
                lines.append(line.rstrip())

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    deadline = time.monotonic() + startup_timeout_s
    try:
        while not url_box:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fake server did not start:\n" + "\n".join(lines[-20:]))
            time.sleep(0.02)
        yield url_box[0]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


if __name__ == "__main__":
    sys.exit(main())
