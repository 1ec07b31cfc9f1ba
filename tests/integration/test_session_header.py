"""--session-header on the wire (issue 15, part 3): the fake server logs the headers it receives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.schemas.raw import read_records
from bench.testing.fake_server import running_fake_server

KEY = "sk-session-header-test-0123456789"


def test_session_id_reaches_the_server_on_every_call(tmp_path: Path) -> None:
    log = tmp_path / "headers.jsonl"
    with running_fake_server(api_key=KEY, record_headers=str(log), itl_ms=1) as url:
        done = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--endpoint", url, "--api-key-env", "FAKE_KEY",
             "--model", "fake", "--results-dir", str(tmp_path / "results"), "--run-id", "hdr",
             "--sessions", "4", "--users", "2", "--processes", "1",
             "--session-header", "X-Session-ID"],
            capture_output=True, text=True, timeout=240, env={**os.environ, "FAKE_KEY": KEY},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    received = [json.loads(line)["headers"] for line in log.read_text().splitlines()]
    # Header names arrive as sent or lower-cased, depending on the client's HTTP stack.
    values = [
        next((v for k, v in h.items() if k.lower() == "x-session-id"), None) for h in received
    ]
    assert None not in values, "a call went out without the session header"
    run = tmp_path / "results" / "hdr"
    # The load's calls and the preflight's (recorded apart, in preflight/raw) all went out.
    calls = read_records(run, "llm_calls") + read_records(run / "preflight", "llm_calls")
    per_session = Counter(c["session_id"] for c in calls)
    # Every LLM call of each session carried that session's id, and only those calls did.
    assert Counter(values) == per_session
    assert len(per_session) >= 8  # 4 measured, 1 warm-up and 3 preflight sessions: distinct ids
    assert max(per_session.values()) >= 2  # tool turns: several calls share one id
    # The credential reached the server (the run authenticated) but is never logged.
    assert KEY not in log.read_text()


def test_session_header_refuses_credential_headers(tmp_path: Path) -> None:
    for name, needle in (("Authorization", "credentials"), ("X Session", "header name")):
        done = subprocess.run(
            [sys.executable, "-m", "bench", "run", "--endpoint", "http://127.0.0.1:9/v1",
             "--model", "fake", "--results-dir", str(tmp_path), "--session-header", name],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "--session-header" in lines[0] and needle in lines[0], lines
