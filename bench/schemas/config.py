"""Run configuration: pydantic models that parse what the command line and TOML files give.

    RunConfig.from_cli(flags, config_file=..., given=..., passthrough=...)   # bench.schemas.run_flags

The models parse their own text: durations ("90s", "5m"), lists of loads ("1,4,16"), GPU lists
("0,1") and SLOs ("ttft_ms=500"); and hold the rules that tie flags together (an --endpoint takes
no engine flags, --duration or --sessions, steps end by time, ...). Every error is one line that
names the flag (`config_error`).

Secrets never live here: the server API key is generated per run or read from the environment
variable the user names (`api_key_env`), and header values are held only in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bench import constants
from bench.schemas.errors import BenchError
from bench.schemas.flags import (
    duration_or_zero_s,
    duration_s,
    number_list,
    parse_gpus,
    parse_slo,
    read_toml,
    session_header_name,
)
from bench.schemas.tool_latency import tool_latency_texts

__all__ = ["EngineFlags", "JudgeConfig", "LoadConfig", "RunConfig", "ServerConfig",
           "UserSimulatorConfig", "config_error", "read_toml"]  # fmt: skip

# Seconds, given as a number or as text like "90s", "5m", "500ms".
Seconds = Annotated[float, BeforeValidator(duration_s), Field(gt=0)]
SecondsOrZero = Annotated[float, BeforeValidator(duration_or_zero_s), Field(ge=0)]
ARRIVALS = ("poisson", "constant")


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
    # --engine-arg KEY=VALUE and args after `--`
    extra_args: list[str] = Field(default_factory=list)

    def is_default(self) -> bool:
        return self == EngineFlags()


class ServerConfig(BaseModel):
    """Which model to serve and how, or which running server to attach to."""

    model_config = ConfigDict(extra="forbid")

    model: str = "tiny"
    catalog: Path | None = None
    tool_parser: str | None = None
    reasoning_parser: str | None = None  # vLLM --reasoning-parser (overrides the catalog)
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

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus_from_text(cls, value: Any) -> Any:
        return parse_gpus(value) if isinstance(value, str) else value

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


class LoadConfig(BaseModel):
    """How much load and of what shape; see `bench run --help`."""

    model_config = ConfigDict(extra="forbid")

    users: int = Field(default=constants.DEFAULT_USERS, gt=0)
    spawn_rate: float = Field(default=constants.DEFAULT_SPAWN_RATE, gt=0)
    duration_s: Seconds | None = constants.DEFAULT_DURATION_S  # None: --sessions, --web
    sessions: int | None = Field(default=None, gt=0)  # stop after exactly N sessions
    session_rate: float | None = Field(default=None, gt=0)  # open loop: new sessions per second
    arrival: Literal["poisson", "constant"] = "poisson"
    max_sessions_in_flight: int | None = Field(default=None, gt=0)
    processes: int = Field(default_factory=constants.default_load_processes, gt=0)
    # --processes auto (the CLI default): bench.runner.client_capacity sets `processes` from the
    # load and the cores before the load starts.
    processes_auto: bool = False
    think_time_s: SecondsOrZero = 0.0
    seed: int | None = None
    warmup_s: SecondsOrZero = 0.0
    warmup_sessions: int = Field(default=1, ge=0)  # per load process
    trials: int = Field(default=1, gt=0)
    stream: bool = True
    # Forced tool use: tool_choice="required" on a turn's first LLM call when the case expects a
    # call there. Named in the results (tool_choice) so forced and free runs are not mixed up.
    force_tools: bool = False
    # A thinking model's chat template switch (`enable_thinking` in chat_template_kwargs),
    # sent with every LLM call; None sends nothing (the model's default).
    thinking: Literal["on", "off"] | None = None
    # vLLM's per-request `thinking_token_budget` (reasoning tokens before it forces the end of
    # the thought); None sends nothing.
    thinking_budget: int | None = Field(default=None, ge=0)
    # The ADK session id sent under this header on every LLM call (KV-aware routing).
    session_header: Annotated[str | None, BeforeValidator(session_header_name)] = None
    # Delay added to each tool call (bench.schemas.tool_latency): "800ms", "get_weather=300ms".
    tool_latency: Annotated[list[str], BeforeValidator(tool_latency_texts)] = Field(
        default_factory=list
    )
    preflight: bool = True  # a few tool-calling sessions before the load (bench.runner.preflight)
    request_timeout_s: Seconds = constants.DEFAULT_REQUEST_TIMEOUT_S
    # At the stop no session or turn starts; work in flight gets this long, then it is cut and
    # recorded incomplete (Locust's stop timeout; k6's gracefulStop).
    drain_s: SecondsOrZero = constants.DEFAULT_DRAIN_S
    web: bool = False
    web_host: str = constants.LOOPBACK_HOST
    web_port: int = Field(default=constants.DEFAULT_WEB_PORT, ge=1, le=65535)
    # Step loads in one server lifetime: users (closed loop) or session rates (open loop) per step.
    user_steps: list[int] | None = None
    rate_steps: list[float] | None = None
    step_duration_s: Seconds | None = None
    metrics_interval_s: Seconds = 1.0
    # Locust master/worker mode: this run is the master, `bench worker` processes run the users.
    master: bool = False
    expect_workers: int = Field(default=1, gt=0)
    master_bind_host: str = constants.LOOPBACK_HOST
    master_bind_port: int = Field(default=5557, ge=1, le=65535)

    @model_validator(mode="before")
    @classmethod
    def _parse_lists(cls, data: Any) -> Any:
        """`users="1,4,16"` -> users 1 with three steps; a session count or the web UI has no
        default duration."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field, steps, kind in (("users", "user_steps", int),
                                   ("session_rate", "rate_steps", float)):  # fmt: skip
            value = data.get(field)
            if isinstance(value, (str, list, tuple)):
                try:
                    values = number_list(value, kind)
                except ValueError as exc:
                    raise ValueError(f"--{field.replace('_', '-')}: {exc}") from None
                data[field] = values[0]
                data[steps] = values if len(values) > 1 else data.get(steps)
        if data.get("duration_s") is None and (data.get("sessions") is not None or data.get("web")):
            data["duration_s"] = None
        return data

    @field_validator("thinking", mode="before")
    @classmethod
    def _on_or_off(cls, value: Any) -> Any:
        if value is None:
            return None
        text = str(value).strip().lower()
        if text not in ("on", "off"):
            raise ValueError(f"'{value}' is not on or off")
        return text

    @field_validator("arrival", mode="before")
    @classmethod
    def _known_arrival(cls, value: Any) -> Any:
        if value not in ARRIVALS:
            raise ValueError(f"'{value}' is not poisson or constant")
        return value

    @model_validator(mode="after")
    def _flags_agree(self) -> LoadConfig:
        if self.user_steps is not None and any(u <= 0 for u in self.user_steps):
            raise ValueError("--users: every step needs at least 1 user")
        if self.rate_steps is not None and any(r <= 0 for r in self.rate_steps):
            raise ValueError("--session-rate: every step needs a positive rate")
        if self.duration_s is not None and self.sessions is not None:
            raise ValueError("--duration and --sessions: give one of them")
        stepped_users = bool(self.user_steps and len(self.user_steps) > 1)
        stepped_rates = bool(self.rate_steps and len(self.rate_steps) > 1)
        if stepped_users and stepped_rates:
            raise ValueError("--users and --session-rate: step one of them, not both")
        if (stepped_users or stepped_rates) and self.sessions is not None:
            raise ValueError("--sessions: load steps end by time; use --step-duration")
        if self.max_sessions_in_flight is not None and self.session_rate is None:
            raise ValueError("--max-sessions-in-flight: only with --session-rate (open loop)")
        return self

    def steps(self) -> list[LoadConfig]:
        """One LoadConfig per load step (just this one when there are no steps)."""
        duration = self.step_duration_s or self.duration_s
        if self.user_steps and len(self.user_steps) > 1:
            return [self.model_copy(update={"users": u, "user_steps": None, "duration_s": duration})
                    for u in self.user_steps]  # fmt: skip
        if self.rate_steps and len(self.rate_steps) > 1:
            return [self.model_copy(update={"session_rate": r, "rate_steps": None,
                                            "duration_s": duration})
                    for r in self.rate_steps]  # fmt: skip
        return [self]

    @property
    def stepped(self) -> bool:
        return len(self.steps()) > 1

    def step_label(self) -> str:
        """The name of this load in a step folder: users-8 or rate-0.5."""
        return f"users-{self.users}" if self.session_rate is None else f"rate-{self.session_rate:g}"

    @property
    def users_effective(self) -> int:
        """Locust users. Open loop: arrival dispatchers, at least one per load process (a session
        never waits for a user; see bench.load.open_loop)."""
        if self.session_rate is not None:
            return max(self.users, self.processes)
        return self.users

    @property
    def sessions_in_flight_cap(self) -> int | None:
        """Open loop: sessions in flight per load process before arrivals wait; else None."""
        if self.session_rate is None:
            return None
        return self.max_sessions_in_flight or constants.DEFAULT_MAX_SESSIONS_IN_FLIGHT


