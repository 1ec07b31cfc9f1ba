"""The layers of `bench` import one way (DESIGN.md, "Layout"), and only the bottom layer names
the files of a run folder. Both are read from the source with `ast`, imports inside functions
included, so a lazy import cannot hide an edge.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import bench
from bench.schemas.run_dir import RunDir
from bench.schemas.tables import TABLES

PACKAGE_DIR = Path(bench.__file__).parent

# Unit of the rules: the first name under `bench` (a package, or a top-level module).
BOTTOM = {"", "__init__", "constants", "schemas"}
STAGES = {"server", "models", "evalset", "agent", "scoring", "load", "results", "report", "testing",
          "compat"}  # fmt: skip
RUNNER = {"runner"}
TOP = {"cli", "__main__"}
# Top-level modules that belong to a stage package.
ALIASES = {"evalset_checks": "evalset"}

# Stage -> the other stages it may import (besides the bottom layer).
ALLOWED: dict[str, set[str]] = {
    # the patches of third-party internals: just above the bottom layer, below who applies them
    "compat": set(),
    "server": {"models"},  # the launch plan comes from the model catalog
    "models": set(),
    "evalset": {"agent", "scoring"},  # checks an eval set against its agent and criteria
    "agent": {"compat"},  # the lean stream and the strict parser on every LLM call
    "scoring": set(),
    # process lifetime (die_with_parent) and the /metrics text parser for the live web UI;
    # the patches the load process applies
    "load": {"agent", "compat", "evalset", "scoring", "server"},
    "results": {"scoring"},
    "report": {"results", "scoring"},
    "testing": {"models"},  # the fake server plays the tiny model's scripted cases
}
NEVER = {
    ("server", "results"),
    ("results", "server"),
    ("load", "report"),
    ("load", "results"),
    ("load", "runner"),
}


@dataclass(frozen=True)
class Edge:
    module: str  # importing module, dotted
    target: str  # imported module, dotted
    line: int

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def unit(dotted: str) -> str:
    parts = dotted.split(".")
    name = parts[1] if len(parts) > 1 else ""
    name = ALIASES.get(name, name)
    return "runner" if name in RUNNER else name


def layer(name: str) -> str:
    if name in BOTTOM:
        return "bottom"
    if name in STAGES:
        return "stage"
    if name == "runner":
        return "runner"
    if name in TOP:
        return "top"
    raise AssertionError(f"bench.{name}: not placed in a layer (add it to this test)")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in PACKAGE_DIR.rglob("*.py")}


def edges(name: str, tree: ast.Module, is_package: bool) -> list[Edge]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, base] if base else here)
            # `from bench import constants` names a module; `from bench.x import f` a name in x
            targets = [f"{base}.{a.name}" if base == "bench" else base for a in node.names]
        else:
            continue
        found += [Edge(name, t, node.lineno) for t in targets if t.split(".")[0] == "bench"]
    return found


def all_edges() -> list[Edge]:
    trees = modules()
    packages = {module_name(p) for p in PACKAGE_DIR.rglob("__init__.py")}
    return [e for name, tree in trees.items() for e in edges(name, tree, name in packages)]


def violation(edge: Edge) -> str | None:
    src, dst = unit(edge.module), unit(edge.target)
    if src == dst or dst == "__version__":
        return None
    src_layer, dst_layer = layer(src), layer(dst)
    if (src, dst) in NEVER:
        return f"{edge}: never {src} -> {dst}"
    if dst_layer == "bottom" or src_layer == "top":
        return None
    if src_layer == "bottom":
        return f"{edge}: the bottom layer imports nothing above it"
    if dst_layer == "top":
        return f"{edge}: nothing imports the CLI"
    if src_layer == "runner":
        return None  # the runner drives every stage
    if dst_layer == "runner":
        return f"{edge}: a stage package never imports the runner"
    if dst not in ALLOWED[src]:
        return f"{edge}: {src} may import only {sorted(ALLOWED[src]) or 'the bottom layer'}"
    return None


def test_every_module_sits_in_a_layer() -> None:
    for name in modules():
        layer(unit(name))


def test_imports_run_downward_only() -> None:
    problems = [v for e in all_edges() if (v := violation(e)) is not None]
    assert problems == []


def test_the_rules_catch_a_forbidden_import() -> None:
    """The checker itself: edges that must fail do, the allowed ones pass."""
    bad = [
        Edge("bench.server.metrics", "bench.results.raw", 1),
        Edge("bench.results.build", "bench.server.metrics", 1),
        Edge("bench.load.webui", "bench.report.html", 1),
        Edge("bench.load.process", "bench.runner.run", 1),
        Edge("bench.schemas.raw", "bench.results.writer", 1),
        Edge("bench.scoring.tally", "bench.agent.session", 1),
        Edge("bench.report.runs", "bench.cli.app", 1),
        Edge("bench.compat.lean_stream", "bench.agent.timed_model", 1),
        Edge("bench.scoring.calls", "bench.compat.gate", 1),
    ]
    good = [
        Edge("bench.load.locustfile", "bench.agent.session", 1),
        Edge("bench.report.runs", "bench.results.writer", 1),
        Edge("bench.runner.tables", "bench.results.build", 1),
        Edge("bench.cli.run", "bench.runner.run", 1),
        Edge("bench.results.build", "bench.schemas.tables", 1),
        Edge("bench.agent.timed_model", "bench.compat.lean_stream", 1),
        Edge("bench.compat.gate", "bench.constants", 1),
    ]
    assert all(violation(e) for e in bad)
    assert not any(violation(e) for e in good)
    lazy = "def f():\n    from bench.report import html\n"
    assert edges("bench.load.x", ast.parse(lazy), False) == [
        Edge("bench.load.x", "bench.report", 2)
    ]


# ----------------------------------------------------------------------------- one home per error

REPO_DIR = PACKAGE_DIR.parent
ERRORS_HOME = "bench.schemas.errors"


def error_imports_elsewhere(tree: ast.Module) -> list[int]:
    """Lines importing BenchError or RunFailed from anywhere but their home."""
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module != ERRORS_HOME
        and {a.name for a in node.names} & {"BenchError", "RunFailed"}
    )


def test_errors_are_imported_from_their_home_only() -> None:
    """One path to BenchError: the shim `bench.errors` is gone and nobody re-exports it."""
    assert not (PACKAGE_DIR / "errors.py").exists()
    problems = []
    for folder in ("bench", "tests", "benchmarks", "scripts"):
        for path in sorted((REPO_DIR / folder).rglob("*.py")):
            lines = error_imports_elsewhere(ast.parse(path.read_text(), str(path)))
            problems += [f"{path.relative_to(REPO_DIR)}:{line}" for line in lines]
    assert problems == [], f"import BenchError/RunFailed from {ERRORS_HOME}"
    bad = "from bench.errors import BenchError\nfrom bench.schemas.errors import RunFailed\n"
    assert error_imports_elsewhere(ast.parse(bad)) == [1]


# The fake server's modules, lowest first: each imports only those before it. The settings sit
# below the HTTP app and the CLI: they know nothing of either.
FAKE_SERVER = ["faults", "policy", "metrics", "settings", "completion", "streaming", "app", "cli",
               "process"]  # fmt: skip


def test_fake_server_modules_import_one_way() -> None:
    prefix = "bench.testing.fake_server."
    inside = [e for e in all_edges()
              if e.module.startswith(prefix) and e.target.startswith(prefix)]  # fmt: skip
    assert inside, "no edges inside bench.testing.fake_server: the test no longer sees it"
    for edge in inside:
        src, dst = edge.module.removeprefix(prefix), edge.target.removeprefix(prefix)
        if src != "__main__":
            assert FAKE_SERVER.index(src) > FAKE_SERVER.index(dst), str(edge)
    modules_found = {p.stem for p in (PACKAGE_DIR / "testing" / "fake_server").glob("*.py")}
    assert modules_found - {"__init__", "__main__"} == set(FAKE_SERVER)


# ----------------------------------------------------------------------------- run-folder names

NAME_EXEMPT: set[str] = set()  # nobody outside bench/schemas spells a run-folder file


def run_folder_names() -> set[str]:
    """Every file name RunDir knows, read from RunDir itself."""
    rd = RunDir(Path("run"))
    names = {
        getattr(rd, attr).name
        for attr, value in inspect.getmembers(RunDir)
        if isinstance(value, property) and isinstance(getattr(rd, attr), Path)
    }
    names |= {rd.table(t).name for t in TABLES}
    return names - {rd.path.name, "locust"}  # "locust" is also the module run with -m


def documentation(tree: ast.Module) -> set[int]:
    """Docstrings and `help=` texts: they may tell the user a file's name."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "help":
            ids |= {id(n) for n in ast.walk(node.value)}
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def spelt_names(tree: ast.Module, names: set[str]) -> list[tuple[int, str]]:
    """String constants (docstrings aside) holding one of the names as a whole file name."""
    skip = documentation(tree)
    alternatives = "|".join(re.escape(n) for n in sorted(names))
    pattern = re.compile(rf"(?<![\w.-])({alternatives})(?![\w.])|\.jsonl\b|^raw$")
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and pattern.search(node.value)
    )


