"""The Parquet schema of every table, derived from the row types, and records -> pyarrow tables.

Units are in the column names; times are UTC. Raw JSONL records carry epoch seconds; `to_table`
turns `EpochS` columns into timestamps and nested values into JSON strings. A key that no row
type declares is refused (`SchemaError`, naming the key and the table) instead of being dropped.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from bench.schemas.columns import ColumnKind, record_columns
from bench.schemas.errors import BenchError
from bench.schemas.records import (
    CaseRow,
    ClientSample,
    LlmCallRow,
    ServerMetricRow,
    SessionRow,
    ToolRow,
    TurnRow,
)
from bench.schemas.summaries import (
    ByTurnIndexRow,
    CasesByStepRow,
    SlaAnswerRow,
    SlaProbeRow,
    SummaryRow,
    SweepPointColumns,
)

ARROW_TYPES: dict[ColumnKind, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
}


class SchemaError(BenchError):
    """A record key that no row type declares (a misspelt key, or a file from another version)."""


def schema_of(*rows: type) -> pa.Schema:
    """The pyarrow schema of one or more row types (their columns in declaration order)."""
    fields: dict[str, pa.Field] = {}
    for row in rows:
        for name, kind in record_columns(row).items():
            fields.setdefault(name, pa.field(name, ARROW_TYPES[kind]))
    return pa.schema(list(fields.values()))


# The tables of a run folder: <name>.parquet.
ROW_TYPES: dict[str, type] = {
    "llm_calls": LlmCallRow,
    "turns": TurnRow,
    "sessions": SessionRow,
    "cases": CaseRow,
    "tools": ToolRow,
    "server_metrics": ServerMetricRow,
    "client": ClientSample,
    "summary": SummaryRow,
    "by_turn_index": ByTurnIndexRow,
}
TABLES: dict[str, pa.Schema] = {name: schema_of(row) for name, row in ROW_TYPES.items()}
RAW_TABLES = ("llm_calls", "turns", "sessions")
# Tables that only a run with load steps has, beside the above (bench.results.under_load).
CASES_BY_STEP = "cases_by_step"
STEPPED_ROW_TYPES: dict[str, type] = {CASES_BY_STEP: CasesByStepRow}
STEPPED_TABLES: dict[str, pa.Schema] = {n: schema_of(r) for n, r in STEPPED_ROW_TYPES.items()}

# The tables of a sweep folder: declared columns plus one column per engine flag of the sweep.
SWEEP_SUMMARY_ROWS: tuple[type, ...] = (SweepPointColumns, SummaryRow)
SLA_PROBE_ROWS: tuple[type, ...] = (SlaProbeRow, SummaryRow)
SLA_SUMMARY_ROWS: tuple[type, ...] = (SlaAnswerRow,)
SWEEP_CASES_BY_STEP_ROWS: tuple[type, ...] = (CasesByStepRow,)


def _coerce(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_timestamp(typ):
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value
    if pa.types.is_string(typ) and not isinstance(value, str):
        return json.dumps(value, sort_keys=True, default=str)
    if pa.types.is_integer(typ):
        return int(value)
    if pa.types.is_floating(typ):
        return float(value)
    if pa.types.is_boolean(typ):
        return bool(value)
    return value


def _check_keys(
    records: Iterable[Mapping[str, Any]], declared: Collection[str], table: str
) -> None:
    for record in records:
        for key in record:
            if key not in declared:
                raise SchemaError(
                    f"table {table}: key '{key}' is not declared (bench/schemas/records.py)"
                )


def to_table(records: Sequence[Mapping[str, Any]], schema: pa.Schema, table: str) -> pa.Table:
    """The schema's columns in its order and types; a missing key is null, an undeclared one
    raises `SchemaError`."""
    _check_keys(records, set(schema.names), table)
    columns = {f.name: [_coerce(r.get(f.name), f.type) for r in records] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def open_schema(
    records: Sequence[Mapping[str, Any]],
    rows: Sequence[type],
    inferred: Collection[str],
    table: str,
) -> pa.Schema:
    """Columns in the records' key order: typed by the first row type declaring them, or, for
    names in `inferred` (engine flags, named by the user), from their values."""
    declared = schema_of(*rows)
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    fields = []
    for name in names:
        if name in declared.names:
            fields.append(declared.field(name))
        elif name in inferred:
            fields.append(pa.field(name, pa.array([r.get(name) for r in records]).type))
        else:
            raise SchemaError(
                f"table {table}: key '{name}' is not declared (bench/schemas/summaries.py)"
            )
    return pa.schema(fields)


def engine_flag_columns(flags: Iterable[str]) -> set[str]:
    """The column names an engine flag can take in sweep tables (`--max-num-seqs` ->
    `max_num_seqs`, or `engine_max_num_seqs` where a summary column has that name)."""
    names = {flag.lstrip("-").replace("-", "_") for flag in flags}
    return names | {f"engine_{name}" for name in names}


def to_open_table(
    records: Sequence[Mapping[str, Any]], rows: Sequence[type], flags: Iterable[str], table: str
) -> pa.Table:
    schema = open_schema(records, rows, engine_flag_columns(flags), table)
    return to_table(records, schema, table)
