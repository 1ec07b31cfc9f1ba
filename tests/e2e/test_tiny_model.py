"""The tiny scripted model served by a real vLLM (CPU) with the hermes tool parser.

Every row of TINY_CASES must come back exactly: tool_calls (name + parsed arguments) or
content, streaming and not, at temperature 1 and 2, and the final answer after tool results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bench.models.tiny import TINY_CASES, TINY_SERVED_NAME
from bench.models.tiny_script import TinyCase, case_by_name
from bench.server.process import Endpoint

pytestmark = pytest.mark.e2e

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "The city."}},
                "required": ["city"],
            },
        },
    }
    for name, description in (
        ("get_weather", "Returns the current weather report for a city."),
        ("get_current_time", "Returns the current local time in a city."),
    )
]


# --------------------------------------------------------------------------- helpers


def request_for(case: TinyCase) -> dict[str, Any]:
    """A chat request that must select `case` (history included for answers after a tool)."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": case.example}]
    cond = case.condition
    if cond.kind == "after_tool":
        tool = cond.tool or "get_weather"
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": tool, "arguments": json.dumps({"city": "Tokyo"})},
        }
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "success"}'},
        ]
    body: dict[str, Any] = {"model": TINY_SERVED_NAME, "messages": messages}
    if cond.kind != "no_tools":
        body |= {"tools": TOOLS, "tool_choice": "auto"}
    return body


@dataclass
class Reply:
    content: str | None
    calls: list[tuple[str, dict]]
    finish_reason: str
    chunks: int = 1
    raw_calls: list[dict] | None = None


def complete(client: httpx.Client, body: dict) -> Reply:
    r = client.post("/v1/chat/completions", json=body)
    r.raise_for_status()
    choice = r.json()["choices"][0]
    raw = choice["message"].get("tool_calls") or []
    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in raw]
    return Reply(choice["message"].get("content"), calls, choice["finish_reason"], 1, raw)


def stream(client: httpx.Client, body: dict) -> Reply:
    content, finish, chunks = "", None, 0
    calls: dict[int, dict[str, str]] = {}
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[len("data: ") :])["choices"]
            if not choices:
                continue
            delta = choices[0].get("delta") or {}
            if delta.get("content"):
                content += delta["content"]
                chunks += 1
            for tc in delta.get("tool_calls") or []:
                entry = calls.setdefault(tc["index"], {"name": "", "arguments": ""})
                fn = tc.get("function") or {}
                entry["name"] += fn.get("name") or ""
                entry["arguments"] += fn.get("arguments") or ""
                chunks += 1
            finish = choices[0].get("finish_reason") or finish
    parsed = [(c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())]
    return Reply(content or None, parsed, finish or "", chunks)


def assert_reply(reply: Reply, case: TinyCase) -> None:
    if case.calls:
        assert reply.calls == [(c.name, c.arguments) for c in case.calls]
        assert reply.finish_reason == "tool_calls"
        assert not reply.content
    else:
        assert reply.content == case.content
        assert reply.calls == []
        assert reply.finish_reason == "stop"


@pytest.fixture(scope="module")
def client(tiny_endpoint: Endpoint) -> Iterator[httpx.Client]:
    headers = tiny_endpoint.auth_headers()
    with httpx.Client(base_url=tiny_endpoint.base_url, headers=headers, timeout=120) as c:
        yield c


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("temperature", [1.0, 2.0])
@pytest.mark.parametrize("case", TINY_CASES, ids=lambda c: c.name)
def test_case_non_streaming(client: httpx.Client, case: TinyCase, temperature: float) -> None:
    assert_reply(complete(client, {**request_for(case), "temperature": temperature}), case)


@pytest.mark.parametrize("case", TINY_CASES, ids=lambda c: c.name)
def test_case_streaming(client: httpx.Client, case: TinyCase) -> None:
    reply = stream(client, {**request_for(case), "temperature": 1.0})
    assert_reply(reply, case)
    assert reply.chunks >= 2, "the reply should arrive in several chunks"


def test_content_as_text_parts(client: httpx.Client) -> None:
    """LiteLLM/ADK send content as a list of text parts."""
    case = case_by_name("paris_weather")
    body = request_for(case)
    body["messages"][0]["content"] = [{"type": "text", "text": case.example}]
    assert_reply(complete(client, {**body, "temperature": 1.0}), case)


@pytest.mark.parametrize(
    ("first", "answer"),
    [
        ("london_weather", "weather_answer"),
        ("tokyo_time", "time_answer"),
        ("madrid_time_and_weather", "weather_answer"),  # the last result answers get_weather
    ],
)
def test_full_tool_turn(client: httpx.Client, first: str, answer: str) -> None:
    """call -> tool results (with the ids vLLM returned) -> the scripted final answer."""
    body = {**request_for(case_by_name(first)), "temperature": 1.0}
    reply = complete(client, body)
    assert_reply(reply, case_by_name(first))
    assert reply.raw_calls
    messages = [
        *body["messages"],
        {"role": "assistant", "content": None, "tool_calls": reply.raw_calls},
        *(
            {"role": "tool", "tool_call_id": c["id"], "content": '{"status": "success"}'}
            for c in reply.raw_calls
        ),
    ]
    for send in (complete, stream):
        assert_reply(send(client, {**body, "messages": messages}), case_by_name(answer))


def test_repeatable(client: httpx.Client) -> None:
    case = case_by_name("madrid_time_and_weather")
    for _ in range(10):
        assert_reply(complete(client, {**request_for(case), "temperature": 2.0}), case)
