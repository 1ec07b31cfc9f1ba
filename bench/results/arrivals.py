"""Open-loop figures: how late sessions started, and the arrivals that never started.

A session's latency in an open loop is measured from its scheduled arrival (`scheduled_at`), so
the summary's session percentiles include `start_delay_ms` (`summary.session_latency_ms`), which is also reported on its own.
Arrivals come from the load processes' `arrivals` records (`bench.load.open_loop`).
"""

from __future__ import annotations

from typing import Any

from bench.results.summary import percentiles


def arrival_summary(
    arrivals: list[dict[str, Any]], sessions_m: list[dict[str, Any]]
) -> dict[str, Any]:
    if not arrivals and not any(s.get("scheduled_at") is not None for s in sessions_m):
        return {}  # closed loop: the columns stay null
    return {
        **percentiles([s.get("start_delay_ms") for s in sessions_m], "start_delay"),
        "arrivals": len(arrivals),
        "arrivals_not_started": sum(1 for a in arrivals if a.get("started_at") is None),
        "arrivals_waited_for_cap": sum(1 for a in arrivals if a.get("waited_for_cap")),
    }
