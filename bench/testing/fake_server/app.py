"""The HTTP app: the parts of vLLM's API that bench uses, answered from a reply policy.

`/health`, `/v1/models`, `/v1/chat/completions` (streaming and not) and `/metrics`; errors in
vLLM's shape and wording, so bench meets the same answers as from a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from bench.testing.fake_server.completion import Completion, sleep_ms
from bench.testing.fake_server.faults import FaultInjector, calls_in_text
from bench.testing.fake_server.metrics import ServerMetrics
from bench.testing.fake_server.policy import Reply, ReplyPolicy, default_policy
from bench.testing.fake_server.settings import FakeServerConfig
from bench.testing.fake_server.streaming import reset_connection, stream
from bench.testing.prefix_cache import PrefixCache

READY_LINE_PREFIX = "fake-server listening on "
# Never written by --record-headers or --fault-log: credentials.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key",
                             "api-key"})  # fmt: skip
# vLLM's answer (serving_chat) when the server runs without --enable-auto-tool-choice
_NO_AUTO_TOOL_CHOICE = (
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
)


def public_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}


def error_response(status: int, message: str, kind: str) -> web.Response:
    body = {"object": "error", "message": message, "type": kind, "param": None, "code": status}
    return web.json_response(body, status=status)


class FakeServer:
    """The aiohttp application and its state; `build_app()` for embedding, `serve()` to run."""

    def __init__(self, config: FakeServerConfig, reply_for: ReplyPolicy | None = None):
        self.config = config
        self.reply_for = reply_for or default_policy()
        self.metrics = ServerMetrics()
        self.prefix_cache = PrefixCache()
        self.faults = FaultInjector(config.fail_rate, config.fault, config.seed,
                                    config.fault_above_inflight, config.fault_log)  # fmt: skip
        self.served_names = config.served_model_name.split()

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.prometheus)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        return app

    def _authorized(self, request: web.Request) -> bool:
        if not self.config.api_key:
            return True
        return request.headers.get("Authorization", "") == f"Bearer {self.config.api_key}"

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def prometheus(self, request: web.Request) -> web.Response:
        text = self.metrics.render(self.served_names[0])
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return error_response(401, "Unauthorized", "Unauthorized")
        created = int(time.time())
        return web.json_response({"object": "list", "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "vllm", "root": name,
             "max_model_len": 4096}
            for name in self.served_names
        ]})  # fmt: skip

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return error_response(401, "Unauthorized", "Unauthorized")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error_response(400, "request body is not JSON", "BadRequestError")
        refused = self._refusal(body)
        if refused is not None:
            return refused
        await self._record(request)
        if (
            self.config.no_auto_tool_choice
            and body.get("tools")
            and (body.get("tool_choice") in (None, "auto"))
        ):
            return error_response(400, _NO_AUTO_TOOL_CHOICE, "BadRequestError")
        self.metrics.requests += 1
        self.metrics.running += 1
        key = self.faults.arrive(self.metrics.running)
        try:
            return await self._answer(request, body, key)
        finally:
            self.metrics.running -= 1
            self.faults.leave(key)

    def _refusal(self, body: Any) -> web.Response | None:
        """vLLM's answer to a request it does not take, or None."""
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return error_response(400, "'messages' must be a list", "BadRequestError")
        if body.get("model") not in self.served_names:  # serving_engine._check_model
            message = f"The model `{body.get('model')}` does not exist."
            return error_response(404, message, "NotFoundError")
        return None

    async def _answer(self, request: web.Request, body: dict[str, Any],
                      key: int) -> web.StreamResponse:  # fmt: skip
        started = time.monotonic()
        inflight_ms = self.config.latency_per_inflight_ms * self.metrics.running
        await sleep_ms(self.config.latency_ms + inflight_ms)
        prefill_from = time.monotonic()  # the TTFT counts from here (after --latency-ms)
        reply = self.reply_for(body)
        fault = self.faults.pick(key, [c.name for c in reply.tool_calls],
                                 public_headers(request.headers))  # fmt: skip
        if fault is not None:
            self.metrics.fault_given(fault)
        if fault == "500":
            return error_response(500, "injected fault", "InternalServerError")
        if fault == "stall":
            await asyncio.sleep(self.config.stall_s)
            return error_response(500, "stalled", "InternalServerError")
        if fault in ("unparsed", "text-call"):
            reply = Reply(text=calls_in_text(reply.tool_calls, fault == "text-call"))
        completion = Completion(self.config, self.metrics, self.prefix_cache, body, reply, fault,
                                started, prefill_from)  # fmt: skip
        if body.get("stream"):
            return await stream(request, completion)
        if fault == "reset":
            reset_connection(request)
            return web.Response(status=500)
        if fault == "malformed":
            broken = '{"id": "chatcmpl-broken", "choices": ['
            return web.Response(text=broken, content_type="application/json")
        return await completion.json_response()

    async def _record(self, request: web.Request) -> None:
        """--record-headers (credentials left out) and --record-bodies: one JSON line each."""
        if self.config.record_headers:
            line = json.dumps({"at": time.time(), "headers": public_headers(request.headers)})
            with open(self.config.record_headers, "a") as out:
                out.write(line + "\n")
        if self.config.record_bodies:
            # the body's bytes as sent, so two clients' requests compare byte for byte; a newline
            # in JSON is whitespace (strings escape theirs), so a space keeps it one JSON line
            raw = await request.read()  # aiohttp caches the body: .json() read the same bytes
            with open(self.config.record_bodies, "ab") as out:
                out.write(raw.replace(b"\r", b" ").replace(b"\n", b" ") + b"\n")


async def _serve_async(server: FakeServer, ready: Callable[[int], None]) -> None:
    runner = web.AppRunner(server.build_app(), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, server.config.host, server.config.port, backlog=1024)
    await site.start()
    sockets = site._server.sockets if site._server else []  # type: ignore[union-attr,attr-defined]
    ready(int(sockets[0].getsockname()[1]) if sockets else server.config.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def serve(config: FakeServerConfig, *, reply_for: ReplyPolicy | None = None,
          ready: Callable[[int], None] | None = None) -> None:  # fmt: skip
    """Run the fake server on `config.host`/`config.port` until interrupted; print the
    ready line (`READY_LINE_PREFIX` and its URL) and call `ready(port)` once it listens."""

    def announce(bound: int) -> None:
        print(f"{READY_LINE_PREFIX}http://{config.host}:{bound}", flush=True)
        if ready:
            ready(bound)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_async(FakeServer(config, reply_for), announce))
