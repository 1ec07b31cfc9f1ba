"""Agent folders loaded the way `adk` loads them (bench.agent.loading), in this process.

Each test writes its own folders under tmp_path with names no other test uses, since a loaded
folder stays a module of the process (as under `adk web`).
"""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from google.adk.cli.utils import envs

from bench.agent.loading import load_agent_folder
from bench.constants import EVALSETS_DIR
from bench.schemas.errors import BenchError

AGENT_PY = textwrap.dedent(
    """
    from google.adk.agents import LlmAgent

    def get_weather(city: str) -> dict:
        \"\"\"Returns the weather.\"\"\"
        return {"city": city}

    root_agent = LlmAgent(name="{agent}", model="gemini-2.5-flash", instruction="x",
                          tools=[get_weather])
    """
)


def _folder(parent: Path, stem: str, files: dict[str, str]) -> Path:
    folder = parent / f"{stem}_{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def _agent_py(agent: str = "weather") -> str:
    return AGENT_PY.replace("{agent}", agent)


def test_a_folder_with_only_agent_py_loads_twice_in_one_process(tmp_path: Path) -> None:
    """The regression: a namespace package (no __init__.py, module __file__ None) imported by
    an earlier step was then refused as 'a different module ... already imported (None)'."""
    folder = _folder(tmp_path, "ns", {"agent.py": _agent_py("ns_weather")})
    first = load_agent_folder(folder)
    assert sys.modules[folder.name].__file__ is None  # really a namespace package
    second = load_agent_folder(folder)
    assert second.root_agent is first.root_agent and first.root_agent.name == "ns_weather"
    assert first.app is None and first.source == "root_agent in agent.py"
    # A fresh lookup (another path spelling) is the same folder and the same agent.
    assert load_agent_folder(tmp_path / "." / folder.name).root_agent is first.root_agent


def test_an_app_comes_first_with_its_plugins(tmp_path: Path) -> None:
    app_py = _agent_py("with_app") + textwrap.dedent(
        """
        from google.adk.apps import App
        from google.adk.plugins.base_plugin import BasePlugin

        class Audit(BasePlugin):
            def __init__(self):
                super().__init__(name="audit")

        app = App(name="shop", root_agent=root_agent, plugins=[Audit()])
        """
    )
    folder = _folder(tmp_path, "appy", {"__init__.py": "from . import agent\n", "agent.py": app_py})
    loaded = load_agent_folder(folder)
    assert loaded.app is not None and loaded.root_agent is loaded.app.root_agent
    assert loaded.plugin_names == ["audit"] and loaded.source == "app in agent.py"
    assert loaded.info() == {"folder": str(folder), "source": "app in agent.py",
                             "app_name": "shop", "plugins": ["audit"], "warnings": []}  # fmt: skip


def test_root_agent_yaml_and_init_only_folders(tmp_path: Path) -> None:
    yaml_folder = _folder(tmp_path, "yml", {})
    name = yaml_folder.name
    (yaml_folder / "tools.py").write_text(
        "def get_weather(city: str) -> dict:\n    return {'city': city}\n"
    )
    (yaml_folder / "root_agent.yaml").write_text(
        f"name: yaml_weather\nmodel: gemini-2.5-flash\ninstruction: x\n"
        f"tools:\n  - name: {name}.tools.get_weather\n"
    )
    loaded = load_agent_folder(yaml_folder)
    assert loaded.root_agent.name == "yaml_weather" and loaded.source == "root_agent.yaml"
    assert [getattr(t, "__name__", None) for t in loaded.root_agent.tools] == ["get_weather"]

    init_only = _folder(tmp_path, "initonly", {"__init__.py": _agent_py("init_weather")})
    loaded = load_agent_folder(init_only)
    assert loaded.root_agent.name == "init_weather" and loaded.source == "root_agent in __init__.py"


def test_dotenv_is_loaded_before_import_and_set_variables_win(tmp_path: Path, monkeypatch) -> None:
    key, kept = (
        f"LOADING_TEST_NAME_{uuid.uuid4().hex[:6]}",
        f"LOADING_TEST_KEPT_{uuid.uuid4().hex[:6]}",
    )
    monkeypatch.setenv(kept, "from the shell")
    # ADK snapshots the shell's variables at the first `.env` it loads in a process; an earlier
    # test may have loaded one before this variable existed, so start from a fresh snapshot
    envs._get_explicit_env_keys.cache_clear()
    agent_py = _agent_py("placeholder").replace(
        '"placeholder"', f'__import__("os").environ["{key}"]'
    )
    folder = _folder(tmp_path, "envy", {"agent.py": agent_py,
                                        ".env": f"{key}=env_weather\n{kept}=from the file\n"})  # fmt: skip
    try:
        assert load_agent_folder(folder).root_agent.name == "env_weather"
        assert os.environ[kept] == "from the shell"  # ADK keeps what was set before
    finally:
        os.environ.pop(key, None)
        envs._get_explicit_env_keys.cache_clear()


