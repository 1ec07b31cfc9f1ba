"""Load an ADK agent folder the way `adk run`, `adk web` and `adk eval` load it.

ADK's own `AgentLoader` does the work, so every shape `adk` accepts runs here too: an `app`
(an `App`, whose plugins and app settings then apply) before a `root_agent`, in `agent.py` or
`__init__.py`; a `root_agent.yaml` config agent; a folder with or without `__init__.py` (without
it the folder is a namespace package, whose module has no `__file__`); the folder's `.env`,
loaded before the import (ADK keeps variables already set in the environment).

A folder is loaded once per process: every later call (check, preflight, calibration, the load
itself) gets the same objects back. Two different folders with one name cannot both be Python
modules at once: the later load takes the name over (the earlier agent's objects stay usable),
and a folder named like an installed module (`dotenv`, `json`) is refused, since importing it
would shadow that module for ADK and everything else in the process.

Built-in Gemini features cannot run against vLLM. Those ADK refuses on a non-Gemini model (the
built-in search and grounding tools, the built-in code executor) are refused here, at load, in
one line; `BuiltInPlanner`'s thinking config, which LiteLLM drops, is a warning.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.agent.model_override import iter_agents
from bench.schemas.errors import BenchError

AGENT_FILES = ("agent.py", "__init__.py", "root_agent.yaml")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # ADK's AgentLoader accepts these names only

# Built-in model tools: ADK raises "... is not supported for model ..." on every request to a
# non-Gemini model, so the agent cannot run against vLLM at all (class name -> what it is).
_GEMINI_TOOLS = {
    "GoogleSearchTool": "Gemini's built-in Google Search",
    "UrlContextTool": "Gemini's built-in URL context",
    "EnterpriseWebSearchTool": "Gemini's built-in enterprise web search",
    "GoogleMapsGroundingTool": "Gemini's built-in Google Maps grounding",
    "VertexAiSearchTool": "Vertex AI Search grounding",
}


@dataclass(frozen=True)
class LoadedAgent:
    """An agent folder as ADK loaded it."""

    folder: Path
    root_agent: Any  # the BaseAgent to run (the App's root_agent when the folder has an app)
    app: Any = None  # the folder's `App`, when it exposes `app`: sessions run through it
    source: str = ""  # where it came from, e.g. "app in agent.py", "root_agent.yaml"
    warnings: tuple[str, ...] = field(default_factory=tuple)  # one line each, said at load

    @property
    def plugin_names(self) -> list[str]:
        return [
            str(getattr(p, "name", type(p).__name__))
            for p in (self.app.plugins if self.app else [])
        ]

    def info(self) -> dict[str, Any]:
        """For the manifest: what was measured (no secrets: names and paths only)."""
        return {
            "folder": str(self.folder),
            "source": self.source,
            "app_name": self.app.name if self.app is not None else None,
            "plugins": self.plugin_names,
            "warnings": list(self.warnings),
        }


_LOADED: dict[Path, LoadedAgent] = {}


def is_agent_folder(folder: Path) -> bool:
    """A folder `adk` could load: `agent.py`, `root_agent.yaml` or `__init__.py`."""
    return any((folder / name).is_file() for name in AGENT_FILES)


def load_agent_folder(agent_dir: str | Path) -> LoadedAgent:
    """The agent in `agent_dir`, loaded by ADK's AgentLoader (once per process; see module doc)."""
    folder = Path(agent_dir).resolve()
    cached = _LOADED.get(folder)
    if cached is not None and _owns_name(folder):
        return cached
    if not folder.is_dir():
        raise BenchError(f"agent folder {agent_dir} does not exist")
    if not is_agent_folder(folder):
        raise BenchError(f"agent folder {folder}: no agent.py, __init__.py or root_agent.yaml "
                         "(not an ADK agent folder)")  # fmt: skip
    name = folder.name
    if not _NAME.match(name):
        raise BenchError(f"agent folder {folder}: '{name}' is not a valid agent name (ADK takes "
                         "letters, digits and underscores); rename the folder")  # fmt: skip
    _claim_name(folder)
    loaded = _load(folder)
    _LOADED[folder] = loaded
    return loaded


def _load(folder: Path) -> LoadedAgent:
    from google.adk.agents import BaseAgent
    from google.adk.apps import App
    from google.adk.cli.utils.agent_loader import AgentLoader, is_single_agent_directory

    # A folder with agent.py or root_agent.yaml: ADK's single-agent mode (what `adk run DIR`
    # does); one with only __init__.py: the folder as one agent of its parent (`adk web PARENT`).
    single = is_single_agent_directory(folder)
    loader = AgentLoader(str(folder if single else folder.parent))
    _quiet_app_name_check()
    try:
        with warnings.catch_warnings():  # "[EXPERIMENTAL] _load_from_yaml_config": said in the docs
            warnings.filterwarnings("ignore", r"\[EXPERIMENTAL\]", UserWarning)
            found = loader.load_agent(folder.name)
    except Exception as exc:
        raise BenchError(f"agent folder {folder}: {_load_error(exc)}") from exc
    app = found if isinstance(found, App) else None
    root = app.root_agent if app is not None else found
    if not isinstance(root, BaseAgent):
        raise BenchError(f"agent folder {folder}: the root is a {type(root).__name__}, not an ADK "
                         "agent (bench runs BaseAgent trees)")  # fmt: skip
    return LoadedAgent(folder, root, app, _source(folder, app), tuple(_gemini_only(folder, root)))


