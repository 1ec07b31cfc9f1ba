"""Checking eval sets against their agent, listing them, and converting old formats.

`validate_evalsets(path, agent_dir)` parses every eval file under `path` and checks each expected
tool call against the agent that will run it: the tool exists somewhere in the agent tree (tools
of every LlmAgent, agents wrapped in AgentTool, `transfer_to_agent` when there are sub-agents),
the argument names come from the tool's signature, required arguments are given, and each value
has the JSON type its annotation asks for (`int` -> integer, `list[str]` -> array of strings,
`Literal`/`Enum` -> one of the values, a pydantic model -> an object it accepts). Each mistake is
one `Problem` (file, case, invocation, field, message).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bench.constants import EVALSETS_DIR
from bench.evalset import (
    EvalFile,
    agent_dir_of,
    find_agent_dir,
    find_eval_files,
    load_criteria,
    load_eval_file,
)
from bench.schemas.errors import BenchError

TRANSFER_TOOL = "transfer_to_agent"
_IGNORED_PARAMS = ("tool_context", "input_stream")
_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Problem:
    file: str
    case: str | None
    invocation: int | None  # 1-based index in the case's conversation
    field: str
    message: str


@dataclass
class ToolSignature:
    """What a tool accepts: parameter name -> annotation (`Any` when unknown), required names."""

    name: str
    agent: str
    params: dict[str, Any]
    required: set[str]
    allowed_values: dict[str, list[str]] = field(default_factory=dict)  # e.g. agent names


@dataclass
class AgentTools:
    agent_dir: Path
    tools: dict[str, ToolSignature]
    open_ended: bool = False  # a toolset whose tools could not be listed before the run
    toolset_errors: list[str] = field(default_factory=list)  # toolsets that failed to list


@dataclass
class ValidationReport:
    files: list[Path]
    problems: list[Problem]
    agents: dict[str, str | None]  # eval file -> agent folder checked against (None: parse only)
    cases: int = 0
    tool_calls: int = 0
    scenarios: int = 0  # conversation_scenario cases (run with ADK's user simulator)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- the agent's tools


def _function_signature(func: Any, name: str, agent: str) -> ToolSignature:
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:
        hints = {}
    params: dict[str, Any] = {}
    required: set[str] = set()
    for p in inspect.signature(func).parameters.values():
        if p.name in _IGNORED_PARAMS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(p.name, p.annotation)
        if getattr(annotation, "__name__", "") == "ToolContext":
            continue
        params[p.name] = Any if annotation is _EMPTY else annotation
        if p.default is _EMPTY:
            required.add(p.name)
    return ToolSignature(name, agent, params, required)


def _model_signature(model: type[BaseModel], name: str, agent: str) -> ToolSignature:
    params = {n: f.annotation for n, f in model.model_fields.items()}
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    return ToolSignature(name, agent, params, required)


def _declared_signature(tool: Any, agent: str) -> ToolSignature:
    """A tool we cannot introspect in Python: its FunctionDeclaration's parameter names."""
    declaration = None
    with contextlib.suppress(Exception):  # a tool without a declaration: names unknown
        declaration = tool._get_declaration()
    schema = getattr(declaration, "parameters", None)
    properties = dict(getattr(schema, "properties", None) or {})
    required = set(getattr(schema, "required", None) or [])
    json_schema = getattr(declaration, "parameters_json_schema", None)  # MCP tools declare this
    if schema is None and isinstance(json_schema, dict):
        properties = dict(json_schema.get("properties") or {})
        required = set(json_schema.get("required") or [])
    return ToolSignature(tool.name, agent, {n: Any for n in properties}, required)


_AGENT_TOOLS: dict[tuple[Path, int], AgentTools] = {}


def agent_tools(agent_dir: Path) -> AgentTools:
    """Every tool the agent tree rooted in `agent_dir` can call, by name; once per loaded agent
    in a process (listing an MCP toolset's tools starts its server)."""
    from bench.agent.loading import load_agent_folder

    root = load_agent_folder(agent_dir).root_agent
    key = (Path(agent_dir).resolve(), id(root))
    if key not in _AGENT_TOOLS:
        _AGENT_TOOLS[key] = _collect_tools(Path(agent_dir), root)
    return _AGENT_TOOLS[key]