def test_two_folders_of_one_name_take_turns(tmp_path: Path) -> None:
    """Your copy of a shipped agent, after the calibration loaded the shipped one."""
    name = f"twin_{uuid.uuid4().hex[:8]}"
    a, b = tmp_path / "a" / name, tmp_path / "b" / name
    for folder, agent in ((a, "twin_a"), (b, "twin_b")):
        folder.mkdir(parents=True)
        (folder / "agent.py").write_text(_agent_py(agent))
    first = load_agent_folder(a)
    second = load_agent_folder(b)
    assert (first.root_agent.name, second.root_agent.name) == ("twin_a", "twin_b")
    assert load_agent_folder(a).root_agent.name == "twin_a"  # and back
    assert first.root_agent.name == "twin_a"  # earlier objects stay usable


def test_a_folder_named_like_an_installed_module_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "dotenv"  # python-dotenv is installed (ADK loads .env files with it)
    folder.mkdir()
    (folder / "agent.py").write_text(_agent_py())
    with pytest.raises(BenchError, match=r"its name 'dotenv' is taken by another module .*dotenv"):
        load_agent_folder(folder)


@pytest.mark.parametrize(
    ("files", "stem", "message"),
    [
        ({}, "empty", "no agent.py, __init__.py or root_agent.yaml"),
        ({"agent.py": "x = 1\n"}, "noroot", "no app or root_agent in agent.py or __init__.py, and no root_agent.yaml"),
        ({"agent.py": "import not_a_module_anywhere\n"}, "badimport",
         r"import failed \(ModuleNotFoundError: .*not_a_module_anywhere"),
        ({"agent.py": "raise RuntimeError('boom')\n"}, "raises", r"import failed \(RuntimeError: .*boom"),
        ({"agent.py": "root_agent = 42\n"}, "notagent", "root_agent is not an ADK agent"),
    ],
)  # fmt: skip
def test_errors_are_one_line_naming_the_folder(tmp_path: Path, files, stem, message) -> None:
    folder = _folder(tmp_path, stem, files)
    with pytest.raises(BenchError, match=message) as caught:
        load_agent_folder(folder)
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)


def test_missing_and_misnamed_folders(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="does not exist"):
        load_agent_folder(tmp_path / "missing")
    dashed = tmp_path / "my-agent"
    dashed.mkdir()
    (dashed / "agent.py").write_text(_agent_py())
    with pytest.raises(BenchError, match="'my-agent' is not a valid agent name"):
        load_agent_folder(dashed)


GEMINI_ONLY = {
    "google_search": ("from google.adk.tools import google_search", "tools=[google_search]"),
    "BuiltInCodeExecutor": (
        "from google.adk.code_executors import BuiltInCodeExecutor",
        "code_executor=BuiltInCodeExecutor()",
    ),
}


@pytest.mark.parametrize("feature", sorted(GEMINI_ONLY))
def test_gemini_only_features_are_refused_in_one_line(tmp_path: Path, feature: str) -> None:
    imports, argument = GEMINI_ONLY[feature]
    agent_py = (f"{imports}\nfrom google.adk.agents import LlmAgent\n"
                f"root_agent = LlmAgent(name='gem', model='gemini-2.5-flash', {argument})\n")  # fmt: skip
    folder = _folder(tmp_path, "gem", {"agent.py": agent_py})
    with pytest.raises(BenchError, match=f"agent 'gem' uses {feature}.*cannot run against vLLM"):
        load_agent_folder(folder)


def test_builtin_planner_is_a_warning(tmp_path: Path) -> None:
    agent_py = _agent_py("planned").replace(
        'instruction="x",',
        'instruction="x", planner=__import__("google.adk.planners", fromlist=["x"])'
        ".BuiltInPlanner(thinking_config=__import__('google.genai.types', fromlist=['x'])"
        ".ThinkingConfig(include_thoughts=True)),",
    )
    loaded = load_agent_folder(_folder(tmp_path, "planner", {"agent.py": agent_py}))
    assert len(loaded.warnings) == 1
    assert "agent 'planned' uses BuiltInPlanner" in loaded.warnings[0]


def test_shipped_agents_load() -> None:
    loaded = load_agent_folder(EVALSETS_DIR / "weather_time")
    assert loaded.root_agent.name == "weather_time_agent" and loaded.app is None