def _load_error(exc: BaseException) -> str:
    """ADK's loader errors in one line: its 'not found' text spans a dozen lines."""
    text = str(exc).strip()
    if text.startswith("No root_agent found"):
        return "no app or root_agent in agent.py or __init__.py, and no root_agent.yaml"
    if "is not a BaseAgent" in text or "it is not a BaseAgent" in text:
        return "root_agent is not an ADK agent (expose a BaseAgent as root_agent, or an App as app)"
    first = text.splitlines()[0] if text else ""
    return f"import failed ({type(exc).__name__}: {first})"


def _source(folder: Path, app: Any) -> str:
    what = "app" if app is not None else "root_agent"
    if app is None and not (folder / "agent.py").exists() and not (folder / "__init__.py").exists():
        return "root_agent.yaml"
    module = sys.modules.get(f"{folder.name}.agent")
    if module is not None and hasattr(module, what):
        return f"{what} in agent.py"
    if (folder / "__init__.py").exists():
        return f"{what} in __init__.py"
    return "root_agent.yaml"


class _AppNameMismatch(logging.Filter):
    """Drops ADK's "App name mismatch detected" warning: bench names each session's app as its
    eval case does (`session_input.app_name`), which need not be the folder's name."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("App name mismatch detected")


def _quiet_app_name_check() -> None:
    logger = logging.getLogger("google_adk.google.adk.runners")
    if not any(isinstance(f, _AppNameMismatch) for f in logger.filters):
        logger.addFilter(_AppNameMismatch())


# ------------------------------------------------------------------ one module name per folder


def _module_folders(module: ModuleType) -> list[Path]:
    """Where a module lives: a package's folder(s) (a namespace package has only `__path__`)."""
    paths = list(getattr(module, "__path__", None) or [])
    if not paths and getattr(module, "__file__", None):
        paths = [str(Path(module.__file__).parent)]  # type: ignore[arg-type]
    return [Path(p).resolve() for p in paths]


def _owns_name(folder: Path) -> bool:
    """No other folder took the module name since (a YAML agent may never import its own)."""
    module = sys.modules.get(folder.name)
    return module is None or folder in _module_folders(module)


def _claim_name(folder: Path) -> None:
    """Make `import <folder name>` import this folder (see the module doc)."""
    name, parent = folder.name, str(folder.parent)
    module = sys.modules.get(name)
    if module is not None:
        if folder in _module_folders(module):
            return
        if not any(f in _LOADED for f in _module_folders(module)):
            where = ", ".join(str(f) for f in _module_folders(module)) or "built in"
            raise BenchError(_name_taken(folder, where))
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]  # an agent folder of the same name loaded earlier
        importlib.invalidate_caches()
    else:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = _spec_folders(spec)
        if spec is not None and folder not in origin:
            where = ", ".join(str(f) for f in origin) or "built in"
            raise BenchError(_name_taken(folder, where))
    if parent in sys.path:
        sys.path.remove(parent)
    sys.path.insert(0, parent)  # ahead of any other folder holding a same-named agent


def _name_taken(folder: Path, where: str) -> str:
    return (f"agent folder {folder}: its name '{folder.name}' is taken by another module "
            f"({where}), which importing the folder would shadow; rename the folder")  # fmt: skip


def _spec_folders(spec: Any) -> list[Path]:
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [Path(p).resolve() for p in spec.submodule_search_locations]
    return [Path(spec.origin).resolve().parent] if spec.origin not in (None, "built-in") else []


# ------------------------------------------------------------------ Gemini-only features


def _gemini_only(folder: Path, root: Any) -> list[str]:
    """Refuse what cannot run against vLLM; return warnings for what runs without it."""
    warnings: list[str] = []
    for agent in iter_agents(root):
        who = f"agent folder {folder}: agent '{agent.name}'"
        for tool in getattr(agent, "tools", None) or []:
            kind = type(tool).__name__
            if kind in _GEMINI_TOOLS:
                raise BenchError(f"{who} uses {getattr(tool, 'name', kind)} "
                                 f"({_GEMINI_TOOLS[kind]}), which runs inside Gemini and cannot "
                                 "run against vLLM; replace it with a function tool")  # fmt: skip
        executor = getattr(agent, "code_executor", None)
        if type(executor).__name__ == "BuiltInCodeExecutor":
            raise BenchError(f"{who} uses BuiltInCodeExecutor (Gemini's built-in code execution), "
                             "which cannot run against vLLM; use UnsafeLocalCodeExecutor or a "
                             "function tool")  # fmt: skip
        planner = getattr(agent, "planner", None)
        if type(planner).__name__ == "BuiltInPlanner":
            warnings.append(f"{who} uses BuiltInPlanner: its thinking_config is Gemini's and "
                            "LiteLLM drops it, so the agent runs without planned thinking")  # fmt: skip
    return warnings
