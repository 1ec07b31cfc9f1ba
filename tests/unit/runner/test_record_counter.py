"""Records counted as they are appended: only new bytes are read, torn lines wait a tick."""

from __future__ import annotations

import json
from pathlib import Path

from bench.load.recorder import count_records
from bench.runner.record_counter import RecordCounter
from bench.schemas.run_dir import RunDir


def _line(warmup: bool = False, **kw: object) -> str:
    return json.dumps({"session_id": "s", "warmup": warmup, **kw}, separators=(",", ":")) + "\n"


def test_counts_incrementally_across_files_and_torn_lines(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.raw.mkdir()
    counter = RecordCounter(run, "sessions")
    assert counter.update() == 0  # no file yet
    a = run.raw_file("sessions", 101)
    a.write_text(_line(warmup=True) + _line() + _line())
    assert counter.update() == 2  # the warm-up one is not counted
    whole = _line()
    with a.open("a") as fh:
        fh.write(whole[:7])  # a writer in the middle of a line
    assert counter.update() == 2
    with a.open("a") as fh:
        fh.write(whole[7:])
    b = run.raw_file("sessions", 202)
    b.write_text(_line() + _line(warmup=True))
    run.raw_file("turns", 101).write_text(_line())  # another table
    assert counter.update() == 4
    assert counter.update() == 4  # nothing new: nothing counted twice
    assert counter.update() == count_records(tmp_path, "sessions")  # agrees with a full re-read
    with_warmup = RecordCounter(run, "sessions", include_warmup=True)
    assert with_warmup.update() == count_records(tmp_path, "sessions", include_warmup=True) == 6


def test_reads_only_what_was_appended(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.raw.mkdir()
    path = run.raw_file("turns", 1)
    path.write_text(_line() * 1000)
    counter = RecordCounter(run, "turns")
    assert counter.update() == 1000
    size = path.stat().st_size
    state = next(iter(counter._files.values()))
    assert state.offset == size  # the next tick starts after what was read
    with path.open("a") as fh:
        fh.write(_line())
    assert counter.update() == 1001