def test_run_folder_names_cover_the_layout() -> None:
    names = run_folder_names()
    assert {"manifest.json", "server.log", "load_spec.json", "summary.parquet"} <= names
    assert {"sweep.json", "sla_probes.parquet", "raw", "tickets.json"} <= names


@pytest.mark.parametrize(
    "rel", sorted(str(p.relative_to(PACKAGE_DIR.parent)) for p in PACKAGE_DIR.rglob("*.py"))
)
def test_only_the_bottom_layer_names_run_folder_files(rel: str) -> None:
    if rel.startswith("bench/schemas/") or rel in NAME_EXEMPT:
        return
    tree = ast.parse((PACKAGE_DIR.parent / rel).read_text())
    assert spelt_names(tree, run_folder_names() - {"raw"}) == [], f"{rel}: ask a RunDir"


def test_name_check_finds_a_literal() -> None:
    source = (
        '"""Writes manifest.json."""\n'
        'path = run / "manifest.json"\n'
        'f"{t}.0.jsonl"\n'
        'log = "see server.log"\n'
        'ok = ("locust.login", "report.html.j2", "my-server.log", "raw_bad_lines")\n'
        'typer.Option(help="default: RUN/report.html")\n'
    )
    hits = spelt_names(ast.parse(source), {"manifest.json", "server.log", "report.html"})
    assert [line for line, _ in hits] == [2, 3, 4]


