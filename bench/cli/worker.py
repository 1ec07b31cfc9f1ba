"""`bench worker`: a Locust worker of a `bench run --master`; runs the ADK agents here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import constants
from bench.cli import options as o
from bench.cli.console import console
from bench.schemas.errors import BenchError
from bench.schemas.flags import parse_processes
from bench.schemas.settings import RUN_TOKEN_ENV, SERVER_API_KEY_ENV, USER_SIMULATOR_API_KEY_ENV


# The user simulator's endpoint, model and --max-turns come from the master with the load spec
# (every worker plays the master's settings); only its key is read on this machine.
@o.with_options(o.pick(o.USER_SIMULATOR_OPTIONS, "user_simulator_api_key_env"))
def worker(
    master_host: Annotated[
        str, typer.Option(help="Host of the `bench run --master`.")
    ] = constants.LOOPBACK_HOST,  # fmt: skip
    master_port: Annotated[
        int, typer.Option(help="Its --master-bind-port.")
    ] = constants.DEFAULT_MASTER_PORT,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Env var holding the server's API key (needed unless the master binds "
            "to loopback and launched the server itself)."
        ),
    ] = None,  # fmt: skip
    results_dir: Annotated[
        Path, typer.Option(help="This worker's own copy of its records goes under here.")
    ] = constants.DEFAULT_RESULTS_DIR / "workers",
    processes: Annotated[
        str,
        typer.Option(
            help="Locust worker processes on this machine, or auto: one per core "
            "(a worker machine runs no server)."
        ),
    ] = "auto",  # fmt: skip
    **flags: Any,
) -> None:
    """Run the users of a distributed run: the eval set, agent and server come from the master.

    Each finished LLM call, turn and session is shipped to the master at once (it writes the
    run's Parquet); the worker keeps a copy under --results-dir and prints what it shipped.
    The eval set and agent folder must exist at the same paths here as on the master.

    Example: bench worker --master-host 10.0.0.5 --api-key-env VLLM_KEY
    """
    from bench.load.distributed import WORKER_DIR_ENV
    from bench.load.process import LOCUSTFILE
    from bench.runner.client_capacity import cores

    n_processes = parse_processes(processes) or cores()
    env = _worker_env(api_key_env, flags.get("user_simulator_api_key_env"))
    results_dir.mkdir(parents=True, exist_ok=True)
    env.update({WORKER_DIR_ENV: str(results_dir.resolve()), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "PYTHONUNBUFFERED": "1"})  # fmt: skip
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(constants.REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
            "--master-host", master_host, "--master-port", str(master_port),
            *(["--processes", str(n_processes)] if n_processes > 1 else [])]  # fmt: skip
    console.print(f"worker: {n_processes} load process(es), connecting to {master_host}:"
                  f"{master_port}; records also under {results_dir}")  # fmt: skip
    raise typer.Exit(_run_until_done(argv, env))


def _run_until_done(argv: list[str], env: dict[str, str]) -> int:
    """Locust's worker in its own process group; Ctrl-C stops it. Exit 0 when Locust's is 0 or
    1 (the master stopped the run)."""
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return 0 if code in (0, 1) else code


def _worker_env(api_key_env: str | None, sim_key_env: str | None) -> dict[str, str]:
    """This process's environment plus the keys the worker's Locust processes need; every
    variable named must be set (the master's token too)."""
    env = dict(os.environ)
    if not env.get(RUN_TOKEN_ENV):
        raise BenchError(
            f"set {RUN_TOKEN_ENV} to the master's token: the master admits no worker without it"
        )
    for flag, name, target in (("--api-key-env", api_key_env, SERVER_API_KEY_ENV),
                               ("--user-simulator-api-key-env", sim_key_env,
                                USER_SIMULATOR_API_KEY_ENV)):  # fmt: skip
        if name:
            value = os.environ.get(name)
            if not value:
                raise BenchError(f"{flag}: environment variable {name} is not set")
            env[target] = value
    return env
