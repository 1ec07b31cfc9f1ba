"""Load an ADK agent folder as `adk` does, and point every LlmAgent in it at our model."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.errors import BenchError


def load_root_agent(agent_dir: str | Path) -> Any:
    """Import `agent_dir` as a package (its parent on sys.path) and return its `root_agent`.

    Looks in `<name>.agent.root_agent` first, then `<name>.root_agent`, like `adk run`.
    The folder's files are not modified.
    """
    from google.adk.agents import BaseAgent

    folder = Path(agent_dir).resolve()
    if not folder.is_dir():
        raise BenchError(f"agent folder {agent_dir} does not exist")
    if not ((folder / "agent.py").exists() or (folder / "__init__.py").exists()):
        raise BenchError(
            f"agent folder {folder}: no agent.py or __init__.py (not an ADK agent folder)"
        )
    parent, name = str(folder.parent), folder.name
    if not name.isidentifier():
        raise BenchError(f"agent folder {folder}: '{name}' is not a valid Python package name")
    if parent not in sys.path:
        sys.path.insert(0, parent)
    existing = sys.modules.get(name)
    if (
        existing is not None
        and Path(getattr(existing, "__file__", "") or "").resolve().parent != folder
    ):
        raise BenchError(
            f"agent folder {folder}: a different module named '{name}' is already imported "
            f"({getattr(existing, '__file__', '?')}); rename the folder"
        )
    candidates: list[Any] = []
    try:
        package = importlib.import_module(name)
    except Exception as exc:
        raise BenchError(
            f"agent folder {folder}: import failed ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    if (folder / "agent.py").exists():
        try:
            candidates.append(getattr(importlib.import_module(f"{name}.agent"), "root_agent", None))
        except Exception as exc:
            raise BenchError(
                f"agent folder {folder}: importing agent.py failed ({type(exc).__name__}: {_first_line(exc)})"
            ) from exc
    candidates.append(getattr(package, "root_agent", None))
    for candidate in candidates:
        if isinstance(candidate, BaseAgent):
            return candidate
    found = next((c for c in candidates if c is not None), None)
    if found is not None:
        raise BenchError(
            f"agent folder {folder}: root_agent is a {type(found).__name__}, not an ADK agent"
        )
    raise BenchError(f"agent folder {folder}: no root_agent in agent.py or __init__.py")


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def tool_names(root: Any) -> set[str]:
    """Names of the tools every agent in the tree can call (ADK adds transfer_to_agent for sub-agents)."""
    names: set[str] = set()
    for agent in iter_agents(root):
        for tool in getattr(agent, "tools", None) or []:
            name = getattr(tool, "name", None) or getattr(tool, "__name__", None)
            if isinstance(name, str):
                names.add(name)
        if getattr(agent, "sub_agents", None):
            names.add("transfer_to_agent")
    return names
