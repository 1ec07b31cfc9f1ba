"""The `bench` command. Each subcommand is thin: validate flags into config, call the library."""

from __future__ import annotations

import os
import sys

import typer

from bench.cli import compare as compare_cmd
from bench.cli import doctor as doctor_cmd
from bench.cli import evalsets as evalsets_cmd
from bench.cli import models as models_cmd
from bench.cli import report as report_cmd
from bench.cli import results as results_cmd
from bench.cli import run as run_cmd
from bench.cli import serve as serve_cmd
from bench.cli import sweep as sweep_cmd
from bench.cli import worker as worker_cmd
from bench.cli.console import err_console
from bench.errors import BenchError, RunFailed
from bench.schemas.redact import redact_url

app = typer.Typer(
    name="bench",
    help="Agent sessions/s, turn latency and tool-call accuracy of ADK agents on vLLM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": False}

app.command("run", context_settings=PASSTHROUGH)(run_cmd.run)
app.command("serve", context_settings=PASSTHROUGH)(serve_cmd.serve)
app.command("doctor")(doctor_cmd.doctor)
app.command("compare")(compare_cmd.compare)
app.command("report")(report_cmd.report)
app.command("sweep", context_settings=PASSTHROUGH)(sweep_cmd.sweep)
app.command("worker")(worker_cmd.worker)
app.add_typer(models_cmd.app, name="models")
app.add_typer(results_cmd.app, name="results")
app.add_typer(evalsets_cmd.app, name="evalsets")


@app.command(
    "fake-server", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def fake_server(ctx: typer.Context) -> None:
    """An OpenAI-compatible fake server scripted like the tiny model, with latency and fault knobs.

    Takes the flags of `python -m bench.testing.fake_server --help` (port, latency, faults).
    """
    from bench.testing.fake_server import main as fake_main

    raise typer.Exit(fake_main(list(ctx.args)) or 0)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes are one line on stderr with exit code 2, never a traceback."""
    # LiteLLM fetches its cost map from the internet at import unless told not to (~7 s offline).
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        # Without standalone mode click returns typer.Exit's code instead of exiting.
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except BenchError as exc:
        err_console.print(redact_url(f"error: {exc}"), markup=False)
        sys.exit(exc.exit_code)
    except RunFailed as exc:
        err_console.print(redact_url(f"error ({exc.status}): {exc}"), markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
