"""`bench evalsets`: validate eval sets against their agent, list them, convert old formats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bench.cli.console import console
from bench.schemas.errors import BenchError

app = typer.Typer(
    help="ADK eval sets: check them against their agent, list them, convert old formats.",
    no_args_is_help=True,
)


def _shown(path: str | Path) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _name(path: str | Path) -> str:
    return Path(path).name


@app.command("validate")
def validate(
    path: Annotated[str, typer.Argument(help="Eval file, folder of eval files, or shipped name.")],
    agent: Annotated[
        Path | None,
        typer.Option(help="Agent folder to check against (default: the one each file is in)."),
    ] = None,
) -> None:
    """Check that every file parses and every expected tool call fits the agent's tools.

    Exit code 0 when clean, 1 when problems were found, 2 for a bad path or agent folder.
    """
    from bench.evalset_checks import validate_evalsets

    report = validate_evalsets(path, agent)
    for note in report.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    summary = (
        f"{len(report.files)} file(s), {report.cases} case(s), "
        f"{report.tool_calls} expected tool call(s)"
        + (f", {report.scenarios} user-simulator case(s)" if report.scenarios else "")
    )
    if report.ok:
        console.print(f"ok: {summary}, no problems", markup=False, soft_wrap=True)
        return
    by_file: dict[str, list] = {}
    for p in report.problems:
        by_file.setdefault(p.file, []).append(p)
    for file, problems in by_file.items():
        table = Table("case", "invocation", "field", "problem", title=_shown(file))
        for p in problems:
            table.add_row(p.case or "-", str(p.invocation or "-"), p.field, p.message)
        console.print(table)
    console.print(f"{len(report.problems)} problem(s) in {summary}", markup=False, soft_wrap=True)
    raise typer.Exit(1)


@app.command("list")
def list_evalsets(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Eval files or folders to list besides the shipped.")
    ] = None,
) -> None:
    """List the shipped eval sets (under evalsets/) and any given ones with their sizes."""
    from bench.evalset_checks import shipped_evalset_dirs, summarize

    given = list(paths or [])
    for p in given:
        if not p.exists():
            raise BenchError(f"{p} does not exist")
    # every case is runnable; "scenario" counts the user-simulator cases among them (their
    # turns are decided while they run, so they add nothing to "turns" and "tool calls")
    table = Table("eval set", "format", "cases", "scenario", "turns", "tool calls", "agent")
    shipped = shipped_evalset_dirs()
    for path in [*shipped, *given]:
        s = summarize(path)
        # Shipped sets by the name --evalset takes (an installed wheel keeps them in site-packages).
        shown = _shown if path not in shipped else _name
        table.add_row(
            shown(path),
            ", ".join(s.formats),
            str(s.cases),
            str(s.scenarios),
            str(s.turns),
            str(s.tool_calls),
            shown(s.agent_dir) if s.agent_dir else "-",
        )
    console.print(table)


@app.command("convert")
def convert(
    source: Annotated[Path, typer.Argument(help="A legacy, web-UI or current eval file.")],
    out: Annotated[Path, typer.Argument(help="Where to write the current EvalSet JSON.")],
    force: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Write an eval file in an old ADK format as a current EvalSet file (`*.evalset.json`)."""
    from bench.evalset_checks import convert_to_evalset

    ef = convert_to_evalset(source, out, overwrite=force)
    cases = ef.eval_set.eval_cases
    turns = sum(len(c.conversation or []) for c in cases)
    console.print(
        f"{source} ({ef.format}) -> {out}: {len(cases)} case(s), {turns} turn(s)",
        markup=False,
        soft_wrap=True,
    )
    config = source.parent / "test_config.json"
    if config.exists() and out.parent.resolve() != source.parent.resolve():
        console.print(
            f"note: copy {config} beside {out} to keep its criteria", markup=False, soft_wrap=True
        )
