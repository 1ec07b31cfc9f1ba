"""`bench serve`: start vLLM with the chosen model and engine flags, in the foreground."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import constants
from bench.cli import options as o
from bench.cli.config_flags import server_config_from_flags
from bench.cli.console import console, print_server_failure
from bench.schemas.errors import BenchError
from bench.server.launch import launch_server, plan_server
from bench.server.probe import probe_tool_call
from bench.server.process import ServerStartError


@o.with_options(o.SERVER_OPTIONS, o.ENGINE_OPTIONS)
def serve(
    ctx: typer.Context,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Serve with the key in this env var (default: a random key that is never shown)."
        ),
    ] = None,
    log_file: Annotated[
        Path | None, typer.Option(help="vLLM's log (default: results/serve/server-<time>.log).")
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Send one tool-call request, print the answer, stop the server and exit.",
        ),
    ] = False,
    **flags: Any,
) -> None:
    """Start vLLM on 127.0.0.1 with the model and engine flags; stop it with Ctrl-C.

    Flags vLLM has but bench does not name go after `--`, e.g. `bench serve -- --swap-space 4`.
    """
    cfg = server_config_from_flags(flags, list(ctx.args))
    user_key = None
    if api_key_env:
        user_key = os.environ.get(api_key_env)
        if not user_key:
            raise BenchError(f"--api-key-env: environment variable {api_key_env} is not set")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    log_path = log_file or constants.DEFAULT_RESULTS_DIR / "serve" / f"server-{stamp}.log"
    server = launch_server(plan_server(cfg), cfg, log_path, api_key=user_key)
    # copy-pasteable
    console.print("vLLM command: " + server.rerun_command(), soft_wrap=True, markup=False)
    console.print(f"[bold]log[/]: {log_path}")
    # SIGTERM stops the server like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        _wait_ready(server, cfg.model, f"from ${api_key_env}" if user_key else None)
        if check:
            _check_tool_call(server)
            return
        console.print("serving; press Ctrl-C to stop")
        while server.alive():
            time.sleep(0.5)
        raise ServerStartError("vLLM exited", [], server.rerun_command())
    except ServerStartError as exc:
        print_server_failure(exc)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        t0 = time.monotonic()
        server.stop()
        console.print(f"stopped in {time.monotonic() - t0:.1f} s")


def _wait_ready(server: Any, model: str, key_source: str | None) -> None:
    started = time.monotonic()
    with console.status(f"waiting for {model} on {server.base_url} ..."):
        server.wait_ready()
    key = key_source or "random, not shown (use --api-key-env to set one)"
    console.print(f"[green]ready[/] in {time.monotonic() - started:.0f} s: {server.base_url}/v1  "
                  f"model '{server.served_model_name}'  API key: {key}")  # fmt: skip


def _check_tool_call(server: Any) -> None:
    """--check: one tool-call request; exit 1 when the server answers without a call."""
    result = probe_tool_call(server.endpoint)
    answer = (json.dumps(result.tool_calls) if result.tool_calls
              else f"no tool call; text: {result.content!r}")  # fmt: skip
    console.print(f"tool call check ({result.latency_ms:.0f} ms): {answer}")
    if not result.tool_calls:
        raise typer.Exit(1)
