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
