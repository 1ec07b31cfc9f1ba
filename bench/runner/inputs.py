"""Everything that can be wrong with the input, checked before anything starts.

The server plan (model, vLLM environment, GPUs, port, argv) is made here once; the server
session launches exactly this plan, so the recorded argv is the launched one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.schemas.config import RunConfig
from bench.schemas.errors import BenchError
from bench.schemas.tool_latency import parse_tool_latency
from bench.server.argv import reasoning_parser_of
from bench.server.environment import detect_gpus, vllm_version
from bench.server.launch import ServerPlan, plan_server
from bench.server.process import check_port_free

if TYPE_CHECKING:  # imported where used: ADK's eval models and ADK itself take seconds
    from bench.agent.loading import LoadedAgent
    from bench.evalset import LoadedEvalSet


@dataclass
class RunInputs:
    evalset: LoadedEvalSet
    agent_dir: Path
    plan: ServerPlan | None  # None: attach to --endpoint
    known_tools: list[str]
    plan_info: dict[str, Any] = field(default_factory=dict)  # provenance of the server
    agent: LoadedAgent | None = None  # as ADK loaded it: its App, plugins and load warnings


def check_inputs(cfg: RunConfig) -> RunInputs:
    """Every input that needs no server, fastest first (a misspelt model fails in about a
    second; the eval set imports ADK's models, the agent ADK itself)."""
    plan = None if cfg.server.endpoint else plan_server(cfg.server)  # model, vLLM env, GPUs, port
    from bench.evalset import load_evalset

    evalset = load_evalset(cfg.evalset)
    from bench.agent.loading import load_agent_folder
    from bench.evalset_checks import agent_tools
    from bench.load import webui

    agent_dir = resolve_agent_dir(cfg, evalset)
    if cfg.load.web:
        webui.check_web_host(cfg.load.web_host)
        check_port_free(cfg.load.web_port, cfg.load.web_host, what="--web-port")
    agent = load_agent_folder(agent_dir)  # ADK's loader; refuses Gemini-only tools
    if cfg.agent is not None and cfg.validate_agent:
        check_pair(evalset, agent_dir)
    known_tools = sorted(agent_tools(agent_dir).tools)  # an MCP toolset's listed tools too
    for name in parse_tool_latency(cfg.load.tool_latency).per_tool:
        if name not in known_tools:
            raise BenchError(f"--tool-latency: the agent has no tool '{name}' "
                             f"(its tools: {', '.join(known_tools) or 'none'})")  # fmt: skip
    return RunInputs(evalset, agent_dir, plan, known_tools, plan_info(cfg, plan), agent)


def check_pair(evalset: LoadedEvalSet, agent_dir: Path) -> None:
    """The eval set's expected tool calls against the agent's tools and signatures (what
    `bench evalsets validate --agent` checks); a mismatch stops the run before it starts."""
    from bench.evalset_checks import validate_evalsets

    problems = [p for f in evalset.files for p in validate_evalsets(f, agent_dir).problems]
    if not problems:
        return
    unknown = sorted({m.group(1) for p in problems if (m := _UNKNOWN.match(p.message))})
    if unknown:
        has = _UNKNOWN.match(next(p.message for p in problems if _UNKNOWN.match(p.message)))
        what = (f"it expects tools the agent does not have: {', '.join(unknown)} "
                f"(the agent has: {has.group(2) if has else '?'})")  # fmt: skip
    else:
        first = problems[0]
        where = " ".join(x for x in (f"case {first.case!r}" if first.case else "",
                                     f"invocation {first.invocation}" if first.invocation else "",
                                     first.field) if x)  # fmt: skip
        what = f"{where}: {first.message}"
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    raise BenchError(f"--agent {agent_dir}: the eval set does not fit this agent ({count}); "
                     f"{what}. `bench evalsets validate {evalset.files[0]} --agent {agent_dir}` "
                     "lists them; --no-validate runs anyway")  # fmt: skip


_UNKNOWN = re.compile(r"unknown tool '([^']*)' \(the agent has: (.*)\)$")


def plan_info(cfg: RunConfig, plan: ServerPlan | None) -> dict[str, Any]:
    info: dict[str, Any] = {"endpoint_attached": bool(cfg.server.endpoint)}
    if plan is None:
        info["gpus"] = [g.__dict__ for g in detect_gpus()]
        info["weight_bytes"] = None
        return info
    info.update(
        served_model_name=plan.entry.served_model_name,
        model_source=plan.entry.hf_id or f"builder:{plan.entry.builder}",
        tool_parser=plan.entry.tool_parser,
        reasoning_parser=reasoning_parser_of(plan.entry, plan.engine),
        vllm_argv=plan.argv[3:],  # without the interpreter; holds no secret
        vllm_version=vllm_version(plan.python),
        gpus=[g.__dict__ for g in plan.gpus],
        engine_flags=plan.engine.model_dump(mode="json", exclude_none=True),
        weight_bytes=plan.entry.weight_bytes,
    )
    return info


def resolve_agent_dir(cfg: RunConfig, evalset: LoadedEvalSet) -> Path:
    from bench.agent.loading import is_agent_folder

    agent_dir = cfg.agent or evalset.agent_dir
    if agent_dir is None:
        raise BenchError(
            f"--agent: no agent folder found beside {evalset.files[0]}; give --agent DIR"
        )
    if not agent_dir.is_dir():
        raise BenchError(f"--agent: {agent_dir} is not a folder")
    if not is_agent_folder(agent_dir):
        inside = sorted(d.name for d in agent_dir.iterdir() if d.is_dir() and is_agent_folder(d))
        hint = f"; it holds agent folders ({', '.join(inside)}): give one" if inside else ""
        raise BenchError(f"--agent: {agent_dir} has no agent.py, __init__.py or root_agent.yaml"
                         f"{hint}")  # fmt: skip
    return agent_dir.resolve()
