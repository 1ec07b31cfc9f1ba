"""One real vLLM server (CPU, tiny model) shared by the e2e tests that only need to talk to it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from bench.schemas.config import ServerConfig
from bench.schemas.errors import BenchError
from bench.server.environment import find_vllm_python
from bench.server.launch import serving
from bench.server.process import Endpoint


@contextlib.contextmanager
def served(tmp_path_factory: pytest.TempPathFactory, model: str) -> Iterator[Endpoint]:
    """A catalog model served by real vLLM for the tests inside the block (skipped without
    vLLM)."""
    try:
        find_vllm_python()
    except BenchError as exc:
        pytest.skip(str(exc))
    log = tmp_path_factory.mktemp(f"{model}-server") / "server.log"
    with serving(ServerConfig(model=model), log) as (endpoint, _server):
        yield endpoint


@pytest.fixture(scope="session")
def tiny_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with served(tmp_path_factory, "tiny") as endpoint:
        yield endpoint
