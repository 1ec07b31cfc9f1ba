"""The summary's turn split: four means that add up to the mean turn latency; wire against
model-layer figures per call."""

from __future__ import annotations

import pytest

from bench.results.summary import compute_summary


def _turn(i: int, wire: float, client: float, tools: float, other: float) -> dict:
    return {"turn_id": f"s:{i}", "session_id": "s", "started_at": 100.0 + i, "ended_at": 101.0 + i,
            "latency_ms": wire + client + tools + other, "llm_wire_ms": wire,
            "client_overhead_ms": client, "tool_time_ms": tools, "other_ms": other,
            "error_type": None, "incomplete": False, "warmup": False}  # fmt: skip


def _call(i: int, ttft: float, model_ttft: float, overhead: float) -> dict:
    return {"turn_id": f"s:{i}", "session_id": "s", "started_at": 100.0 + i, "e2e_ms": 100.0,
            "ttft_ms": ttft, "model_ttft_ms": model_ttft, "client_overhead_ms": overhead,
            "tpot_ms": 10.0, "model_tpot_ms": 11.0, "error_type": None, "warmup": False}  # fmt: skip


def test_the_turn_split_means_add_up_to_the_mean_turn_latency() -> None:
    turns = [_turn(0, 200, 30, 5, 60), _turn(1, 300, 50, 0, 80), _turn(2, 100, 10, 800, 20)]
    calls = [_call(0, 51, 58, 12), _call(1, 52, 60, 15), _call(2, 53, 61, 20)]
    row = compute_summary(calls, turns, [], {})
    mean_latency = sum(t["latency_ms"] for t in turns) / len(turns)
    parts = [
        row[f"turn_{k}_mean_ms"] for k in ("llm_wire", "client_overhead", "tool_time", "other")
    ]
    assert parts == pytest.approx([200.0, 30.0, 805 / 3, 160 / 3])
    assert sum(parts) == pytest.approx(mean_latency)
    # headline TTFT from the calls' (wire) ttft_ms; the model layer's beside it
    assert row["ttft_p50_ms"] == 52 and row["model_ttft_p50_ms"] == 60
    assert row["client_overhead_p50_ms"] == 15 and row["model_tpot_p50_ms"] == 11
