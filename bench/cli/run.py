"""`bench run`: serve a model, drive ADK agent sessions through Locust, score, write Parquet.

The command collects its flags, makes one config call (`run_config_from_flags`), and one library
call (`bench.runner.run.run_benchmark`); then prints.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bench.cli import options as o
from bench.cli.config_flags import run_config_from_flags
from bench.cli.console import console, err_console, print_server_failure
from bench.cli.summary import print_results
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.errors import BenchError, RunFailed
from bench.schemas.settings import WEB_AUTH_ENV
from bench.schemas.status import RunStatus

if TYPE_CHECKING:
    from bench.runner.progress import Progress
    from bench.runner.run import RunResult

LOAD, RESULTS = o.LOAD, o.RESULTS


# The web UI's login: a secret, so never a setting (no file holds it), only a flag or its env var.
WEB_AUTH_OPTION = o.option(
    "web_auth", str | None, None, LOAD,
    "USER:PASSWORD for a login page in front of the web UI (kept out of every file).",
    envvar=WEB_AUTH_ENV, show_envvar=True,
)  # fmt: skip
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        help="TOML file with any of these options (flags override it).", rich_help_panel=RESULTS
    ),
]


@o.with_options(o.RESULTS_OPTIONS, o.RUN_TOP_OPTIONS, o.LOAD_OPTIONS, (WEB_AUTH_OPTION,),
                o.JUDGE_OPTIONS, o.USER_SIMULATOR_OPTIONS, o.SERVER_OPTIONS, o.ENGINE_OPTIONS,
                o.ATTACH_OPTIONS)  # fmt: skip
def run(ctx: typer.Context, config: ConfigFile = None, **flags: Any) -> None:
    """Benchmark ADK agents on vLLM: throughput, latency and tool accuracy, written to Parquet.

    Example: bench run --model tiny --evalset weather_time --users 8 --duration 60s
    """
    web_auth = flags.pop("web_auth", None)  # a secret: never from or into a file
    cfg = run_config_from_flags(flags, config_file=config, given=given_flags(ctx, flags),
                             passthrough=list(ctx.args))  # fmt: skip
    console.print(f"bench run: model {cfg.server.model}, eval set {cfg.evalset}", markup=False)
    console.file.flush()
    if cfg.load.web:
        from bench.load.webui import check_web_host

        _use_web_auth(web_auth)
        check_web_host(cfg.load.web_host)
    from bench.runner.inputs import check_inputs
    from bench.runner.progress import ticking

    with ProgressView() as view:
        # Everything that needs no server is checked first (seconds), before any wait.
        with ticking(view, "checking the eval set, agent, model and flags"):
            inputs = check_inputs(cfg)
        with ticking(view, "sizing the load processes"):  # measures the client once a day
            cfg, lines = sized_load(cfg, users=cfg.load.user_steps or [cfg.load.users],
                                    rates=cfg.load.rate_steps or ([cfg.load.session_rate]
                                                                  if cfg.load.session_rate
                                                                  else []))  # fmt: skip
        for line, is_warning in lines:
            view.say(line, warning=is_warning)
        view.say(f"run: model {cfg.server.model}, eval set {cfg.evalset}, {_load_text(cfg.load)}")
        from bench.runner.run import run_benchmark  # heavy: ADK, pyarrow
        from bench.server.process import ServerStartError, tail

        try:
            result = run_benchmark(cfg, on_progress=view,
                                   on_notice=lambda line: view.say(line, warning=True),
                                   inputs=inputs)  # fmt: skip
        except ServerStartError as exc:
            view.stop()
            print_server_failure(exc)
            raise typer.Exit(exc.exit_code) from None
        except RunFailed as exc:
            failed: RunResult | None = getattr(exc, "result", None)  # set once the tables exist
            if failed is None:
                raise
            result = failed
    print_results(result.summary, result.counts, result.steps, result.run_dir.path)
    console.print(f"results: {result.run_dir}")
    if result.status is RunStatus.COMPLETED:
        return
    if result.status is RunStatus.SERVER_FAILED:
        for line in tail(result.run_dir.server_log):
            console.print(line, markup=False)
    print(f"error ({result.status}): {result.message}", file=sys.stderr)
    raise typer.Exit(result.exit_code)


def sized_load(
    cfg: RunConfig, *, users: list[int], rates: list[float]
) -> tuple[RunConfig, list[tuple[str, bool]]]:
    """`--processes auto` resolved for the largest load; the capacity line and any warnings, to
    print (line, is a warning)."""
    from bench.runner.client_capacity import size_run

    if cfg.load.master:  # the users run in `bench worker` processes, sized on their machines
        return cfg, []
    cfg, capacity, warnings = size_run(cfg, users=users, rates=rates)
    return cfg, [(capacity.line(), False), *((w, True) for w in warnings)]


def size_load(cfg: RunConfig, *, users: list[int], rates: list[float]) -> RunConfig:
    """`sized_load`, printed."""
    cfg, lines = sized_load(cfg, users=users, rates=rates)
    for line, is_warning in lines:
        (err_console if is_warning else console).print(line, markup=False)
    return cfg


def given_flags(ctx: typer.Context, flags: dict[str, Any]) -> set[str]:
    """The flags set on the command line or by environment (a --config file fills the rest).

    By name: typer ships its own copy of click, so `click.core.ParameterSource` is another enum.
    """
    given = set()
    for name in flags:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given.add(name)
    return given


def _use_web_auth(value: str | None) -> None:
    """--web-auth USER:PASSWORD -> the Locust child's environment (bench.load.webui reads it)."""
    if value is None:
        return
    user, _, password = value.partition(":")
    if not user or not password:
        raise BenchError("--web-auth: give USER:PASSWORD")
    os.environ[WEB_AUTH_ENV] = value


