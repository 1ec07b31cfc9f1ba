"""Tool errors of a turn, seen from outside ADK: a tool that raised, a result that is a failure
(not JSON, an MCP call that failed), a toolset that could not list its tools. Each is counted on
the turn whose `CallScope` is current (bench.agent.timed_model), keyed by the scope's id."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from google.adk.plugins.base_plugin import BasePlugin

from bench.agent.timed_model import CALL_SCOPE, first_line


@dataclass
class ToolErrors:
    count: int = 0
    last: tuple[str, BaseException] | None = None
    # a result that is a failure: what JSON cannot hold (ADK str()s it), or ADK's answer for an
    # MCP call that failed (`McpTool` turns the error into an {"error": ...} result)
    failed_result: str | None = None
    toolset_lost: str | None = None  # a toolset failed to list its tools (ToolsetLossRecorder)


class ToolErrorRecorder(BasePlugin):
    """Counts tool errors of the current turn; returns None so ADK's own handling is unchanged.

    ADK (flows/llm_flows/tools/_caller.py) calls `on_tool_error_callback` for a tool that raised
    (the exception then propagates out of `Runner.run_async` unless a callback answers it) and
    for a call to an unknown tool (ADK answers it with a "tool not found" response and goes on).
    """

    def __init__(self) -> None:
        super().__init__(name="bench_tool_error_recorder")
        self.current: dict[int, ToolErrors] = {}

    async def on_tool_error_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, error: Exception
    ) -> None:
        scope = CALL_SCOPE.get()
        if scope is not None:
            errors = self.current.setdefault(id(scope), ToolErrors())
            errors.count += 1
            errors.last = (str(getattr(tool, "name", "?")), error)
        return None

    async def after_tool_callback(
        self, *, tool: Any, tool_args: dict[str, Any], tool_context: Any, result: Any
    ) -> None:
        """Results that are failures: a value JSON cannot hold (it reaches the model only as
        ADK's str() of it), and an MCP call that failed (the server died, the connection
        broke), which ADK's `McpTool` hands to the model as an {"error": ...} result."""
        scope = CALL_SCOPE.get()
        if scope is None:
            return None
        name = getattr(tool, "name", "?")
        failure = None
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            failure = (
                f"tool {name} returned a value that is not JSON-serialisable ({first_line(exc)})"
            )
        if type(tool).__name__ == "McpTool" and isinstance(result, dict):
            error = str(result.get("error") or "")
            if error.startswith(_MCP_FAILURES):
                failure = f"tool {name} failed: {error.splitlines()[0]}"
        if failure is not None:
            errors = self.current.setdefault(id(scope), ToolErrors())
            errors.count += 1
            errors.failed_result = failure
        return None


# How ADK's McpTool words a failed call it answers instead of raising (mcp_tool.py, run_async).
_MCP_FAILURES = ("MCP tool execution failed", "Unexpected error during MCP tool execution")


class ToolsetLossRecorder(logging.Filter):
    """A toolset that fails to list its tools (an MCP server that died or never started) is a
    tool error of the turn. ADK runs the agent on without that toolset's tools and logs it at
    ERROR with a traceback (`agents/llm_agent.py`): the model then answers as though the agent
    never had them, which would read as the model's mistake. The record is kept on the turn
    (and off the console); records outside a turn pass through."""

    LOGGER = "google_adk.google.adk.agents.llm_agent"
    _MARK = "will run without the tools from toolset"

    def __init__(self, recorder: ToolErrorRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def filter(self, record: logging.LogRecord) -> bool:
        scope = CALL_SCOPE.get()
        if scope is None or self._MARK not in str(record.msg):
            return True
        toolset = record.args[1] if isinstance(record.args, tuple) and len(record.args) > 2 else "?"
        cause = str(record.args[-1]) if isinstance(record.args, tuple) and record.args else ""
        errors = self.recorder.current.setdefault(id(scope), ToolErrors())
        errors.count += 1
        why = cause.strip().splitlines()[0] if cause.strip() else "no message"
        errors.toolset_lost = f"toolset {toolset} failed to list its tools: {why}"
        return False


def watch_toolset_losses(recorder: ToolErrorRecorder) -> None:
    """One ToolsetLossRecorder per process, writing to the newest bundle's recorder (a process
    runs one bundle at a time: calibration, preflight, then the load)."""
    logger = logging.getLogger(ToolsetLossRecorder.LOGGER)
    for existing in logger.filters:
        if isinstance(existing, ToolsetLossRecorder):
            existing.recorder = recorder
            return
    logger.addFilter(ToolsetLossRecorder(recorder))
