"""A quiet console: while a run folder is open, third-party logs go to its `bench.log`.

The orchestrator runs agent code itself (the tool-calling preflight, the judge), and on a failed
LLM call ADK logs the exception with its traceback ("Node execution failed with exception"),
LiteLLM logs through its own console handler and prints a "Give Feedback / Get Help" banner
(`bench.agent.timed_model` turns the banner off). A run against a failing server printed a
dozen tracebacks. Inside `run_log` every log record (warnings included) is written to the run
folder's `bench.log` with its full trace, and nothing of it reaches the console: bench's own
output (progress, the first message of each error class, the summary) says what failed. The
load processes write theirs to `locust.log`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from bench.schemas.run_dir import RunDir

# Loggers that bring their own console handler (LiteLLM's).
_OWN_CONSOLE = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


@contextlib.contextmanager
def run_log(run_dir: RunDir) -> Iterator[None]:
    root = logging.getLogger()
    handler = logging.FileHandler(run_dir.bench_log, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    consoles = [h for h in root.handlers if _is_console(h)]
    for h in consoles:  # a root console handler (from an embedding app) is put aside too
        root.removeHandler(h)
    root.addHandler(handler)
    moved: list[tuple[logging.Logger, logging.Handler]] = []
    for name in _OWN_CONSOLE:
        logger = logging.getLogger(name)
        for h in [h for h in logger.handlers if _is_console(h)]:
            logger.removeHandler(h)
            moved.append((logger, h))
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for logger, h in moved:
            logger.addHandler(h)
        root.removeHandler(handler)
        handler.close()
        for h in consoles:
            root.addHandler(h)


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(
        handler, logging.FileHandler
    )
