"""From a ServerConfig to a ready Endpoint: launch vLLM, or attach to a running server."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import constants
from bench.models.catalog import ModelEntry, load_catalog, resolve_model
from bench.schemas.config import EngineFlags, ServerConfig
from bench.schemas.errors import BenchError
from bench.schemas.redact import split_url_credentials
from bench.schemas.settings import settings
from bench.server.argv import build_vllm_argv, effective_engine_flags, vllm_env
from bench.server.environment import GpuInfo, detect_gpus, find_vllm_python
from bench.server.process import Endpoint, ServerProcess, check_port_free, free_port


@dataclass
class ServerPlan:
    """Everything decided before anything starts (so bad input fails before a launch)."""

    entry: ModelEntry
    model_path: str
    engine: EngineFlags
    python: Path
    gpus: list[GpuInfo]
    port: int
    argv: list[str]


def resolve_entry(cfg: ServerConfig) -> ModelEntry:
    return resolve_model(
        cfg.model,
        load_catalog(cfg.catalog),
        tool_parser=cfg.tool_parser,
        chat_template=cfg.chat_template,
        reasoning_parser=cfg.reasoning_parser,
    )


def check_hf_token(entry: ModelEntry) -> None:
    """A gated model needs a token before vLLM tries (and fails) to download it."""
    if not entry.gated or (entry.hf_id and Path(entry.hf_id).expanduser().exists()):
        return
    has_token = os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")
    token_file = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "token"
    if not has_token and not token_file.exists():
        raise BenchError(
            f"--model: {entry.hf_id} is gated on Hugging Face; accept its licence there and set HF_TOKEN"
        )


def model_path_for(
    entry: ModelEntry, cache_root: Path | None = None, vllm_python: Path | None = None
) -> str:
    """The folder or HF id to serve; a locally built model is built on first use."""
    cache = cache_root or settings().cache_dir
    if entry.builder and entry.builder.startswith("tiny"):
        from bench.models.tiny import ensure_tiny_model
        from bench.models.tiny_variants import variant_by_name

        return str(ensure_tiny_model(cache, variant_by_name(entry.builder)))
    if entry.builder == "smollm2":
        from bench.models.smollm2 import ensure_smollm2_model

        return str(ensure_smollm2_model(cache, find_vllm_python(vllm_python)))
    assert entry.hf_id
    return entry.hf_id


def plan_server(cfg: ServerConfig) -> ServerPlan:
    entry = resolve_entry(cfg)
    python = find_vllm_python(cfg.vllm_python)
    check_hf_token(entry)
    gpus = detect_gpus()
    if cfg.gpus is not None:
        missing = sorted(set(cfg.gpus) - {g.index for g in gpus})
        if missing:
            seen = ", ".join(str(g.index) for g in gpus) or "none"
            raise BenchError(f"--gpus: GPU {missing[0]} not found (GPUs seen: {seen})")
    if cfg.port is not None:
        check_port_free(cfg.port)
    port = cfg.port or free_port()
    engine = effective_engine_flags(cfg.engine, cfg.gpus, on_gpu=bool(gpus), env=dict(os.environ))
    model_path = model_path_for(entry, vllm_python=python)
    argv = build_vllm_argv(
        python, entry, model_path, engine, host=constants.LOOPBACK_HOST, port=port
    )
    return ServerPlan(entry, model_path, engine, python, gpus, port, argv)


def launch_server(
    plan: ServerPlan, cfg: ServerConfig, log_path: Path, api_key: str | None = None
) -> ServerProcess:
    """A started (not yet ready) ServerProcess; the key is a fresh random one unless given."""
    api_key = api_key or secrets.token_urlsafe(24)
    env = vllm_env(
        dict(os.environ), gpus=cfg.gpus, api_key=api_key, offline=plan.entry.builder is not None
    )
    server = ServerProcess(
        plan.argv, env,
        log_path=log_path, host=constants.LOOPBACK_HOST, port=plan.port,
        served_model_name=plan.entry.served_model_name, api_key=api_key,
        health_timeout_s=cfg.health_timeout_s,
    )  # fmt: skip
    server.start()
    return server


def parse_headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise BenchError(
                "--header: expected 'Name: value'"
            )  # the value may be a secret: not echoed
        headers[key.strip()] = value.strip()
    return headers


def gcloud_identity_token() -> str:
    try:
        out = subprocess.run(
            ["gcloud", "auth", "print-identity-token"], capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        raise BenchError("--gcloud-identity-token: the gcloud CLI is not installed") from None
    if out.returncode != 0 or not out.stdout.strip():
        raise BenchError(
            "--gcloud-identity-token: `gcloud auth print-identity-token` failed; run `gcloud auth login`"
        )
    return out.stdout.strip()


def attach_endpoint(cfg: ServerConfig) -> Endpoint:
    """Check a running server answers /v1/models and pick the served model name."""
    assert cfg.endpoint
    # user:password in the URL becomes a Basic header held in memory: the URL bench keeps, logs
    # and writes then carries no password.
    bare, credentials = split_url_credentials(cfg.endpoint)
    base = bare.rstrip("/").removesuffix("/v1")
    api_key = None
    if cfg.api_key_env:
        api_key = os.environ.get(cfg.api_key_env)
        if not api_key:
            raise BenchError(f"--api-key-env: environment variable {cfg.api_key_env} is not set")
    headers = parse_headers(cfg.headers)
    if credentials is not None:
        if api_key or cfg.gcloud_identity_token:
            raise BenchError(
                "--endpoint: a password in the URL and --api-key-env/--gcloud-identity-token "
                "both set the Authorization header; use one"
            )
        token = base64.b64encode(":".join(credentials).encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if cfg.gcloud_identity_token:
        headers["Authorization"] = f"Bearer {gcloud_identity_token()}"
    endpoint = Endpoint(base, cfg.model, api_key, headers, launched=False)
    try:
        resp = httpx.get(f"{endpoint.api_base}/models", headers=endpoint.auth_headers(), timeout=10)
    except httpx.HTTPError as exc:
        raise BenchError(f"--endpoint: {base} is not reachable ({type(exc).__name__})") from None
    if resp.status_code in (401, 403):
        raise BenchError(f"--endpoint: {base} refused the credentials (HTTP {resp.status_code})")
    if resp.status_code != 200:
        raise BenchError(f"--endpoint: {base}/v1/models answered HTTP {resp.status_code}")
    try:
        served = [str(m.get("id")) for m in resp.json().get("data", [])]
    except (ValueError, AttributeError, TypeError):
        raise BenchError(f"--endpoint: {base}/v1/models did not answer a model list") from None
    # vLLM answers 404 on every call for a name it does not serve: stop before the load.
    if cfg.model not in served:
        raise BenchError(
            f"--model: {cfg.model} is not served at {base} (served: {', '.join(served) or 'none'})"
        )
    endpoint.served_model_name = cfg.model
    return endpoint


@contextlib.contextmanager
def serving(
    cfg: ServerConfig, log_path: Path, on_tick=None
) -> Iterator[tuple[Endpoint, ServerProcess | None]]:
    """A ready endpoint for the block; a launched server is stopped on the way out, whatever happens."""
    if cfg.endpoint:
        yield attach_endpoint(cfg), None
        return
    plan = plan_server(cfg)
    server = launch_server(plan, cfg, log_path)
    try:
        server.wait_ready(on_tick)
        yield server.endpoint, server
    finally:
        server.stop()
