"""Every option shared by `run`, `serve` and `sweep`, declared once, in named groups.

A command takes a group with `@with_options(...)`: the group's options are appended to the
command's signature (typer reads the signature) and arrive in `**flags`, so a command body is
"collect flags, make one config call" instead of sixty parameters passed on by hand.

    @with_options(SERVER_OPTIONS, ENGINE_OPTIONS)
    def serve(ctx: typer.Context, check: bool = False, **flags: Any) -> None: ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from bench import constants

SERVER = "Server"
ENGINE = "vLLM engine flags"
ATTACH = "Attach to a running server"
LOAD = "Load"
RESULTS = "Eval set and results"


@dataclass(frozen=True)
class Opt:
    name: str  # the parameter name: the flag with underscores
    annotation: Any  # Annotated[type, typer.Option(...)]
    default: Any = None


def option(
    name: str, kind: Any, default: Any, panel: str, help: str, *decls: str, **kw: Any
) -> Opt:
    option = typer.Option(*decls, help=help, rich_help_panel=panel, **kw)
    return Opt(name, Annotated[kind, option], default)


# Server: what to serve and how to start it.
Catalog = Annotated[
    Path | None,
    typer.Option(
        help="TOML file with extra model entries (also BENCH_CATALOG).", rich_help_panel=SERVER
    ),
]  # also `bench models list --catalog`
VllmPython = Annotated[
    Path | None,
    typer.Option(
        help="Python of an existing vLLM install (also BENCH_VLLM_PYTHON).", rich_help_panel=SERVER
    ),
]  # also `bench models build / check-template`
MODEL = option("model", str, "tiny", SERVER, "Catalog name, Hugging Face id or local model folder.",
             "--model", "-m")  # fmt: skip
SERVER_OPTIONS = (
    MODEL,
    Opt("catalog", Catalog, None),
    option("tool_parser", str | None, None, SERVER, "vLLM tool-call parser (overrides the catalog)."),
    option("reasoning_parser", str | None, None, SERVER,
           "vLLM reasoning parser of a thinking model, e.g. qwen3, deepseek_r1 (overrides the "
           "catalog; none: serve without one)."),
    option("chat_template", str | None, None, SERVER, "Chat template file (overrides the catalog)."),
    Opt("vllm_python", VllmPython, None),
    option("port", int | None, None, SERVER, "Server port on 127.0.0.1 (default: a free one)."),
    option("health_timeout_s", float, constants.HEALTH_TIMEOUT_S, SERVER,
           "Seconds to wait for the server to be ready."),
)  # fmt: skip

# vLLM engine flags bench names; any other goes through --engine-arg or after `--`.
GPUS = option("gpus", str | None, None, ENGINE,
             "GPU indices, e.g. 0,1 (sets CUDA_VISIBLE_DEVICES; tensor parallel = count).")  # fmt: skip
ENGINE_OPTIONS = (
    GPUS,
    option("tensor_parallel_size", int | None, None, ENGINE, "--tensor-parallel-size"),
    option("pipeline_parallel_size", int | None, None, ENGINE, "--pipeline-parallel-size"),
    option("data_parallel_size", int | None, None, ENGINE, "--data-parallel-size"),
    option("gpu_memory_utilization", float | None, None, ENGINE, "--gpu-memory-utilization (0-1]"),
    option("max_model_len", int | None, None, ENGINE, "--max-model-len"),
    option("max_num_seqs", int | None, None, ENGINE, "--max-num-seqs"),
    option("max_num_batched_tokens", int | None, None, ENGINE, "--max-num-batched-tokens"),
    option("enable_prefix_caching", bool | None, None, ENGINE, "Prefix caching (vLLM default: on).",
           "--enable-prefix-caching/--no-enable-prefix-caching"),
    option("kv_cache_dtype", str | None, None, ENGINE, "--kv-cache-dtype"),
    option("quantization", str | None, None, ENGINE, "--quantization"),
    option("dtype", str | None, None, ENGINE, "--dtype"),
    option("enforce_eager", bool | None, None, ENGINE, "Eager mode (default on CPU: eager).",
           "--enforce-eager/--no-enforce-eager"),
    option("speculative_config", str | None, None, ENGINE, "--speculative-config JSON"),
    option("engine_arg", list[str] | None, None, ENGINE,
           "Any other vLLM flag as KEY=VALUE (repeatable); or put flags after --."),
)  # fmt: skip

# Attach to a running server instead of launching one.
ATTACH_OPTIONS = (
    option("endpoint", str | None, None, ATTACH,
           "URL of a running OpenAI-compatible vLLM server (no launch)."),
    option("api_key_env", str | None, None, ATTACH,
           "Name of the env var holding the endpoint's API key."),
    option("header", list[str] | None, None, ATTACH,
           "Extra request header 'Name: value' (repeatable; never written)."),
    option("gcloud_identity_token", bool, False, ATTACH,
           "Send `gcloud auth print-identity-token` as the bearer token."),
)  # fmt: skip

# The RUN argument of the commands that read one run folder (`results rebuild`, `export-trace`).
RunFolder = Annotated[Path, typer.Argument(help="A run folder (results/<run_id>).")]

# Which eval set, which agent, where results go.
RESULTS_OPTIONS = (
    option("evalset", str | None, None, RESULTS,
           "Eval set file or folder (FILE:case_a,case_b picks cases), or a shipped name "
           f"[default: {constants.DEFAULT_EVALSET}; needed with --agent]."),
    option("agent", Path | None, None, RESULTS,
           "ADK agent folder, any shape `adk` loads (default: the one the eval set lives in)."),
    option("validate_agent", bool, True, RESULTS,
           "With --agent: check the eval set's expected tool calls against the agent's tools "
           "before anything starts, and stop on a mismatch.", "--validate/--no-validate"),
    option("results_dir", Path, constants.DEFAULT_RESULTS_DIR, RESULTS, "Where run folders go."),
)  # fmt: skip

# ADK's user simulator (conversation_scenario cases).
USER_SIMULATOR_OPTIONS = (
    option("user_simulator_endpoint", str | None, None, RESULTS,
             "Server for ADK's user simulator (conversation_scenario cases; OpenAI-compatible "
             "URL); default: the server under test. Its calls are flagged, never the agent's."),
    option("user_simulator_model", str | None, None, RESULTS,
             "Served name of the user simulator's model (default: the model under test)."),
    option("user_simulator_api_key_env", str | None, None, RESULTS,
             "Env var holding --user-simulator-endpoint's API key."),
    option("max_turns", int | None, None, RESULTS,
             "Turn limit of a conversation_scenario case (default: the eval config's "
             "user_simulator_config.max_allowed_invocations, ADK's 20)."),
)  # fmt: skip

# The shape of the load within one step (run and sweep).
LOAD_SHAPE_OPTIONS = (
    option("spawn_rate", float, constants.DEFAULT_SPAWN_RATE, LOAD, "Users started per second."),
    option("arrival", str, "poisson", LOAD, "Open-loop arrivals: poisson or constant."),
    option("processes", str, "auto", LOAD,
           "Locust load processes, or auto: as many as the load needs and the cores allow, "
           "leaving cores for a server bench launches (README, Client capacity)."),
    option("think_time", str | None, None, LOAD, "Pause between a session's turns, e.g. 2s."),
    option("seed", int | None, None, LOAD,
           "Shuffle the cases with this seed (default: round robin in file order)."),
    option("warmup", str | None, None, LOAD,
           "Sessions started in this first span are warm-up, e.g. 10s (the first session per "
           "process always is)."),
    option("stream", bool, True, LOAD, "Stream responses (TTFT is real only when streaming).",
           "--stream/--no-stream"),
    option("force_tools", bool, False, LOAD,
           "Force a tool call (tool_choice=required) on a turn's first LLM call when the eval case "
           "expects one. Recorded as tool_choice in the results: compare like with like.",
           "--force-tools"),
    option("request_timeout", str, "120s", LOAD,
           "Timeout of one LLM request (a call still in flight at the end of the drain and older "
           "than this is a failure)."),
    option("drain", str, "30s", LOAD,
           "At the stop no session or turn starts; work in flight gets this long to finish, "
           "then it is cut and counted incomplete, with its age (like k6's gracefulStop)."),
    option("session_header", str | None, None, LOAD,
           "Send the ADK session id in this header on every LLM call, e.g. X-Session-ID "
           "(for KV-aware routers)."),
    option("tool_latency", list[str] | None, None, LOAD,
           "Delay added to each tool call: 800ms, lognormal:median=1s,p90=3s or uniform:0.2s-2s; "
           "TOOL=... for one tool (repeatable). Seeded by --seed."),
    option("thinking", str | None, None, LOAD,
           "on or off: a thinking model's enable_thinking, sent in chat_template_kwargs with "
           "every LLM call (default: send nothing, the model's own default). bench sweep takes "
           "on,off."),
    option("thinking_budget", str | None, None, LOAD,
           "Reasoning tokens per LLM call before vLLM ends the thought (its thinking_token_budget; "
           "needs --reasoning-parser). bench sweep takes a list."),
    option("preflight", bool, True, LOAD,
           "Before the load, run up to 3 tool-calling cases and stop when the server's tool "
           "parser or chat template loses the calls.", "--preflight/--no-preflight"),
)  # fmt: skip

Command = TypeVar("Command", bound=Callable[..., Any])


def pick(options: tuple[Opt, ...], *names: str) -> tuple[Opt, ...]:
    """Some options of a group (`sweep` takes a server's but not its port)."""
    by_name = {o.name: o for o in options}
    return tuple(by_name[n] for n in names)


def with_options(*groups: tuple[Opt, ...]) -> Callable[[Command], Command]:
    """Append the groups' options to a command's signature; their values arrive in **flags."""

    def decorate(func: Command) -> Command:
        signature = inspect.signature(func)
        hints = get_type_hints(func, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in signature.parameters.values()
               if p.kind is not inspect.Parameter.VAR_KEYWORD]  # fmt: skip
        added = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default,
                                   annotation=o.annotation)
                 for group in groups for o in group]  # fmt: skip
        func.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        func.__annotations__ = {p.name: p.annotation for p in [*own, *added]}
        return func

    return decorate


RunFolders = Annotated[
    list[Path],
    typer.Argument(
        help="Run folders, or results folders holding run folders.",
        show_default=False,
        metavar="RUN",
    ),
]

# Which runs `bench compare`, `bench report` and `bench results list` read from the folders given.
WHICH_RUNS = "Which runs"
ModelFilter = Annotated[
    str | None, typer.Option(help="Only runs of this model.", rich_help_panel=WHICH_RUNS)
]
EvalsetFilter = Annotated[
    str | None, typer.Option(help="Only runs of this eval set id.", rich_help_panel=WHICH_RUNS)
]
SinceFilter = Annotated[
    str | None,
    typer.Option(
        help="Only runs started on or after this date (2026-05-01).", rich_help_panel=WHICH_RUNS
    ),
]
