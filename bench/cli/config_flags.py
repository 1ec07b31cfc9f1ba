"""`bench run`'s flat flags (and a flat `--config` TOML file) -> one validated RunConfig.

The command line names options flat (`--users`, `--max-num-seqs`, `--judge-model`); the config
is nested (load, server.engine, judge). The mapping is read from the settings' declarations
(bench.schemas.setting), never written out here; this module owns the rules that tie flags of
different sections together (the rules inside one section live on its model) and the wording of
a flag's error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bench.schemas.config import (
    EngineFlags,
    JudgeConfig,
    LoadConfig,
    RunConfig,
    ServerConfig,
    UserSimulatorConfig,
)
from bench.schemas.errors import BenchError
from bench.schemas.flags import (
    parse_engine_arg,
    parse_processes,
    read_toml,
    refuse_reserved_flags,
)
from bench.schemas.setting import declared
from bench.schemas.settings import RUN_TOKEN_ENV
from bench.schemas.sweep_config import SweepConfig


def _options(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Option name -> field of a config model's declared settings."""
    return {d.option_name(prefix): d.field for d in declared(model)}


# Option name (the flag with underscores, the --config key) -> field, per section.
SERVER_FLAGS = {**_options(ServerConfig), "engine_arg": "engine_arg"}  # engine_arg: extra_args
ENGINE_FLAGS = _options(EngineFlags)
LOAD_FLAGS = _options(LoadConfig)
TOP_FLAGS = _options(RunConfig)
JUDGE_FLAGS = _options(JudgeConfig, "judge_")
USER_SIMULATOR_FLAGS = _options(UserSimulatorConfig, "user_simulator_")
RUN_FLAGS = frozenset({*SERVER_FLAGS, *ENGINE_FLAGS, *LOAD_FLAGS, *TOP_FLAGS, *JUDGE_FLAGS,
                       *USER_SIMULATOR_FLAGS, "judge"})  # fmt: skip
# Section of RunConfig -> its options; a validation error's location names the field.
_SECTIONS = {"server": SERVER_FLAGS, "engine": ENGINE_FLAGS, "load": LOAD_FLAGS,
             "judge": JUDGE_FLAGS, "user_simulator": USER_SIMULATOR_FLAGS}  # fmt: skip
# Fields a flag fills besides its own: `--users 1,4` sets user_steps too.
_ALSO = {("load", "user_steps"): "users", ("load", "rate_steps"): "session_rate"}


def flag_of(section: str | None, field: str) -> str:
    """The flag that sets a field: `--duration` for load.duration_s (section None: any)."""
    sections = [_SECTIONS[section]] if section in _SECTIONS else [TOP_FLAGS, *_SECTIONS.values()]
    also = _ALSO.get((section or "load", field))
    names = [o for options in sections for o, f in options.items() if f == field]
    return "--" + (also or (names[0] if names else field)).replace("_", "-")


def config_error(exc: ValidationError) -> BenchError:
    """The first validation error as one line naming the flag (`--max-num-seqs: ...`)."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    msg = str(err["msg"]).removeprefix("Value error, ")
    if msg.startswith("--"):
        return BenchError(msg)
    names = [p for p in loc if not p.isdigit()]
    if not names or names[-1] in _SECTIONS:
        return BenchError(f"options: {msg}")
    section = names[-2] if len(names) > 1 and names[-2] in _SECTIONS else None
    return BenchError(f"{flag_of(section, names[-1])}: {msg}")


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
    unknown = set(values) - set(SERVER_FLAGS) - set(ENGINE_FLAGS)
    if unknown:
        raise BenchError(f"options: unknown server option '{sorted(unknown)[0]}'")
    extra = [a for text in values.pop("engine_arg", None) or [] for a in parse_engine_arg(text)]
    refuse_reserved_flags(extra, "--engine-arg")
    refuse_reserved_flags(passthrough, "flags after --")
    engine = {ENGINE_FLAGS[k]: values.pop(k) for k in list(values) if k in ENGINE_FLAGS}
    values = {SERVER_FLAGS[k]: list(v) if k == "header" else v for k, v in values.items()}
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
    top = {TOP_FLAGS[k]: v for k, v in p.items() if k in TOP_FLAGS and v is not None}
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


def sweep_config_from_flags(flags: dict[str, Any]) -> SweepConfig:
    """`bench sweep`'s own options (None = not given) -> one SweepConfig."""
    fields = _options(SweepConfig)
    try:
        return SweepConfig.model_validate({fields[k]: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if msg.startswith("--") or not err["loc"]:
            raise BenchError(msg if msg.startswith("--") else f"options: {msg}") from None
        flag = next(o for o, f in fields.items() if f == err["loc"][0])
        raise BenchError(f"--{flag.replace('_', '-')}: {msg}") from None