def _collect_tools(agent_dir: Path, root: Any) -> AgentTools:
    from google.adk.agents import LlmAgent
    from google.adk.tools.agent_tool import AgentTool
    from google.adk.tools.base_tool import BaseTool
    from google.adk.tools.base_toolset import BaseToolset
    from google.adk.tools.function_tool import FunctionTool

    from bench.agent.model_override import iter_agents

    agents = iter_agents(root)
    found: dict[str, ToolSignature] = {}
    open_ended = False
    toolset_errors: list[str] = []
    for agent in agents:
        if not isinstance(agent, LlmAgent):
            continue
        for tool in agent.tools or []:
            if isinstance(tool, AgentTool):
                inner = tool.agent
                schema = getattr(inner, "input_schema", None)
                found[tool.name] = (
                    _model_signature(schema, tool.name, agent.name)
                    if schema is not None
                    else ToolSignature(tool.name, agent.name, {"request": str}, {"request"})
                )
            elif isinstance(tool, FunctionTool):
                found[tool.name] = _function_signature(tool.func, tool.name, agent.name)
            elif isinstance(tool, BaseToolset):
                listed, error = _list_toolset(tool)
                if error is not None:
                    toolset_errors.append(f"agent '{agent.name}': toolset "
                                          f"{type(tool).__name__} cannot list its tools ({error})")  # fmt: skip
                if listed is None:
                    open_ended = True
                for inner in listed or []:
                    found[inner.name] = _declared_signature(inner, agent.name)
            elif isinstance(tool, BaseTool):
                found[tool.name] = _declared_signature(tool, agent.name)
            elif callable(tool):
                name = getattr(tool, "__name__", type(tool).__name__)
                found[name] = _function_signature(tool, name, agent.name)
    if any(getattr(a, "sub_agents", None) for a in agents):
        names = sorted({a.name for a in agents})
        found[TRANSFER_TOOL] = ToolSignature(
            TRANSFER_TOOL, root.name, {"agent_name": str}, {"agent_name"}, {"agent_name": names}
        )
    return AgentTools(Path(agent_dir), found, open_ended, toolset_errors)


TOOLSET_LIST_TIMEOUT_S = 30.0


def _list_toolset(toolset: Any) -> tuple[list[Any] | None, str | None]:
    """The tools a toolset offers (an MCP toolset asks its server), or None and why not.

    Listed in a loop of its own and closed again (its MCP sessions belong to that loop); the
    run's sessions open their own. Inside a running loop nothing is listed (None, no error).
    """
    try:
        asyncio.get_running_loop()
        return None, None
    except RuntimeError:
        pass

    async def listing() -> list[Any]:
        try:
            return list(await asyncio.wait_for(toolset.get_tools_with_prefix(None),
                                               TOOLSET_LIST_TIMEOUT_S))  # fmt: skip
        finally:
            with contextlib.suppress(Exception):
                await toolset.close()

    try:
        return asyncio.run(listing()), None
    except Exception as exc:
        text = str(exc).strip().splitlines()
        return None, f"{type(exc).__name__}: {text[0] if text else ''}"


