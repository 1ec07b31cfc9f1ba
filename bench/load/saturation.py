"""Is the load generator the bottleneck? Each load process samples itself once a second.

A record per sample goes to `raw/client.<pid>.jsonl`: the process's CPU use (% of one core), the
lag of the gevent hub (Locust's users) and of the asyncio loop (ADK and LiteLLM): how much later
than asked a 0.5 s sleep woke up, the most in the second; and each lag of the loop that reads
and stamps the responses (bench.agent.wire_arrival), woken every 0.1 s. Many users in one process share one core, so client-measured latency grows
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
READER_PROBE_INTERVAL_S = 0.1
SAMPLE_EVERY_S = 1.0


async def _asyncio_lag_probe(box: dict[str, float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(PROBE_INTERVAL_S)
        lag_ms = (loop.time() - started - PROBE_INTERVAL_S) * 1000
        box["asyncio_lag_ms"] = max(box.get("asyncio_lag_ms", 0.0), lag_ms)


async def _reader_lag_probe(lags: list[float]) -> None:
    """Every lag of the reader's wake-ups, for the summary's p90 over them: how late a chunk
    arriving at any moment is stamped (a pause that holds it now and then stays in the tail)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(READER_PROBE_INTERVAL_S)
        lags.append((loop.time() - started - READER_PROBE_INTERVAL_S) * 1000)


def _sample_forever(recorder: JsonlRecorder) -> None:
    process = psutil.Process(os.getpid())
    process.cpu_percent(None)
    box: dict[str, Any] = {}
    reader_lags: list[float] = []
    asyncio.run_coroutine_threadsafe(_asyncio_lag_probe(box), bridge.loop())
    asyncio.run_coroutine_threadsafe(_reader_lag_probe(reader_lags), bridge.reader_loop())
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
                "wire_lags_ms": [round(lag, 3) for lag in reader_lags],
            }
            reader_lags.clear()
            recorder.write(CLIENT, sample)
            gevent_lag_ms = 0.0


def start_client_probe(recorder: JsonlRecorder) -> Any:
    """Start sampling in this (already forked) load process; returns the greenlet."""
    return gevent.spawn(_sample_forever, recorder)
