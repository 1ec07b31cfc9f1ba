"""`kill -USR2` on a load process: every asyncio task, down to what it waits on (in a process
of its own: the load process's loops need gevent's patches)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from gevent import monkey; monkey.patch_all()
import asyncio, os, sys, time
from bench.load import bridge, wait_dump

async def held_by_an_event():
    await asyncio.Event().wait()

asyncio.run_coroutine_threadsafe(held_by_an_event(), bridge.loop())
time.sleep(0.3)
wait_dump.dump_tasks(sys.stdout)
time.sleep(0.5)
sys.stdout.flush()
os._exit(0)
"""


def test_a_stuck_task_is_written_with_what_it_waits_on() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "1 asyncio task(s) on the agents loop" in out
    assert "awaits held_by_an_event" in out and "awaits wait " in out  # Event.wait, its frame
