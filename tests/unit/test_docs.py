"""The CLI documents itself and the docs document the CLI (after sqlite-utils' test_docs.py).

Fails when a command, sub-command or option has no help, when `--help` of any command fails, when
help cuts an option name at 80 columns, when the root help's list of commands drifts from the
commands' own help, when a command module imports a heavy library at start-up, or when the README
or a page of docs/ names a `--flag` that no bench command has, shows a `bench ...` command line
the real CLI would refuse, names a flag its inline `bench X` command lacks, links to a page or
heading that does not exist, or holds a DuckDB or pandas example that does not run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer.main
from typer._click import Command, Context
from typer.testing import CliRunner

from bench.cli.app import COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
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
    "--from-literal": "kubectl create secret's flag (docs/kubernetes.md)",
    "--for": "kubectl's flag (docs/kubernetes.md)",
    "--image": "kubectl's flag (docs/kubernetes.md)",
    "--overrides": "kubectl's flag (docs/kubernetes.md)",
    "--restart": "kubectl's flag (docs/kubernetes.md)",
    "--timeout": "kubectl's flag (docs/kubernetes.md)",
    "--worker": "plain locust's flag (docs/kubernetes.md, the Helm chart)",
    "--data-parallel-address": "vLLM's own flag, passed after `--` (docs/kubernetes.md)",
    "--data-parallel-rpc-port": "vLLM's own flag, passed after `--` (docs/kubernetes.md)",
    "--headless": "vLLM's own flag, passed after `--` (docs/kubernetes.md)",
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


def _doc_ids(docs: list[Path]) -> list[str]:
    return [str(d.relative_to(ROOT)) for d in docs]


@pytest.mark.parametrize("doc", DOCS, ids=_doc_ids(DOCS))
def test_doc_flags_exist(doc: Path) -> None:
    text = doc.read_text()
    known = {"--help"} | {name for command in ALL.values() for name in _option_names(command)}
    known |= _fake_server_flags()
    # `--[no-]enable-prefix-caching` names both forms.
    negatable = re.findall(r"(?<![\w-])--\[no-\]([a-z][a-z0-9-]*)", text)
    named = set(re.findall(r"(?<![\w\[\]-])(--[a-z][a-z0-9-]*)", text))
    named |= {f"--{n}" for n in negatable} | {f"--no-{n}" for n in negatable}
    unknown = sorted(named - known - set(NOT_BENCH_FLAGS))
    assert not unknown, f"{doc.name} names flags no bench command has: {unknown}"


# A command in a shell block: `bench ...` or `.venv/bin/bench ...`, after `&&` or a variable.
BENCH_LINE = re.compile(r"(?:^|&&|\s)(?:\.venv/bin/)?bench\s+(.+)$")
SHELL = {"", "bash", "sh", "shell", "console"}


def _blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a Markdown text: (language, body)."""
    blocks, lang, body = [], None, []  # type: ignore[var-annotated]
    for line in text.splitlines():
        if line.startswith("```"):
            if lang is None:
                lang, body = line[3:].strip(), []
            else:
                blocks.append((lang, "\n".join(body) + "\n"))
                lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def _prose(text: str) -> str:
    """The text outside code blocks."""
    return re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.S | re.M)


def _command_lines(doc: Path) -> list[str]:
    """Every `bench` command line of the doc's shell code blocks, continuations joined, without
    the comment, the trailing `&`, and what a pipe or `||` hands on."""
    lines = []
    for lang, body in _blocks(doc.read_text()):
        if lang not in SHELL:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = re.split(r"\s+#\s|\s+\|\|?\s|\s+>\s", line)[0].rstrip(" &")
            match = BENCH_LINE.search(line)
            if match:
                lines.append(match.group(1))
    return lines


