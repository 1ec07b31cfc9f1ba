"""Raw records as JSON lines, one file per kind and process, flushed per record.

`<run_dir>/raw/{llm_calls,turns,sessions}.<pid>.jsonl`: a crash loses at most the line being
written; readers skip a torn last line. Thread-safe (the asyncio thread writes, greenlets read
nothing from here).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, TextIO

from bench.results.raw import raw_dir  # the raw layout is defined once, there

KINDS = ("llm_calls", "turns", "sessions", "client")


class JsonlRecorder:
    def __init__(self, run_dir: str | Path, pid: int | None = None):
        self.dir = raw_dir(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pid = pid if pid is not None else os.getpid()
        self._lock = threading.Lock()
        self._files: dict[str, TextIO] = {}
        self.write_error: OSError | None = None  # e.g. the disk is full: later records are dropped

    def path(self, kind: str) -> Path:
        return self.dir / f"{kind}.{self.pid}.jsonl"

    def write(self, kind: str, record: dict[str, Any]) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}")
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
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

    def llm_call(self, record: dict[str, Any]) -> None:
        self.write("llm_calls", record)

    def turn(self, record: dict[str, Any]) -> None:
        self.write("turns", record)

    def session(self, record: dict[str, Any]) -> None:
        self.write("sessions", record)

    def close(self) -> None:
        with self._lock:
            for fh in self._files.values():
                fh.close()
            self._files.clear()


def count_records(
    run_dir: str | Path, kind: str = "sessions", *, include_warmup: bool = False
) -> int:
    """Complete records of a kind so far (warm-up excluded unless asked); cheap enough to poll."""
    total = 0
    for path in raw_dir(run_dir).glob(f"{kind}.*.jsonl"):
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
