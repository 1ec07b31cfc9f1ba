"""--thinking and --thinking-budget as request-body fields, and as run flags."""

from __future__ import annotations

import pytest

from bench.agent.thinking import request_extra_body
from bench.cli.config_flags import run_config_from_flags
from bench.schemas.errors import BenchError


def test_request_body_fields() -> None:
    assert request_extra_body(None, None) is None  # nothing added: other runs' bytes unchanged
    assert request_extra_body("on", None) == {"chat_template_kwargs": {"enable_thinking": True}}
    assert request_extra_body("off", 0) == {
        "chat_template_kwargs": {"enable_thinking": False}, "thinking_token_budget": 0}  # fmt: skip
    assert request_extra_body(None, 512) == {"thinking_token_budget": 512}


def test_run_flags() -> None:
    cfg = run_config_from_flags({"thinking": "OFF", "thinking_budget": "256",
                              "reasoning_parser": "qwen3"})  # fmt: skip
    assert (cfg.load.thinking, cfg.load.thinking_budget) == ("off", 256)
    assert cfg.server.reasoning_parser == "qwen3"
    assert run_config_from_flags({}).load.thinking is None
    for flags, message in (({"thinking": "maybe"}, "--thinking: 'maybe' is not on or off"),
                           ({"thinking_budget": "-3"}, "--thinking-budget"),
                           ({"thinking_budget": "lots"}, "--thinking-budget")):  # fmt: skip
        with pytest.raises(BenchError, match=message):
            run_config_from_flags(flags)