def _load_text(load: LoadConfig) -> str:
    shape = (f"open loop {load.session_rate:g} sessions/s ({load.arrival}, at most "
             f"{load.sessions_in_flight_cap} in flight per load process)" if load.session_rate
             else f"{load.users} users")  # fmt: skip
    stop = (
        f"{load.sessions} sessions"
        if load.sessions
        else (f"{load.duration_s:g} s" if load.duration_s else "until stopped")
    )
    return f"{shape}, {stop}, {load.processes} load process(es)"


class ProgressView:
    """Progress as a spinner line on a terminal (rich's status), plain lines otherwise: one when
    the phase changes and one at least every `LOG_EVERY_S` within it. `say` prints a line
    above the spinner (or a plain line) without garbling it."""

    LOG_EVERY_S = 4.0  # the ticker reports every second: a line at most ~4 s after the last

    def __init__(self) -> None:
        self._status: Any = None
        self._phase: str | None = None
        self._last = 0.0
        self._lock = threading.Lock()
        self._stopped = False
        self._shown: set[str] = set()  # error classes whose first message was said

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __call__(self, p: Progress) -> None:
        if p.note:
            self.say(p.note)
        for kind, message in p.first_errors.items():  # the first failure of each class
            if kind not in self._shown:
                self._shown.add(kind)
                self.say(f"failed turn, first {kind}: {message}")
        line = _progress_line(p)
        with self._lock:
            if self._stopped:
                return
            if console.is_terminal:
                if self._status is None:
                    self._status = console.status(line, spinner="dots")
                    self._status.start()
                else:
                    self._status.update(line)
                return
            now = time.monotonic()
            if p.phase != self._phase or now - self._last >= self.LOG_EVERY_S:
                self._phase, self._last = p.phase, now
                console.print(line, markup=False)
                console.file.flush()  # a log or pipe sees it now, not when the buffer fills

    def say(self, line: str, *, warning: bool = False) -> None:
        with self._lock:
            target = console if self._status is not None or not warning else err_console
            target.print(line, markup=False, soft_wrap=True)
            target.file.flush()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._status is not None:
                self._status.stop()
                self._status = None


def _progress_line(p: Progress) -> str:
    """The load's line counts failed turns by class (the first message of each is said once)."""
    if p.phase not in ("load", "draining"):
        return f"{p.phase}: {p.elapsed_s:.0f} s"
    total = f"/{p.duration_s:.0f}" if p.duration_s else ""
    target = f"/{p.sessions_target}" if p.sessions_target else ""
    errors = ", ".join(f"{k} {n}" for k, n in sorted(p.errors.items()))
    return (f"{p.phase}: {p.elapsed_s:.0f}{total} s, sessions {p.sessions}{target}, "
            f"turns {p.turns}" + (f", failed turns: {errors}" if errors else ""))  # fmt: skip
