"""Completed records of one table, counted as they are appended (the load loop asks twice a
second; re-reading every raw file each time grows with the run).

Each raw file is append-only (one writer per file), so each tick reads only the bytes added
since the last one, up to the last complete line; a torn last line is read again next tick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bench.schemas.run_dir import RunDir


@dataclass
class _FileState:
    offset: int = 0  # bytes consumed: always just after a newline
    count: int = 0


@dataclass
class RecordCounter:
    run_dir: RunDir
    table: str
    include_warmup: bool = False
    _files: dict[Path, _FileState] = field(default_factory=dict, init=False, repr=False)

    def update(self) -> int:
        """Read what was appended since the last call; the total so far."""
        for path in self.run_dir.raw_files(self.table):
            state = self._files.setdefault(path, _FileState())
            try:
                with path.open("rb") as fh:
                    fh.seek(state.offset)
                    chunk = fh.read()
            except FileNotFoundError:
                continue
            end = chunk.rfind(b"\n") + 1  # the part after the last newline is incomplete
            if end == 0:
                continue
            state.count += sum(self._counts(line) for line in chunk[:end].split(b"\n"))
            state.offset += end
        return self.total

    @property
    def total(self) -> int:
        return sum(s.count for s in self._files.values())

    def _counts(self, line: bytes) -> bool:
        if not line.strip():
            return False
        if self.include_warmup or b'"warmup":true' not in line:
            return True
        try:
            return json.loads(line).get("warmup") is not True
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return False


@dataclass
class ErrorTally(RecordCounter):
    """Failed turns by error class as they are appended, with the first message of each class:
    the live error count of `bench run` (the summary's `errors_by_type` is built the same way
    from the finished records, `bench.results.summary`)."""

    by_type: dict[str, int] = field(default_factory=dict, init=False)
    first: dict[str, str] = field(default_factory=dict, init=False)

    def _counts(self, line: bytes) -> bool:
        counted = super()._counts(line)
        if counted and b'"error_type":"' in line:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return counted
            kind = record.get("error_type") if isinstance(record, dict) else None
            if kind and not record.get("incomplete"):
                self.by_type[kind] = self.by_type.get(kind, 0) + 1
                self.first.setdefault(kind, str(record.get("error") or ""))
        return counted
