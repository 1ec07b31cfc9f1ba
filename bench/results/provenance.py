"""Where a run came from: versions, git commit, hardware, model, flags, eval set. No secrets."""

from __future__ import annotations

import platform
import socket
import subprocess
from typing import Any

from bench import __version__, constants


def git_sha() -> str | None:
    # An installed wheel has no commit; asking git there could name the user's own repository.
    if constants.CHECKOUT_ROOT is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(constants.CHECKOUT_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def cpu_model() -> str | None:
    """The CPU's model name (Linux /proc/cpuinfo, else what the platform says): `bench compare`
    lists runs made on other CPUs."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": __import__("os").cpu_count(),
        "cpu_model": cpu_model(),
        "bench_version": __version__,
        "git_sha": git_sha(),
    }
