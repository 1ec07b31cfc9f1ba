"""The `bench` command. Each subcommand is thin: validate flags into config, call the library.

Start-up stays well under a second because a command's module is imported only when that command
runs (or shows its own help): `bench --help` lists the commands from the table below, and
`bench models list` never imports the server, load or report code. tests/unit/test_docs.py
checks that the table's help matches each command's own.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any

import typer

# typer >= 0.29 carries its own copy of click: its classes and exceptions, not `click`'s.
from typer._click import Command, Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup

from bench.schemas.errors import BenchError, RunFailed
from bench.schemas.redact import redact_url

# Rich squeezes the option table to the terminal and cuts long names (`--tensor-parallel-…`).
# Help renders at least this wide, so every option name of every command is whole at any terminal
# width (tests/unit/test_docs.py renders each help at 80 columns).
HELP_MIN_WIDTH = 120
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": False}


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (`module:attribute`), and its one-line help for `bench --help`."""

    target: str
    help: str
    context_settings: dict[str, Any] = field(default_factory=dict)

    def load(self, name: str) -> Command:
        module_name, attr = self.target.split(":")
        obj = getattr(importlib.import_module(module_name), attr)
        command: Command
        if isinstance(obj, typer.Typer):  # a group of subcommands (`bench models ...`)
            command = typer.main.get_group(obj)  # a group even with one subcommand
        else:
            single = typer.Typer()
            single.command(name, context_settings=self.context_settings or None)(obj)
            command = typer.main.get_command(single)
        command.name = name
        return command


COMMANDS = {
    "run": LazyCommand(
        "bench.cli.run:run",
        "Benchmark ADK agents on vLLM: throughput, latency and tool accuracy, written to Parquet.",
        PASSTHROUGH,
    ),
    "serve": LazyCommand(
        "bench.cli.serve:serve",
        "Start vLLM on 127.0.0.1 with the model and engine flags; stop it with Ctrl-C.",
        PASSTHROUGH,
    ),
    "check": LazyCommand(
        "bench.cli.check:check",
        "Check that tool calls work: up to 3 tool-calling eval cases, one session each.",
        PASSTHROUGH,
    ),
    "doctor": LazyCommand("bench.cli.doctor:doctor", "Check the installation and say what to fix."),
    "compare": LazyCommand(
        "bench.cli.compare:compare",
        "Compare runs: one row per run, each metric with its change against the baseline in %.",
    ),
    "report": LazyCommand(
        "bench.cli.report:report",
        "Write one HTML file that opens without network: config and provenance, the summary, "
        "latency CDFs, throughput and concurrency over time, server state, tool accuracy per "
        "case and per tool, and errors; with several runs also latency against throughput and "
        "the Pareto front.",
    ),
    "sweep": LazyCommand(
        "bench.cli.sweep:sweep",
        "Sweep engine flags x loads (x models), one vLLM server per flag combination; or find "
        "the max load.",
        PASSTHROUGH,
    ),
    "export-trace": LazyCommand(
        "bench.cli.export_trace:export_trace",
        "Write the run's LLM calls as a replayable trace: vllm-custom, mooncake or chat-jsonl.",
    ),
    "worker": LazyCommand(
        "bench.cli.worker:worker",
        "Run the users of a distributed run: the eval set, agent and server come from the master.",
    ),
    "models": LazyCommand(
        "bench.cli.models:app", "The model catalog: names bench knows and how vLLM serves them."
    ),
    "results": LazyCommand(
        "bench.cli.results:app", "Work on run folders: list them, rebuild Parquet from raw records."
    ),
    "evalsets": LazyCommand(
        "bench.cli.evalsets:app",
        "ADK eval sets: check them against their agent, list them, convert old formats.",
    ),
    "setup-vllm": LazyCommand(
        "bench.cli.setup_vllm:setup_vllm",
        "Install vLLM into a virtualenv of its own; a second run changes nothing.",
    ),
    "fake-server": LazyCommand(
        "bench.cli.app:fake_server",
        "An OpenAI-compatible fake server scripted like the tiny model, with latency and fault "
        "knobs.",
        # --help goes through to the fake server's own parser, which lists its flags
        {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    ),
}


class LazyGroup(TyperGroup):
    """The root group: imports a command's module on first use, not at start-up."""

    _listing = False  # while the root help is rendered, commands are stand-ins from COMMANDS

    def list_commands(self, ctx: Context) -> list[str]:
        return [*COMMANDS, *(n for n in super().list_commands(ctx) if n not in COMMANDS)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        lazy = COMMANDS.get(cmd_name)
        if command is not None or lazy is None:
            return command
        if self._listing:
            return TyperCommand(cmd_name, help=lazy.help)
        command = lazy.load(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="bench",
    cls=LazyGroup,
    help="Agent sessions/s, turn latency and tool-call accuracy of ADK agents on vLLM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root() -> None:
    """Agent sessions/s, turn latency and tool-call accuracy of ADK agents on vLLM."""


def fake_server(ctx: typer.Context) -> None:
    """An OpenAI-compatible fake server scripted like the tiny model, with latency and fault knobs.

    Takes the flags of `python -m bench.testing.fake_server --help` (port, latency, faults).
    """
    from bench.testing.fake_server import main as fake_main

    raise typer.Exit(fake_main(list(ctx.args)) or 0)


def widen_help() -> None:
    """Render help at least HELP_MIN_WIDTH wide (TERMINAL_WIDTH or the terminal, when wider).

    typer reads TERMINAL_WIDTH when it first renders help or an error (it imports its rich
    helpers only then, which keeps them out of every other start-up).
    """
    width = int(os.environ.get("TERMINAL_WIDTH") or shutil.get_terminal_size().columns)
    width = max(width, HELP_MIN_WIDTH)
    os.environ["TERMINAL_WIDTH"] = str(width)
    rich_utils = sys.modules.get("typer.rich_utils")
    if rich_utils is not None:
        rich_utils.MAX_WIDTH = width  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes are one line on stderr with exit code 2, never a traceback."""
    from bench.cli.console import err_console

    # LiteLLM fetches its cost map from the internet at import unless told not to (~7 s offline).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    widen_help()
    try:
        # Without standalone mode click returns typer.Exit's code instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except BenchError as exc:
        err_console.print(redact_url(f"error: {exc}"), markup=False)
        sys.exit(exc.exit_code)
    except RunFailed as exc:
        err_console.print(redact_url(f"error ({exc.status}): {exc}"), markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: click's, as typer carries them
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        sys.exit(getattr(exc, "exit_code", 2))
