"""Locust's CSV writer, quiet when its files close under it at a normal finish.

Locust (2.47) writes its CSVs from a greenlet that loops forever (`StatsCSVFileWriter.stats_writer`)
and, at shutdown, closes the files without stopping that greenlet. When anything yields to the
hub afterwards (the exit handlers do), the greenlet wakes, writes to a closed file and logs an
"Unhandled exception in greenlet" traceback into locust.log, and Locust counts it as an
unhandled greenlet exception. The guard ends the writer quietly in exactly that case (its
files are closed); any other error is Locust's, raised as before. Where the method is missing
(another Locust), nothing is changed.
"""

from __future__ import annotations

import functools
from typing import Any

from locust.stats import StatsCSVFileWriter

_ORIGINAL = getattr(StatsCSVFileWriter, "stats_writer", None)


def apply() -> None:
    if _ORIGINAL is None or getattr(StatsCSVFileWriter.stats_writer, "_bench_guard", False):
        return

    @functools.wraps(_ORIGINAL)
    def stats_writer(self: Any) -> None:
        try:
            _ORIGINAL(self)
        except ValueError:
            handle = getattr(self, "requests_csv_filehandle", None)
            if handle is None or not handle.closed:
                raise  # not the shutdown race: Locust's own error

    stats_writer._bench_guard = True  # type: ignore[attr-defined]
    StatsCSVFileWriter.stats_writer = stats_writer  # type: ignore[method-assign]
