"""`bench run`: serve a model, drive ADK agent sessions through Locust, score, write Parquet."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from click.core import ParameterSource
from pydantic import ValidationError

from bench import constants
from bench.cli import options as o
from bench.cli.console import console, print_server_failure
from bench.cli.summary import print_steps, print_summary
from bench.config import JudgeConfig, LoadConfig, RunConfig, read_toml

if TYPE_CHECKING:
    from bench.pipeline import Progress
from bench.errors import BenchError, RunFailed
from bench.schemas.settings import RUN_TOKEN_ENV
from bench.scoring.goodput import parse_slo
from bench.server.process import ServerStartError, tail

LOAD = "Load"
RESULTS = "Eval set and results"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}


def parse_duration(text: str, flag: str) -> float:
    """`90`, `90s`, `2m`, `1h` -> seconds."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise BenchError(f"{flag}: '{text}' is not a duration like 30s, 5m or 1h")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def parse_number_list(text: Any, flag: str, kind: type) -> list[Any]:
    """`8` or `1,4,16` (a TOML file may give a number or a list)."""
    if isinstance(text, (int, float)):
        return [kind(text)]
    if isinstance(text, list):
        text = ",".join(str(t) for t in text)
    try:
        values = [kind(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise BenchError(
            f"{flag}: '{text}' is not a number or a comma-separated list of numbers"
        ) from None
    if not values or any(v <= 0 for v in values):
        raise BenchError(f"{flag}: every value must be greater than 0")
    return values


def load_config_file(path: Path) -> dict[str, Any]:
    return {k.replace("-", "_"): v for k, v in read_toml(path, "--config").items()}


def merge_config_file(
    ctx: typer.Context, params: dict[str, Any], path: Path | None
) -> dict[str, Any]:
    """Values from the TOML file fill every option the command line did not set."""
    if path is None:
        return params
    values = load_config_file(path)
    for key, value in values.items():
        if key not in params or key == "config":
            raise BenchError(f"--config: {path}: unknown option '{key}'")
        if ctx.get_parameter_source(key) in (
            ParameterSource.DEFAULT,
            ParameterSource.DEFAULT_MAP,
            None,
        ):
            params[key] = value
    return params


def run(
    ctx: typer.Context,
    model: o.Model = "tiny",
    evalset: Annotated[
        str,
        typer.Option(
            help="Eval set file or folder (FILE:case_a,case_b picks cases), or a shipped name.",
            rich_help_panel=RESULTS,
        ),
    ] = constants.DEFAULT_EVALSET,
    agent: Annotated[
        Path | None,
        typer.Option(
            help="ADK agent folder (default: the one the eval set lives in).",
            rich_help_panel=RESULTS,
        ),
    ] = None,
    results_dir: Annotated[
        Path, typer.Option(help="Where run folders go.", rich_help_panel=RESULTS)
    ] = constants.DEFAULT_RESULTS_DIR,
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Name of the run folder (default: time-model-evalset).", rich_help_panel=RESULTS
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="TOML file with any of these options (flags override it).", rich_help_panel=RESULTS
        ),
    ] = None,
    users: Annotated[
        str,
        typer.Option(
            help="Concurrent users; each runs one conversation at a time. A list (1,4,16) runs "
            "load steps in one server lifetime.",
            rich_help_panel=LOAD,
        ),
    ] = str(constants.DEFAULT_USERS),
    spawn_rate: Annotated[
        float, typer.Option(help="Users started per second.", rich_help_panel=LOAD)
    ] = constants.DEFAULT_SPAWN_RATE,
    duration: Annotated[
        str | None, typer.Option(help="How long the load runs, e.g. 60s, 5m.", rich_help_panel=LOAD)
    ] = None,
    sessions: Annotated[
        int | None,
        typer.Option(
            help="Stop after exactly N sessions (instead of a duration).", rich_help_panel=LOAD
        ),
    ] = None,
    session_rate: Annotated[
        str | None,
        typer.Option(
            help="Open loop: new sessions per second (a list runs load steps).",
            rich_help_panel=LOAD,
        ),
    ] = None,
    step_duration: Annotated[
        str | None,
        typer.Option(
            help="Length of each load step, e.g. 60s (default: --duration).", rich_help_panel=LOAD
        ),
    ] = None,
    slo: Annotated[
        str | None,
        typer.Option(
            help="SLOs for goodput: ttft_ms=..,tpot_ms=..,turn_ms=..,session_ms=.. (any subset).",
            rich_help_panel=LOAD,
        ),
    ] = None,
    judge: Annotated[
        bool,
        typer.Option(
            "--judge",
            help="Also score final responses with ADK's LLM-as-judge metrics (final_response_match_v2; rubrics when the criteria have them).",
            rich_help_panel=RESULTS,
        ),
    ] = False,
    judge_endpoint: Annotated[
        str | None,
        typer.Option(
            help="Judge server (OpenAI-compatible URL); default: the server under test.",
            rich_help_panel=RESULTS,
        ),
    ] = None,
    judge_model: Annotated[
        str | None,
        typer.Option(
            help="Served name of the judge model (default: the model under test).",
            rich_help_panel=RESULTS,
        ),
    ] = None,
    judge_api_key_env: Annotated[
        str | None,
        typer.Option(help="Env var holding the judge endpoint's API key.", rich_help_panel=RESULTS),
    ] = None,
    judge_samples: Annotated[
        int,
        typer.Option(help="Judge samples per turn (ADK's num_samples).", rich_help_panel=RESULTS),
    ] = 1,
    metrics_interval: Annotated[
        str, typer.Option(help="How often to scrape the server's /metrics.", rich_help_panel=LOAD)
    ] = "1s",
    arrival: Annotated[
        str, typer.Option(help="Open-loop arrivals: poisson or constant.", rich_help_panel=LOAD)
    ] = "poisson",
    max_sessions_in_flight: Annotated[
        int | None,
        typer.Option(
            help="Open loop: cap on concurrent sessions (default: --users).", rich_help_panel=LOAD
        ),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            help="Locust load processes (default: half the CPU cores).", rich_help_panel=LOAD
        ),
    ] = None,
    think_time: Annotated[
        str | None,
        typer.Option(help="Pause between a session's turns, e.g. 2s.", rich_help_panel=LOAD),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Shuffle the cases with this seed (default: round robin in file order).",
            rich_help_panel=LOAD,
        ),
    ] = None,
    warmup: Annotated[
        str | None,
        typer.Option(
            help="Sessions started in this first span are warm-up, e.g. 10s (the first session per process always is).",
            rich_help_panel=LOAD,
        ),
    ] = None,
    trials: Annotated[
        int, typer.Option(help="Run each case this many times.", rich_help_panel=LOAD)
    ] = 1,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream/--no-stream",
            help="Stream responses (TTFT is real only when streaming).",
            rich_help_panel=LOAD,
        ),
    ] = True,
    request_timeout: Annotated[
        str, typer.Option(help="Timeout of one LLM request.", rich_help_panel=LOAD)
    ] = "120s",
    web: Annotated[
        bool,
        typer.Option(
            "--web", help="Open Locust's web UI instead of running headless.", rich_help_panel=LOAD
        ),
    ] = False,
    web_port: Annotated[
        int, typer.Option(help="Port of the web UI.", rich_help_panel=LOAD)
    ] = constants.DEFAULT_WEB_PORT,
    web_host: Annotated[
        str,
        typer.Option(
            help="Address of the web UI; a non-loopback one needs --web-auth.", rich_help_panel=LOAD
        ),
    ] = constants.LOOPBACK_HOST,
    web_auth: Annotated[
        str | None,
        typer.Option(
            envvar="BENCH_WEB_AUTH",
            show_envvar=True,
            help="USER:PASSWORD for a login page in front of the web UI (kept out of every file).",
            rich_help_panel=LOAD,
        ),
    ] = None,
    master: Annotated[
        bool,
        typer.Option(
            "--master",
            help="Be the Locust master: `bench worker` processes run the users "
            "and ship their records here.",
            rich_help_panel=LOAD,
        ),
    ] = False,  # fmt: skip
    expect_workers: Annotated[
        int,
        typer.Option(
            help="--master: workers to wait for before the load starts.", rich_help_panel=LOAD
        ),
    ] = 1,  # fmt: skip
    master_bind_host: Annotated[
        str,
        typer.Option(
            help="--master: address workers connect to (0.0.0.0 for other hosts).",
            rich_help_panel=LOAD,
        ),
    ] = constants.LOOPBACK_HOST,  # fmt: skip
    master_bind_port: Annotated[
        int, typer.Option(help="--master: port workers connect to.", rich_help_panel=LOAD)
    ] = 5557,
    catalog: o.Catalog = None,
    tool_parser: o.ToolParser = None,
    chat_template: o.ChatTemplate = None,
    vllm_python: o.VllmPython = None,
    port: o.Port = None,
    health_timeout_s: o.HealthTimeout = constants.HEALTH_TIMEOUT_S,
    gpus: o.Gpus = None,
    tensor_parallel_size: o.TensorParallel = None,
    pipeline_parallel_size: o.PipelineParallel = None,
    data_parallel_size: o.DataParallel = None,
    gpu_memory_utilization: o.GpuMemUtil = None,
    max_model_len: o.MaxModelLen = None,
    max_num_seqs: o.MaxNumSeqs = None,
    max_num_batched_tokens: o.MaxBatchedTokens = None,
    enable_prefix_caching: o.PrefixCaching = None,
    kv_cache_dtype: o.KvCacheDtype = None,
    quantization: o.Quantization = None,
    dtype: o.Dtype = None,
    enforce_eager: o.EnforceEager = None,
    speculative_config: o.SpeculativeConfig = None,
    engine_arg: o.EngineArg = None,
    endpoint: o.Endpoint = None,
    api_key_env: o.ApiKeyEnv = None,
    header: o.Header = None,
    gcloud_identity_token: o.GcloudToken = False,
) -> None:
    """Benchmark ADK agents on vLLM: throughput, latency and tool accuracy, written to Parquet.

    Example: bench run --model tiny --evalset weather_time --users 8 --duration 60s
    """
    params = dict(ctx.params)
    web_auth_value = params.pop("web_auth", None)  # a secret: never from or into a file
    params = merge_config_file(ctx, params, config)
    cfg = build_run_config(params, passthrough=list(ctx.args))
    if cfg.load.web:
        from bench.load.webui import check_web_host

        _use_web_auth(web_auth_value)
        check_web_host(cfg.load.web_host)
        console.print(f"web UI: http://{cfg.load.web_host}:{cfg.load.web_port} (start the test "
                      "there; stopping it ends the run and writes the results)")  # fmt: skip
    from bench.pipeline import interrupted_exit_code, run_benchmark  # heavy: ADK, pyarrow

    result = None
    console.print(f"run: model {cfg.server.model}, eval set {cfg.evalset}, "
                  f"{_load_text(cfg.load)}")  # fmt: skip
    try:
        result = run_benchmark(cfg, on_progress=_progress_printer())
    except ServerStartError as exc:
        print_server_failure(exc)
        raise typer.Exit(exc.exit_code) from None
    except RunFailed as exc:
        result = getattr(exc, "result", None)
        if result is None:
            raise
    print_summary(result.summary, result.counts)
    if len(result.steps) > 1:
        print_steps(result.steps)
    console.print(f"results: {result.run_dir}")
    if result.status == "completed":
        return
    if result.status == "server_failed":
        for line in tail(result.run_dir / "server.log"):
            console.print(line, markup=False)
    print(f"error ({result.status}): {result.message}", file=sys.stderr)
    raise typer.Exit(interrupted_exit_code(result) if result.status == "interrupted" else 1)


