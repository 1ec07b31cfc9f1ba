"""No function in `bench/agent` or `bench/cli` is longer than 60 lines (decorators aside,
docstring included): a longer one is split into named steps. Read from the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import bench

PACKAGE_DIR = Path(bench.__file__).parent
CHECKED = ("agent", "cli")
MAX_LINES = 60


def long_functions(source: str, name: str, max_lines: int = MAX_LINES) -> list[str]:
    """`file:line function (N lines)` for each function or method over `max_lines`."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > max_lines:
                found.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_over_60_lines() -> None:
    too_long = [
        entry
        for package in CHECKED
        for path in sorted((PACKAGE_DIR / package).rglob("*.py"))
        for entry in long_functions(path.read_text(), str(path.relative_to(PACKAGE_DIR.parent)))
    ]
    assert too_long == [], "split into named steps:\n" + "\n".join(too_long)


def test_the_check_counts_lines_of_methods_and_async_functions() -> None:
    short = "def short():\n" + "    x = 1\n" * 59  # 60 lines: allowed
    long = "class A:\n    async def long(self):\n" + "        x = 1\n" * 60  # 61 lines
    assert long_functions(short + long, "m.py") == ["m.py:62 long (61 lines)"]
