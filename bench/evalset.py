"""Loading ADK eval sets, in every format ADK has used, and the agent folder they belong to.

An eval-set argument is a file, an agent folder or any folder holding eval files (as `adk eval`
takes), or either followed by `:case_a,case_b` to pick cases. Formats, told apart by content
(the `.test.json` suffix does not say which one a file uses):

- `evalset`: the current `EvalSet` JSON (`*.evalset.json`, or inside a `*.test.json`), validated
  with ADK's own pydantic model `google.adk.evaluation.eval_set.EvalSet`.
- `legacy`: a JSON list of turns `{query, expected_tool_use: [{tool_name, tool_input}],
  reference}` forming ONE case named after the file (a null `reference`, as in ADK v0.5.0's own
  fixtures, means no expected final response: the turn's response match is not applicable), with `initial.session.json` beside it for
  the session state; converted with ADK's `convert_eval_set_to_pydantic_schema`, as ADK's
  `AgentEvaluator` does.
- `webui`: the pre-1.0 web-UI list `[{name, data: [turns], initial_session | initial_state}]`,
  converted with the same ADK function.

ADK's converter stamps random invocation ids and the current time; we replace them with
`<case>-<n>` and 0 so the same file always gives the same cases. A case with a
`conversation_scenario` (a starting prompt and a plan, no fixed turns) is run with ADK's user
simulator (`bench.agent.user_simulator`), configured by `user_simulator_config` in
`test_config.json` as `adk eval` reads it. Every error is a `BenchError` with one line naming the file (and case/field).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError
from pydantic.alias_generators import to_snake

from bench.constants import EVALSETS_DIR
from bench.schemas.errors import BenchError

EVAL_FILE_SUFFIXES = (".evalset.json", ".test.json")
INITIAL_SESSION_FILE = "initial.session.json"
TEST_CONFIG_FILE = "test_config.json"  # criteria and user_simulator_config, beside the eval file

EvalFormat = Literal["evalset", "legacy", "webui"]

# ADK's defaults when no test_config.json is given (google.adk.evaluation.agent_evaluator).
DEFAULT_CRITERIA: dict[str, Any] = {"tool_trajectory_avg_score": 1.0, "response_match_score": 0.8}


@dataclass
class EvalFile:
    """One parsed eval file: its cases as an ADK EvalSet and the format it was written in."""

    path: Path
    format: EvalFormat
    eval_set: Any  # google.adk.evaluation.eval_set.EvalSet


@dataclass
class LoadedEvalSet:
    """Eval cases ready to run, with where they came from."""

    eval_set: Any  # google.adk.evaluation.eval_set.EvalSet (every file's cases, in file order)
    files: list[Path]
    agent_dir: Path | None
    criteria: dict[str, Any]
    content_sha256: str
    selected_case_ids: list[str] | None = None
    cases: list[Any] = field(default_factory=list)  # list[EvalCase]: the runnable selection
    # test_config.json's user_simulator_config object, as written (None: ADK's defaults)
    user_simulator_config: dict[str, Any] | None = None
    formats: dict[str, EvalFormat] = field(default_factory=dict)  # file path -> format

    @property
    def eval_set_id(self) -> str:
        return str(self.eval_set.eval_set_id)

    @property
    def scenario_cases(self) -> int:
        """Cases played with ADK's user simulator (conversation_scenario)."""
        return sum(1 for c in self.cases if c.conversation_scenario is not None)

    @property
    def config_file(self) -> Path:
        """The test_config.json its criteria and simulator config come from (it may not exist)."""
        return config_file_of(self.files[0])


# --------------------------------------------------------------------------- paths


def split_case_selection(spec: str) -> tuple[str, list[str] | None]:
    """`path:case_a,case_b` -> (path, [case_a, case_b]). A bare path selects every case."""
    path, sep, cases = spec.rpartition(":")
    if sep and path and "/" not in cases and not Path(spec).exists():
        ids = [c.strip() for c in cases.split(",") if c.strip()]
        return path, ids or None
    return spec, None