def _leaf(args: list[str]) -> tuple[tuple[str, ...], Command, list[str]]:
    """The command the arguments name, and the arguments left for it."""
    n = max(k for k in range(len(args) + 1) if tuple(args[:k]) in ALL)
    return tuple(args[:n]), ALL[tuple(args[:n])], args[n:]


def _parse(args: list[str]) -> str | None:
    """Why the real CLI would refuse the command line, or None."""
    path, command, rest = _leaf(args)
    if path == ("fake-server",):
        from bench.testing.fake_server import build_parser

        parser = build_parser()
        parser.error = lambda message: (_ for _ in ()).throw(ValueError(message))  # type: ignore[method-assign]
        try:
            parser.parse_args(rest)
        except ValueError as error:
            return str(error)
        return None
    if hasattr(command, "list_commands"):
        return f"bench {' '.join(path)} needs a sub-command, got {rest[:1]}"
    try:
        ctx = command.make_context("bench " + " ".join(path), list(rest))
    except Exception as error:  # typer's click: NoSuchOption, MissingParameter, BadOptionUsage
        return str(error)
    if ctx.args and "--" not in rest:  # only `bench run ... -- <vLLM flags>` passes extras on
        return f"unexpected arguments {ctx.args}"
    return None


DOC_COMMANDS = [(doc, line) for doc in DOCS for line in _command_lines(doc)]


def test_docs_show_commands() -> None:
    """The extraction finds the commands the README's tour shows (it cannot pass by finding none)."""
    readme = [line for doc, line in DOC_COMMANDS if doc == README]
    assert any(line.startswith("run --model tiny") for line in readme), readme
    assert any(line.startswith("compare ") for line in readme), readme
    assert len({doc for doc, _ in DOC_COMMANDS}) >= 5


@pytest.mark.parametrize(
    ("doc", "line"), DOC_COMMANDS, ids=[f"{d.name}:{line[:40]}" for d, line in DOC_COMMANDS]
)
def test_doc_command_lines_parse(doc: Path, line: str) -> None:
    args = shlex.split(line.replace("[", "").replace("]", ""))
    problem = _parse(args)
    assert problem is None, f"{doc.name}: bench {line}\n{problem}"


def test_a_wrong_command_line_is_caught() -> None:
    assert "No such option" in (_parse(["run", "--model", "tiny", "--no-such-flag"]) or "")
    assert _parse(["run", "--users"]) is not None  # a value missing
    assert _parse(["results", "rebuild"]) is not None  # an argument missing
    assert _parse(["models"]) is not None  # a group, not a command
    assert _parse(["fake-server", "--no-such-flag"]) is not None
    assert _parse(["compare", "results/", "--baseline", "a", "--fail-on", "x<1"]) is None