class JudgeConfig(BaseModel):
    """The judge for ADK's LLM-as-judge metrics: the benchmarked server unless an endpoint is given."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = None  # OpenAI-compatible base URL; None = the server under test
    model: str | None = None  # served name at the endpoint; None = the one under test
    api_key_env: str | None = None  # env var with the judge endpoint's key
    samples: int = Field(default=1, gt=0)


class UserSimulatorConfig(BaseModel):
    """Where ADK's user simulator (conversation_scenario cases) sends its prompts: the server
    under test unless an endpoint is given; `max_turns` replaces the eval config's
    `max_allowed_invocations`."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = None  # OpenAI-compatible base URL; None = the server under test
    model: str | None = None  # served name at the endpoint; None = the one under test
    api_key_env: str | None = None  # env var with the endpoint's key (only its name is kept)
    max_turns: int | None = Field(default=None, gt=0)

    @field_validator("endpoint")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"--user-simulator-endpoint: {value!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _key_needs_endpoint(self) -> UserSimulatorConfig:
        if self.api_key_env and not self.endpoint:
            raise ValueError(
                "--user-simulator-api-key-env: needs --user-simulator-endpoint "
                "(the server under test uses its own key)"
            )
        return self

    @property
    def api_base(self) -> str | None:
        """The endpoint as an OpenAI /v1 base, or None for the server under test."""
        return self.endpoint.rstrip("/").removesuffix("/v1") + "/v1" if self.endpoint else None


