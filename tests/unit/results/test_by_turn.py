"""by_turn_index rows from known calls and turns."""

from __future__ import annotations

import pytest

from bench.results.by_turn import by_turn_index


def test_rows_per_turn_index() -> None:
    turns = [
        {"turn_id": "a0", "invocation_index": 0, "latency_ms": 100.0, "trajectory_exact": 1.0},
        {"turn_id": "a1", "invocation_index": 1, "latency_ms": 300.0, "trajectory_exact": 0.0},
        {"turn_id": "b0", "invocation_index": 0, "latency_ms": 200.0, "trajectory_exact": 1.0,
         "error_type": None},
    ]  # fmt: skip
    calls = [
        {"turn_id": "a0", "ttft_ms": 10.0, "e2e_ms": 20.0, "prompt_tokens": 100, "cached_tokens": 0},
        {"turn_id": "a1", "ttft_ms": 30.0, "e2e_ms": 40.0, "prompt_tokens": 300, "cached_tokens": 200},
        {"turn_id": "a1", "ttft_ms": 50.0, "e2e_ms": 60.0, "prompt_tokens": 500, "cached_tokens": 400},
        {"turn_id": "a1", "ttft_ms": None, "e2e_ms": 5.0, "error_type": "Timeout"},
        {"turn_id": "b0", "ttft_ms": 20.0, "e2e_ms": 30.0, "prompt_tokens": 100, "cached_tokens": 50},
    ]  # fmt: skip
    rows = by_turn_index(calls, turns, step=2)
    assert [(r["step"], r["turn_index"], r["turns"], r["llm_calls"]) for r in rows] == [
        (2, 1, 2, 2),
        (2, 2, 1, 3),
    ]
    first, second = rows
    assert first["ttft_p50_ms"] == pytest.approx(15.0)
    assert first["cached_fraction"] == pytest.approx(50 / 200)
    assert first["turn_p50_ms"] == pytest.approx(150.0)
    assert first["tool_trajectory_exact"] == 1.0
    assert second["prompt_tokens_p50"] == pytest.approx(400.0)  # the error is left out
    assert second["cached_fraction"] == pytest.approx(600 / 800)
    assert second["llm_e2e_p50_ms"] == pytest.approx(50.0)
    assert second["tool_trajectory_exact"] == 0.0
    assert sum(r["llm_calls"] for r in rows) == len(calls)
