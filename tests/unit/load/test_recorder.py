from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.load.recorder import JsonlRecorder, count_records
from bench.schemas.raw import read_records

WRITER = """
import sys, time
from bench.load.recorder import JsonlRecorder
rec = JsonlRecorder(sys.argv[1])
i = 0
while True:
    rec.session({"session_id": i, "warmup": i == 0})
    i += 1
    if i == 50:
        print("ready", flush=True)
    time.sleep(0.001)
"""


def test_lines_survive_a_kill(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    records = read_records(tmp_path, "sessions")
    assert len(records) >= 50
    assert [r["session_id"] for r in records] == list(range(len(records)))
    assert count_records(tmp_path, "sessions") == len(records) - 1  # the warm-up one is excluded
    assert count_records(tmp_path, "sessions", include_warmup=True) == len(records)


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    rec = JsonlRecorder(tmp_path, pid=1)
    rec.turn({"a": 1})
    rec.close()
    with rec.path("turns").open("a") as fh:
        fh.write('{"a": 2')  # a write cut by a crash
    assert read_records(tmp_path, "turns") == [{"a": 1}]
    assert count_records(tmp_path, "turns") == 1
    assert json.loads(rec.path("turns").read_text().splitlines()[0]) == {"a": 1}
