"""bench.load.lean_adk cuts CPU without changing a byte of what the agent sends or gets back,
and every streamed reply of the lean process takes the lean path (bench.compat.lean_stream).

The same eval cases run in two fresh processes against one fake server, once plain and once
with the savings applied and the responses read on the arrival reader (bench.agent.wire_arrival),
as in a load process (they are process-wide, hence the subprocesses); the server records each
request body. Only the tool-call ids the server itself made up (random) are masked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import constants
from bench.testing.fake_server import running_fake_server

PLAY = """
import asyncio, json, os, sys
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
from bench.agent.session import build_agent_bundle, run_session
from bench.compat import a2a_import, lean_stream
from bench.evalset import load_evalset
from bench.schemas.config import LoadConfig
telemetry = None
if sys.argv[3] == "lean":
    from bench.agent import wire_arrival
    from bench.load import lean_adk
    lean_adk.apply()
    telemetry = lean_adk.telemetry_config()
    assert sys.modules[a2a_import.A2A_MODULE] is None  # a2a is not installed here: cached failure
    wire_arrival.enable()  # and, as in a load process, responses read on the arrival reader

KEPT = ("prompt_tokens", "completion_tokens", "cached_tokens", "finish_reason", "tool_calls_n")

async def main():
    es = load_evalset("weather_time")
    received = []
    streamed = 0
    for stream in (True, False):
        bundle = build_agent_bundle(es.agent_dir, api_base=sys.argv[1], served_model_name="fake",
                                    run_id="r", eval_set_id="e", load=LoadConfig(stream=stream), telemetry=telemetry)
        for case in es.cases:
            calls = []
            record = await run_session(bundle, case, on_llm_call=calls.append)
            assert record["errors"] == 0, record
            received += [[c[k] for k in KEPT] for c in calls]
            streamed += len(calls) if stream else 0
        await bundle.close()
    # every streamed reply took the path asked for: a LiteLLM that stops matching fails here
    lean = sys.argv[3] == "lean"
    took = (lean_stream.streams_lean, lean_stream.streams_plain)
    assert streamed >= 3 and took == ((streamed, 0) if lean else (0, streamed)), took
    with open(sys.argv[2], "a") as out:
        out.write(json.dumps(received) + "\\n")

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
    # What came back is the same too: usage (with cached tokens), finish reasons, tool calls.
    plain_calls, lean_calls = (
        json.loads(line) for line in (tmp_path / "done").read_text().splitlines()
    )
    assert len(plain_calls) >= 6 and lean_calls == plain_calls
    assert all(c[0] and c[1] for c in plain_calls)  # the fake server reports usage
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


def test_the_price_is_unknown_only_while_no_callback_reads_it() -> None:
    import litellm
    from litellm.litellm_core_utils.litellm_logging import Logging

    from bench.load import lean_adk

    original = Logging.response_cost_calculator
    seen: list[object] = []

    def pricer(self: object, *args: object, **kwargs: object) -> float:
        seen.append(kwargs.get("result"))
        return 0.5

    Logging.response_cost_calculator = pricer  # type: ignore[method-assign]
    try:
        with lean_adk.applied():
            logging_obj = object.__new__(Logging)
            assert logging_obj.response_cost_calculator(result="r1") is None
            litellm.callbacks.append("bench-test-callback")
            try:
                assert logging_obj.response_cost_calculator(result="r2") == 0.5
            finally:
                litellm.callbacks.remove("bench-test-callback")
        assert Logging.response_cost_calculator is pricer  # restored after the block
        assert seen == ["r2"]
    finally:
        Logging.response_cost_calculator = original  # type: ignore[method-assign]