def resolve_evalset_path(path_text: str) -> Path:
    """A path as given, or the name of a shipped eval set (`weather_time`)."""
    path = Path(path_text)
    if path.exists():
        return path
    shipped = EVALSETS_DIR / path_text
    if shipped.exists():
        return shipped
    names = sorted(
        d.name for d in (EVALSETS_DIR.iterdir() if EVALSETS_DIR.is_dir() else [])
        if d.is_dir() and not d.name.startswith(("_", "."))
    )  # fmt: skip
    close = difflib.get_close_matches(path_text, names, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise BenchError(f"--evalset: {path_text} does not exist{hint} (shipped: {', '.join(names)})")


def is_eval_file(path: Path) -> bool:
    return path.name.endswith(EVAL_FILE_SUFFIXES)


def find_eval_files(path: Path) -> list[Path]:
    """The file itself, or every eval file under a folder (sorted, so always the same order)."""
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and is_eval_file(p))
    if not files:
        raise BenchError(f"--evalset: no *.evalset.json or *.test.json file in {path}")
    return files


def eval_set_id_for(path: Path) -> str:
    return path.name.removesuffix(".evalset.json").removesuffix(".test.json")


def config_file_of(eval_file: Path) -> Path:
    return eval_file.parent / TEST_CONFIG_FILE


def load_criteria(eval_file: Path) -> dict[str, Any]:
    """`test_config.json` beside the eval file, else ADK's defaults."""
    config_path = config_file_of(eval_file)
    if not config_path.exists():
        return dict(DEFAULT_CRITERIA)
    data = _read_json(config_path)
    criteria = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(criteria, dict):
        raise BenchError(f"{config_path}: expected an object with a 'criteria' object")
    return criteria


def load_user_simulator_config(eval_file: Path) -> dict[str, Any] | None:
    """`user_simulator_config` of `test_config.json` beside the eval file (None when absent)."""
    config_path = config_file_of(eval_file)
    if not config_path.exists():
        return None
    data = _read_json(config_path)
    raw = data.get("user_simulator_config", data.get("userSimulatorConfig"))
    if raw is not None and not isinstance(raw, dict):
        raise BenchError(f"{config_path}: 'user_simulator_config' is not an object")
    return raw


def find_agent_dir(eval_file: Path) -> Path | None:
    """The ADK agent folder an eval file belongs to: the nearest of its folder and the two above
    with `agent.py` or `root_agent.yaml`, or with an `__init__.py` that mentions `root_agent` or
    `app` (a plain package `__init__.py` higher up is not an agent)."""
    for folder in [eval_file.parent, *eval_file.parent.parents][:3]:
        if (folder / "agent.py").exists() or (folder / "root_agent.yaml").exists():
            return folder
        init = folder / "__init__.py"
        if init.exists() and re.search(r"\b(root_agent|app)\b", init.read_text(errors="replace")):
            return folder
    return None


def agent_dir_of(path: Path, files: list[Path]) -> Path | None:
    """The agent folder of an eval-set path: the path itself when it is an agent folder with
    `agent.py` or `root_agent.yaml`, else the one its first file belongs to."""
    if path.is_dir() and ((path / "agent.py").exists() or (path / "root_agent.yaml").exists()):
        return path
    return find_agent_dir(files[0])


# --------------------------------------------------------------------------- one file


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot be read ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:  # found by fuzzing: thousands of nested brackets
        raise BenchError(f"{path}: JSON nested too deeply to be an eval set") from None


def detect_format(data: Any) -> EvalFormat | None:
    """Which ADK format parsed JSON is in, by shape; None when it is none of them."""
    if isinstance(data, dict):
        return "evalset" if "eval_cases" in data or "evalCases" in data else None
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        if all("data" in item for item in data):
            return "webui"
        if all("query" in item for item in data):
            return "legacy"
    return None


def _where(loc: tuple[Any, ...], data: Any) -> str:
    """A pydantic error location as `case 'id' invocation 2: field.path`."""
    parts: list[str] = []
    node = data
    rest = list(loc)
    if len(rest) >= 2 and rest[0] in ("eval_cases", "evalCases") and isinstance(rest[1], int):
        index = rest[1]
        case = node.get(rest[0], [])[index] if isinstance(node, dict) else None
        case_id = case.get("eval_id", case.get("evalId")) if isinstance(case, dict) else None
        parts.append(f"case {case_id!r}" if case_id else f"case #{index + 1}")
        rest = rest[2:]
        if len(rest) >= 2 and rest[0] == "conversation" and isinstance(rest[1], int):
            parts.append(f"invocation {rest[1] + 1}")
            rest = rest[2:]
    field_path = ".".join(to_snake(p) if isinstance(p, str) else str(p) for p in rest)
    return " ".join(parts) + (f": {field_path}" if field_path else "")


