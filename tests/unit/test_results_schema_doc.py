"""docs/results-schema.md is what scripts/results_schema_doc.py makes from the declared schemas.

The test only reads: it never writes the file. A new or renamed column fails it until someone
runs `.venv/bin/python scripts/results_schema_doc.py` and commits the result.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from bench.schemas.tables import STEPPED_TABLES, TABLES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "results-schema.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "results_schema_doc", ROOT / "scripts" / "results_schema_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doc_is_what_the_generator_makes() -> None:
    expected = _generator().render()
    assert DOC.read_text() == expected, (
        "docs/results-schema.md is stale: run .venv/bin/python scripts/results_schema_doc.py"
    )


def test_every_column_of_every_table_is_listed_with_a_description() -> None:
    text = DOC.read_text()
    for table, schema in {**TABLES, **STEPPED_TABLES}.items():
        section = text.split(f"## `{table}.parquet`", 1)[1].split("\n## ", 1)[0]
        rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| [^|]+ \| (.*) \|$", section, re.M))
        assert list(rows) == schema.names, table
        assert not [c for c, what in rows.items() if not what.strip()], f"{table}: no description"
