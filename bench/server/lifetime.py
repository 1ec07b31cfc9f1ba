"""Children die with bench: a SIGKILLed `bench` must not leave vLLM or Locust running.

Children run in their own process group (so bench can stop a whole tree), which also takes them
out of the terminal's Ctrl-C; PR_SET_PDEATHSIG asks the kernel to send them SIGTERM when the
bench process that started them dies, however it dies. Linux only; elsewhere a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A `preexec_fn` for subprocess.Popen (runs in the child between fork and exec)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