def _validation_line(path: Path, exc: ValidationError, data: Any) -> str:
    first = exc.errors()[0]
    where = _where(tuple(first.get("loc", ())), data)
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{path}: {where + ': ' if where else ''}{first.get('msg', 'invalid')}{more}"


def _check_legacy_turns(path: Path, turns: Any, where: str) -> None:
    """Field checks ADK's converter does not make (it raises a bare KeyError)."""
    if not isinstance(turns, list):
        raise BenchError(f"{path}: {where}: expected a list of turns")
    for n, turn in enumerate(turns, 1):
        at = f"{where}turn {n}"
        if not isinstance(turn, dict):
            raise BenchError(f"{path}: {at}: expected an object")
        if not isinstance(turn.get("query"), str):
            raise BenchError(f"{path}: {at}: field 'query' missing or not a string")
        # ADK v0.5.0's own fixtures write `"reference": null`: no expected final response.
        if turn.get("reference") is not None and not isinstance(turn["reference"], str):
            raise BenchError(f"{path}: {at}: field 'reference' is not a string or null")
        uses = turn.get("expected_tool_use", [])
        if not isinstance(uses, list):
            raise BenchError(f"{path}: {at}: field 'expected_tool_use' is not a list")
        for k, use in enumerate(uses):
            if not isinstance(use, dict) or not isinstance(use.get("tool_name"), str):
                raise BenchError(
                    f"{path}: {at}: expected_tool_use[{k}].tool_name missing or not a string"
                )
            if not isinstance(use.get("tool_input", {}), dict):
                raise BenchError(
                    f"{path}: {at}: expected_tool_use[{k}].tool_input is not an object"
                )
            use.setdefault("tool_input", {})


def _initial_session(eval_file: Path) -> dict[str, Any]:
    """`initial.session.json` beside a legacy file (a dumped ADK Session), or {}."""
    session_path = eval_file.parent / INITIAL_SESSION_FILE
    if not session_path.exists():
        return {}
    data = _read_json(session_path)
    if not isinstance(data, dict):
        raise BenchError(f"{session_path}: expected a session object with 'state'")
    if not isinstance(data.get("state", {}), dict):
        raise BenchError(f"{session_path}: field 'state' is not an object")
    return {k: data[k] for k in ("app_name", "user_id", "state") if k in data}


def _without_null_references(cases: list[dict[str, Any]]) -> list[set[int]]:
    """Give ADK's converter "" for a null reference (it cannot take None); return where they were."""
    nulls = []
    for case in cases:
        where = {n for n, turn in enumerate(case["data"]) if turn.get("reference", "") is None}
        case["data"] = [
            {**turn, "reference": ""} if n in where else turn for n, turn in enumerate(case["data"])
        ]
        nulls.append(where)
    return nulls


def _drop_references(eval_set: Any, nulls: list[set[int]]) -> None:
    """A null reference means no expected final response: response match is not applicable."""
    for case, where in zip(eval_set.eval_cases, nulls, strict=True):
        for n in where:
            case.conversation[n].final_response = None


def _normalise(eval_set: Any) -> Any:
    """Deterministic ids and timestamps in place of the converter's uuid4 and time.time()."""
    eval_set.creation_timestamp = 0.0
    for case in eval_set.eval_cases:
        case.creation_timestamp = 0.0
        for n, invocation in enumerate(case.conversation or [], 1):
            invocation.invocation_id = f"{case.eval_id}-{n}"
            invocation.creation_timestamp = 0.0
    return eval_set


