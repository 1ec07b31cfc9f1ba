"""The CLI documents itself and the README documents the CLI (after sqlite-utils' test_docs.py).

Fails when a command, sub-command or option has no help, when `--help` of any command fails, when
help cuts an option name at 80 columns, when the root help's list of commands drifts from the
commands' own help, when a command module imports a heavy library at start-up, or when the README
names a `--flag` that no bench command has.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from typer._click import Command, Context
from typer.testing import CliRunner

from bench.cli.app import COMMANDS, app

README = Path(__file__).resolve().parents[2] / "README.md"
# Flags the README names that belong to other tools, with the tool.
NOT_BENCH_FLAGS = {
    "--wheel": "uv build",
    "--api-key": "vLLM's own flag, named where the README says bench refuses it",
    "--tokenizer-mode": "vLLM's own flag (the mistral tokenizer)",
    "--server": "benchmarks/soak.py",
    "--bytecode": "benchmarks/load_overhead.py",
    "--only": "benchmarks/client_cpu.py",
    "--tool-strict-level": "vLLM's own flag (smollm2-135m's catalog entry sets it)",
    "--override-generation-config": "vLLM's own flag (smollm2-135m's catalog entry sets it)",
    "--run-realmodel": "pytest option for the opt-in real-weights test",
    "--enable-prompt-tokens-details": "vLLM's own flag (bench always passes it: cached tokens)",
    "--dataset-name": "vllm bench serve's flag (replaying an export-trace file)",
    "--backend": "vllm bench serve's flag (replaying an export-trace file)",
    "--disable-shuffle": "vllm bench serve's flag (replaying an export-trace file)",
    "--skip-chat-template": "vllm bench serve's flag (replaying an export-trace file)",
    "--timed-trace-chunk-hash-size": "vllm bench serve's flag (replaying a mooncake export)",
    "--timed-trace-sec-multiplier": "vllm bench serve's flag (replaying a mooncake export)",
}
# Libraries that cost seconds to import; a command imports them when it runs, not at start-up.
HEAVY = ("google.adk", "litellm", "pandas", "pyarrow", "locust", "matplotlib")


def _walk(command: Command, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Command]]:
    yield path, command
    list_commands = getattr(command, "list_commands", None)
    if list_commands is not None:
        ctx = Context(command)
        for name in list_commands(ctx):
            sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
            assert sub is not None, f"{' '.join(path)} lists {name} but cannot load it"
            yield from _walk(sub, (*path, name))


ALL = dict(_walk(typer.main.get_command(app), ()))
LEAVES = {p: c for p, c in ALL.items() if not hasattr(c, "list_commands")}


def _ids(paths: object) -> list[str]:
    return [" ".join(p) or "bench" for p in paths]  # type: ignore[attr-defined]


def _option_names(command: Command) -> list[str]:
    return [
        name
        for param in command.params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
    ]


@pytest.mark.parametrize("path", list(ALL), ids=_ids(ALL))
def test_command_has_help(path: tuple[str, ...]) -> None:
    assert (ALL[path].help or "").strip(), f"bench {' '.join(path)} has no help text"


@pytest.mark.parametrize("path", list(LEAVES), ids=_ids(LEAVES))
def test_every_option_has_help(path: tuple[str, ...]) -> None:
    missing = [
        param.opts[0]
        for param in LEAVES[path].params
        if param.param_type_name == "option" and not (getattr(param, "help", None) or "").strip()
    ]
    assert not missing, f"bench {' '.join(path)}: options without help: {missing}"


@pytest.mark.parametrize("path", list(ALL), ids=_ids(ALL))
def test_help_exits_0(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "usage:" in result.output.lower()  # `fake-server` prints its own parser's help


def test_fake_server_help_lists_its_flags() -> None:
    result = CliRunner().invoke(app, ["fake-server", "--help"])
    assert result.exit_code == 0, result.output
    assert all(
        flag in result.output for flag in ("--ttft-ms", "--itl-ms", "--fail-rate", "--fault")
    )


def test_root_help_matches_each_command() -> None:
    """`bench --help` lists commands from app.COMMANDS without importing them: same words."""
    assert set(COMMANDS) == {p[0] for p in ALL if len(p) == 1}
    for name, lazy in COMMANDS.items():
        first_paragraph = (ALL[(name,)].help or "").strip().split("\n\n")[0]
        assert " ".join(lazy.help.split()) == " ".join(first_paragraph.split()), name


def _bench_help(args: list[str], columns: int) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TERMINAL_WIDTH"}
    env["COLUMNS"] = str(columns)
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", ["run", "serve", "sweep"])
def test_help_never_cuts_option_names_at_80_columns(name: str) -> None:
    """The commands with the longest option names, through the real entry point."""
    text = _bench_help([name], columns=80)
    for option in _option_names(ALL[(name,)]):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
            f"bench {name} --help at 80 columns cuts {option}"
        )


@pytest.mark.parametrize(
    ("args", "allowed"), [(["--help"], set()), (["models", "list"], {"bench.cli.models"})]
)
def test_start_up_imports_only_what_the_command_needs(args: list[str], allowed: set[str]) -> None:
    """`bench --help` loads no command module; `bench models list` only its own. Neither loads
    the server, load, agent, scoring, results or report code."""
    code = (
        "import json, sys\n"
        "from bench.cli.app import main\n"
        "try:\n    main(sys.argv[1:])\n"
        "except SystemExit:\n    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    commands = {lazy.target.split(":")[0] for lazy in COMMANDS.values()} - {"bench.cli.app"}
    assert loaded & commands == allowed
    stages = ("bench.server", "bench.load", "bench.agent", "bench.scoring", "bench.results")
    assert not {m for m in loaded if m.startswith((*stages, "bench.report"))}


def test_command_modules_import_no_heavy_library() -> None:
    modules = sorted({lazy.target.split(":")[0] for lazy in COMMANDS.values()})
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        f"print([h for h in {HEAVY!r} if h in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"imported at start-up: {done.stdout.strip()}"


def _fake_server_flags() -> set[str]:
    """`bench fake-server` passes its flags on to its own argparse parser."""
    from bench.testing.fake_server import build_parser

    return {opt for action in build_parser()._actions for opt in action.option_strings}


def test_readme_flags_exist() -> None:
    readme = README.read_text()
    known = {"--help"} | {name for command in ALL.values() for name in _option_names(command)}
    known |= _fake_server_flags()
    # `--[no-]enable-prefix-caching` names both forms.
    negatable = re.findall(r"(?<![\w-])--\[no-\]([a-z][a-z0-9-]*)", readme)
    named = set(re.findall(r"(?<![\w\[\]-])(--[a-z][a-z0-9-]*)", readme))
    named |= {f"--{n}" for n in negatable} | {f"--no-{n}" for n in negatable}
    unknown = sorted(named - known - set(NOT_BENCH_FLAGS))
    assert not unknown, f"README names flags no bench command has: {unknown}"
