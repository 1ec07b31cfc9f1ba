"""Run configuration: every run setting declared once, as a field with its `Setting` (help and
option name; bench.schemas.setting). The command line, `--config` files, the load spec and
config.resolved.toml all derive from these models (`bench.cli.config_flags` builds them from the
flags).

The models parse their own text: durations ("90s", "5m"), lists of loads ("1,4,16"), GPU lists
("0,1") and SLOs ("ttft_ms=500"); and hold the rules that tie flags together (an --endpoint takes
no engine flags, --duration or --sessions, steps end by time, ...).

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
    field_validator,
    model_validator,
)

from bench import constants
from bench.schemas.flags import (
    duration_or_zero_s,
    duration_s,
    number_list,
    parse_gpus,
    parse_slo,
    read_toml,
    session_header_name,
)
from bench.schemas.setting import Setting as S
from bench.schemas.tool_latency import tool_latency_texts

__all__ = ["EngineFlags", "JudgeConfig", "LoadConfig", "RunConfig", "ServerConfig",
           "UserSimulatorConfig", "read_toml"]  # fmt: skip

# Seconds, given as a number or as text like "90s", "5m", "500ms".
Seconds = Annotated[float, BeforeValidator(duration_s), Field(gt=0)]
SecondsOrZero = Annotated[float, BeforeValidator(duration_or_zero_s), Field(ge=0)]
ARRIVALS = ("poisson", "constant")


class EngineFlags(BaseModel):
    """vLLM engine flags bench knows by name; anything else goes through `extra_args` verbatim."""

    model_config = ConfigDict(extra="forbid")

    tensor_parallel_size: Annotated[int | None, Field(gt=0), S("--tensor-parallel-size")] = None
    pipeline_parallel_size: Annotated[int | None, Field(gt=0), S("--pipeline-parallel-size")] = None
    data_parallel_size: Annotated[int | None, Field(gt=0), S("--data-parallel-size")] = None
    gpu_memory_utilization: Annotated[float | None, Field(gt=0, le=1),
                                      S("--gpu-memory-utilization (0-1]")] = None  # fmt: skip
    max_model_len: Annotated[int | None, Field(gt=0), S("--max-model-len")] = None
    max_num_seqs: Annotated[int | None, Field(gt=0), S("--max-num-seqs")] = None
    max_num_batched_tokens: Annotated[int | None, Field(gt=0), S("--max-num-batched-tokens")] = None
    enable_prefix_caching: Annotated[bool | None, S(
        "Prefix caching (vLLM default: on).",
        decls=("--enable-prefix-caching/--no-enable-prefix-caching",))] = None  # fmt: skip
    kv_cache_dtype: Annotated[str | None, S("--kv-cache-dtype")] = None
    quantization: Annotated[str | None, S("--quantization")] = None
    dtype: Annotated[str | None, S("--dtype")] = None
    enforce_eager: Annotated[bool | None, S(
        "Eager mode (default on CPU: eager).", decls=("--enforce-eager/--no-enforce-eager",))] = None  # fmt: skip
    speculative_config: Annotated[str | None, S("--speculative-config JSON")] = None  # as given
    # --engine-arg KEY=VALUE and args after `--`
    extra_args: list[str] = Field(default_factory=list)

    def is_default(self) -> bool:
        return self == EngineFlags()


class ServerConfig(BaseModel):
    """Which model to serve and how, or which running server to attach to."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, S("Catalog name, Hugging Face id or local model folder.",
                            decls=("--model", "-m"))] = "tiny"  # fmt: skip
    catalog: Annotated[
        Path | None, S("TOML file with extra model entries (also BENCH_CATALOG).")
    ] = None
    tool_parser: Annotated[str | None, S("vLLM tool-call parser (overrides the catalog).")] = None
    reasoning_parser: Annotated[str | None, S(
        "vLLM reasoning parser of a thinking model, e.g. qwen3, deepseek_r1 (overrides the "
        "catalog; none: serve without one).")] = None  # fmt: skip
    chat_template: Annotated[str | None, S("Chat template file (overrides the catalog).")] = None
    # CUDA_VISIBLE_DEVICES; None = all visible / CPU
    gpus: Annotated[list[int] | None, S(
        "GPU indices, e.g. 0,1 (sets CUDA_VISIBLE_DEVICES; tensor parallel = count).",
        panel="engine", cli_type=str | None)] = None  # fmt: skip
    engine: EngineFlags = Field(default_factory=EngineFlags)
    # an existing vLLM install; else BENCH_VLLM_PYTHON or .venv-vllm
    vllm_python: Annotated[Path | None, S(
        "Python of an existing vLLM install (also BENCH_VLLM_PYTHON).")] = None  # fmt: skip
    port: Annotated[int | None, Field(ge=1, le=65535),
                    S("Server port on 127.0.0.1 (default: a free one).")] = None  # fmt: skip
    health_timeout_s: Annotated[float, Field(gt=0), S(
        "Seconds to wait for the server to be ready.")] = constants.HEALTH_TIMEOUT_S  # fmt: skip
    # Attach mode: no launch.
    endpoint: Annotated[str | None, S(
        "URL of a running OpenAI-compatible vLLM server (no launch).", panel="attach")] = None  # fmt: skip
    api_key_env: Annotated[str | None, S(  # the env var's name; its value is never kept
        "Name of the env var holding the endpoint's API key.", panel="attach")] = None  # fmt: skip
    headers: Annotated[list[str], Field(exclude=True), S(  # 'K: V'; may hold secrets
        "Extra request header 'Name: value' (repeatable; never written).", name="header",
        panel="attach")] = []  # fmt: skip
    gcloud_identity_token: Annotated[bool, S(
        "Send `gcloud auth print-identity-token` as the bearer token.", panel="attach")] = False  # fmt: skip

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

    users: Annotated[int, Field(gt=0), S(
        "Concurrent users; each runs one conversation at a time. A list (1,4,16) runs load steps "
        "in one server lifetime.", cli_type=str | None)] = constants.DEFAULT_USERS  # fmt: skip
    spawn_rate: Annotated[float, Field(gt=0), S(
        "Users started per second.")] = constants.DEFAULT_SPAWN_RATE  # fmt: skip
    # None: --sessions, --web
    duration_s: Annotated[Seconds | None, S(
        "How long the load runs, e.g. 60s, 5m.", name="duration", cli_type=str | None)] = constants.DEFAULT_DURATION_S  # fmt: skip
    sessions: Annotated[int | None, Field(gt=0), S(
        "Stop after exactly N sessions (instead of a duration).")] = None  # fmt: skip
    session_rate: Annotated[float | None, Field(gt=0), S(  # open loop: new sessions per second
        "Open loop: new sessions per second (a list runs load steps).",
        cli_type=str | None)] = None  # fmt: skip
    arrival: Annotated[Literal["poisson", "constant"], S(
        "Open-loop arrivals: poisson or constant.", cli_type=str | None)] = "poisson"  # fmt: skip
    max_sessions_in_flight: Annotated[int | None, Field(gt=0), S(
        "Open loop: cap on sessions in flight per load process (default "
        f"{constants.DEFAULT_MAX_SESSIONS_IN_FLIGHT}); an arrival that finds it full waits, and "
        "its delay is measured.")] = None  # fmt: skip
    # --processes auto (the CLI default): bench.runner.client_capacity sets `processes` from the
    # load and the cores before the load starts (`processes_auto`).
    processes: Annotated[int, Field(gt=0), S(
        "Locust load processes, or auto: as many as the load needs and the cores allow, leaving "
        "cores for a server bench launches (docs/running.md, Client capacity).", cli_type=str,
        cli_default="auto")] = Field(default_factory=constants.default_load_processes)  # fmt: skip
    processes_auto: bool = False
    think_time_s: Annotated[SecondsOrZero, S(
        "Pause between a session's turns, e.g. 2s.", name="think_time",
        cli_type=str | None)] = 0.0  # fmt: skip
    seed: Annotated[int | None, S(
        "Shuffle the cases with this seed (default: round robin in file order).")] = None  # fmt: skip
    warmup_s: Annotated[SecondsOrZero, S(
        "Sessions started in this first span are warm-up, e.g. 10s (the first session per "
        "process always is).", name="warmup", cli_type=str | None)] = 0.0  # fmt: skip
    warmup_sessions: int = Field(default=1, ge=0)  # per load process
    trials: Annotated[int, Field(gt=0), S("Run each case this many times.")] = 1
    stream: Annotated[bool, S("Stream responses (TTFT is real only when streaming).",
                              decls=("--stream/--no-stream",))] = True  # fmt: skip
    # Forced tool use: tool_choice="required" on a turn's first LLM call when the case expects a
    # call there. Named in the results (tool_choice) so forced and free runs are not mixed up.
    force_tools: Annotated[bool, S(
        "Force a tool call (tool_choice=required) on a turn's first LLM call when the eval case "
        "expects one. Recorded as tool_choice in the results: compare like with like.",
        decls=("--force-tools",))] = False  # fmt: skip
    # A thinking model's chat template switch (`enable_thinking` in chat_template_kwargs),
    # sent with every LLM call; None sends nothing (the model's default).
    thinking: Annotated[Literal["on", "off"] | None, S(
        "on or off: a thinking model's enable_thinking, sent in chat_template_kwargs with every "
        "LLM call (default: send nothing, the model's own default). bench sweep takes on,off.",
        cli_type=str | None)] = None  # fmt: skip
    # vLLM's per-request `thinking_token_budget` (reasoning tokens before it forces the end of
    # the thought); None sends nothing.
    thinking_budget: Annotated[int | None, Field(ge=0), S(
        "Reasoning tokens per LLM call before vLLM ends the thought (its thinking_token_budget; "
        "needs --reasoning-parser). bench sweep takes a list.", cli_type=str | None)] = None  # fmt: skip
    # Sent as `max_tokens` with every agent LLM call (over the agent's own limit); a reply cut by
    # it ends with finish_reason "length" (llm_calls_finish_length).
    max_tokens: Annotated[int | None, Field(gt=0), S(
        "Cap on the tokens of each agent LLM reply, sent as max_tokens with every call (default: "
        "the agent's own limit, else the server's). A reply cut by it counts in "
        "llm_calls_finish_length.")] = None  # fmt: skip
    # The ADK session id sent under this header on every LLM call (KV-aware routing).
    session_header: Annotated[str | None, BeforeValidator(session_header_name), S(
        "Send the ADK session id in this header on every LLM call, e.g. X-Session-ID (for "
        "KV-aware routers).")] = None  # fmt: skip
    # Delay added to each tool call (bench.schemas.tool_latency): "800ms", "get_weather=300ms".
    tool_latency: Annotated[list[str], BeforeValidator(tool_latency_texts), S(
        "Delay added to each tool call: 800ms, lognormal:median=1s,p90=3s or uniform:0.2s-2s; "
        "TOOL=... for one tool (repeatable). Seeded by --seed.")] = []  # fmt: skip
    # a few tool-calling sessions before the load (bench.runner.preflight)
    preflight: Annotated[bool, S(
        "Before the load, run up to 3 tool-calling cases and stop when the server's tool parser "
        "or chat template loses the calls.", decls=("--preflight/--no-preflight",))] = True  # fmt: skip
    request_timeout_s: Annotated[Seconds, S(
        "Timeout of one LLM request (a call still in flight at the end of the drain and older "
        "than this is a failure).", name="request_timeout", cli_type=str | None)] = constants.DEFAULT_REQUEST_TIMEOUT_S  # fmt: skip
    # At the stop no session or turn starts; work in flight gets this long, then it is cut and
    # recorded incomplete (Locust's stop timeout; k6's gracefulStop).
    drain_s: Annotated[SecondsOrZero, S(
        "At the stop no session or turn starts; work in flight gets this long to finish, then it "
        "is cut and counted incomplete, with its age (like k6's gracefulStop).", name="drain",
        cli_type=str | None)] = constants.DEFAULT_DRAIN_S  # fmt: skip
    web: Annotated[bool, S("Open Locust's web UI instead of running headless.",
                           decls=("--web",))] = False  # fmt: skip
    web_host: Annotated[str, S("Address of the web UI; a non-loopback one needs --web-auth.")] = (
        constants.LOOPBACK_HOST)  # fmt: skip
    web_port: Annotated[int, Field(ge=1, le=65535), S("Port of the web UI.")] = (
        constants.DEFAULT_WEB_PORT)  # fmt: skip
    # Step loads in one server lifetime: users (closed loop) or session rates (open loop) per step.
    user_steps: list[int] | None = None
    rate_steps: list[float] | None = None
    step_duration_s: Annotated[Seconds | None, S(
        "Length of each load step, e.g. 60s (default: --duration).", name="step_duration",
        cli_type=str | None)] = None  # fmt: skip
    metrics_interval_s: Annotated[Seconds, S(
        "How often to scrape the server's /metrics.", name="metrics_interval",
        cli_type=str | None)] = 1.0  # fmt: skip
    # Locust master/worker mode: this run is the master, `bench worker` processes run the users.
    master: Annotated[bool, S("Be the Locust master: `bench worker` processes run the users and "
                              "ship their records here.", decls=("--master",))] = False  # fmt: skip
    expect_workers: Annotated[int, Field(gt=0), S(
        "--master: workers to wait for before the load starts.")] = 1  # fmt: skip
    master_bind_host: Annotated[str, S(
        "--master: address workers connect to (0.0.0.0 for other hosts).")] = (
        constants.LOOPBACK_HOST)  # fmt: skip
    master_bind_port: Annotated[int, Field(ge=1, le=65535), S(
        "--master: port workers connect to.")] = constants.DEFAULT_MASTER_PORT  # fmt: skip

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
    """The judge for ADK's LLM-as-judge metrics: the benchmarked server unless an endpoint is given.

    Options: `--judge-` + the field (`bench.cli.config_flags`)."""

    model_config = ConfigDict(extra="forbid")

    endpoint: Annotated[str | None, S(  # None = the server under test
        "Judge server (OpenAI-compatible URL); default: the server under test.")] = None  # fmt: skip
    model: Annotated[str | None, S(  # served name at the endpoint; None = the one under test
        "Served name of the judge model (default: the model under test).")] = None  # fmt: skip
    api_key_env: Annotated[str | None, S("Env var holding the judge endpoint's API key.")] = None
    samples: Annotated[int, Field(gt=0), S("Judge samples per turn (ADK's num_samples).")] = 1


