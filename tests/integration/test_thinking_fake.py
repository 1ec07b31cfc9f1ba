"""--thinking and --thinking-budget reach the server as two request-body fields and nothing else:
the same case against the fake server, without and then with them, one server recording every
body (tool-call ids the server made up aside)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
from bench.testing.fake_server import running_fake_server


def test_the_request_body_gains_exactly_the_two_fields(tmp_path: Path) -> None:
    evalset = load_evalset("weather_time")
    path = tmp_path / "bodies"

    async def play(url: str, **thinking: object) -> int:
        bundle = build_agent_bundle(evalset.agent_dir, api_base=url + "/v1",
                                    served_model_name="fake", run_id="r", eval_set_id="e",
                                    **thinking)  # type: ignore[arg-type]  # fmt: skip
        await run_session(bundle, evalset.cases[0])
        await bundle.close()
        return len(path.read_text().splitlines())

    with running_fake_server(record_bodies=str(path)) as url:
        n_plain = asyncio.run(play(url))
        asyncio.run(play(url, thinking="off", thinking_budget=8))
    text = re.sub(r"chatcmpl-tool-[0-9a-f]{16}", "ID", path.read_text())
    bodies = [json.loads(line) for line in text.splitlines()]
    plain, off = bodies[:n_plain], bodies[n_plain:]
    assert len(plain) == len(off) >= 2  # the tool call, then the answer
    for before, after in zip(plain, off, strict=True):
        assert "chat_template_kwargs" not in before and "thinking_token_budget" not in before
        assert after == {**before, "chat_template_kwargs": {"enable_thinking": False},
                         "thinking_token_budget": 8}  # fmt: skip
