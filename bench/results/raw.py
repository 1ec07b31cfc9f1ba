"""Raw JSONL records: one file per table and load process (`raw/<table>.<pid>.jsonl`).

Each record is one line, flushed when it completes, so a crash loses at most the line being
written; the reader skips a truncated or garbled line and counts it instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def raw_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "raw"


def raw_files(run_dir: str | Path, table: str) -> list[Path]:
    return sorted(raw_dir(run_dir).glob(f"{table}.*.jsonl"))


@dataclass
class RawRead:
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: int = 0


def read_jsonl(paths: list[Path]) -> RawRead:
    out = RawRead()
    for path in paths:
        with path.open("rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    out.bad_lines += 1  # the line a crash cut short
                    continue
                if isinstance(record, dict):
                    out.records.append(record)
                else:
                    out.bad_lines += 1
    return out


def read_raw(run_dir: str | Path, table: str) -> RawRead:
    return read_jsonl(raw_files(run_dir, table))


def read_records(run_dir: str | Path, table: str) -> list[dict[str, Any]]:
    """Every complete record of a table, across load processes (a torn line is skipped)."""
    return read_raw(run_dir, table).records
