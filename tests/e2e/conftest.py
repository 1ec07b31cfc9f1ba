"""One real vLLM server (CPU, tiny model) shared by the e2e tests that only need to talk to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.errors import BenchError
from bench.schemas.config import ServerConfig
from bench.server.environment import find_vllm_python
from bench.server.launch import serving
from bench.server.process import Endpoint


@pytest.fixture(scope="session")
def tiny_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    try:
        find_vllm_python()
    except BenchError as exc:
        pytest.skip(str(exc))
    log = tmp_path_factory.mktemp("tiny-server") / "server.log"
    with serving(ServerConfig(model="tiny"), log) as (endpoint, _server):
        yield endpoint