# ----------------------------------------------------------------------------- BENCH_* variables

ENV_EXEMPT: set[str] = set()  # every BENCH_* name comes from bench/schemas/settings.py


def bench_variables(tree: ast.Module) -> list[tuple[int, str]]:
    skip = documentation(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skip
        and re.fullmatch(r"BENCH_[A-Z_]+", node.value)
    ]


def test_bench_variables_are_named_only_in_settings() -> None:
    spelt = {
        rel: hits
        for path in PACKAGE_DIR.rglob("*.py")
        if (rel := str(path.relative_to(PACKAGE_DIR.parent))) != "bench/schemas/settings.py"
        and rel not in ENV_EXEMPT
        and (hits := bench_variables(ast.parse(path.read_text())))
    }
    assert spelt == {}
    assert bench_variables(ast.parse('x = os.environ.get("BENCH_CATALOG")')) == [
        (1, "BENCH_CATALOG")
    ]


def module_graph() -> dict[str, set[str]]:
    """Module -> the bench modules it imports (a name imported from a module counts as it)."""
    names = set(modules())
    graph: dict[str, set[str]] = {name: set() for name in names}
    for e in all_edges():
        target = e.target
        while target not in names and "." in target:
            target = target.rsplit(".", 1)[0]
        if target in names and target != e.module:
            graph[e.module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_through_others() -> None:
    assert cycles(module_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_constants_import_nothing_of_bench() -> None:
    """Every module may read a default; constants depends on no module, so none is circular."""
    assert module_graph()["bench.constants"] == set()
