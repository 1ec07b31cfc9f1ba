"""Tool time per call: the `--tool-latency` delay, slept around the agent's real tool call.

A plugin's before-tool callback sleeps the drawn delay with `asyncio.sleep` (the load process's
event loop keeps serving other sessions) and returns None, so ADK then runs the real tool and its
result reaches the model unchanged. The after-tool (or tool-error) callback notes how long the
call took from the start of the delay. Each turn collects its calls in a `ToolTurn` set by the
session layer (`TOOL_TURN`); the turn record gets them per call and summed.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from google.adk.plugins.base_plugin import BasePlugin

from bench.schemas.tool_latency import ToolLatency


@dataclass
class ToolTurn:
    """The tool calls of one turn; `key` names the turn for the seeded draws."""

    key: str
    timings: list[dict[str, Any]] = field(default_factory=list)  # [{name, injected_ms, tool_ms}]
    _started: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    _count: int = 0

    def start(self, call_id: str, injected_s: float) -> None:
        self._started[call_id] = (time.perf_counter(), injected_s, self._count)
        self._count += 1

    def next_number(self) -> int:
        return self._count

    def end(self, call_id: str, name: str) -> None:
        begun = self._started.pop(call_id, None)
        if begun is None:
            return
        t0, injected_s, number = begun
        self.timings.append({"name": name, "number": number,
                             "injected_ms": injected_s * 1000.0,
                             "tool_ms": (time.perf_counter() - t0) * 1000.0})  # fmt: skip

    @property
    def injected_ms(self) -> float:
        return sum(t["injected_ms"] for t in self.timings)

    @property
    def tool_ms(self) -> float:
        return sum(t["tool_ms"] for t in self.timings)

    def per_call(self) -> list[dict[str, Any]]:
        """In call order (parallel calls may end in another order)."""
        return sorted(self.timings, key=lambda t: t["number"])


TOOL_TURN: contextvars.ContextVar[ToolTurn | None] = contextvars.ContextVar(
    "bench_tool_turn", default=None
)


def _call_id(tool_context: Any) -> str:
    return str(getattr(tool_context, "function_call_id", None) or id(tool_context))


def _end_call(tool: Any, tool_context: Any) -> None:
    """A tool call ended, with a result or an error: close its timing in the current turn."""
    turn = TOOL_TURN.get()
    if turn is not None:
        turn.end(_call_id(tool_context), str(getattr(tool, "name", "?")))


class ToolTimingPlugin(BasePlugin):
    """Times every tool call; with a ToolLatency, sleeps its delay first. Never answers a call."""

    def __init__(self, latency: ToolLatency | None = None) -> None:
        super().__init__(name="bench_tool_timing")
        self.latency = latency

    async def before_tool_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any
    ) -> None:
        turn = TOOL_TURN.get()
        if turn is None:
            return None
        name = str(getattr(tool, "name", "?"))
        delay_s = 0.0
        if self.latency is not None:
            delay_s = self.latency.delay_s(name, f"{turn.key}:{turn.next_number()}")
        turn.start(_call_id(tool_context), delay_s)
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        return None

    async def after_tool_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, result: Any
    ) -> None:
        _end_call(tool, tool_context)
        return None

    async def on_tool_error_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, error: Exception
    ) -> None:
        _end_call(tool, tool_context)
        return None
