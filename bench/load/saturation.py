"""Is the load generator the bottleneck? Each load process samples itself once a second.

A record per sample goes to `raw/client.<pid>.jsonl`: the process's CPU use (% of one core), the
lag of the gevent hub (Locust's users), of the asyncio loop (ADK and LiteLLM) and of the loop
that reads and stamps the responses (bench.agent.wire_arrival): how much later than asked a
0.5 s sleep woke up. Many users in one process share one core, so client-measured latency grows
when these rise; the summary judges from them and from the calls' pull delays whether the
client distorted its figures (`client_saturated`, bench.results.client_summary).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import gevent
import psutil

from bench.load import bridge
from bench.load.recorder import JsonlRecorder
from bench.schemas.raw import CLIENT
from bench.schemas.records import ClientSample

PROBE_INTERVAL_S = 0.5
SAMPLE_EVERY_S = 1.0


async def _asyncio_lag_probe(box: dict[str, float], key: str) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(PROBE_INTERVAL_S)
        box[key] = max(box.get(key, 0.0), (loop.time() - started - PROBE_INTERVAL_S) * 1000)


def _sample_forever(recorder: JsonlRecorder) -> None:
    process = psutil.Process(os.getpid())
    process.cpu_percent(None)
    box: dict[str, Any] = {}
    asyncio.run_coroutine_threadsafe(_asyncio_lag_probe(box, "asyncio_lag_ms"), bridge.loop())
    asyncio.run_coroutine_threadsafe(_asyncio_lag_probe(box, "wire_lag_ms"), bridge.reader_loop())
    gevent_lag_ms = 0.0
    last_sample = time.monotonic()
    while True:
        started = time.monotonic()
        gevent.sleep(PROBE_INTERVAL_S)
        gevent_lag_ms = max(gevent_lag_ms, (time.monotonic() - started - PROBE_INTERVAL_S) * 1000)
        if time.monotonic() - last_sample >= SAMPLE_EVERY_S:
            last_sample = time.monotonic()
            sample: ClientSample = {
                "timestamp": time.time(),
                "pid": os.getpid(),
                "cpu_percent": process.cpu_percent(None),
                "gevent_lag_ms": gevent_lag_ms,
                "asyncio_lag_ms": box.pop("asyncio_lag_ms", 0.0),
                "wire_lag_ms": box.pop("wire_lag_ms", 0.0),
            }
            recorder.write(CLIENT, sample)
            gevent_lag_ms = 0.0


def start_client_probe(recorder: JsonlRecorder) -> Any:
    """Start sampling in this (already forked) load process; returns the greenlet."""
    return gevent.spawn(_sample_forever, recorder)
