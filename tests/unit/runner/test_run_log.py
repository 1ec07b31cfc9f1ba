"""A quiet console: inside `run_log` third-party logs (ADK's tracebacks, LiteLLM's own console
handler) go to the run folder's bench.log, not to stderr; afterwards the handlers are back."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bench.runner.run_log import run_log
from bench.schemas.run_dir import RunDir


def test_third_party_logs_go_to_the_run_log_not_the_console(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    litellm_logger = logging.getLogger("LiteLLM")
    console = logging.StreamHandler()
    litellm_logger.addHandler(console)  # as LiteLLM installs its own
    try:
        with run_log(RunDir(tmp_path)):
            try:
                raise RuntimeError("server answered 500")
            except RuntimeError:
                logging.getLogger("google_adk.flows").exception("Node execution failed")
            litellm_logger.warning("Give Feedback / Get Help")
        out, err = capfd.readouterr()
        assert "Traceback" not in out + err and "Give Feedback" not in out + err
        text = (tmp_path / "bench.log").read_text()
        assert "Node execution failed" in text and "Traceback" in text
        assert "RuntimeError: server answered 500" in text and "Give Feedback" in text
        assert console in litellm_logger.handlers  # put back
    finally:
        litellm_logger.removeHandler(console)
