"""The preflight on real vLLM (CPU): the tiny model speaks hermes; served with the pythonic
parser, its calls come back as text and the run stops before any load (issue 15, part 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from bench.schemas.errors import BenchError
from bench.schemas.raw import read_records
from bench.server.environment import find_vllm_python

pytestmark = pytest.mark.e2e


def test_wrong_tool_parser_stops_in_the_preflight(tmp_path: Path) -> None:
    try:
        find_vllm_python()
    except BenchError as exc:
        pytest.skip(str(exc))
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--model", "tiny", "--tool-parser", "pythonic",
         "--evalset", "weather_time", "--sessions", "50", "--results-dir", str(tmp_path),
         "--run-id", "wrong-parser"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    assert done.returncode == 1, done.stderr[-3000:]
    error = done.stderr.strip().splitlines()[-1]
    assert (
        "preflight" in error
        and "none parsed by the server" in error
        and "unparsed hermes calls" in error
    ), error
    assert "Tool parser: pythonic" in error and "chat template" in error
    assert "<tool_call>" in error  # the excerpt of the raw reply
    assert "--tool-parser hermes" in error and "--chat-template" in error
    run = tmp_path / "wrong-parser"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "preflight_failed"
    assert read_records(run, "sessions") == []  # no load ran
    calls = read_records(run / "preflight", "llm_calls")
    # vLLM's pythonic parser extracted no call (ADK's LiteLlm may still recover the hermes JSON).
    assert calls and all(c["finish_reason"] != "tool_calls" for c in calls)
    # Stopped within seconds of the server being ready (the first preflight call).
    ended = datetime.fromisoformat(manifest["ended_at"]).timestamp()
    assert ended - min(c["started_at"] for c in calls) < 30, (ended, elapsed)
