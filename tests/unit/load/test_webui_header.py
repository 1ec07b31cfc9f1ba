"""The web UI's header in agent terms (bench.load.webui_header), from Locust-shaped stats rows
with known counts: failures are failed requests to the server, RPS the agent's rates."""

from __future__ import annotations

import pytest

from bench.load import webui_header


def _row(method: str, name: str, requests: int, failures: int, rps: float, fails: float) -> dict:
    return {"method": method, "name": name, "num_requests": requests, "num_failures": failures,
            "current_rps": rps, "current_fail_per_sec": fails, "total_rps": rps / 2,
            "total_fail_per_sec": fails / 2}  # fmt: skip


ROWS = [
    _row("LLM", "call", 100, 5, 10.0, 0.5),
    _row("LLM", "ttft", 95, 0, 9.5, 0.0),  # a pseudo-row for TTFT percentiles: no request
    _row("USER_SIM", "call", 10, 1, 1.0, 0.1),
    _row("TURN", "turn", 50, 3, 5.0, 0.3),  # a failed call fails its turn again...
    _row("SESSION", "session", 20, 2, 2.0, 0.2),  # ...and its session
    _row("TOOLS", "trajectory", 50, 30, 5.0, 3.0),  # wrong tool calls (older bench): no request
    _row("", "Aggregated", 325, 41, 32.5, 4.1),  # Locust's sum of every row
]


def test_failures_are_failed_requests_and_rates_are_the_agents() -> None:
    body = webui_header.rewrite_stats({"stats": ROWS, "fail_ratio": 41 / 325, "total_rps": 32.5,
                                       "current_rps": 32.5, "state": "running"})  # fmt: skip
    assert body["fail_ratio"] == pytest.approx(6 / 110)  # 5 agent + 1 simulator of 110 requests
    assert body["current_rps"] == pytest.approx(9.5)  # LLM calls completed without error
    assert body["total_rps"] == pytest.approx(4.75)
    assert body["current_fail_per_sec"] == pytest.approx(0.6)
    header = body["bench_header"]
    assert [(r["label"], r["value"]) for r in header["rates"]] == [
        ("LLM calls/s", pytest.approx(9.5)), ("turns/s", pytest.approx(4.7)),
        ("sessions/s", pytest.approx(1.8))]  # fmt: skip
    assert header["fail_ratio"] == body["fail_ratio"] and header["failures_label"]
    assert body["stats"] == ROWS and body["state"] == "running"  # Locust's table unchanged


def test_before_any_request() -> None:
    body = webui_header.rewrite_stats({"stats": [], "fail_ratio": 0.0})
    assert body["fail_ratio"] == 0.0 and body["current_rps"] == 0.0
    assert [r["value"] for r in body["bench_header"]["rates"]] == [0.0, 0.0, 0.0]


def test_the_page_gets_the_script_before_locusts_own() -> None:
    page = '<html><head><script type="module" src="x.js"></script></head><body></body></html>'
    out = webui_header.add_script(page)
    assert out.index("bench_header") < out.index("</head>")
    assert out.endswith(page[page.index("</head>") :])
    assert webui_header.add_script("<p>no head</p>") == "<p>no head</p>"
