"""Summary lines a user can read without the code: what vLLM's tool-parser counter counts, and
what a server percentile shown as '< X' means."""

from __future__ import annotations

from bench.cli.console import console
from bench.cli.summary import print_summary


def _printed(summary: dict) -> str:
    with console.capture() as captured:
        print_summary({"run_id": "r", "status": "completed", **summary}, {})
    return captured.get()


def test_server_lines_say_what_their_figures_are() -> None:
    text = _printed({"server_requests": 8, "server_tool_parser_invocations": 82.0,
                     "server_e2e_mean_ms": 120.0, "server_e2e_p50_ms": None,
                     "server_e2e_p50_ms_bound": "< 300"})  # fmt: skip
    assert "tool-parser runs (vLLM: one per streamed delta)" in text and "82" in text
    assert "< 300" in text and "inside vLLM's first histogram bucket (0 to X ms)" in text


def test_no_bucket_note_without_a_bound() -> None:
    text = _printed({"server_requests": 8, "server_e2e_p50_ms": 350.0})
    assert "first histogram bucket" not in text


def test_a_thinking_run_prints_what_the_thought_cost() -> None:
    text = _printed({"reasoning_parser": "qwen3", "reasoning_tokens_per_turn": 17.4,
                     "reasoning_tokens_per_call": 9.6, "reasoning_tokens_from": "usage",
                     "ttfo_p50_ms": 141.0, "ttfo_p90_ms": 188.8, "ttfo_p99_ms": 220.0,
                     "ttfr_p50_ms": 61.5, "turn_thinking_mean_ms": 134.5, "thinking_share": 0.243,
                     "reasoning_sent_back_chars_per_call": 45.9})  # fmt: skip
    assert "model default / qwen3" in text
    assert "reasoning tokens per turn / per call (from usage)" in text and "17.4 / 9.6" in text
    assert "TTFO, time to first output token" in text and "141.0 / 188.8 / 220.0" in text
    assert "share of turn latency" in text and "134.5 / 24.3%" in text


def test_a_run_that_did_not_think_prints_no_thinking_lines() -> None:
    text = _printed({"reasoning_tokens_per_turn": 0.0, "ttfo_p50_ms": 80.0, "thinking_share": 0.0})
    assert "TTFO" not in text and "reasoning tokens" not in text
