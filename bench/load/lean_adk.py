"""Per-call waste of ADK and LiteLLM cut in the load process, without changing what is sent.

`apply()` is called once by the locustfile; `applied()` does the same for a block (the
client-capacity calibration). The savings that patch a library's internals live in
`bench.compat` (each gated: outside the tested versions it is off, with one warning line).
Nothing here touches a request: tests/unit/load/test_lean_adk.py checks the request bodies are
byte-identical with and without the savings.

- a2a import: ADK's failing import of its a2a agent, once per turn, cached as failed
  (bench.compat.a2a_import).
- LiteLLM success logging: skipped while no callback is registered (bench.compat.litellm_logging).
- ADK telemetry content: with no OpenTelemetry exporter, ADK still serialises each request and
  response into span attributes (`ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS` defaults on), and its
  experimental GenAI semconv path re-serialises the output of every streamed chunk.
  `telemetry_config()` turns content capture off and takes the stable semconv path; bench builds
  its RunConfig once per process with it (bench.agent.session.AgentBundle) instead of ADK reading
  the environment per call.
- LiteLLM's stream wrapper: ADK reads the chunks of LiteLLM's own parser, not the wrapper's
  second build of each, and the whole-reply assembly at the end is skipped
  (bench.compat.lean_stream says what is still handed to the wrapper, and why).
- Garbage collection: `freeze_long_lived()` leaves the set-up objects out of Python's full
  collections, which otherwise froze the process for hundreds of ms at a time (the locustfile
  calls it; it changes nothing sent).
- LiteLLM response cost: unknown (None) while no callback is registered
  (bench.compat.litellm_logging).

Measured with `benchmarks/client_cpu.py --turns 100 --repeats 2` on the idle 2-core test machine
(CPU-ms per turn, weather_time, streaming, fake server at 0 ms, medians): none 70.4; a2a import
cached 69.7; success logging off 68.8; telemetry content off 74.7 (noise: no saving alone);
cost off 67.9; all four 60.6 (-14%, 39.1 -> 33.7 per LLM call); the stable semconv path took
another 1.9 off (58.7). The a2a saving is large only where bytecode is not cached: an earlier run
on a machine without the .pyc saved 20-26 ms per turn.

The stream wrapper (client_cpu.py --turns 100 --repeats 2, one busy run): none 103.2, stream
not rebuilt 54.5, all five 50.1 CPU-ms per turn (27.8 per LLM call, against 33.7 with the four
savings above); load_overhead.py: bench 47.3 against a bare loop's 92.8, 1.99x (was 1.20x).

What was left before it, from `py-spy record` of a one-user load process: mostly ADK's flow and
LiteLLM's request and stream handling; the largest single piece was LiteLLM assembling the whole
streamed response at its end for its logging and usage (`stream_chunk_builder`, about a tenth;
skipped now when the server sends its usage, as vLLM does when asked). gevent under the asyncio
loop, another tenth or more, is gone: the loop thread runs without it (bench.load.bridge.PlainLoop). Tried and left out, each under 1%:
assembling only the usage at the end of a stream (0.7-1 ms per call against LiteLLM's 1.2-2.3 ms,
but it re-implements private LiteLLM code), skipping ADK's per-chunk inference trace when no
OpenTelemetry provider is set (61.8 -> 61.3 CPU-ms per turn, within noise), and LiteLLM's success
dispatcher (a 33 us TypeAdapter per call).
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from typing import Any

from bench.compat import a2a_import, lean_stream, litellm_logging

_applied = False


def freeze_long_lived() -> None:
    """Leave what lives now out of every later garbage collection (`gc.freeze`): the modules,
    classes and caches of ADK, LiteLLM and Locust, and the agent. Python's full collections
    walk every tracked object; in a load process at 12 users (fake server, 2-core machine) they
    ran every 1-2 s and held every thread, the reader that stamps arrivals included, for 300-700
    ms each; frozen, every 3-4 s for 25-155 ms, and the reader's lag p90 went from 104-276 ms to
    5-34 ms. Called once the process is set up (before Locust forks, so the children share those
    pages) and again after its warm-up turn (the first calls' lazy imports and caches)."""
    gc.collect()
    gc.freeze()


def telemetry_config() -> Any:
    """ADK telemetry without message content, on the stable semconv path (nobody reads the spans
    of a load process; the experimental path re-serialises every streamed chunk's output)."""
    from google.adk.telemetry.context import ContentCapturingMode, TelemetryConfig

    return TelemetryConfig(
        capture_message_content=ContentCapturingMode.NO_CONTENT,
        genai_semconv_stability_opt_in="stable",
    )


_PROCESS_SAVINGS = (
    a2a_import.skip_missing_a2a,
    litellm_logging.skip_unread_success_logging,
    litellm_logging.skip_unread_cost,
    lean_stream.enable,  # ADK reads the chunks of LiteLLM's stream parser as they are
)


def apply() -> None:
    """Apply the process-wide savings once (the telemetry one goes through the AgentBundle)."""
    global _applied
    if _applied:
        return
    for saving in _PROCESS_SAVINGS:
        saving()
    _applied = True


@contextlib.contextmanager
def applied() -> Iterator[None]:
    """The savings for a block, then the process as it was (the client-capacity calibration
    measures a load process's cost from the orchestrator's process)."""
    if _applied:
        yield
        return
    cached_a2a = sys.modules.get(a2a_import.A2A_MODULE, False) is None
    for saving in _PROCESS_SAVINGS:
        saving()
    try:
        yield
    finally:
        lean_stream.enable(False)
        litellm_logging.restore()
        if not cached_a2a:
            a2a_import.forget()