def _use_web_auth(value: str | None) -> None:
    """--web-auth USER:PASSWORD -> the Locust child's environment (bench.load.webui reads it)."""
    if value is None:
        return
    user, _, password = value.partition(":")
    if not user or not password:
        raise BenchError("--web-auth: give USER:PASSWORD")
    os.environ["BENCH_WEB_AUTH"] = value


def build_run_config(params: dict[str, Any], passthrough: list[str]) -> RunConfig:
    p = dict(params)
    server_keys = {
        "model", "catalog", "tool_parser", "chat_template", "vllm_python", "port", "health_timeout_s", "gpus",
        "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "gpu_memory_utilization",
        "max_model_len", "max_num_seqs", "max_num_batched_tokens", "enable_prefix_caching", "kv_cache_dtype",
        "quantization", "dtype", "enforce_eager", "speculative_config", "engine_arg", "endpoint",
        "api_key_env", "header", "gcloud_identity_token",
    }  # fmt: skip
    server = o.build_server_config(passthrough=passthrough, **{k: p.pop(k) for k in server_keys})
    if p["duration"] is not None and p["sessions"] is not None:
        raise BenchError("--duration and --sessions: give one of them")
    duration_s = None
    if p["sessions"] is None and not p["web"]:
        duration_s = parse_duration(
            p["duration"] or f"{constants.DEFAULT_DURATION_S:g}s", "--duration"
        )
    elif p["duration"] is not None:
        duration_s = parse_duration(p["duration"], "--duration")
    if p["arrival"] not in ("poisson", "constant"):
        raise BenchError(f"--arrival: '{p['arrival']}' is not poisson or constant")
    user_steps = parse_number_list(p["users"], "--users", int)
    rate_steps = (
        parse_number_list(p["session_rate"], "--session-rate", float) if p["session_rate"] else None
    )
    if len(user_steps) > 1 and rate_steps and len(rate_steps) > 1:
        raise BenchError("--users and --session-rate: step one of them, not both")
    step_duration_s = (
        parse_duration(p["step_duration"], "--step-duration") if p["step_duration"] else None
    )
    if (len(user_steps) > 1 or (rate_steps and len(rate_steps) > 1)) and p["sessions"] is not None:
        raise BenchError("--sessions: load steps end by time; use --step-duration")
    load_values = {
        "users": user_steps[0],
        "user_steps": user_steps if len(user_steps) > 1 else None,
        "rate_steps": rate_steps if rate_steps and len(rate_steps) > 1 else None,
        "step_duration_s": step_duration_s,
        "metrics_interval_s": parse_duration(p["metrics_interval"], "--metrics-interval"),
        "spawn_rate": p["spawn_rate"],
        "duration_s": duration_s,
        "sessions": p["sessions"],
        "session_rate": rate_steps[0] if rate_steps else None,
        "arrival": p["arrival"],
        "max_sessions_in_flight": p["max_sessions_in_flight"],
        "think_time_s": parse_duration(p["think_time"], "--think-time") if p["think_time"] else 0.0,
        "seed": p["seed"],
        "warmup_s": parse_duration(p["warmup"], "--warmup") if p["warmup"] else 0.0,
        "trials": p["trials"],
        "stream": p["stream"],
        "request_timeout_s": parse_duration(p["request_timeout"], "--request-timeout"),
        "web": p["web"],
        "web_port": p["web_port"],
        "web_host": p["web_host"],
        "master": p.get("master", False),
        "expect_workers": p.get("expect_workers", 1),
        "master_bind_host": p.get("master_bind_host", constants.LOOPBACK_HOST),
        "master_bind_port": p.get("master_bind_port", 5557),
    }
    if p["processes"] is not None:
        load_values["processes"] = p["processes"]
    if load_values["master"] and not os.environ.get(RUN_TOKEN_ENV):
        raise BenchError(f"--master: set {RUN_TOKEN_ENV}, the token every `bench worker` must show")
    try:
        load = LoadConfig(**load_values)
        return RunConfig(
            server=server,
            load=load,
            evalset=p["evalset"],
            agent=p["agent"],
            results_dir=p["results_dir"],
            run_id=p["run_id"],
            slo=parse_slo(p["slo"]),
            judge=_judge_config(p),
        )
    except ValidationError as exc:
        raise BenchError(_load_error(exc)) from None


