from __future__ import annotations

from google.adk.agents import LlmAgent, SequentialAgent
from google.adk.tools.agent_tool import AgentTool

from bench.agent.model_override import iter_agents, override_models


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
