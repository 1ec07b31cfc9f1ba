"""The server plan is made once: the argv recorded in the manifest is the argv launched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.cli.config_flags import run_config_from_flags
from bench.runner import server_session as session_mod
from bench.runner.inputs import check_inputs
from bench.runner.server_session import server_session
from bench.schemas.config import RunConfig
from bench.schemas.run_dir import RunDir
from bench.server import launch
from bench.server.process import Endpoint


class FakeServer:
    """Stands in for the vLLM process: ready at once, records that it was stopped."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.stopped = False
        self.endpoint = Endpoint("http://127.0.0.1:1", "tiny", "k")

    def wait_ready(self, on_tick: Any = None) -> None:
        if on_tick:
            on_tick()

    def stop(self) -> None:
        self.stopped = True


def _port(argv: list[str]) -> str:
    assert argv.count("--port") == 1, argv
    return argv[argv.index("--port") + 1]


def test_recorded_port_is_the_launched_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Every free_port() call gives a new port, as the kernel may: a second plan would differ.
    ports = iter(range(41001, 41100))
    monkeypatch.setattr(launch, "free_port", lambda *a, **k: next(ports))
    monkeypatch.setattr("bench.runner.inputs.vllm_version", lambda python: "test")
    launched: list[FakeServer] = []

    def fake_launch(plan: launch.ServerPlan, cfg: Any, log_path: Path, api_key: Any = None):
        launched.append(FakeServer(plan.argv))
        return launched[-1]

    monkeypatch.setattr(session_mod, "launch_server", fake_launch)
    cfg = RunConfig(results_dir=tmp_path)
    inputs = check_inputs(cfg)
    recorded = inputs.plan_info["vllm_argv"]
    with server_session(cfg, inputs.plan, RunDir(tmp_path), run_id="r",
                        agent_dir=inputs.agent_dir) as session:  # fmt: skip
        assert session.server is launched[0]
    (server,) = launched
    assert _port(recorded) == _port(server.argv) == "41001"
    assert server.argv[3:] == recorded and server.stopped


def test_attach_launches_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(session_mod, "launch_server", lambda *a, **k: pytest.fail("launched"))
    endpoint = Endpoint("http://127.0.0.1:2", "m", None)
    monkeypatch.setattr(session_mod, "attach_endpoint", lambda cfg: endpoint)
    cfg = run_config_from_flags({"endpoint": "http://127.0.0.1:2"})
    with server_session(cfg, None, RunDir(tmp_path), run_id="r", agent_dir=tmp_path) as session:
        assert session.endpoint is endpoint and session.server is None
