"""--force-tools: ADK's LiteLlm sends tool_choice="required" on a turn's first call, and only
when the eval case expects a call there. The requests are read where they arrive: an embedded
fake server whose reply policy records every request body."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web

from bench.agent.session import build_agent_bundle, run_session
from bench.evalset import load_evalset
from bench.schemas.config import LoadConfig
from bench.testing.fake_server import FakeServer, FakeServerConfig, default_policy


def _requests_seen(force_tools: bool, cases: str) -> tuple[list[dict[str, Any]], list[dict]]:
    seen: list[dict[str, Any]] = []
    policy = default_policy()

    def recording(request: dict[str, Any]):
        seen.append(request)
        return policy(request)

    turns: list[dict] = []

    async def go() -> None:
        runner = web.AppRunner(
            FakeServer(FakeServerConfig(served_model_name="x"), recording).build_app()
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            es = load_evalset(f"evalsets/weather_time:{cases}")
            bundle = build_agent_bundle(
                es.agent_dir, api_base=f"http://127.0.0.1:{port}/v1", served_model_name="x",
                run_id="r", eval_set_id="weather_time", load=LoadConfig(stream=False, force_tools=force_tools)
            )  # fmt: skip
            for case in es.cases:
                await run_session(bundle, case, on_turn=turns.append)
            await bundle.close()
        finally:
            await runner.cleanup()

    asyncio.run(go())
    return seen, turns


@pytest.mark.parametrize("force_tools", [True, False])
def test_first_call_of_an_expected_call_turn_is_forced(force_tools: bool) -> None:
    # weather_london expects a call; greeting expects none (a turn without tool use).
    seen, turns = _requests_seen(force_tools, "weather_london,greeting")
    expects = [bool(t["expected_tool_calls"]) for t in turns]
    assert expects == [True, False], expects
    choices = [r.get("tool_choice") for r in seen]
    if force_tools:
        # london: call 1 forced, call 2 (after the tool result) free; greeting: free.
        assert choices[0] == "required"
        assert all(c != "required" for c in choices[1:]), choices
    else:
        assert "required" not in choices
