from __future__ import annotations

from pathlib import Path

import pytest
from google.adk.agents import LlmAgent, SequentialAgent
from google.adk.tools.agent_tool import AgentTool

from bench.agent.model_override import iter_agents, load_root_agent, override_models
from bench.constants import EVALSETS_DIR
from bench.errors import BenchError


def _tree() -> tuple[SequentialAgent, list[LlmAgent]]:
    helper = LlmAgent(name="helper", model="gemini-2.5-flash", instruction="help")
    leaf = LlmAgent(name="leaf", model="gemini-2.5-flash", instruction="leaf")
    child = LlmAgent(
        name="child", model="gemini-2.5-flash", tools=[AgentTool(agent=helper)], sub_agents=[leaf]
    )
    root = SequentialAgent(name="root", sub_agents=[child])
    return root, [child, helper, leaf]


def test_override_reaches_sub_agents_and_agent_tools() -> None:
    root, llm_agents = _tree()
    seen: list[str] = []

    def make_model(agent: LlmAgent) -> str:
        seen.append(agent.name)
        return f"hosted_vllm/{agent.name}"

    assert override_models(root, make_model) == 3
    assert sorted(seen) == ["child", "helper", "leaf"]
    for agent in llm_agents:
        assert agent.model == f"hosted_vllm/{agent.name}"
    assert [a.name for a in iter_agents(root)] == ["root", "child", "leaf", "helper"]


def test_load_root_agent_from_shipped_folder() -> None:
    agent = load_root_agent(EVALSETS_DIR / "weather_time")
    assert agent.name == "weather_time_agent"


def test_load_root_agent_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        load_root_agent(tmp_path / "missing")
    empty = tmp_path / "empty_agent"
    empty.mkdir()
    with pytest.raises(BenchError, match="empty_agent"):
        load_root_agent(empty)
    broken = tmp_path / "broken_agent_pkg"
    broken.mkdir()
    (broken / "agent.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(BenchError, match=r"broken_agent_pkg.*RuntimeError: boom"):
        load_root_agent(broken)
    no_root = tmp_path / "no_root_pkg"
    no_root.mkdir()
    (no_root / "agent.py").write_text("x = 1\n")
    with pytest.raises(BenchError, match="no root_agent"):
        load_root_agent(no_root)
