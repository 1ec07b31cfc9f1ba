"""bench.load.lean_adk cuts CPU without changing a byte of what the agent sends.

The same eval cases run in two fresh processes against one fake server, once plain and once
with the savings applied (they are process-wide, hence the subprocesses); the server records each
request body. Only the tool-call ids the server itself made up (random) are masked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import constants
from bench.testing.fake_server import running_fake_server

PLAY = """
import asyncio, os, sys
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
telemetry = None
if sys.argv[3] == "lean":
    from bench.load import lean_adk
    lean_adk.apply()
    telemetry = lean_adk.telemetry_config()
    assert sys.modules[lean_adk.A2A_MODULE] is None  # a2a is not installed here: cached failure

async def main():
    es = load_evalset("weather_time")
    for stream in (True, False):
        bundle = build_agent_bundle(es.agent_dir, api_base=sys.argv[1], served_model_name="fake",
                                    run_id="r", eval_set_id="e", stream=stream, telemetry=telemetry)
        for case in es.cases:
            record = await run_session(bundle, case)
            assert record["errors"] == 0, record
        await bundle.close()
    with open(sys.argv[2], "a") as out:
        out.write("done\\n")

asyncio.run(main())
"""

TOOL_ID = re.compile(rb"chatcmpl-tool-[0-9a-f]{16}")


def _play(url: str, mode: str, done: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", PLAY, url + "/v1", str(done), mode],
        check=True,
        cwd=constants.REPO_ROOT,
        timeout=300,
    )


def test_request_bodies_are_identical_with_and_without_the_savings(tmp_path: Path) -> None:
    bodies = {mode: tmp_path / f"{mode}.bodies" for mode in ("plain", "lean")}
    for mode, path in bodies.items():
        with running_fake_server(record_bodies=str(path)) as url:
            _play(url, mode, tmp_path / "done")
    assert (tmp_path / "done").read_text() == "done\ndone\n"
    plain, lean = (TOOL_ID.sub(b"ID", bodies[m].read_bytes()).splitlines() for m in bodies)
    assert len(plain) >= 6  # every case, streamed and not, each with one LLM call at least
    assert lean == plain


def test_a_cached_failed_import_raises_import_error_at_once() -> None:
    """What ADK's `try: from ...remote_a2a_agent import ... except ImportError` relies on."""
    name = "bench_lean_adk_missing_module_for_test"
    sys.modules[name] = None  # type: ignore[assignment]
    try:
        with pytest.raises(ImportError):
            __import__(name)
    finally:
        del sys.modules[name]