# --------------------------------------------------------------------------- JSON types


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def describe(annotation: Any) -> str:
    """An annotation in JSON words: `list[int]` -> 'array of integer'."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return describe(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in annotation)
    if origin in (list, tuple, set, frozenset):
        return f"array of {describe(args[0])}" if args else "array"
    simple = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
    if annotation in simple:
        return simple[annotation]
    if annotation in (list, tuple, set):
        return "array"
    if annotation is dict or origin is dict:
        return "object"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"object ({annotation.__name__})"
    return getattr(annotation, "__name__", str(annotation))


def type_mismatch(value: Any, annotation: Any) -> str | None:
    """Why `value` (parsed JSON) does not fit `annotation`, or None when it fits or we can't tell."""
    if annotation is Any or annotation is _EMPTY or annotation is object:
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_mismatch(value, args[0])
    if origin in (typing.Union, types.UnionType):
        if any(type_mismatch(value, a) is None for a in args):
            return None
        return f"expected {describe(annotation)}, got {json_type(value)} {value!r}"
    if origin is typing.Literal:
        return None if value in args else f"expected {describe(annotation)}, got {value!r}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = [m.value for m in annotation]
        return None if value in values else f"expected {describe(annotation)}, got {value!r}"
    checks: dict[Any, Any] = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        type(None): lambda v: v is None,
    }
    base = origin or annotation
    if base in checks:
        ok = checks[base](value)
        return None if ok else f"expected {describe(annotation)}, got {json_type(value)} {value!r}"
    if base in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            return f"expected {describe(annotation)}, got {json_type(value)}"
        item_type = args[0] if args and (base is not tuple or len(args) == 2) else Any
        for i, item in enumerate(value):
            why = type_mismatch(item, item_type)
            if why:
                return f"item {i}: {why}"
        return None
    if base is dict:
        if not isinstance(value, dict):
            return f"expected object, got {json_type(value)}"
        value_type = args[1] if len(args) == 2 else Any
        for key, item in value.items():
            why = type_mismatch(item, value_type)
            if why:
                return f"key {key!r}: {why}"
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, dict):
            return f"expected {describe(annotation)}, got {json_type(value)}"
        try:
            annotation.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err.get("loc", ()))
            return f"not a valid {annotation.__name__}: {loc + ': ' if loc else ''}{err['msg']}"
        return None
    if typing.is_typeddict(annotation):
        return None if isinstance(value, dict) else f"expected object, got {json_type(value)}"
    return None


def check_call(name: str, args: dict[str, Any], tools: AgentTools) -> list[tuple[str, str]]:
    """(field, message) for each mistake in one expected tool call."""
    signature = tools.tools.get(name)
    if signature is None:
        if tools.open_ended:
            return []
        known = ", ".join(sorted(tools.tools)) or "none"
        return [("name", f"unknown tool {name!r} (the agent has: {known})")]
    found: list[tuple[str, str]] = []
    unknown = [a for a in args if a not in signature.params]
    for arg in unknown:
        takes = ", ".join(signature.params) or "no arguments"
        found.append((f"args.{arg}", f"{name} has no argument {arg!r} (it takes: {takes})"))
    if not unknown:  # a misspelt name already explains a missing one
        for arg in sorted(signature.required - set(args)):
            found.append((f"args.{arg}", f"{name}: required argument {arg!r} is missing"))
    for arg, value in args.items():
        if arg not in signature.params:
            continue
        why = type_mismatch(value, signature.params[arg])
        allowed = signature.allowed_values.get(arg)
        if why is None and allowed is not None and value not in allowed:
            why = f"expected one of {', '.join(allowed)}, got {value!r}"
        if why:
            found.append((f"args.{arg}", f"{name}: {why}"))
    return found


# --------------------------------------------------------------------------- validation


def _check_file(ef: EvalFile, tools: AgentTools | None, report: ValidationReport) -> None:
    from google.adk.evaluation.eval_case import get_all_tool_calls

    file = str(ef.path)
    seen: set[str] = set()
    for case in ef.eval_set.eval_cases:
        report.cases += 1
        if case.eval_id in seen:
            report.problems.append(
                Problem(file, case.eval_id, None, "eval_id", "duplicate case id")
            )
        seen.add(case.eval_id)
        if case.conversation_scenario is not None:  # no fixed turns: no expected calls to check
            report.scenarios += 1
            continue
        if not case.conversation:
            report.problems.append(
                Problem(file, case.eval_id, None, "conversation", "conversation is empty")
            )
        for n, invocation in enumerate(case.conversation or [], 1):
            for k, call in enumerate(get_all_tool_calls(invocation.intermediate_data)):
                report.tool_calls += 1
                if tools is None:
                    continue
                for where, message in check_call(call.name or "", dict(call.args or {}), tools):
                    report.problems.append(
                        Problem(file, case.eval_id, n, f"tool_uses[{k}].{where}", message)
                    )


