"""Every option shared by `run`, `serve` and `sweep`, in named groups, built from the settings'
declarations (bench.schemas.setting: a field of RunConfig's models with its help), so a new
setting is a field there and nothing here.

A command takes a group with `@with_options(...)`: the group's options are appended to the
command's signature (typer reads the signature) and arrive in `**flags`, so a command body is
"collect flags, make one config call" instead of sixty parameters passed on by hand.

    @with_options(SERVER_OPTIONS, ENGINE_OPTIONS)
    def serve(ctx: typer.Context, check: bool = False, **flags: Any) -> None: ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin, get_type_hints

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bench.schemas.config import (
    EngineFlags,
    JudgeConfig,
    LoadConfig,
    RunConfig,
    ServerConfig,
    UserSimulatorConfig,
)
from bench.schemas.setting import Declared, declared

SERVER = "Server"
ENGINE = "vLLM engine flags"
ATTACH = "Attach to a running server"
LOAD = "Load"
RESULTS = "Eval set and results"
SWEEP = "Sweep"
SEARCH = "SLA search (--find-max-load)"


@dataclass(frozen=True)
class Opt:
    name: str  # the parameter name: the flag with underscores
    annotation: Any  # Annotated[type, typer.Option(...)]
    default: Any = None
    panel: str = ""


def option(
    name: str, kind: Any, default: Any, panel: str, help: str, *decls: str, **kw: Any
) -> Opt:
    option = typer.Option(*decls, help=help, rich_help_panel=panel, **kw)
    return Opt(name, Annotated[kind, option], default, panel)


def pick(options: tuple[Opt, ...], *names: str) -> tuple[Opt, ...]:
    """Some options of a group (`sweep` takes a server's but not its port)."""
    by_name = {o.name: o for o in options}
    return tuple(by_name[n] for n in names)


PANELS = {"server": SERVER, "engine": ENGINE, "attach": ATTACH, "load": LOAD, "results": RESULTS,
          "sweep": SWEEP, "search": SEARCH}  # fmt: skip


def _cli_type(info: FieldInfo) -> Any:
    """What the command line takes for a field: its own type when it is a plain one, else text
    the model parses (durations, lists, literals)."""
    kind = info.annotation
    if kind in (bool, bool | None):
        return kind
    is_union = get_origin(kind) in (Union, UnionType)
    args = [a for a in get_args(kind) if a is not type(None)] if is_union else [kind]
    if get_origin(args[0]) is list:
        return list[str] | None
    return args[0] | None if args[0] in (int, float, str, Path) else str | None


def _default_text(d: Declared, kind: Any) -> str | None:
    """`--help`'s [default: ...]: the model's default (the option itself defaults to None, "not
    given", so that the model's default applies and a --config file can fill it)."""
    if d.setting.default_text is not None:
        return d.setting.default_text or None
    if d.setting.cli_default is not None:
        return str(d.setting.cli_default)
    default = d.info.default
    if kind in (bool, bool | None) or default in (None, PydanticUndefined) or default in ([], {}):
        return None
    if d.field.endswith("_s") and d.option_name() != d.field:  # a duration: --drain 30s
        return f"{default:g}s"
    return ",".join(map(str, default)) if isinstance(default, list) else str(default)


def options_of(model: type[BaseModel], panel: str, prefix: str = "") -> tuple[Opt, ...]:
    """The command-line options of a config model's declared settings (bench.schemas.setting)."""
    found = []
    for d in declared(model):
        s = d.setting
        kind = s.cli_type or _cli_type(d.info)
        default = s.cli_default
        if default is None and kind in (bool, bool | None):
            default = d.info.default
        text = _default_text(d, kind)
        shown = f"{s.help} \\[default: {text}]" if text else s.help  # \\[: not rich markup
        found.append(option(d.option_name(prefix), kind, default, PANELS[s.panel or panel],
                            shown, *s.decls, show_default=kind in (bool, bool | None)))  # fmt: skip
    return tuple(found)


def in_panel(options: tuple[Opt, ...], panel: str) -> tuple[Opt, ...]:
    return tuple(o for o in options if o.panel == panel)


# Server: what to serve and how to start it; the engine flags bench names (any other goes
# through --engine-arg or after `--`); or a running server to attach to instead.
_SERVER = options_of(ServerConfig, "server")
SERVER_OPTIONS = in_panel(_SERVER, SERVER)
MODEL, GPUS = pick(SERVER_OPTIONS, "model")[0], pick(_SERVER, "gpus")[0]
ENGINE_OPTIONS = (
    GPUS,
    *options_of(EngineFlags, "engine"),
    option("engine_arg", list[str] | None, None, ENGINE,
           "Any other vLLM flag as KEY=VALUE (repeatable); or put flags after --."),
)  # fmt: skip
ATTACH_OPTIONS = in_panel(_SERVER, ATTACH)
# Also `bench models list --catalog`, `bench models build / check-template --vllm-python`.
Catalog = pick(SERVER_OPTIONS, "catalog")[0].annotation
VllmPython = pick(SERVER_OPTIONS, "vllm_python")[0].annotation

# The RUN argument of the commands that read one run folder (`results rebuild`, `export-trace`).
RunFolder = Annotated[Path, typer.Argument(help="A run folder (results/<run_id>).")]

# Which eval set, which agent, where results go; the run's name and SLOs.
_TOP = options_of(RunConfig, "results")
RESULTS_OPTIONS = pick(_TOP, "evalset", "agent", "validate_agent", "results_dir")
RUN_TOP_OPTIONS = pick(_TOP, "run_id", "slo")
# ADK's user simulator (conversation_scenario cases) and the LLM-as-judge.
USER_SIMULATOR_OPTIONS = options_of(UserSimulatorConfig, "results", "user_simulator_")
JUDGE_OPTIONS = (
    option("judge", bool, False, RESULTS,
           "Also score final responses with ADK's LLM-as-judge metrics (final_response_match_v2; "
           "rubrics when the criteria have them).", "--judge"),
    *options_of(JudgeConfig, "results", "judge_"),
)  # fmt: skip
# Every load setting (`bench run`); the shape of the load within one step (run, sweep, check).
LOAD_OPTIONS = options_of(LoadConfig, "load")
LOAD_SHAPE_OPTIONS = pick(LOAD_OPTIONS, "spawn_rate", "arrival", "processes", "think_time", "seed",
                          "warmup", "stream", "force_tools", "request_timeout", "drain",
                          "session_header", "tool_latency", "thinking", "thinking_budget",
                          "preflight")  # fmt: skip

Command = TypeVar("Command", bound=Callable[..., Any])


def with_options(*groups: tuple[Opt, ...]) -> Callable[[Command], Command]:
    """Append the groups' options to a command's signature; their values arrive in **flags."""

    def decorate(func: Command) -> Command:
        signature = inspect.signature(func)
        hints = get_type_hints(func, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in signature.parameters.values()
               if p.kind is not inspect.Parameter.VAR_KEYWORD]  # fmt: skip
        added = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default,
                                   annotation=o.annotation)
                 for group in groups for o in group]  # fmt: skip
        func.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        func.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
        return func

    return decorate


RunFolders = Annotated[
    list[Path],
    typer.Argument(
        help="Run folders, or results folders holding run folders.",
        show_default=False,
        metavar="RUN",
    ),
]

# Which runs `bench compare`, `bench report` and `bench results list` read from the folders given.
WHICH_RUNS = "Which runs"
ModelFilter = Annotated[
    str | None, typer.Option(help="Only runs of this model.", rich_help_panel=WHICH_RUNS)
]
EvalsetFilter = Annotated[
    str | None, typer.Option(help="Only runs of this eval set id.", rich_help_panel=WHICH_RUNS)
]
SinceFilter = Annotated[
    str | None,
    typer.Option(
        help="Only runs started on or after this date (2026-05-01).", rich_help_panel=WHICH_RUNS
    ),
]
