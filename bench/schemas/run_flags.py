"""`bench run`'s flat flags (and a flat `--config` TOML file) -> one validated RunConfig.

The command line names options flat (`--users`, `--max-num-seqs`, `--judge-model`); the config
is nested (load, server.engine, judge). This module owns that mapping and the rules that tie
flags of different sections together; the rules inside one section live on its model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.schemas.config import EngineFlags, RunConfig, ServerConfig, config_error
from bench.schemas.errors import BenchError
from bench.schemas.flags import (
    parse_engine_arg,
    parse_processes,
    read_toml,
    refuse_reserved_flags,
)
from bench.schemas.settings import RUN_TOKEN_ENV

SERVER_FLAGS = frozenset({"model", "catalog", "tool_parser", "reasoning_parser", "chat_template",
                          "vllm_python", "port", "health_timeout_s", "gpus", "endpoint", "api_key_env",
                          "header", "gcloud_identity_token", "engine_arg"})  # fmt: skip
ENGINE_FLAGS = frozenset(EngineFlags.model_fields) - {"extra_args"}
# Flag -> LoadConfig field (durations carry the unit in the field name).
LOAD_FLAGS = {"users": "users", "spawn_rate": "spawn_rate", "duration": "duration_s",
              "sessions": "sessions", "session_rate": "session_rate",
              "step_duration": "step_duration_s", "metrics_interval": "metrics_interval_s",
              "arrival": "arrival", "max_sessions_in_flight": "max_sessions_in_flight",
              "processes": "processes", "think_time": "think_time_s", "seed": "seed",
              "warmup": "warmup_s", "trials": "trials", "stream": "stream", "force_tools": "force_tools",
              "session_header": "session_header", "tool_latency": "tool_latency",
              "thinking": "thinking", "thinking_budget": "thinking_budget",
              "preflight": "preflight",
              "request_timeout": "request_timeout_s", "drain": "drain_s",
              "web": "web", "web_port": "web_port",
              "web_host": "web_host", "master": "master", "expect_workers": "expect_workers",
              "master_bind_host": "master_bind_host",
              "master_bind_port": "master_bind_port"}  # fmt: skip
TOP_FLAGS = frozenset({"evalset", "agent", "validate_agent", "results_dir", "run_id", "slo"})
JUDGE_FLAGS = {"judge_endpoint": "endpoint", "judge_model": "model",
               "judge_api_key_env": "api_key_env", "judge_samples": "samples"}  # fmt: skip
USER_SIMULATOR_FLAGS = {"user_simulator_endpoint": "endpoint", "user_simulator_model": "model",
                        "user_simulator_api_key_env": "api_key_env",
                        "max_turns": "max_turns"}  # fmt: skip
RUN_FLAGS = (SERVER_FLAGS | ENGINE_FLAGS | set(LOAD_FLAGS) | TOP_FLAGS | set(JUDGE_FLAGS)
             | set(USER_SIMULATOR_FLAGS) | {"judge"})  # fmt: skip


def load_flag_file(path: Path) -> dict[str, Any]:
    """A `--config` file: the same option names as the command line (dashes or underscores)."""
    values = {k.replace("-", "_"): v for k, v in read_toml(path, "--config").items()}
    for key in values:
        if key not in RUN_FLAGS:
            raise BenchError(f"--config: {path}: unknown option '{key}'")
    return values


def merge_flags(
    flags: dict[str, Any], config_file: Path | None, given: set[str] | None
) -> dict[str, Any]:
    """Values from the file fill every flag the command line did not set."""
    if config_file is None:
        return dict(flags)
    explicit = set(flags) if given is None else given
    from_file = load_flag_file(config_file)
    return {**flags, **{k: v for k, v in from_file.items() if k not in explicit}}


def server_config_from_flags(flags: dict[str, Any], passthrough: list[str]) -> ServerConfig:
    """Server, engine and attach flags (None = not given) -> one ServerConfig."""
    values = {k: v for k, v in flags.items() if v is not None}
    unknown = set(values) - SERVER_FLAGS - ENGINE_FLAGS
    if unknown:
        raise BenchError(f"options: unknown server option '{sorted(unknown)[0]}'")
    extra = [a for text in values.pop("engine_arg", None) or [] for a in parse_engine_arg(text)]
    refuse_reserved_flags(extra, "--engine-arg")
    refuse_reserved_flags(passthrough, "flags after --")
    engine = {k: values.pop(k) for k in list(values) if k in ENGINE_FLAGS}
    if "header" in values:
        values["headers"] = list(values.pop("header"))
    try:
        return ServerConfig.model_validate(
            {**values, "engine": {**engine, "extra_args": [*extra, *passthrough]}}
        )
    except ValidationError as exc:
        raise config_error(exc) from None


def run_config_from_flags(
    flags: dict[str, Any],
    *,
    config_file: Path | None = None,
    given: set[str] | None = None,
    passthrough: list[str] | None = None,
) -> RunConfig:
    p = merge_flags(flags, config_file, given)
    unknown = set(p) - RUN_FLAGS
    if unknown:
        raise BenchError(f"options: unknown option '{sorted(unknown)[0]}'")
    server = server_config_from_flags(
        {k: v for k, v in p.items() if k in SERVER_FLAGS or k in ENGINE_FLAGS}, passthrough or []
    )
    load = {LOAD_FLAGS[k]: v for k, v in p.items() if k in LOAD_FLAGS and v is not None}
    if "processes" in p:  # a flag or a config file: a number or auto (the CLI default)
        processes = parse_processes(p["processes"])
        load.pop("processes", None)
        if processes is None:
            load["processes_auto"] = True
        else:
            load["processes"] = processes
    if load.get("master") and not os.environ.get(RUN_TOKEN_ENV):
        raise BenchError(f"--master: set {RUN_TOKEN_ENV}, the token every `bench worker` must show")
    top = {k: v for k, v in p.items() if k in TOP_FLAGS and v is not None}
    if top.get("agent") is not None and top.get("evalset") is None:
        raise BenchError(agent_without_evalset(Path(top["agent"])))
    try:
        return RunConfig.model_validate({**top, "server": server, "load": load, "judge": _judge(p),
                                         "user_simulator": _user_simulator(p)})  # fmt: skip
    except ValidationError as exc:
        raise config_error(exc) from None


def agent_without_evalset(agent: Path) -> str:
    """--agent alone would run the default eval set against another agent: name its own."""
    own = sorted(
        str(f) for pattern in ("*.evalset.json", "*.test.json") for f in agent.glob(pattern)
    )
    hint = f" (its eval files: {', '.join(own)})" if own else ""
    return f"--agent {agent}: give --evalset too, the eval set written for this agent{hint}"


def _judge(p: dict[str, Any]) -> dict[str, Any] | None:
    """--judge-* options need --judge; a named key variable must be set."""
    given = [f for f in ("judge_endpoint", "judge_model", "judge_api_key_env") if p.get(f)]
    if not p.get("judge"):
        if given:
            raise BenchError(f"--{given[0].replace('_', '-')}: needs --judge")
        return None
    key_env = p.get("judge_api_key_env")
    if key_env and not os.environ.get(key_env):
        raise BenchError(f"--judge-api-key-env: environment variable {key_env} is not set")
    return {JUDGE_FLAGS[k]: v for k, v in p.items() if k in JUDGE_FLAGS and v is not None}


def _user_simulator(p: dict[str, Any]) -> dict[str, Any]:
    """--user-simulator-* and --max-turns; a named key variable must be set (its value is read
    by the load process, never stored)."""
    key_env = p.get("user_simulator_api_key_env")
    if key_env and not os.environ.get(key_env):
        raise BenchError(f"--user-simulator-api-key-env: environment variable {key_env} is not set")
    return {
        field: p[flag] for flag, field in USER_SIMULATOR_FLAGS.items() if p.get(flag) is not None
    }
