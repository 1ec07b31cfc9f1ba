"""LoadSpec: everything the Locust child needs, written to `<run_dir>/load_spec.json`.

No secrets: the API key travels in the environment (`SERVER_API_KEY_ENV`), extra headers in
the environment variable named by `extra_headers_env` (a JSON object).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bench.schemas.config import LoadConfig, UserSimulatorConfig
from bench.schemas.errors import BenchError
from bench.schemas.redact import redact_urls
from bench.schemas.run_dir import RunDir
from bench.schemas.settings import LOAD_SPEC_ENV


class LoadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    run_dir: Path
    evalset: str  # the eval-set argument as given (path, shipped name, optional :case,ids)
    agent_dir: Path | None = None  # None = the folder the eval set belongs to
    api_base: str  # ends in /v1
    served_model_name: str
    load: LoadConfig = Field(default_factory=LoadConfig)  # the step's, as `bench run` resolved it
    extra_headers_env: str | None = None
    # ADK's user simulator (conversation_scenario cases): no endpoint = the server under test; its
    # key travels in the environment variable named there, never in the spec
    user_simulator: UserSimulatorConfig = Field(default_factory=UserSimulatorConfig)

    def write(self) -> Path:
        path = RunDir(Path(self.run_dir)).load_spec
        path.parent.mkdir(parents=True, exist_ok=True)
        # The URL the child uses has no password (attach moves it to a header held in memory).
        path.write_text(json.dumps(redact_urls(self.model_dump(mode="json")), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> LoadSpec:
        try:
            return cls.model_validate_json(Path(path).read_text())
        except FileNotFoundError:
            raise BenchError(f"load spec {path} does not exist") from None

    @classmethod
    def from_env(cls) -> LoadSpec:
        path = os.environ.get(LOAD_SPEC_ENV)
        if not path:
            raise BenchError(f"{LOAD_SPEC_ENV} is not set: run Locust through `bench run`")
        return cls.read(path)

    def extra_headers(self) -> dict[str, str]:
        """The extra headers from `extra_headers_env` (never stored in the spec itself)."""
        if not self.extra_headers_env:
            return {}
        text = os.environ.get(self.extra_headers_env)
        if not text:
            return {}
        try:
            headers = json.loads(text)
        except json.JSONDecodeError:
            raise BenchError(f"{self.extra_headers_env}: not a JSON object of headers") from None
        if not isinstance(headers, dict):
            raise BenchError(f"{self.extra_headers_env}: not a JSON object of headers")
        return {str(k): str(v) for k, v in headers.items()}
