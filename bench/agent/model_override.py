"""Walk an ADK agent tree, and point every LlmAgent in it at the server under test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def iter_agents(root: Any) -> list[Any]:
    """Every agent reachable from `root`: sub_agents and agents wrapped in AgentTool, once each."""
    from google.adk.tools.agent_tool import AgentTool

    seen: set[int] = set()
    order: list[Any] = []
    stack = [root]
    while stack:
        agent = stack.pop()
        if id(agent) in seen:
            continue
        seen.add(id(agent))
        order.append(agent)
        children = list(getattr(agent, "sub_agents", None) or [])
        for tool in getattr(agent, "tools", None) or []:
            if isinstance(tool, AgentTool):
                children.append(tool.agent)
        stack.extend(reversed(children))
    return order


def override_models(root: Any, make_model: Callable[[Any], Any]) -> int:
    """Set `.model = make_model(agent)` on every LlmAgent in the tree; return how many."""
    from google.adk.agents import LlmAgent

    replaced = 0
    for agent in iter_agents(root):
        if isinstance(agent, LlmAgent):
            agent.model = make_model(agent)
            replaced += 1
    return replaced