def _check_criteria(eval_file: Path, report: ValidationReport, done: set[Path]) -> None:
    from bench.scoring.trajectory import trajectory_criterion

    config = eval_file.parent / "test_config.json"
    if config in done:
        return
    done.add(config)
    try:
        trajectory_criterion(load_criteria(eval_file))
    except BenchError as exc:
        report.problems.append(Problem(str(config), None, None, "criteria", str(exc)))
    except (ValidationError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        report.problems.append(
            Problem(str(config), None, None, "criteria.tool_trajectory_avg_score", first)
        )


def validate_evalsets(path: str | Path, agent_dir: str | Path | None = None) -> ValidationReport:
    """Parse and check every eval file under `path` (see the module doc).

    Each file is checked against `agent_dir`, or else against the agent folder it belongs to;
    a file with neither is only parsed. A missing path or an agent folder that does not load
    raises BenchError; a file that does not parse is a problem of the report.
    """
    root = Path(path)
    if not root.exists():
        shipped = EVALSETS_DIR / str(path)
        if not shipped.exists():
            raise BenchError(f"{path} does not exist")
        root = shipped
    files = find_eval_files(root)
    report = ValidationReport(files=files, problems=[], agents={})
    cache: dict[Path, AgentTools] = {}
    criteria_done: set[Path] = set()
    for eval_file in files:
        folder = Path(agent_dir) if agent_dir is not None else find_agent_dir(eval_file)
        tools = None
        if folder is not None:
            key = folder.resolve()
            if key not in cache:
                cache[key] = agent_tools(folder)
                for error in cache[key].toolset_errors:
                    report.problems.append(Problem(str(folder), None, None, "tools", error))
            tools = cache[key]
            if tools.open_ended:
                report.notes.append(
                    f"{folder}: has a toolset whose tools could not be listed; tool names not "
                    "found are not reported"
                )
        else:
            report.notes.append(f"{eval_file}: no agent folder found; tool calls not checked")
        report.agents[str(eval_file)] = str(folder) if folder is not None else None
        _check_criteria(eval_file, report, criteria_done)
        try:
            ef = load_eval_file(eval_file)
        except BenchError as exc:
            message = str(exc).removeprefix(f"{eval_file}: ")
            report.problems.append(Problem(str(eval_file), None, None, "file", message))
            continue
        _check_file(ef, tools, report)
    return report


# --------------------------------------------------------------------------- list and convert


@dataclass
class EvalSetSummary:
    path: Path
    formats: list[str]
    cases: int
    turns: int
    tool_calls: int
    scenarios: int  # conversation_scenario cases: runnable, turns decided by the user simulator
    agent_dir: Path | None
    description: str | None


def summarize(path: Path) -> EvalSetSummary:
    """Counts for one eval-set path (a file or a folder of eval files)."""
    from google.adk.evaluation.eval_case import get_all_tool_calls

    files = find_eval_files(path)
    loaded = [load_eval_file(f) for f in files]
    cases = [c for ef in loaded for c in ef.eval_set.eval_cases]
    invocations = [i for c in cases for i in (c.conversation or [])]
    agent = agent_dir_of(path, files)
    descriptions = [ef.eval_set.description for ef in loaded if ef.eval_set.description]
    return EvalSetSummary(
        path=path,
        formats=sorted({ef.format for ef in loaded}),
        cases=len(cases),
        turns=len(invocations),
        tool_calls=sum(len(get_all_tool_calls(i.intermediate_data)) for i in invocations),
        scenarios=sum(1 for c in cases if c.conversation_scenario is not None),
        agent_dir=agent,
        description=descriptions[0] if descriptions else None,
    )


def shipped_evalset_dirs() -> list[Path]:
    if not EVALSETS_DIR.is_dir():
        return []
    return sorted(
        d
        for d in EVALSETS_DIR.iterdir()
        if d.is_dir() and any(p.name.endswith((".evalset.json", ".test.json")) for p in d.iterdir())
    )


def convert_to_evalset(source: Path, out: Path, *, overwrite: bool = False) -> EvalFile:
    """Write any eval file (legacy, web-UI, current) as a current EvalSet JSON file."""
    if not source.is_file():
        raise BenchError(f"{source} is not a file")
    if out.exists() and not overwrite:
        raise BenchError(f"{out} exists (use --force to replace it)")
    ef = load_eval_file(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(ef.eval_set.model_dump_json(indent=2, exclude_none=True) + "\n")
    return ef
