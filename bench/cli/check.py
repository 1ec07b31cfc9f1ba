"""`bench check`: the tool-calling preflight alone, against a launched or attached server."""

from __future__ import annotations

import sys
from typing import Any

import typer

from bench.cli import options as o
from bench.cli.config_flags import run_config_from_flags
from bench.cli.console import console, print_server_failure
from bench.cli.run import given_flags
from bench.schemas.errors import RunFailed

CHECK_LOAD_OPTIONS = o.pick(o.LOAD_SHAPE_OPTIONS, "stream", "request_timeout", "session_header",
                            "thinking", "thinking_budget")  # fmt: skip


@o.with_options(o.RESULTS_OPTIONS, CHECK_LOAD_OPTIONS, o.SERVER_OPTIONS, o.ENGINE_OPTIONS,
                o.ATTACH_OPTIONS)  # fmt: skip
def check(ctx: typer.Context, **flags: Any) -> None:
    """Check that tool calls work: up to 3 tool-calling eval cases, one session each.

    Exit 1 when the server's tool parser or chat template loses the calls, or when the server
    refuses tool calls (auto tool choice off). Example: bench check --model tiny
    """
    cfg = run_config_from_flags(flags, given=given_flags(ctx, flags), passthrough=list(ctx.args))
    from bench.runner.preflight import check_tool_calling  # heavy: ADK
    from bench.server.process import ServerStartError

    console.print(f"check: model {cfg.server.model}, eval set {cfg.evalset}")
    try:
        verdict, run_dir = check_tool_calling(cfg)
    except ServerStartError as exc:
        print_server_failure(exc)
        raise typer.Exit(exc.exit_code) from None
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    note = f" ({verdict.message})" if verdict.reason else ""  # a pass with something to say
    console.print(f"preflight passed: {verdict.parsed_calls} of {verdict.expected_calls} expected "
                  f"tool call(s) parsed in {verdict.sessions} session(s){note}", markup=False)  # fmt: skip
    console.print(f"records: {run_dir}/preflight")
