"""Loading ADK eval sets and the agent folder they belong to.

An eval-set argument is a file (`x.evalset.json` or `x.test.json`), an agent folder holding such
files (as `adk eval` takes), or either followed by `:case_a,case_b` to pick cases. ADK's own
loader parses the file (it falls back to the legacy list format on a validation error).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.constants import EVALSETS_DIR
from bench.errors import BenchError

EVAL_FILE_SUFFIXES = (".evalset.json", ".test.json")

# ADK's defaults when no test_config.json is given (google.adk.evaluation.agent_evaluator).
DEFAULT_CRITERIA: dict[str, Any] = {"tool_trajectory_avg_score": 1.0, "response_match_score": 0.8}


@dataclass
class LoadedEvalSet:
    """Eval cases ready to run, with where they came from."""

    eval_set: Any  # google.adk.evaluation.eval_set.EvalSet
    files: list[Path]
    agent_dir: Path | None
    criteria: dict[str, Any]
    content_sha256: str
    selected_case_ids: list[str] | None = None
    cases: list[Any] = field(default_factory=list)  # list[EvalCase], the selection in file order

    @property
    def eval_set_id(self) -> str:
        return str(self.eval_set.eval_set_id)


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
    raise BenchError(f"--evalset: {path_text} does not exist")


def find_eval_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.rglob("*") if p.is_file() and p.name.endswith(EVAL_FILE_SUFFIXES)
    )
    if not files:
        raise BenchError(f"--evalset: no *.evalset.json or *.test.json file in {path}")
    return files


def load_criteria(eval_file: Path) -> dict[str, Any]:
    """`test_config.json` beside the eval file, else ADK's defaults."""
    config_path = eval_file.parent / "test_config.json"
    if not config_path.exists():
        return dict(DEFAULT_CRITERIA)
    try:
        data = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise BenchError(f"{config_path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    criteria = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(criteria, dict):
        raise BenchError(f"{config_path}: expected an object with a 'criteria' object")
    return criteria


def find_agent_dir(eval_file: Path) -> Path | None:
    """The ADK agent folder an eval file belongs to: the nearest folder with agent.py or __init__.py."""
    for folder in [eval_file.parent, *eval_file.parent.parents][:3]:
        if (folder / "agent.py").exists() or (folder / "__init__.py").exists():
            return folder
    return None


def _load_one(path: Path) -> Any:
    from google.adk.evaluation.local_eval_sets_manager import load_eval_set_from_file

    eval_set_id = path.name.removesuffix(".evalset.json").removesuffix(".test.json")
    try:
        return load_eval_set_from_file(str(path), eval_set_id)
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValidationError, KeyError, TypeError, AttributeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"{path}: not an ADK eval set ({first})") from None


def load_evalset(spec: str) -> LoadedEvalSet:
    """Load an eval-set argument into cases, criteria and provenance (see the module doc)."""
    path_text, wanted = split_case_selection(spec)
    path = resolve_evalset_path(path_text)
    files = find_eval_files(path)
    sets = [_load_one(f) for f in files]
    eval_set = sets[0]
    if len(sets) > 1:
        eval_set = eval_set.model_copy(
            update={"eval_cases": [c for s in sets for c in s.eval_cases], "eval_set_id": path.name}
        )
    cases = list(eval_set.eval_cases)
    if wanted:
        by_id = {c.eval_id: c for c in cases}
        unknown = [c for c in wanted if c not in by_id]
        if unknown:
            raise BenchError(
                f"--evalset: unknown case id {', '.join(unknown)} in {path} "
                f"(cases: {', '.join(by_id)})"
            )
        cases = [by_id[c] for c in wanted]
    if not cases:
        raise BenchError(f"--evalset: {path} has no eval cases")
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    agent_dir = path if path.is_dir() and (path / "agent.py").exists() else find_agent_dir(files[0])
    return LoadedEvalSet(
        eval_set=eval_set,
        files=files,
        agent_dir=agent_dir,
        criteria=load_criteria(files[0]),
        content_sha256=digest.hexdigest(),
        selected_case_ids=wanted,
        cases=cases,
    )
