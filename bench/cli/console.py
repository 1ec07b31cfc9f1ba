"""The one Rich console of the CLI, and how failures are shown."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # the server code (httpx, psutil) is not needed to start the CLI
    from bench.server.process import ServerStartError

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_server_failure(exc: ServerStartError) -> None:
    if exc.log_tail:
        err_console.print("[dim]--- last lines of the vLLM log ---[/]")
        for line in exc.log_tail:
            err_console.print(line, markup=False)
        err_console.print("[dim]---[/]")
    err_console.print(f"rerun by hand: {exc.rerun}", markup=False)
    err_console.print(f"error: {exc}", markup=False)