def _judge_config(p: dict[str, Any]) -> JudgeConfig | None:
    given = [f for f in ("judge_endpoint", "judge_model", "judge_api_key_env") if p.get(f)]
    if not p.get("judge"):
        if given:
            raise BenchError(f"--{given[0].replace('_', '-')}: needs --judge")
        return None
    if p.get("judge_api_key_env") and not os.environ.get(p["judge_api_key_env"]):
        raise BenchError(
            f"--judge-api-key-env: environment variable {p['judge_api_key_env']} is not set"
        )
    return JudgeConfig(
        endpoint=p.get("judge_endpoint"), model=p.get("judge_model"),
        api_key_env=p.get("judge_api_key_env"), samples=p.get("judge_samples") or 1,
    )  # fmt: skip


_LOAD_FLAG = {"duration_s": "--duration", "think_time_s": "--think-time", "warmup_s": "--warmup",
              "request_timeout_s": "--request-timeout"}  # fmt: skip


def _load_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = str(err["loc"][-1]) if err["loc"] else "options"
    return f"{_LOAD_FLAG.get(name, '--' + name.replace('_', '-'))}: {err['msg']}"


def _load_text(load: LoadConfig) -> str:
    shape = (f"open loop {load.session_rate:g} sessions/s ({load.arrival})" if load.session_rate
             else f"{load.users} users")  # fmt: skip
    stop = (
        f"{load.sessions} sessions"
        if load.sessions
        else (f"{load.duration_s:g} s" if load.duration_s else "until stopped")
    )
    return f"{shape}, {stop}, {load.processes} load process(es)"


def _progress_printer():
    """A live line on a terminal; a line every 10 s in logs."""
    last = [0.0]

    def show(p: Progress) -> None:
        total = f"/{p.duration_s:.0f}" if p.duration_s else ""
        target = f"/{p.sessions_target}" if p.sessions_target else ""
        line = (
            f"{p.phase}: {p.elapsed_s:.0f}{total} s, sessions {p.sessions}{target}, turns {p.turns}"
        )
        if console.is_terminal:
            console.print(line, end="\r")
        elif time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            console.print(line)

    return show
