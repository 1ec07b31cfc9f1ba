"""One real tool-call request against a ready server: the smoke test of `serve --check` and `doctor`."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from bench.server.process import Endpoint

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Returns the current weather report for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name."}},
            "required": ["city"],
        },
    },
}


@dataclass
class ProbeResult:
    tool_calls: list[dict]
    content: str | None
    finish_reason: str | None
    latency_ms: float


def probe_tool_call(
    endpoint: Endpoint, prompt: str = "What is the weather in London?"
) -> ProbeResult:
    body = {
        "model": endpoint.served_model_name,
        "messages": [{"role": "user", "content": prompt}],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
        "max_tokens": 128,
    }
    resp = httpx.post(
        f"{endpoint.api_base}/chat/completions",
        json=body,
        headers=endpoint.auth_headers(),
        timeout=120,
    )
    resp.raise_for_status()
    choice = resp.json()["choices"][0]
    message = choice["message"]
    calls = [
        {"name": c["function"]["name"], "args": json.loads(c["function"]["arguments"] or "{}")}
        for c in message.get("tool_calls") or []
    ]
    return ProbeResult(
        calls,
        message.get("content"),
        choice.get("finish_reason"),
        resp.elapsed.total_seconds() * 1000,
    )
