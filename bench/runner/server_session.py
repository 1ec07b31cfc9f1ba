"""A server session: a launched (or attached) vLLM that runs load steps one at a time.

    with server_session(cfg, plan, run_dir, run_id=..., agent_dir=...) as session:
        session.reset_prefix_cache()                  # optional, between steps
        step = session.run_step(load, step_dir)       # -> StepResult (status, message, signal)

The plan comes from `check_inputs` (made once): the launched argv and port are the recorded
ones. A launched server is stopped on the way out, whatever happens; /metrics is scraped into
each step's folder while that step runs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.runner.load_step import StepResult, run_load_step
from bench.runner.progress import Progress
from bench.runner.signals import check_interrupt
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.run_dir import RunDir
from bench.server.launch import ServerPlan, attach_endpoint, launch_server
from bench.server.metrics import MetricsScraper
from bench.server.process import Endpoint, ServerProcess, startup_stage

DEV_MODE_ENV = "VLLM_SERVER_DEV_MODE"
RESET_PATH = "/reset_prefix_cache"


@dataclass
class ServerSession:
    cfg: RunConfig
    endpoint: Endpoint
    server: ServerProcess | None  # None: attached to --endpoint
    run_id: str
    agent_dir: Path

    def run_step(
        self, load: LoadConfig, step_dir: RunDir,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> StepResult:  # fmt: skip
        """One load step into `step_dir`, with the server's /metrics scraped throughout."""
        scraper = MetricsScraper(self.endpoint.base_url, step_dir.path, load.metrics_interval_s,
                                 self.endpoint.auth_headers())  # fmt: skip
        scraper.start()
        try:
            cfg = self.cfg.model_copy(update={"load": load})
            return run_load_step(cfg, load, step_dir, self.run_id, self.agent_dir,
                                 self.endpoint, self.server, on_progress)  # fmt: skip
        finally:
            scraper.stop()

    def reset_prefix_cache(self, attempts: int = 3) -> str:
        """`ok`, or why the cache could not be reset (said in the step's manifest)."""
        url = self.endpoint.base_url.rstrip("/") + RESET_PATH
        for attempt in range(attempts):
            try:
                resp = httpx.post(url, headers=self.endpoint.auth_headers(), timeout=30)
            except httpx.HTTPError as exc:
                return f"failed: {type(exc).__name__}"
            if resp.status_code in (404, 405):
                return (f"unavailable: {RESET_PATH} answered HTTP {resp.status_code} "
                        f"(vLLM serves it only with {DEV_MODE_ENV}=1)")  # fmt: skip
            if resp.status_code != 200:
                return f"failed: HTTP {resp.status_code}"
            with contextlib.suppress(ValueError):
                if resp.json().get("success") is False:  # blocks still held: retry
                    time.sleep(1.0 + attempt)
                    continue
            return "ok"
        return "failed: the server kept refusing (blocks still in use)"


@contextlib.contextmanager
def server_session(
    cfg: RunConfig, plan: ServerPlan | None, run_dir: RunDir, *, run_id: str, agent_dir: Path,
    on_progress: Callable[[Progress], None] | None = None,
) -> Iterator[ServerSession]:  # fmt: skip
    """Launch `plan` (or attach when it is None) and wait until it is ready, reporting vLLM's
    start-up stage (read from its log) as it goes."""
    if plan is None:
        yield ServerSession(cfg, attach_endpoint(cfg.server), None, run_id, agent_dir)
        return
    server = launch_server(plan, cfg.server, run_dir.server_log)
    started = time.monotonic()

    def tick() -> None:
        check_interrupt()
        if on_progress is not None:
            stage = startup_stage(run_dir.server_log)
            on_progress(Progress.of_phase(f"starting vLLM: {stage}", time.monotonic() - started))

    try:
        server.wait_ready(tick)
        yield ServerSession(cfg, server.endpoint, server, run_id, agent_dir)
    finally:
        server.stop()
