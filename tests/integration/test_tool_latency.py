"""--tool-latency (issue 15, part 2): the injected delay shows up in turn latency, and only there.

Two runs against the fake server at a fixed latency, each case twice: without and with a
fixed 2 s delay per tool call. The expected shift of a turn is the delay times the rounds of tool
calls the fake's script makes in it (it answers Madrid's two calls in one reply, which ADK runs
concurrently: one round; Sydney and the greeting get no call). The faster of the two trials is
compared (noise on a shared machine only adds time); the whole shift must be within 5% of the
whole injected delay.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from bench.schemas.raw import read_records
from bench.testing.fake_server import running_fake_server

KEY = "sk-tool-latency-test-0123456789"
DELAY_MS = 2000.0
# Calls per turn as the fake's script (the tiny model's) makes them; rounds are 1 when any.
CALLS = {("weather_london", 0): 1, ("weather_paris", 0): 1, ("time_tokyo", 0): 1,
         ("weather_new_york", 0): 1, ("time_berlin", 0): 1, ("weather_sydney", 0): 0,
         ("greeting", 0): 0, ("madrid_weather_and_time", 0): 2, ("paris_then_tokyo", 0): 1,
         ("paris_then_tokyo", 1): 1}  # fmt: skip


def _run(url: str, results: Path, run_id: str, *extra: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--endpoint", url, "--api-key-env", "FAKE_KEY",
         "--model", "fake", "--results-dir", str(results), "--run-id", run_id, "--sessions", "18", "--trials", "2",
         "--users", "1", "--processes", "1", "--evalset", "weather_time", *extra],
        capture_output=True, text=True, timeout=300, env={**os.environ, "FAKE_KEY": KEY},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return [t for t in read_records(results / run_id, "turns") if not t["warmup"]]


def _tool_responses(turn: dict) -> list:
    data = turn["actual_invocation"]
    data = json.loads(data) if isinstance(data, str) else data
    return (data.get("intermediate_data") or {}).get("tool_responses") or []


def test_tool_latency_shifts_turns_by_the_delay_and_keeps_results(tmp_path: Path) -> None:
    with running_fake_server(api_key=KEY, latency_ms=50) as url:
        plain = _run(url, tmp_path, "plain")
        slow = _run(url, tmp_path, "slow", "--tool-latency", f"{DELAY_MS:g}ms")
    by: dict[str, dict[tuple[str, int], list[dict]]] = {"plain": defaultdict(list),
                                                        "slow": defaultdict(list)}  # fmt: skip
    for name, turns in (("plain", plain), ("slow", slow)):
        for t in turns:
            assert t["error_type"] is None, t["error"]
            by[name][(t["case_id"], t["invocation_index"])].append(t)
    assert by["plain"].keys() == by["slow"].keys() == CALLS.keys()
    injected_total = shift_total = 0.0
    for key, calls in CALLS.items():
        slow_turns, plain_turns = by["slow"][key], by["plain"][key]
        assert len(slow_turns) == len(plain_turns) == 2
        for turn in slow_turns:
            assert len(turn["tool_calls"]) == calls
            # Recorded per call and summed per turn.
            assert [t["injected_ms"] for t in turn["tool_timings"]] == [DELAY_MS] * calls
            assert turn["tool_latency_ms"] == DELAY_MS * calls
            assert turn["tool_time_ms"] >= DELAY_MS * calls
            # The tools' results, the calls and the answers are those of the run without delay.
            for other in plain_turns:
                assert other["tool_latency_ms"] == 0.0
                assert _tool_responses(turn) == _tool_responses(other)
                assert turn["tool_calls"] == other["tool_calls"]
                assert turn["final_response"] == other["final_response"]
        expected_ms = DELAY_MS * (1 if calls else 0)  # one round of (concurrent) calls
        shift = min(t["latency_ms"] for t in slow_turns) - min(t["latency_ms"] for t in plain_turns)
        if calls:  # each turn on its own: looser, a shared 2-core machine is noisy
            assert abs(shift - expected_ms) <= 0.15 * expected_ms, (key, shift, expected_ms)
        injected_total += expected_ms
        shift_total += shift
    # The turn time split in the summary: mean time in tools per turn (9 calls over 10 turns).
    summary = pq.read_table(tmp_path / "slow" / "summary.parquet").to_pylist()[0]
    mean_ms = DELAY_MS * sum(CALLS.values()) / len(CALLS)
    assert mean_ms <= summary["turn_tool_time_mean_ms"] < mean_ms * 1.05
    assert injected_total == 8 * DELAY_MS
    assert abs(shift_total - injected_total) <= 0.05 * injected_total, shift_total


def test_bad_tool_latency_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    for value in ("fast", "lognormal:median=2s,p90=1s", "uniform:1s", "nope_tool=1s"):
        done = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--endpoint", "http://127.0.0.1:9/v1",
             "--model", "fake", "--results-dir", str(tmp_path), "--tool-latency", value],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, (value, done.stderr[-1000:])
        assert "--tool-latency" in lines[0], lines
