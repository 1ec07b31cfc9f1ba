"""Write docs/results-schema.md: every Parquet column of every table, from the declared schemas.

    .venv/bin/python scripts/results_schema_doc.py          # rewrite docs/results-schema.md
    .venv/bin/python scripts/results_schema_doc.py --check  # exit 1 when the file is stale

The row types (`bench.schemas.records`, `bench.schemas.summaries`) are the one declaration of
each table; `bench.schemas.tables` derives the Parquet schemas from them. A column's description
is its line in `bench.schemas.column_help` (the summary's columns), else the comment on or right
above its field in the row type's source, else the shared line of `column_help.COMMON_HELP`. `tests/unit/test_results_schema_doc.py` fails
when the file is not what `render()` makes, so a new column shows up here in the same change.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import sys
import tokenize
from pathlib import Path

from bench.constants import SCHEMA_VERSION
from bench.schemas import records, summaries, tables
from bench.schemas.column_help import COMMON_HELP, summary_help
from bench.schemas.columns import record_columns

DOC = Path(__file__).resolve().parents[1] / "docs" / "results-schema.md"

# (file, what it holds, the row types whose columns it has, in order)
RUN_TABLES: list[tuple[str, str, tuple[type, ...]]] = [
    ("llm_calls", "one row per LLM call (the agent's and ADK's user simulator's)", ()),
    ("turns", "one row per turn: one invocation of an eval case", ()),
    ("sessions", "one row per session: one eval case played once", ()),
    ("cases", "one row per eval case: its trials, pass^k and pass@k, tool metrics", ()),
    ("tools", "one row per tool: precision, recall, argument match", ()),
    ("server_metrics", "every sample of every scrape of the server's /metrics", ()),
    ("client", "the load processes' CPU and event-loop lag, once a second", ()),
    ("summary", "one row per run (or per load step): every figure of the summary", ()),
    ("by_turn_index", "one row per turn index and load step", ()),
]
OTHER_TABLES: list[tuple[str, str, tuple[type, ...]]] = [
    (
        "cases_by_step",
        "runs with load steps and sweep folders: one row per eval case and step",
        tuple(tables.STEPPED_ROW_TYPES.values()),
    ),
    (
        "sweep_summary",
        "sweep folder: one row per point; after the leading columns, one column per swept "
        "engine flag (named after it, e.g. `max_num_seqs`), then every `summary` column",
        tables.SWEEP_SUMMARY_ROWS[:1],
    ),
    (
        "sla_probes",
        "sweep folder of `--find-max-load`: one row per probe, then the `summary` columns "
        "it was judged on",
        tables.SLA_PROBE_ROWS[:1],
    ),
    (
        "sla_summary",
        "sweep folder of `--find-max-load`: the answer per engine-flag combination",
        tables.SLA_SUMMARY_ROWS,
    ),
]
PARQUET_TYPE = {
    "int": "int64",
    "float": "double",
    "str": "string",
    "bool": "bool",
    "timestamp": "timestamp (UTC)",
    "json": "string (JSON)",
}


def _class_comments(module: object) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Class name -> (its base names, field -> the comment on its line, else the comment block
    right above it), for every class of the module's source."""
    source = inspect.getsource(module)  # type: ignore[arg-type]
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    lines = source.splitlines()
    found: dict[str, tuple[list[str], dict[str, str]]] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        fields: dict[str, str] = {}
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            number = item.lineno
            text = comments.get(number, "")
            above = number - 1
            block: list[str] = []
            while above in comments and lines[above - 1].strip().startswith("#"):
                block.insert(0, comments[above])
                above -= 1
            fields[item.target.id] = text or " ".join(block)
        bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
        found[node.name] = (bases, fields)
    return found


_CLASSES = {**_class_comments(records), **_class_comments(summaries)}


def _descriptions(*rows: type) -> dict[str, str]:
    """Field -> its comment, over the row types and the classes they derive from."""
    found: dict[str, str] = {}

    def visit(name: str) -> None:
        bases, fields = _CLASSES.get(name, ([], {}))
        for base in bases:
            visit(base)
        found.update({k: v for k, v in fields.items() if v})

    for row in rows:
        visit(row.__name__)
    return found


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(name: str, what: str, rows: tuple[type, ...]) -> list[str]:
    schema = tables.schema_of(*rows)
    notes = _descriptions(*rows)
    lines = [f"## `{name}.parquet`", "", what[0].upper() + what[1:] + ".", ""]
    lines += ["| column | type | what |", "|---|---|---|"]
    kinds = {n: k for row in rows for n, k in record_columns(row).items()}
    for field in schema:
        help_text = summary_help(field.name) if name == "summary" else ""
        text = help_text or notes.get(field.name) or COMMON_HELP.get(field.name, "")
        lines.append(f"| `{field.name}` | {PARQUET_TYPE[kinds[field.name]]} | {_cell(text)} |")
    return [*lines, ""]


def render() -> str:
    """The whole of docs/results-schema.md."""
    lines = [
        "# Results schema",
        "",
        "<!-- Generated by scripts/results_schema_doc.py from bench/schemas: do not edit. -->",
        "",
        f"Every Parquet table bench writes, results schema version {SCHEMA_VERSION}, "
        "column by column, in the order of the file. Units are in the names (`_ms`, `_s`, "
        "`_pct`); times are UTC. Every file carries the schema version and the run's provenance "
        "in its `bench` metadata key. What the figures mean: [metrics.md](metrics.md); where "
        "the files are: [results.md](results.md).",
        "",
        "Run folder tables (`results/<run_id>/<table>.parquet`):",
        "",
    ]
    for name, what, _ in RUN_TABLES:
        lines.append(f"- [`{name}`](#{name}parquet): {what}")
    lines += ["", "Tables of stepped runs and sweep folders:", ""]
    for name, what, _ in OTHER_TABLES:
        lines.append(f"- [`{name}`](#{name}parquet): {what.split(':')[0]}")
    lines.append("")
    for name, what, _ in RUN_TABLES:
        lines += _table(name, what, (tables.ROW_TYPES[name],))
    for name, what, rows in OTHER_TABLES:
        lines += _table(name, what, rows)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if DOC.read_text() != text:
            print(f"{DOC} is stale: run scripts/results_schema_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
