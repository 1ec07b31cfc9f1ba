"""Locust's CSV writer ends quietly when its files are closed under it (the shutdown race), and
still raises any other error (bench.compat.csv_writer_guard); a Locust without the method is left
as it is, told in one line. In a subprocess: importing Locust gevent-patches the process, which
must not leak into pytest's."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import io
from types import SimpleNamespace
from locust.stats import StatsCSVFileWriter
from bench.compat import csv_writer_guard, gate

def original(self):
    self.requests_csv_filehandle.seek(0)  # what Locust's loop does first on each pass

def broken(self):
    raise ValueError("a real error")

StatsCSVFileWriter.stats_writer = original
csv_writer_guard.apply()
closed = io.StringIO()
closed.close()
StatsCSVFileWriter.stats_writer(SimpleNamespace(requests_csv_filehandle=closed))  # ends quietly
StatsCSVFileWriter.stats_writer = broken
csv_writer_guard.apply()
try:
    StatsCSVFileWriter.stats_writer(SimpleNamespace(requests_csv_filehandle=io.StringIO()))
except ValueError as exc:
    print("raised:", exc)
del StatsCSVFileWriter.stats_writer  # another Locust: the gate leaves it alone
gate.reset()
csv_writer_guard.apply()
print("left alone:", not hasattr(StatsCSVFileWriter, "stats_writer"))
"""


def test_a_closed_file_ends_the_writer_and_other_errors_still_raise() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["raised: a real error", "left alone: True"]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("bench:")]
    assert len(warnings) == 1 and "has no StatsCSVFileWriter.stats_writer" in warnings[0]
    assert warnings[0].endswith("the CSV writer guard off, falling back to Locust's own path")
