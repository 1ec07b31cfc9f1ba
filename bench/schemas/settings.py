"""Every BENCH_* environment variable, read in one place.

User knobs are read through `settings()` (fresh each call, so tests can monkeypatch the
environment). Variables that carry values from the orchestrator to its children (keys, specs)
are named here too, so a grep for BENCH_ finds them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Orchestrator -> child process channels. Secrets travel only in the environment, never in a file.
SERVER_API_KEY_ENV = "BENCH_SERVER_API_KEY"
EXTRA_HEADERS_ENV = "BENCH_EXTRA_HEADERS"
LOAD_SPEC_ENV = "BENCH_LOAD_SPEC"
WEB_AUTH_ENV = "BENCH_WEB_AUTH"
WORKER_DIR_ENV = "BENCH_WORKER_DIR"
RUN_TOKEN_ENV = "BENCH_RUN_TOKEN"  # the token a Locust worker shows its master
JUDGE_API_BASE_ENV = "BENCH_JUDGE_API_BASE"
JUDGE_API_KEY_ENV = "BENCH_JUDGE_API_KEY"
# `bench worker --user-simulator-api-key-env` -> its Locust processes
USER_SIMULATOR_API_KEY_ENV = "BENCH_USER_SIMULATOR_API_KEY"
FAKE_SERVER_KEY_ENV = "BENCH_FAKE_SERVER_KEY"
CLIENT_CPU_MS_ENV = (
    "BENCH_CLIENT_CPU_MS"  # CPU ms per LLM call of a load process (skips the measurement)
)

# User knobs.
VLLM_PYTHON_ENV = "BENCH_VLLM_PYTHON"
CATALOG_ENV = "BENCH_CATALOG"
CACHE_DIR_ENV = "BENCH_CACHE_DIR"


@dataclass(frozen=True)
class Settings:
    vllm_python: Path | None  # an existing vLLM install to use instead of .venv-vllm
    catalog: Path | None  # a TOML file of extra model catalog entries
    cache_dir: Path  # built models (tiny, smollm2), fetched tokenizers, a user vLLM env


def settings() -> Settings:
    env = os.environ
    if env.get(CACHE_DIR_ENV):
        cache = Path(env[CACHE_DIR_ENV])
    else:
        xdg = env.get("XDG_CACHE_HOME")
        cache = (Path(xdg) if xdg else Path.home() / ".cache") / "vllm-agent-bench"
    return Settings(
        vllm_python=Path(env[VLLM_PYTHON_ENV]) if env.get(VLLM_PYTHON_ENV) else None,
        catalog=Path(env[CATALOG_ENV]) if env.get(CATALOG_ENV) else None,
        cache_dir=cache,
    )
