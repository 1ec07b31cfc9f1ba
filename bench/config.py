"""Run configuration: pydantic models built from CLI flags and an optional TOML file.

Secrets never live here: the server API key is generated per run or read from the environment
variable the user names (`api_key_env`), and header values are held only in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench import constants


class EngineFlags(BaseModel):
    """vLLM engine flags bench knows by name; anything else goes through `extra_args` verbatim."""

    model_config = ConfigDict(extra="forbid")

    tensor_parallel_size: int | None = Field(default=None, gt=0)
    pipeline_parallel_size: int | None = Field(default=None, gt=0)
    data_parallel_size: int | None = Field(default=None, gt=0)
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    max_model_len: int | None = Field(default=None, gt=0)
    max_num_seqs: int | None = Field(default=None, gt=0)
    max_num_batched_tokens: int | None = Field(default=None, gt=0)
    enable_prefix_caching: bool | None = None
    kv_cache_dtype: str | None = None
    quantization: str | None = None
    dtype: str | None = None
    enforce_eager: bool | None = None
    speculative_config: str | None = None  # JSON, passed as given
    extra_args: list[str] = Field(default_factory=list)  # --engine-arg KEY=VALUE and args after `--`

    def is_default(self) -> bool:
        return self == EngineFlags()


class ServerConfig(BaseModel):
    """Which model to serve and how, or which running server to attach to."""

    model_config = ConfigDict(extra="forbid")

    model: str = "tiny"
    catalog: Path | None = None
    tool_parser: str | None = None
    chat_template: str | None = None
    gpus: list[int] | None = None  # CUDA_VISIBLE_DEVICES; None = all visible / CPU
    engine: EngineFlags = Field(default_factory=EngineFlags)
    vllm_python: Path | None = None  # an existing vLLM install; else BENCH_VLLM_PYTHON or .venv-vllm
    port: int | None = Field(default=None, ge=1, le=65535)  # None = a free port
    health_timeout_s: float = Field(default=constants.HEALTH_TIMEOUT_S, gt=0)
    # Attach mode: no launch.
    endpoint: str | None = None
    api_key_env: str | None = None  # name of the env var holding the endpoint's key
    headers: list[str] = Field(default_factory=list, exclude=True)  # 'K: V'; may hold secrets
    gcloud_identity_token: bool = False

    @model_validator(mode="after")
    def _endpoint_excludes_launch_flags(self) -> ServerConfig:
        if self.endpoint:
            launch_only = {
                "--gpus": self.gpus is not None,
                "engine flags": not self.engine.is_default(),
                "--port": self.port is not None,
                "--vllm-python": self.vllm_python is not None,
            }
            used = [name for name, given in launch_only.items() if given]
            if used:
                raise ValueError(
                    f"--endpoint attaches to a running server; it cannot take {', '.join(used)}"
                )
        return self


StreamMode = Literal["stream", "no-stream"]
