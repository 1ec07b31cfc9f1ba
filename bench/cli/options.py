"""Options shared by the commands that start or attach to a server (`serve`, `run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from bench.config import EngineFlags, ServerConfig
from bench.errors import BenchError
from bench.server.argv import parse_engine_arg, parse_gpus, refuse_reserved_flags

SERVER = "Server"
ENGINE = "vLLM engine flags"
ATTACH = "Attach to a running server"

Model = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Catalog name, Hugging Face id or local model folder.",
        rich_help_panel=SERVER,
    ),
]
Catalog = Annotated[
    Path | None,
    typer.Option(
        help="TOML file with extra model entries (also BENCH_CATALOG).", rich_help_panel=SERVER
    ),
]
ToolParser = Annotated[
    str | None,
    typer.Option(help="vLLM tool-call parser (overrides the catalog).", rich_help_panel=SERVER),
]
ChatTemplate = Annotated[
    str | None,
    typer.Option(help="Chat template file (overrides the catalog).", rich_help_panel=SERVER),
]
VllmPython = Annotated[
    Path | None,
    typer.Option(
        help="Python of an existing vLLM install (also BENCH_VLLM_PYTHON).", rich_help_panel=SERVER
    ),
]
Port = Annotated[
    int | None,
    typer.Option(help="Server port on 127.0.0.1 (default: a free one).", rich_help_panel=SERVER),
]
HealthTimeout = Annotated[
    float, typer.Option(help="Seconds to wait for the server to be ready.", rich_help_panel=SERVER)
]

Gpus = Annotated[
    str | None,
    typer.Option(
        help="GPU indices, e.g. 0,1 (sets CUDA_VISIBLE_DEVICES; tensor parallel = count).",
        rich_help_panel=ENGINE,
    ),
]
TensorParallel = Annotated[
    int | None, typer.Option(help="--tensor-parallel-size", rich_help_panel=ENGINE)
]
PipelineParallel = Annotated[
    int | None, typer.Option(help="--pipeline-parallel-size", rich_help_panel=ENGINE)
]
DataParallel = Annotated[
    int | None, typer.Option(help="--data-parallel-size", rich_help_panel=ENGINE)
]
GpuMemUtil = Annotated[
    float | None, typer.Option(help="--gpu-memory-utilization (0-1]", rich_help_panel=ENGINE)
]
MaxModelLen = Annotated[int | None, typer.Option(help="--max-model-len", rich_help_panel=ENGINE)]
MaxNumSeqs = Annotated[int | None, typer.Option(help="--max-num-seqs", rich_help_panel=ENGINE)]
MaxBatchedTokens = Annotated[
    int | None, typer.Option(help="--max-num-batched-tokens", rich_help_panel=ENGINE)
]
PrefixCaching = Annotated[
    bool | None,
    typer.Option(
        "--enable-prefix-caching/--no-enable-prefix-caching",
        help="Prefix caching (vLLM default: on).",
        rich_help_panel=ENGINE,
    ),
]
KvCacheDtype = Annotated[str | None, typer.Option(help="--kv-cache-dtype", rich_help_panel=ENGINE)]
Quantization = Annotated[str | None, typer.Option(help="--quantization", rich_help_panel=ENGINE)]
Dtype = Annotated[str | None, typer.Option(help="--dtype", rich_help_panel=ENGINE)]
EnforceEager = Annotated[
    bool | None,
    typer.Option(
        "--enforce-eager/--no-enforce-eager",
        help="Eager mode (default on CPU: eager).",
        rich_help_panel=ENGINE,
    ),
]
SpeculativeConfig = Annotated[
    str | None, typer.Option(help="--speculative-config JSON", rich_help_panel=ENGINE)
]
EngineArg = Annotated[
    list[str] | None,
    typer.Option(
        help="Any other vLLM flag as KEY=VALUE (repeatable); or put flags after --.",
        rich_help_panel=ENGINE,
    ),
]

Endpoint = Annotated[
    str | None,
    typer.Option(
        help="URL of a running OpenAI-compatible vLLM server (no launch).", rich_help_panel=ATTACH
    ),
]
ApiKeyEnv = Annotated[
    str | None,
    typer.Option(
        help="Name of the env var holding the endpoint's API key.", rich_help_panel=ATTACH
    ),
]
Header = Annotated[
    list[str] | None,
    typer.Option(
        help="Extra request header 'Name: value' (repeatable; never written).",
        rich_help_panel=ATTACH,
    ),
]
RunFolders = Annotated[
    list[Path],
    typer.Argument(
        help="Run folders, or results folders holding run folders.",
        show_default=False,
        metavar="RUN",
    ),
]
GcloudToken = Annotated[
    bool,
    typer.Option(
        help="Send `gcloud auth print-identity-token` as the bearer token.", rich_help_panel=ATTACH
    ),
]


def build_server_config(*, passthrough: list[str], **values: Any) -> ServerConfig:
    """Validate flags into one ServerConfig; errors name the flag."""
    engine_fields = set(EngineFlags.model_fields) - {"extra_args"}
    engine_values = {
        k: values.pop(k) for k in list(values) if k in engine_fields and values[k] is not None
    }
    for k in list(values):
        if k in engine_fields:
            values.pop(k)
    extra: list[str] = []
    for arg in values.pop("engine_arg", None) or []:
        extra += parse_engine_arg(str(arg))
    refuse_reserved_flags(extra, "--engine-arg")
    refuse_reserved_flags(passthrough, "flags after --")
    extra += passthrough
    gpus_text = values.pop("gpus", None)
    gpus = parse_gpus(str(gpus_text)) if gpus_text else None
    headers = values.pop("header", None) or []
    try:
        engine = EngineFlags(**engine_values, extra_args=extra)
        return ServerConfig(
            engine=engine,
            gpus=gpus,
            headers=headers,
            **{k: v for k, v in values.items() if v is not None},
        )
    except ValidationError as exc:
        raise BenchError(validation_message(exc)) from None


def validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"] if p != "engine"]
    name = "--" + loc[-1].replace("_", "-") if loc else "options"
    msg = err["msg"].removeprefix("Value error, ")
    return msg if msg.startswith("--") else f"{name}: {msg}"