def load_eval_file(path: Path) -> EvalFile:
    """Parse one eval file in whichever ADK format it uses."""
    from google.adk.evaluation.eval_set import EvalSet
    from google.adk.evaluation.local_eval_sets_manager import convert_eval_set_to_pydantic_schema

    data = _read_json(path)
    fmt = detect_format(data)
    eval_set_id = eval_set_id_for(path)
    if fmt == "evalset":
        try:
            eval_set = EvalSet.model_validate(data)
        except ValidationError as exc:
            raise BenchError(_validation_line(path, exc, data)) from None
        except RecursionError:
            raise BenchError(f"{path}: JSON nested too deeply to be an eval set") from None
        for case in eval_set.eval_cases:  # fill only the ids the file left empty
            for k, invocation in enumerate(case.conversation or [], 1):
                invocation.invocation_id = invocation.invocation_id or f"{case.eval_id}-{k}"
        return EvalFile(path, "evalset", eval_set)
    if fmt == "legacy":
        _check_legacy_turns(path, data, "")
        old = [{"name": eval_set_id, "data": data, "initial_session": _initial_session(path)}]
    elif fmt == "webui":
        old = []
        for n, item in enumerate(data, 1):
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise BenchError(f"{path}: case #{n}: field 'name' missing or not a string")
            _check_legacy_turns(path, item["data"], f"case {name!r} ")
            session = item.get("initial_session") or {}
            if "initial_state" in item and not session:
                session = {"state": item["initial_state"]}
            if not isinstance(session, dict) or not isinstance(session.get("state", {}), dict):
                raise BenchError(f"{path}: case {name!r}: initial session state is not an object")
            old.append({"name": name, "data": item["data"], "initial_session": session})
    else:
        raise BenchError(
            f"{path}: not an ADK eval set (expected an EvalSet object with 'eval_cases', "
            "a legacy list of {query, expected_tool_use, reference} turns, "
            "or a web-UI list of {name, data} cases)"
        )
    nulls = _without_null_references(old)
    try:
        eval_set = convert_eval_set_to_pydantic_schema(eval_set_id, old)
        _drop_references(eval_set, nulls)
    except (ValidationError, KeyError, TypeError, ValueError, RecursionError) as exc:
        text = str(exc).strip().splitlines()
        raise BenchError(
            f"{path}: cannot convert ({text[0] if text else type(exc).__name__})"
        ) from None
    return EvalFile(path, fmt, _normalise(eval_set))


# --------------------------------------------------------------------------- the argument


def _check_unique_ids(loaded: list[EvalFile]) -> None:
    seen: dict[str, Path] = {}
    for ef in loaded:
        for case in ef.eval_set.eval_cases:
            if case.eval_id in seen:
                other = seen[case.eval_id]
                also = "" if other == ef.path else f" (also in {other})"
                raise BenchError(f"{ef.path}: case id {case.eval_id!r} appears twice{also}")
            seen[case.eval_id] = ef.path


def load_evalset(spec: str) -> LoadedEvalSet:
    """Load an eval-set argument into cases, criteria and provenance (see the module doc)."""
    path_text, wanted = split_case_selection(spec)
    path = resolve_evalset_path(path_text)
    files = find_eval_files(path)
    loaded = [load_eval_file(f) for f in files]
    _check_unique_ids(loaded)
    eval_set = loaded[0].eval_set
    if len(loaded) > 1:
        eval_set = eval_set.model_copy(
            update={
                "eval_cases": [c for ef in loaded for c in ef.eval_set.eval_cases],
                "eval_set_id": path.name,
                "name": path.name,
            }
        )
    chosen = list(eval_set.eval_cases)
    if wanted:
        by_id = {c.eval_id: c for c in chosen}
        unknown = [c for c in wanted if c not in by_id]
        if unknown:
            raise BenchError(
                f"--evalset: unknown case id {', '.join(unknown)} in {path} "
                f"(cases: {', '.join(by_id)})"
            )
        chosen = [by_id[c] for c in wanted]
    cases = chosen
    if not cases:
        raise BenchError(f"--evalset: {path} has no eval cases to run")
    for case in cases:
        if case.conversation_scenario is None and not case.conversation:
            raise BenchError(f"{path}: case {case.eval_id!r}: conversation is empty")
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    agent_dir = agent_dir_of(path, files)
    return LoadedEvalSet(
        eval_set=eval_set,
        files=files,
        agent_dir=agent_dir,
        criteria=load_criteria(files[0]),
        content_sha256=digest.hexdigest(),
        selected_case_ids=wanted,
        cases=cases,
        user_simulator_config=load_user_simulator_config(files[0]),
        formats={str(ef.path): ef.format for ef in loaded},
    )
