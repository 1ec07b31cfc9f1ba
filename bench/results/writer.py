"""Records -> Parquet tables with declared schemas and provenance in the file metadata."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench import __version__
from bench.constants import SCHEMA_VERSION

METADATA_KEY = b"bench"


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


def to_table(records: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Keep the schema's columns (missing -> null), in its order and types; extra keys are dropped."""
    columns = {f.name: [_coerce(r.get(f.name), f.type) for r in records] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def provenance_metadata(provenance: dict[str, Any]) -> dict[bytes, bytes]:
    meta = {"schema_version": SCHEMA_VERSION, "bench_version": __version__, **provenance}
    return {METADATA_KEY: json.dumps(meta, sort_keys=True, default=str).encode()}


def write_table(path: Path, table: pa.Table, provenance: dict[str, Any]) -> Path:
    """Atomic write (temp file + rename): a reader never sees half a Parquet file."""
    existing = table.schema.metadata or {}
    table = table.replace_schema_metadata({**existing, **provenance_metadata(provenance)})
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(METADATA_KEY, b"{}"))
