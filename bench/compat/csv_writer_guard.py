"""Locust's CSV writer, quiet when its files close under it at a normal finish.

Locust (2.47) writes its CSVs from a greenlet that loops forever (`StatsCSVFileWriter.stats_writer`)
and, at shutdown, closes the files without stopping that greenlet. When anything yields to the
hub afterwards (the exit handlers do), the greenlet wakes, writes to a closed file and logs an
"Unhandled exception in greenlet" traceback into locust.log, and Locust counts it as an
unhandled greenlet exception. The guard ends the writer quietly in exactly that case (its
files are closed); any other error is Locust's, raised as before. Gated (bench.compat.gate):
where the method is missing (another Locust), nothing is changed.
"""

from __future__ import annotations

import functools
from typing import Any

from bench.compat import gate


def missing() -> list[str]:
    from locust.stats import StatsCSVFileWriter

    return (
        [] if hasattr(StatsCSVFileWriter, "stats_writer") else ["StatsCSVFileWriter.stats_writer"]
    )


# Checked once Locust is imported (importing it gevent-patches the process).
PATCH = gate.Patch("the CSV writer guard", ("locust",), missing, needs=("locust",))


def apply() -> None:
    if not gate.allowed("csv_writer_guard"):
        return
    from locust.stats import StatsCSVFileWriter

    original = StatsCSVFileWriter.stats_writer
    if getattr(original, "_bench_guard", False):
        return

    @functools.wraps(original)
    def stats_writer(self: Any) -> None:
        try:
            original(self)
        except ValueError:
            handle = getattr(self, "requests_csv_filehandle", None)
            if handle is None or not handle.closed:
                raise  # not the shutdown race: Locust's own error

    stats_writer._bench_guard = True  # type: ignore[attr-defined]
    StatsCSVFileWriter.stats_writer = stats_writer  # type: ignore[method-assign]
