"""The gevent <-> asyncio bridge, exercised in a subprocess: gevent's monkey patching must not
leak into the pytest process."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
from gevent import monkey
monkey.patch_all()
import asyncio, time, threading
import gevent
from bench.load import bridge

async def work(x):
    await asyncio.sleep(0.05)
    return x * 2, threading.current_thread() is threading.main_thread()

ticks = []
def ticker():
    for _ in range(10):
        ticks.append(time.monotonic())
        gevent.sleep(0.01)

# 20 greenlets wait on coroutines at once; the hub keeps running other greenlets meanwhile.
t0 = time.monotonic()
tick = gevent.spawn(ticker)
jobs = [gevent.spawn(bridge.run_coroutine, work(i)) for i in range(20)]
gevent.joinall(jobs + [tick], timeout=10)
elapsed = time.monotonic() - t0
results = [j.value for j in jobs]
assert [r[0] for r in results] == [2 * i for i in range(20)], results
assert elapsed < 1.0, elapsed  # concurrent, not 20 x 50 ms
assert len(ticks) == 10

# exceptions cross the bridge
async def boom():
    raise ValueError("boom")
try:
    bridge.run_coroutine(boom())
except ValueError as exc:
    assert str(exc) == "boom"
else:
    raise AssertionError("no exception")

# killing the greenlet cancels the coroutine
cancelled = []
async def slow():
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        cancelled.append(True)
        raise
g = gevent.spawn(bridge.run_coroutine, slow())
gevent.sleep(0.1)
g.kill(block=True, timeout=5)
time.sleep(0.1)
assert cancelled == [True]

# the notifier runs callables from the asyncio thread in the hub thread
seen = []
notifier = bridge.ThreadSafeNotifier()
async def notify():
    notifier.call(lambda: seen.append("hub"))
bridge.run_coroutine(notify())
gevent.sleep(0.05)
assert seen == ["hub"], seen
print("OK")
"""


def test_bridge_runs_coroutines_from_greenlets() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("OK")


PLAIN = r"""
from gevent import monkey
monkey.patch_all()
import asyncio, selectors, threading, time
import anyio.to_thread
import gevent
from bench.load import bridge

def blocking(x):
    time.sleep(0.3)  # gevent's sleep: it blocks this real thread only
    return x

async def main():
    loop = asyncio.get_running_loop()
    # no gevent under the loop: the standard selector
    assert type(loop._selector).__module__ == "selectors", type(loop._selector)
    # and a self-pipe of C sockets: worker threads wake the loop without gevent's socket layer
    assert "gevent" not in type(loop._csock).__module__, type(loop._csock)
    # executor work runs in real threads, side by side: two 0.3 s jobs take ~0.3 s, not 0.6
    t0 = time.monotonic()
    got = await asyncio.gather(asyncio.to_thread(blocking, 1), anyio.to_thread.run_sync(blocking, 2))
    took = time.monotonic() - t0
    assert got == [1, 2] and took < 0.55, (got, took)
    # jobs submitted together while one worker is idle still run side by side
    t0 = time.monotonic()
    got = await asyncio.gather(*(asyncio.to_thread(blocking, i) for i in range(4)))
    took = time.monotonic() - t0
    assert got == [0, 1, 2, 3] and took < 0.55, (got, took)
    # an exception reaches the awaiting task
    try:
        await loop.run_in_executor(None, int, "x")
    except ValueError:
        pass
    else:
        raise AssertionError("no ValueError")
    # a greenlet a library starts from the loop thread still runs (the hub gets its turn)
    done = []
    threading.Thread(target=lambda: done.append(1)).start()
    for _ in range(40):
        if done:
            break
        await asyncio.sleep(0.05)
    assert done == [1]
    return "OK"

print(bridge.run_coroutine(main()))
assert bridge.shutdown(timeout_s=30)  # closing LiteLLM's clients imports it: seconds
"""


def test_the_loop_thread_runs_without_gevent() -> None:
    out = subprocess.run([sys.executable, "-c", PLAIN], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("OK")
