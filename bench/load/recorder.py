"""Raw records as JSON lines, one file per kind and process, flushed per record.

`<run_dir>/raw/{llm_calls,turns,sessions}.<pid>.jsonl`: a crash loses at most the line being
written; readers skip a torn last line. Thread-safe (the asyncio thread writes, greenlets read
nothing from here).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from bench.schemas.raw import LLM_CALLS, LOAD_KINDS, SESSIONS, TURNS, as_run_dir, dump_line
from bench.schemas.run_dir import RunDir

KINDS = LOAD_KINDS


class JsonlRecorder:
    def __init__(self, run_dir: RunDir | str | Path, pid: int | None = None):
        self.run_dir = as_run_dir(run_dir)
        self.dir = self.run_dir.raw
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pid = pid if pid is not None else os.getpid()
        self._lock = threading.Lock()
        self._files: dict[str, TextIO] = {}
        self.write_error: OSError | None = None  # e.g. the disk is full: later records are dropped

    def path(self, kind: str) -> Path:
        return self.run_dir.raw_file(kind, self.pid)

    def write(self, kind: str, record: Mapping[str, Any]) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        line = dump_line(record)
        with self._lock:
            if self.write_error is not None:
                return
            try:
                fh = self._files.get(kind)
                if fh is None:
                    fh = self._files[kind] = self.path(kind).open("a", encoding="utf-8")
                fh.write(line)
                fh.flush()
            except OSError as exc:
                # The orchestrator sees the full disk and stops the run; what is on disk stays.
                self.write_error = exc

    def llm_call(self, record: Mapping[str, Any]) -> None:
        self.write(LLM_CALLS, record)

    def turn(self, record: Mapping[str, Any]) -> None:
        self.write(TURNS, record)

    def session(self, record: Mapping[str, Any]) -> None:
        self.write(SESSIONS, record)

    def close(self) -> None:
        with self._lock:
            for fh in self._files.values():
                fh.close()
            self._files.clear()


def count_records(
    run_dir: RunDir | str | Path, kind: str = SESSIONS, *, include_warmup: bool = False
) -> int:
    """Complete records of a kind so far (warm-up excluded unless asked); cheap enough to poll."""
    total = 0
    for path in as_run_dir(run_dir).raw_files(kind):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        for line in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
            if not line:
                continue
            if not include_warmup and b'"warmup":true' in line:
                try:
                    if json.loads(line).get("warmup") is True:
                        continue
                except json.JSONDecodeError:
                    continue
            total += 1
    return total
