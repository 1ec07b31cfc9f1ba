"""run_benchmark(cfg): the whole run, stage by stage, top to bottom.

    check inputs -> run folder -> server session (launch or attach) -> load steps -> judge
    -> Parquet (scored) -> RunResult

Everything that can be wrong with the input is checked before anything starts. Each completed
record is on disk (raw JSONL) the moment it completes, so a crash anywhere still leaves a run
folder that `bench results rebuild` turns into tables.

Sweeps and the SLA search use the same run through `open_run`, and loop over steps themselves:

    with open_run(cfg, stepped=True) as run:
        while ...:
            step = run.step(load, sweep_point=...)     # -> StepResult
            if not step.ok: break
    run.result                                         # tables built, manifest final
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Unpack

from bench.runner.inputs import RunInputs, check_inputs
from bench.runner.judge import run_judge
from bench.runner.load_step import StepResult
from bench.runner.preflight import PreflightVerdict, preflight_check
from bench.runner.progress import Progress, ticking
from bench.runner.run_folder import create_run_folder, create_step_folder
from bench.runner.run_log import run_log
from bench.runner.server_session import ServerSession, server_session
from bench.runner.signals import (
    Interrupted,
    check_interrupt,
    pending_signal,
    signal_name,
    trap_signals,
)
from bench.runner.tables import Built, build_tables
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.errors import RunFailed
from bench.schemas.manifest import ManifestFields, read_manifest, update_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import COMPLETED, RunStatus, Stop, Stopped


@dataclass
class RunResult(Stopped):
    run_dir: RunDir
    stop: Stop
    summary: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)  # one summary row per load step


def run_benchmark(
    cfg: RunConfig,
    on_progress: Callable[[Progress], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    inputs: RunInputs | None = None,
) -> RunResult:
    """The whole run: every load step of the config in one server lifetime, then the judge.

    `on_notice` gets the lines a user should read before the load: the agent's load warnings
    (Gemini-only features) and what the preflight concluded."""
    loads = cfg.load.steps()
    with open_run(cfg, stepped=len(loads) > 1, on_notice=on_notice, inputs=inputs) as run:
        for load in loads:
            if not run.step(load, on_progress=on_progress).ok:
                break
        if cfg.judge is not None and run.ok:  # while the server is up: it may be the judge
            run_judge(cfg.judge, run.inputs.evalset.criteria, run.server().endpoint,
                      [s.run_dir for s in run.steps])  # fmt: skip
    assert run.result is not None
    return run.result


@dataclass
class Run(Stopped):
    """One run folder and one server lifetime; load steps are taken one at a time.

    The server starts with the first step (or `server()`), inside the run's exit stack, so a
    failed or interrupted start ends the caller's block like any other failure.
    """

    cfg: RunConfig
    inputs: RunInputs
    run_dir: RunDir
    stepped: bool  # each step in a folder of its own
    exit_stack: contextlib.ExitStack = field(repr=False)
    steps: list[StepResult] = field(default_factory=list)
    stop: Stop = COMPLETED  # how the run ends so far
    result: RunResult | None = None
    _session: ServerSession | None = field(default=None, init=False, repr=False)
    preflight: PreflightVerdict | None = None
    notice: Callable[[str], None] = field(default=lambda _line: None, repr=False)  # see open_run

    def server(self, on_progress: Callable[[Progress], None] | None = None) -> ServerSession:
        """The server session, launched (or attached) on first use."""
        if self._session is None:
            session = self.exit_stack.enter_context(
                server_session(self.cfg, self.inputs.plan, self.run_dir,
                               run_id=self.run_dir.path.name, agent_dir=self.inputs.agent_dir,
                               on_progress=on_progress)
            )  # fmt: skip
            info = read_manifest(self.run_dir).summary_info.model_copy(
                update={"served_model_name": session.endpoint.served_model_name}
            )
            update_manifest(self.run_dir, summary_info=info)
            self._session = session
            if self.cfg.load.preflight:
                with ticking(on_progress, "preflight: playing up to 3 tool-calling cases"):
                    self.preflight = preflight_check(self.cfg, self.inputs, session.endpoint,
                                                     self.run_dir)  # fmt: skip
                if self.preflight.message:
                    self.notice(self.preflight.message)
        return self._session

    def step(
        self, load: LoadConfig, *, on_progress: Callable[[Progress], None] | None = None,
        **manifest_fields: Unpack[ManifestFields],
    ) -> StepResult:  # fmt: skip
        """Run one load step on this server; `manifest_fields` go into the step's manifest."""
        check_interrupt()  # a signal between steps: no new step
        session = self.server(on_progress)
        if self.stepped:
            step_dir = create_step_folder(self.run_dir, len(self.steps), load, **manifest_fields)
        else:
            step_dir = self.run_dir
            if manifest_fields:
                update_manifest(step_dir, **manifest_fields)
        step = session.run_step(load, step_dir, on_progress)
        self.steps.append(step)
        if self.stepped:
            update_manifest(step_dir, status=step.status, message=step.message)
        if not step.ok:
            self.stop = step.stop
        elif step.message and not self.message:  # a note on a completed step (a lost worker)
            self.stop = replace(self.stop, message=step.message)
        return step

    def finish(self) -> RunResult:
        """The final manifest and the tables from whatever raw records exist."""
        update_manifest(self.run_dir, status=self.status, message=self.message,
                        ended_at=datetime.now(UTC).isoformat())  # fmt: skip
        try:
            built = build_tables(self.run_dir, self.steps, self.stepped and bool(self.steps))
            update_manifest(self.run_dir, counts=built.counts, raw_bad_lines=built.bad_lines)
        except OSError as exc:  # the disk filled up: the raw records stay for `results rebuild`
            self.stop = Stop(RunStatus.DISK_FULL, f"cannot write the tables ({exc.strerror}); "
                             "the raw records are kept: free space, then run "
                             f"`bench results rebuild {self.run_dir}`")  # fmt: skip
            built = Built()
            with contextlib.suppress(OSError):
                update_manifest(self.run_dir, status=self.status, message=self.message)
        self.result = RunResult(self.run_dir, self.stop, built.summary, built.counts,
                                built.step_summaries)  # fmt: skip
        return self.result


