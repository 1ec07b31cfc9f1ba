"""The standard library's `subprocess` for the load process, where Locust has gevent-patched it.

Code that runs on the load process's asyncio thread starts processes: an MCP toolset's stdio
server (through asyncio), and Google's auth library asking `gcloud` for credentials (an MCP
toolset over HTTP). gevent's patched `Popen` watches children from the main thread's hub only,
so there it fails with "child watchers are only available on the default loop", and ADK then
runs the agent on without the toolset's tools. The original `Popen` class does not help on its
own: gevent also patched the module's globals it reads (`_fork_exec` is None), and gevent's
`os.close` defers closing a pipe until the hub runs, so `Popen` waits forever for the child's
exec report on a pipe that never closes.

`use_plain_subprocess()` puts a private copy of the module, executed with `os` and `threading`
as they were before gevent, in place of what gevent replaced. A greenlet that waits on a
process then blocks its hub; the load process's own greenlets start none. Gated
(bench.compat.gate): without it, agents with an MCP stdio toolset run without its tools.
"""

from __future__ import annotations

import builtins
import functools
import importlib.util
import subprocess
import sys
from types import ModuleType
from typing import Any

from bench.compat import gate


def missing() -> list[str]:
    from gevent import monkey

    return [f"gevent.monkey.{n}" for n in ("saved", "get_original") if not hasattr(monkey, n)]


PATCH = gate.Patch(
    "the plain subprocess", ("gevent",), missing, needs=("gevent",),
    without="processes started by agents (MCP stdio toolsets) fail",
)  # fmt: skip


@functools.cache
def plain_subprocess() -> ModuleType:
    """A private copy of `subprocess` whose `import os` / `import threading` get gevent-free
    copies of those modules."""
    plain = {name: _unpatched(name) for name in ("os", "threading")}

    def import_(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
                level: int = 0) -> Any:  # fmt: skip
        if level == 0 and not fromlist and name in plain:
            return plain[name]
        return builtins.__import__(name, globals, locals, fromlist, level)

    spec = importlib.util.find_spec("subprocess")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__builtins__ = {**vars(builtins), "__import__": import_}  # type: ignore[attr-defined]
    spec.loader.exec_module(module)
    return module


def _unpatched(name: str) -> ModuleType:
    """A copy of module `name` with gevent's patched attributes put back to the originals."""
    from gevent import monkey

    copy = ModuleType(name)
    copy.__dict__.update(vars(sys.modules[name]))
    for attr in monkey.saved.get(name, {}):
        setattr(copy, attr, monkey.get_original(name, attr))
    return copy


def use_plain_subprocess() -> None:
    """Every name gevent patched in `subprocess` now comes from the plain copy (idempotent)."""
    if not gate.allowed("plain_subprocess"):
        return
    from gevent import monkey

    plain = plain_subprocess()
    for attr in monkey.saved.get("subprocess", {}):
        if hasattr(plain, attr):
            setattr(subprocess, attr, getattr(plain, attr))
