"""The saturation warning names how the client distorted the figures, which figures, and the
remedy that fits the cause the samples show."""

from __future__ import annotations

from bench import constants
from bench.cli.summary import saturation_advice


def test_a_busy_load_process_is_told_to_add_processes() -> None:
    text = saturation_advice({"client_cpu_mean_pct": 97.0, "client_lag_p90_ms": 400.0})
    assert "CPU 97%" in text and "--processes" in text


def test_a_starved_load_process_is_told_to_separate_server_and_load() -> None:
    cpu = constants.CLIENT_CPU_SATURATED_PCT - 45
    text = saturation_advice({"client_cpu_mean_pct": cpu, "client_lag_p90_ms": 313.0})
    assert "lag p90 313 ms" in text and f"{cpu:.0f}% load process CPU" in text
    assert "--processes" not in text and "--endpoint" in text


def test_the_warning_says_what_was_distorted() -> None:
    pull = saturation_advice({"client_saturated_reason": "pull delay: chunks waited p90 9.0 ms",
                              "client_cpu_mean_pct": 97.0})  # fmt: skip
    assert "pull delay: chunks waited p90 9.0 ms" in pull
    assert "turn and session latencies include" in pull and "stamped on arrival" in pull
    late = saturation_advice({"client_saturated_reason": "stamps late: the reader woke p90 9 ms",
                              "client_cpu_mean_pct": 30.0})  # fmt: skip
    assert "client TTFT, TPOT and ITL include its own queueing" in late