class RunConfig(BaseModel):
    """Everything `bench run` needs; saved as config.resolved.toml in the run folder."""

    model_config = ConfigDict(extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)
    evalset: str = constants.DEFAULT_EVALSET
    agent: Path | None = None  # default: the agent folder the eval set lives in
    validate_agent: bool = True  # with --agent: eval set checked against its tools before the run
    results_dir: Path = constants.DEFAULT_RESULTS_DIR
    run_id: str | None = None
    slo: dict[str, float] = Field(default_factory=dict)  # ttft_ms, tpot_ms, turn_ms, session_ms
    judge: JudgeConfig | None = None  # LLM-as-judge metrics; off by default
    # ADK's user simulator for conversation_scenario cases
    user_simulator: UserSimulatorConfig = Field(default_factory=UserSimulatorConfig)

    @field_validator("slo", mode="before")
    @classmethod
    def _slo_from_text(cls, value: Any) -> Any:
        return parse_slo(value) if isinstance(value, str) or value is None else value

    @classmethod
    def from_cli(
        cls,
        flags: dict[str, Any],
        *,
        config_file: Path | None = None,
        given: set[str] | None = None,
        passthrough: list[str] | tuple[str, ...] = (),
    ) -> RunConfig:
        """`bench run`'s flags (names as in `--help`, underscores), filled from a flat TOML file
        for every flag not in `given` (all of `flags` when None); flags absent take the defaults."""
        from bench.schemas.run_flags import run_config_from_flags

        return run_config_from_flags(flags, config_file=config_file, given=given,
                                     passthrough=list(passthrough))  # fmt: skip


# Fields whose flag is not `--` + the field name with dashes.
_FLAG_OF = {"duration_s": "--duration", "think_time_s": "--think-time", "warmup_s": "--warmup",
            "request_timeout_s": "--request-timeout", "step_duration_s": "--step-duration",
            "drain_s": "--drain",
            "metrics_interval_s": "--metrics-interval", "user_steps": "--users",
            "rate_steps": "--session-rate", "headers": "--header"}  # fmt: skip


def config_error(exc: ValidationError) -> BenchError:
    """The first validation error as one line naming the flag (`--max-num-seqs: ...`)."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if p not in ("engine", "load", "server")]
    msg = str(err["msg"]).removeprefix("Value error, ")
    if msg.startswith("--"):
        return BenchError(msg)
    if not loc:
        return BenchError(f"options: {msg}")
    if loc[0] == "judge" and len(loc) > 1:
        return BenchError(f"--judge-{loc[-1].replace('_', '-')}: {msg}")
    if loc[0] == "user_simulator" and len(loc) > 1:
        flag = "max-turns" if loc[-1] == "max_turns" else f"user-simulator-{loc[-1]}"
        return BenchError(f"--{flag.replace('_', '-')}: {msg}")
    name = next((p for p in reversed(loc) if not p.isdigit()), loc[-1])
    return BenchError(f"{_FLAG_OF.get(name, '--' + name.replace('_', '-'))}: {msg}")
