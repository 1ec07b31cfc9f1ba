"""Every agent-folder shape people write runs through `bench run --agent`, or is refused in one
line (tests/fixtures/agents/corpus/README.md lists the shapes).

Each shape is a real `bench run` against the fake server, with the preflight on, so the parent
process loads the folder more than once (input check, pair validation, preflight) before the
Locust load process loads it again; the MCP shapes talk to a real MCP server. The runs go three
at a time in one module fixture (the fake server and the CPU are shared); each test then reads
its own run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from bench.evalset_checks import validate_evalsets
from bench.server.process import free_port
from bench.testing.fake_server import running_fake_server

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "agents" / "corpus"
EVALSET = CORPUS / "corpus.evalset.json"
RUNS = ["ns_agent", "pkg_agent", "rel_tools_agent", "workflow_agent", "agent_tool_agent",
        "callbacks_agent", "app_plugin_agent", "yaml_agent", "dotenv_agent", "mcp_stdio_agent",
        "mcp_http_agent", "planner_agent", "search_agent", "grocery_agent", "grocery_agent:run"]  # fmt: skip
NOT_RUN = ("search_agent", "grocery_agent")  # refused before the run
SECRET = "sk-corpus-dotenv-secret-4d1f"  # in dotenv_agent/.env


@dataclass
class Played:
    code: int
    output: str
    run_dir: Path
    log: list[str]  # what the agent's callbacks and plugins wrote (corpus_log.py)

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.run_dir / f"{name}.parquet")

    def manifest(self) -> dict:
        return json.loads((self.run_dir / "manifest.json").read_text())


def _bench_run(
    key: str, url: str, results: Path, env: dict[str, str], cwd: Path | None = None
) -> Played:
    """`shape`, or `shape:run` for a run past the pair check (`--no-validate`); `bench` as its
    console script starts it (`python -m` would put the working directory on sys.path)."""
    shape, _, mode = key.partition(":")
    run_id = key.replace(":", "_")
    log = results / f"{run_id}.log"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "bench"), "run", "--endpoint", url, "--model", "fake",
         "--agent", str(CORPUS / shape), "--evalset", str(EVALSET), "--users", "1",
         "--sessions", "3", "--processes", "1", "--results-dir", str(results), "--run-id", run_id,
         *(["--no-validate"] if mode == "run" else [])],
        env={**env, "CORPUS_AGENT_LOG": str(log)}, capture_output=True, text=True, timeout=300,
        cwd=cwd,
    )  # fmt: skip
    lines = log.read_text().splitlines() if log.exists() else []
    return Played(proc.returncode, proc.stdout + proc.stderr, results / run_id, lines)


@pytest.fixture(scope="module")
def mcp_url():
    port = free_port()
    server = subprocess.Popen([sys.executable, str(CORPUS / "mcp_server.py"), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def played(tmp_path_factory, mcp_url) -> dict[str, Played]:
    results = tmp_path_factory.mktemp("corpus")
    env = {**os.environ, "CORPUS_MCP_URL": mcp_url}
    env.pop("CORPUS_DOTENV_API_KEY", None)  # only the folder's .env may set it
    # Run from a folder holding another `ns_agent`: as with a user's own folders, only the agent
    # given to --agent loads, in bench's process and in the load process alike.
    cwd = tmp_path_factory.mktemp("cwd")
    (cwd / "ns_agent").mkdir()
    (cwd / "ns_agent" / "agent.py").write_text("raise RuntimeError('the decoy was imported')\n")
    with running_fake_server() as url, ThreadPoolExecutor(3) as pool:
        futures = {s: pool.submit(_bench_run, s, url, results, env, cwd) for s in RUNS}
        return {shape: future.result() for shape, future in futures.items()}


SOURCES = {"ns_agent": "root_agent in agent.py", "pkg_agent": "root_agent in agent.py",
           "app_plugin_agent": "app in agent.py", "yaml_agent": "root_agent.yaml"}  # fmt: skip


@pytest.mark.parametrize("shape", [s for s in RUNS if s not in NOT_RUN and ":" not in s])
def test_every_shape_runs_and_calls_its_tools(played: dict[str, Played], shape: str) -> None:
    run = played[shape]
    assert run.code == 0, run.output[-3000:]
    assert "Traceback" not in run.output and "EXPERIMENTAL" not in run.output
    assert "App name mismatch" not in run.output
    assert run.manifest()["status"] == "completed"
    assert "Traceback" not in (run.run_dir / "locust.log").read_text()  # a normal finish
    turns = run.table("turns")
    assert len(turns) >= 3 and turns["error_type"].isna().all(), turns[["case_id", "error"]]
    by_case = {c: [json.loads(x) if isinstance(x, str) else list(x) for x in g["tool_calls"]]
               for c, g in turns.groupby("case_id")}  # fmt: skip
    # The fake server answers these questions with these calls, and the agent's own tools ran.
    assert all({"name": "get_weather", "args": {"city": "London"}} in calls
               for calls in by_case["weather_london"])  # fmt: skip
    assert (turns[turns["case_id"] == "weather_london"]["tool_time_ms"] > 0).all()
    agent = run.manifest()["agent"]
    assert agent["folder"] == str(CORPUS / shape)
    if shape in SOURCES:
        assert agent["source"] == SOURCES[shape]


def test_an_app_runs_with_its_plugins_in_the_load_process(played: dict[str, Played]) -> None:
    run = played["app_plugin_agent"]
    assert run.manifest()["agent"]["plugins"] == ["audit"]
    assert run.manifest()["agent"]["app_name"] == "app_plugin_agent"
    sessions = run.table("sessions")
    load_pids = {str(p) for p in sessions["pid"]}
    before_run = [line.split()[0] for line in run.log if line.endswith("plugin before_run")]
    # Once per turn in the load process (the preflight's turns run in the parent).
    assert sum(pid in load_pids for pid in before_run) == len(run.table("turns"))
    tool_lines = [line for line in run.log if "plugin before_tool" in line]
    assert any(line.split()[0] in load_pids for line in tool_lines)


def test_callbacks_instruction_provider_and_agent_tool_run(played: dict[str, Played]) -> None:
    callbacks = played["callbacks_agent"].log
    calls = len(played["callbacks_agent"].table("llm_calls"))
    load_pids = {str(p) for p in played["callbacks_agent"].table("llm_calls")["pid"]}
    in_load = [line.split(maxsplit=1)[1] for line in callbacks if line.split()[0] in load_pids]
    assert in_load.count("before_model") == calls
    assert "before_tool get_weather" in in_load and "after_tool get_weather" in in_load
    provider = [
        line for line in played["agent_tool_agent"].log if line.endswith("instruction_provider")
    ]
    assert len(provider) >= len(played["agent_tool_agent"].table("llm_calls"))


def test_workflow_agents_and_output_key_state(played: dict[str, Played]) -> None:
    run = played["workflow_agent"]
    calls = run.table("llm_calls")
    assert set(calls["agent_name"]) == {"weather_desk", "time_desk", "summariser"}
    prompts = [json.loads(line) for f in sorted((run.run_dir / "raw").glob("prompts.*.jsonl"))
               for line in f.read_text().splitlines()]  # fmt: skip
    said = [re.search(r"The weather desk said: (.*)", p["messages"][0]["content"])
            for p in prompts if p["agent_name"] == "summariser"]  # fmt: skip
    # output_key put the weather desk's answer into state; the summariser's instruction read it.
    assert said and all(m and m.group(1).strip() and "{" not in m.group(1) for m in said)


def test_dotenv_loads_and_its_secret_goes_nowhere(played: dict[str, Played]) -> None:
    run = played["dotenv_agent"]
    assert set(run.table("llm_calls")["agent_name"]) == {"dotenv_agent"}  # named by the .env
    assert SECRET not in run.output
    for path in run.run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_mcp_tool_time_is_in_the_turn_split(played: dict[str, Played]) -> None:
    for shape in ("mcp_stdio_agent", "mcp_http_agent"):
        turns = played[shape].table("turns")
        called = turns[turns["case_id"] != "greeting"]
        assert (called["tool_time_ms"] > 0).all() and called["error_type"].isna().all()
        assert played[shape].manifest()["known_tools"] == ["get_current_time", "get_weather"]


def test_gemini_only_features(played: dict[str, Played]) -> None:
    search = played["search_agent"]
    assert search.code == 2 and not search.run_dir.exists()
    lines = [line for line in search.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: agent folder") and "google_search" in lines[-1]
    assert "cannot run against vLLM" in lines[-1] and "Traceback" not in search.output
    planner = played["planner_agent"]
    assert "agent 'planner_agent' uses BuiltInPlanner" in planner.output
    assert "BuiltInPlanner" in planner.manifest()["agent"]["warnings"][0]


def test_a_wrong_pair_stops_before_the_run_or_is_named_by_the_preflight(
    played: dict[str, Played],
) -> None:
    refused = played["grocery_agent"]
    assert refused.code == 2 and not refused.run_dir.exists()
    last = [line for line in refused.output.splitlines() if line.strip()][-1]
    assert "the eval set does not fit this agent" in last
    assert "tools the agent does not have: get_current_time, get_weather" in last
    assert "(the agent has: add_to_cart)" in last and "--no-validate" in last
    anyway = played["grocery_agent:run"]  # --no-validate
    assert anyway.code == 0, anyway.output[-2000:]
    assert (
        "preflight: the model called tools the agent does not have: get_current_time, get_weather"
        in anyway.output
    )
    # ADK's "Tool 'get_weather' not found ... Possible causes" went to the run's log.
    assert "Possible causes" not in anyway.output
    assert "not found" in (anyway.run_dir / "bench.log").read_text()


def test_evalsets_validate_accepts_every_shape_twice(mcp_url: str, monkeypatch) -> None:
    monkeypatch.setenv("CORPUS_MCP_URL", mcp_url)
    for _ in range(2):
        for shape in [s for s in RUNS if s not in NOT_RUN and ":" not in s]:
            report = validate_evalsets(EVALSET, CORPUS / shape)
            assert report.ok, (shape, report.problems)
            assert not report.notes, (shape, report.notes)  # MCP tools were listed, not guessed


def test_a_dead_mcp_server_is_a_tool_error_not_a_crash(tmp_path: Path) -> None:
    """The stdio MCP server dies on its second tool call (the first measured session's; the
    first is warm-up) and stays dead: that turn and every later one fail as tool errors; the
    run completes and says so."""
    env = {**os.environ, "CORPUS_MCP_DIE_FILE": str(tmp_path / "dead"),
           "CORPUS_MCP_DIE_AFTER": "2"}  # fmt: skip
    with running_fake_server() as url:
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--endpoint", url, "--model", "fake",
             "--agent", str(CORPUS / "mcp_stdio_agent"), "--evalset", f"{EVALSET}:weather_london",
             "--users", "1", "--sessions", "4", "--processes", "1", "--no-preflight",
             "--results-dir", str(tmp_path), "--run-id", "dies"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    turns = pd.read_parquet(tmp_path / "dies" / "turns.parquet").sort_values("started_at")
    errors = [None if pd.isna(e) else e for e in turns["error"]]
    assert errors[0] is None  # the first call was answered
    assert all(e is not None for e in errors[1:]) and len(errors) >= 4
    assert set(turns["error_type"].dropna()) == {"ToolError"}
    # The call the server died on (ADK answered the model with the error), then the turns that
    # could not even list the tools.
    assert errors[1] == "tool get_weather failed: MCP tool execution failed: Connection closed"
    assert all("toolset McpToolset failed to list its tools" in e for e in errors[2:])
