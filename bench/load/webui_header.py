"""The Locust web UI's header in agent terms: request failures, and agent rates by name.

Locust's header shows "RPS", the sum of every request type's rate, and "Failures", failures of
every type over all of them. bench fires each LLM call, turn and session as a request event
(`bench.load.locustfile`), so Locust's RPS adds calls, turns, sessions and the TTFT row, and
its failures count a failed call again in its turn and its session. Here:

- Failures: failed requests to the model server (the agent's LLM calls and the user
  simulator's) / those requests. Wrong tool calls are no request failures: they are in the
  tool-accuracy tabs (and in the Parquet tables), never Locust failures.
- RPS becomes three labelled rates: LLM calls/s, turns/s and sessions/s, each of those completed
  without error, over Locust's current window (its last ~10 s), as the summary counts throughput.
  The figures Locust's own charts plot follow: current RPS is LLM calls/s, failures per second
  are failed requests per second.

The numbers are rewritten in the `/stats/requests` answer (`header_figures`); the labels by a
small script added to the page (`webui_header.js`), which reads `bench_header` from the answers
the page already polls. This module never imports locust.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

REQUESTS = (("LLM", "call"), ("USER_SIM", "call"))  # the requests sent to the model server
AGENT_RATES = (
    (("LLM", "call"), "LLM calls/s"),
    (("TURN", "turn"), "turns/s"),
    (("SESSION", "session"), "sessions/s"),
)
FAILURES_LABEL = "Failed requests"
SCRIPT_FILE = "webui_header.js"


def _number(entry: dict[str, Any] | None, key: str) -> float:
    value = (entry or {}).get(key)
    return float(value) if isinstance(value, (int, float)) else 0.0


def _ok_rate(entry: dict[str, Any] | None, kind: str) -> float:
    """Completed without error per second: Locust's rate counts failures too."""
    return max(0.0, _number(entry, f"{kind}_rps") - _number(entry, f"{kind}_fail_per_sec"))


def header_figures(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """From Locust's stats rows (`StatsEntry.to_dict`), the header's figures: the keys of the
    `/stats/requests` answer they replace, and `bench_header` for the page's script."""
    rows = {(e.get("method"), e.get("name")): e for e in entries}
    requests = [rows.get(key) for key in REQUESTS]
    sent = sum(_number(e, "num_requests") for e in requests)
    failed = sum(_number(e, "num_failures") for e in requests)
    fail_ratio = failed / sent if sent else 0.0
    rates = [{"label": label, "value": _ok_rate(rows.get(key), "current")}
             for key, label in AGENT_RATES]  # fmt: skip
    calls = rows.get(("LLM", "call"))
    return {
        "fail_ratio": fail_ratio,
        "current_rps": _ok_rate(calls, "current"),
        "total_rps": _ok_rate(calls, "total"),
        "current_fail_per_sec": sum(_number(e, "current_fail_per_sec") for e in requests),
        "total_fail_per_sec": sum(_number(e, "total_fail_per_sec") for e in requests),
        "bench_header": {"rates": rates, "fail_ratio": fail_ratio,
                         "failures_label": FAILURES_LABEL},
    }  # fmt: skip


def rewrite_stats(body: dict[str, Any]) -> dict[str, Any]:
    """The `/stats/requests` answer with the header's figures in agent terms (Locust's rows,
    its Aggregated row and its Failures tab are left as they are)."""
    entries = [e for e in body.get("stats") or [] if isinstance(e, dict)]
    return {**body, **header_figures(entries)}


def script_tag() -> str:
    return (
        "<script>" + resources.files("bench.load").joinpath(SCRIPT_FILE).read_text() + "</script>"
    )


def add_script(page: str) -> str:
    """The index page with the script before its own (which runs deferred, as a module)."""
    head_end = page.find("</head>")
    if head_end == -1:
        return page
    return page[:head_end] + script_tag() + page[head_end:]
