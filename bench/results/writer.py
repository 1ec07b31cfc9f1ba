"""Pyarrow tables -> Parquet files with provenance in the file metadata.

The schemas and `to_table` (records -> a declared table) live in `bench.schemas.tables`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bench import __version__
from bench.constants import SCHEMA_VERSION

METADATA_KEY = b"bench"


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
    result: dict[str, Any] = json.loads(meta.get(METADATA_KEY, b"{}"))
    return result
