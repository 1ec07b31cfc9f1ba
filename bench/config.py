"""Run configuration: pydantic models built from CLI flags and an optional TOML file.

Secrets never live here: the server API key is generated per run or read from the environment
variable the user names (`api_key_env`), and header values are held only in memory.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bench import constants
from bench.errors import BenchError


def read_toml(path: Path, flag: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or broken file is one line naming the flag and file."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{flag}: {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"{flag}: {path}: invalid TOML ({exc})") from None


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
    extra_args: list[str] = Field(
        default_factory=list
    )  # --engine-arg KEY=VALUE and args after `--`

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
    vllm_python: Path | None = (
        None  # an existing vLLM install; else BENCH_VLLM_PYTHON or .venv-vllm
    )
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


class LoadConfig(BaseModel):
    """How much load and of what shape; see `bench run --help`."""

    model_config = ConfigDict(extra="forbid")

    users: int = Field(default=constants.DEFAULT_USERS, gt=0)
    spawn_rate: float = Field(default=constants.DEFAULT_SPAWN_RATE, gt=0)
    duration_s: float | None = Field(default=constants.DEFAULT_DURATION_S, gt=0)
    sessions: int | None = Field(default=None, gt=0)  # stop after exactly N sessions
    session_rate: float | None = Field(default=None, gt=0)  # open loop: new sessions per second
    arrival: Literal["poisson", "constant"] = "poisson"
    max_sessions_in_flight: int | None = Field(default=None, gt=0)
    processes: int = Field(default_factory=constants.default_load_processes, gt=0)
    think_time_s: float = Field(default=0.0, ge=0)
    seed: int | None = None
    warmup_s: float = Field(default=0.0, ge=0)
    warmup_sessions: int = Field(default=1, ge=0)  # per load process
    trials: int = Field(default=1, gt=0)
    stream: bool = True
    request_timeout_s: float = Field(default=constants.DEFAULT_REQUEST_TIMEOUT_S, gt=0)
    web: bool = False
    web_host: str = constants.LOOPBACK_HOST
    web_port: int = Field(default=constants.DEFAULT_WEB_PORT, ge=1, le=65535)
    # Step loads in one server lifetime: users (closed loop) or session rates (open loop) per step.
    user_steps: list[int] | None = None
    rate_steps: list[float] | None = None
    step_duration_s: float | None = Field(default=None, gt=0)
    metrics_interval_s: float = Field(default=1.0, gt=0)
    # Locust master/worker mode: this run is the master, `bench worker` processes run the users.
    master: bool = False
    expect_workers: int = Field(default=1, gt=0)
    master_bind_host: str = constants.LOOPBACK_HOST
    master_bind_port: int = Field(default=5557, ge=1, le=65535)

    @model_validator(mode="after")
    def _steps_are_positive(self) -> LoadConfig:
        if self.user_steps is not None and any(u <= 0 for u in self.user_steps):
            raise ValueError("--users: every step needs at least 1 user")
        if self.rate_steps is not None and any(r <= 0 for r in self.rate_steps):
            raise ValueError("--session-rate: every step needs a positive rate")
        return self

    def steps(self) -> list[LoadConfig]:
        """One LoadConfig per load step (just this one when there are no steps)."""
        if self.user_steps and len(self.user_steps) > 1:
            return [
                self.model_copy(
                    update={
                        "users": u,
                        "user_steps": None,
                        "duration_s": self.step_duration_s or self.duration_s,
                    }
                )
                for u in self.user_steps
            ]
        if self.rate_steps and len(self.rate_steps) > 1:
            return [
                self.model_copy(
                    update={
                        "session_rate": r,
                        "rate_steps": None,
                        "duration_s": self.step_duration_s or self.duration_s,
                    }
                )
                for r in self.rate_steps
            ]
        return [self]

    @property
    def users_effective(self) -> int:
        """Open loop: the users are the cap on sessions in flight."""
        if self.session_rate is not None:
            return self.max_sessions_in_flight or self.users
        return self.users


class RunConfig(BaseModel):
    """Everything `bench run` needs; saved as config.resolved.toml in the run folder."""

    model_config = ConfigDict(extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)
    evalset: str = constants.DEFAULT_EVALSET
    agent: Path | None = None  # default: the agent folder the eval set lives in
    results_dir: Path = constants.DEFAULT_RESULTS_DIR
    run_id: str | None = None
    slo: dict[str, float] = Field(default_factory=dict)  # ttft_ms, tpot_ms, turn_ms, session_ms
    judge: JudgeConfig | None = None  # LLM-as-judge metrics; off by default


class JudgeConfig(BaseModel):
    """The judge for ADK's LLM-as-judge metrics: the benchmarked server unless an endpoint is given."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = None  # OpenAI-compatible base URL; None = the server under test
    model: str | None = None  # served name at the endpoint; None = the one under test
    api_key_env: str | None = None  # env var with the judge endpoint's key
    samples: int = Field(default=1, gt=0)


RunConfig.model_rebuild()