class UserSimulatorConfig(BaseModel):
    """Where ADK's user simulator (conversation_scenario cases) sends its prompts: the server
    under test unless an endpoint is given; `max_turns` replaces the eval config's
    `max_allowed_invocations`. Options: `--user-simulator-` + the field."""

    model_config = ConfigDict(extra="forbid")

    endpoint: Annotated[str | None, S(  # None = the server under test
        "Server for ADK's user simulator (conversation_scenario cases; OpenAI-compatible URL); "
        "default: the server under test. Its calls are flagged, never the agent's.")] = None  # fmt: skip
    model: Annotated[str | None, S(
        "Served name of the user simulator's model (default: the model under test).")] = None  # fmt: skip
    api_key_env: Annotated[str | None, S(  # only its name is kept
        "Env var holding --user-simulator-endpoint's API key.")] = None  # fmt: skip
    max_turns: Annotated[int | None, Field(gt=0), S(
        "Turn limit of a conversation_scenario case (default: the eval config's "
        "user_simulator_config.max_allowed_invocations, ADK's 20).", name="max_turns")] = None  # fmt: skip

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
    evalset: Annotated[str, S(
        "Eval set file or folder (FILE:case_a,case_b picks cases), or a shipped name (needed "
        "with --agent).")] = constants.DEFAULT_EVALSET  # fmt: skip
    agent: Annotated[Path | None, S(  # default: the agent folder the eval set lives in
        "ADK agent folder, any shape `adk` loads (default: the one the eval set lives in).")] = None  # fmt: skip
    validate_agent: Annotated[bool, S(  # with --agent: the pair is checked before the run
        "With --agent: check the eval set's expected tool calls against the agent's tools before "
        "anything starts, and stop on a mismatch.", decls=("--validate/--no-validate",))] = True  # fmt: skip
    results_dir: Annotated[Path, S("Where run folders go.")] = constants.DEFAULT_RESULTS_DIR
    run_id: Annotated[str | None, S(
        "Name of the run folder (default: time-model-evalset).")] = None  # fmt: skip
    slo: Annotated[dict[str, float], S(  # ttft_ms, tpot_ms, turn_ms, session_ms
        "SLOs for goodput: ttft_ms=..,tpot_ms=..,turn_ms=..,session_ms=.. (any subset; "
        "ttft_text_ms, ttft_tool_ms bound only text or tool-call replies).", panel="load",
        cli_type=str | None)] = {}  # fmt: skip
    judge: JudgeConfig | None = None  # LLM-as-judge metrics; off by default
    # ADK's user simulator for conversation_scenario cases
    user_simulator: UserSimulatorConfig = Field(default_factory=UserSimulatorConfig)

    @field_validator("slo", mode="before")
    @classmethod
    def _slo_from_text(cls, value: Any) -> Any:
        return parse_slo(value) if isinstance(value, str) or value is None else value
