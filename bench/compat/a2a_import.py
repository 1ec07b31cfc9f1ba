"""ADK's failing a2a import, failed once instead of on every turn.

ADK 2.13 imports `google.adk.agents.remote_a2a_agent` while building each turn's node graph
(workflow/utils/_workflow_graph_utils.py) and passes on ImportError. Without the a2a package the
import fails, so the module is executed (and, under PYTHONDONTWRITEBYTECODE, compiled) again every
turn. A `None` entry in `sys.modules` makes the import fail at once with the same ImportError, so
ADK takes the same branch. Measured: see bench.load.lean_adk.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from bench.compat import gate

A2A_MODULE = "google.adk.agents.remote_a2a_agent"


def missing() -> list[str]:
    return [] if importlib.util.find_spec("google.adk.agents") else ["google.adk.agents"]


PATCH = gate.Patch("the cached a2a import", ("google-adk",), missing, needs=("google.adk",))


def skip_missing_a2a() -> bool:
    """Cache the failed a2a import; True when it failed (and is now cached as failed)."""
    if sys.modules.get(A2A_MODULE, False) is None:
        return True
    if not gate.allowed("a2a_import"):
        return False
    try:
        importlib.import_module(A2A_MODULE)
    except ImportError:
        # `import x` with sys.modules["x"] = None raises ModuleNotFoundError (an ImportError) at
        # once: ADK's `except ImportError: pass` runs as before, minus the module execution.
        sys.modules[A2A_MODULE] = None  # type: ignore[assignment]
        return True
    return False  # a2a is installed: the module is cached by the import above, nothing to do


def forget() -> None:
    """The import as it was (tried again on next use)."""
    if sys.modules.get(A2A_MODULE, False) is None:
        del sys.modules[A2A_MODULE]