def _ignore(_line: str) -> None:
    pass


@contextlib.contextmanager
def open_run(
    cfg: RunConfig, *, stepped: bool | None = None, on_notice: Callable[[str], None] | None = None,
    inputs: RunInputs | None = None,
) -> Iterator[Run]:  # fmt: skip
    """Check the inputs and create the run folder; the block runs the steps (the server starts
    with the first). On the way out the server stops and the tables are built, however the
    block ended; a RunFailed (e.g. the server did not start) is raised again after that, with
    `.result` set."""
    # 1. Validate everything before anything starts (the server plan is made here, once).
    inputs = inputs or check_inputs(cfg)  # the caller may have checked them already
    notice = on_notice or _ignore
    for warning in inputs.agent.warnings if inputs.agent else ():
        notice(warning)
    # 2. The run folder: resolved config and a manifest that says "running".
    run_dir = create_run_folder(cfg, inputs)
    stack = contextlib.ExitStack()
    run = Run(cfg, inputs, run_dir, cfg.load.stepped if stepped is None else stepped, stack,
              notice=notice)  # fmt: skip
    failure: RunFailed | None = None
    with trap_signals(), run_log(run_dir):  # third-party logs to the run's bench.log
        try:
            with stack:  # 3. the server (stopped on the way out) and 4. the load steps
                yield run
        except Interrupted as exc:
            run.stop = Stop(RunStatus.INTERRUPTED, f"stopped by {exc}", exc.signum)
        except RunFailed as exc:
            run.stop = Stop(RunStatus(exc.status), str(exc))
            failure = exc
        except BaseException as exc:  # a forced stop (second Ctrl-C) or a bug: no tables
            forced = isinstance(exc, KeyboardInterrupt)
            status = RunStatus.INTERRUPTED if forced else RunStatus.FAILED
            message = "forced by a second signal" if forced else str(exc) or repr(exc)
            with contextlib.suppress(Exception):
                update_manifest(run_dir, status=status, message=message,
                                ended_at=datetime.now(UTC).isoformat())  # fmt: skip
            raise
        signum = pending_signal()
        if run.ok and signum is not None:  # it came after the last step: the caller must stop
            run.stop = Stop(RunStatus.INTERRUPTED, f"stopped by {signal_name(signum)}", signum)
        # 5. Parquet from whatever raw records exist, whatever happened above.
        result = run.finish()
    if failure is not None:
        failure.result = result  # type: ignore[attr-defined]
        raise failure