def test_kubernetes_manifest_commands_parse() -> None:
    """The worked Kubernetes manifest's containers run bench command lines the CLI accepts, and it
    defines the volume it mounts (a pod waiting on a missing claim never starts)."""
    import yaml

    documents = list(yaml.safe_load_all((ROOT / "docs" / "kubernetes-locust.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    containers = [
        c for d in documents if "template" in d.get("spec", {})
        for c in d["spec"]["template"]["spec"]["containers"]
    ]  # fmt: skip
    assert len(containers) == 2, containers  # the master and the worker
    for container in containers:
        assert container["command"][0] == ".venv/bin/bench", container["command"]
        assert _parse(container["command"][1:]) is None, container["command"]
    for d in documents:
        for volume in d.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []):
            claim = volume["persistentVolumeClaim"]["claimName"]
            assert ("PersistentVolumeClaim", claim) in kinds, claim


# `bench X ...` in inline code: the flags must be X's own (the prose shows templates with
# placeholders, `[optional]` parts and `a|b` choices, so only the flags are checked).
INLINE = re.compile(r"`(?:\.venv/bin/)?bench ([a-z][^`]*)`")


def _inline_commands(doc: Path) -> list[str]:
    return [m.group(1) for m in INLINE.finditer(_prose(doc.read_text())) if "--" in m.group(1)]


INLINE_COMMANDS = [(doc, cmd) for doc in DOCS for cmd in _inline_commands(doc)]


@pytest.mark.parametrize(
    ("doc", "cmd"), INLINE_COMMANDS, ids=[f"{d.name}:{c[:40]}" for d, c in INLINE_COMMANDS]
)
def test_inline_commands_name_their_own_flags(doc: Path, cmd: str) -> None:
    """`bench models list / show NAME / build-tiny DIR [--variant V]` names three commands of one
    group: each part's flags are checked against its own command."""
    group: tuple[str, ...] = ()
    for number, part in enumerate(cmd.split(" / ")):
        words = [w for w in re.split(r"[\s\[\]|=]+", part) if w]
        names = [w for w in words if not w.startswith("-")]
        path, command, _ = _leaf([*group, *names][: len(group) + 2])
        assert path, f"{doc.name}: `bench {cmd}` names no bench command"
        if number == 0:
            group = path[:-1]
        if path == ("fake-server",):
            own = _fake_server_flags()
        else:
            own = {"--help", *_option_names(command)}
            own |= {name.replace("--no-", "--") for name in own}  # `--[no-]x` names both
        flags = {w for w in words if re.fullmatch(r"--[a-z][a-z0-9-]*", w)}
        wrong = sorted(flags - own - set(NOT_BENCH_FLAGS))
        assert not wrong, f"{doc.name}: `bench {cmd}`: bench {' '.join(path)} has no {wrong}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", _prose(doc.read_text()), re.M)}


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=_doc_ids(DOCS))
def test_links_between_docs_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        page, _, anchor = target.partition("#")
        path = (doc.parent / page).resolve() if page else doc
        if not path.exists() or anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert not broken, f"{doc.name}: links to nothing: {broken}"


def test_slug_matches_github() -> None:
    assert _slug("Metric definitions (what changed in results schemas v2, v3 and v4)") == (
        "metric-definitions-what-changed-in-results-schemas-v2-v3-and-v4"
    )
    assert _slug("`llm_calls.parquet`") == "llm_callsparquet"


def _results_folder(root: Path) -> None:
    """Two runs of one row per table, every column set, typed by the declared schemas."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bench.schemas.tables import STEPPED_TABLES, TABLES

    value = {"int64": 1, "double": 1.5, "string": "x", "bool": False}
    for run in ("run-a", "run-b"):
        (root / "results" / run).mkdir(parents=True)
        for name, schema in {**TABLES, **STEPPED_TABLES}.items():
            row = {
                f.name: (
                    datetime(2026, 12, 7, tzinfo=UTC)
                    if pa.types.is_timestamp(f.type)
                    else value[str(f.type)]
                )
                for f in schema
            }
            row["run_id"] = run
            table = pa.Table.from_pylist([row], schema=schema).replace_schema_metadata(
                {"bench": json.dumps({"schema_version": 4})}
            )
            pq.write_table(table, root / "results" / run / f"{name}.parquet")


QUERIES = [
    (doc, block)
    for doc in DOCS
    for lang, block in _blocks(doc.read_text())
    if lang == "python" and ("duckdb" in block or "pandas" in block)
]


def test_docs_hold_queries() -> None:
    assert any(doc == README for doc, _ in QUERIES)
    assert sum("duckdb" in block for _, block in QUERIES) >= 2


@pytest.mark.parametrize(
    ("doc", "block"), QUERIES, ids=[f"{d.name}:{i}" for i, (d, _) in enumerate(QUERIES)]
)
def test_doc_queries_run(
    doc: Path, block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """In process, against a results folder typed by the declared schemas: every column a query
    names must exist, and it must print something."""
    _results_folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, f"{doc.name}:python", "exec"), {"__name__": "__doc_example__"})
    assert capsys.readouterr().out.strip(), f"{doc.name}: the example printed nothing"
