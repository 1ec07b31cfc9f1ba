"""The sweep and the SLA search loop over steps themselves: here each step is a fake that
writes a step folder (manifest and summary) from a latency the test chooses per load."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.runner import sla, sweep
from bench.runner.load_step import StepResult
from bench.runner.run import RunResult
from bench.runner.sla_search import SloCheck
from bench.runner.sweep_plan import parse_engine_axes, plan_sweep
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.manifest import Manifest, write_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus, Stop

# load -> (status, signal) for steps that do not complete; others complete.
Outcome = Callable[[str, LoadConfig], tuple[RunStatus, int | None]]


def turn_p90_ms(load: LoadConfig) -> float:
    """The fake server's latency grows with the load: 100 ms per user."""
    return 100.0 * load.users


@dataclass
class FakeRun:
    cfg: RunConfig
    outcome: Outcome
    log: list[tuple[str, float, str]]  # (run id, load, prefix reset) of every step started
    steps: list[StepResult] = field(default_factory=list)
    result: RunResult | None = None

    def __post_init__(self) -> None:
        assert self.cfg.run_id is not None
        self.run_dir = RunDir(self.cfg.results_dir / self.cfg.run_id)
        self.run_dir.path.mkdir(parents=True)
        self.resets = 0

    def server(self) -> Any:
        def reset() -> str:
            self.resets += 1
            return "ok"

        return SimpleNamespace(reset_prefix_cache=reset)

    def step(self, load: LoadConfig, **fields: Any) -> StepResult:
        step_dir = self.run_dir.step(len(self.steps), load.step_label())
        step_dir.raw.mkdir(parents=True)
        status, signum = self.outcome(self.cfg.server.model, load)
        self.log.append((self.run_dir.path.name, load.users, fields["prefix_cache_reset"]))
        write_manifest(step_dir, Manifest(run_id=f"{self.run_dir.path.name}/{step_dir.path.name}",
                                          status=status, **fields))  # fmt: skip
        summary = {"users": load.users, "turns": 10, "turn_p90_ms": turn_p90_ms(load),
                   "tool_trajectory_exact": 1.0, "error_rate": 0.0}  # fmt: skip
        if status is RunStatus.COMPLETED:
            pq.write_table(pa.Table.from_pylist([summary]), step_dir.summary)
        step = StepResult(step_dir, load, Stop(status, signum=signum), summary=summary)
        self.steps.append(step)
        return step


@pytest.fixture
def fake_runs(monkeypatch: pytest.MonkeyPatch) -> Callable[[Outcome], list[tuple[str, float, str]]]:
    """Replace `open_run` in both loops; returns the log of steps the loops asked for."""

    def install(outcome: Outcome) -> list[tuple[str, float, str]]:
        log: list[tuple[str, float, str]] = []

        @contextlib.contextmanager
        def fake_open_run(cfg: RunConfig, *, stepped: bool | None = None) -> Iterator[FakeRun]:
            assert stepped is True
            run = FakeRun(cfg, outcome, log)
            yield run
            failed = [s for s in run.steps if not s.ok]
            last = failed[-1] if failed else None
            stop = Stop(last.status, "stopped", last.signum) if last else Stop(RunStatus.COMPLETED)
            run.result = RunResult(run.run_dir, stop)

        monkeypatch.setattr(sweep, "open_run", fake_open_run)
        monkeypatch.setattr(sla, "open_run", fake_open_run)
        monkeypatch.setattr(sla, "build_step", lambda step: step.summary)
        return log

    return install


def _base(tmp_path: Path) -> RunConfig:
    return RunConfig(results_dir=tmp_path)


def completes(model: str, load: LoadConfig) -> tuple[RunStatus, int | None]:
    return RunStatus.COMPLETED, None


def test_sweep_runs_each_point_once_and_resumes_after_a_signal(tmp_path: Path, fake_runs) -> None:
    axes, _ = parse_engine_axes(["max-num-seqs=8,16"])
    plan = plan_sweep("s", ["tiny"], axes, "users", [1, 2], step_duration_s=5)
    sweep_dir = tmp_path / "s"
    sweep_dir.mkdir()

    def sigterm_at_second_combo_second_point(model: str, load: LoadConfig):
        if len(log) == 3:  # the fourth step (log grows after the outcome)
            return RunStatus.INTERRUPTED, signal.SIGTERM
        return RunStatus.COMPLETED, None

    log = fake_runs(sigterm_at_second_combo_second_point)
    progress: list[sweep.SweepProgress] = []
    result = sweep.run_sweep(plan, _base(tmp_path), sweep_dir, on_progress=progress.append)
    c0, c1 = (c.combo_id for c in plan.combos)
    assert [(r, u) for r, u, _ in log] == [(c0, 1), (c0, 2), (c1, 1), (c1, 2)]
    assert all(reset == "ok" for *_, reset in log)  # the cache is reset before every point
    assert result.status is RunStatus.INTERRUPTED and result.exit_code == 143
    assert [p.done for p in progress] == [0, 1, 2, 3, 3] and progress[-1].current is None
    assert len(result.rows) == 3

    log2 = fake_runs(completes)
    again = sweep.run_sweep(plan, _base(tmp_path), sweep_dir)
    assert [(r, u) for r, u, _ in log2] == [(f"{c1}-resume1", 2)]  # only the unfinished point
    assert again.status is RunStatus.COMPLETED and again.exit_code == 0
    assert [r["point_id"] for r in again.rows] == [p.point_id for p in plan.points]


def test_sla_search_probes_ramp_then_bisect(tmp_path: Path, fake_runs) -> None:
    """100 ms per user and an SLO of 500 ms: the answer is 5 users."""
    log = fake_runs(completes)
    check = SloCheck({"turn_ms": 500})
    plan = plan_sweep("s", ["tiny"], [], "users", [1, 16], step_duration_s=5,
                      find_max_load={"low": 1, "high": 16})  # fmt: skip
    seen: list[dict[str, Any]] = []
    result = sla.run_max_load_search(plan, _base(tmp_path), tmp_path / "s", check, low=1,
                                     high=16, on_probe=seen.append)  # fmt: skip
    assert [u for _, u, _ in log] == [1, 2, 4, 8, 6, 5]
    assert [(r["load"], r["passed"]) for r in seen] == [(1, True), (2, True), (4, True),
                                                        (8, False), (6, False), (5, True)]  # fmt: skip
    (answer,) = result.answers
    assert (answer["max_users"], answer["first_failing_users"], answer["finished"]) == (5, 6, True)
    assert result.status is RunStatus.COMPLETED
    assert pq.read_table(RunDir(tmp_path / "s").sla_summary).to_pylist()[0]["max_users"] == 5


def test_sla_search_interrupted_then_resumed_replays_finished_probes(
    tmp_path: Path, fake_runs
) -> None:
    check = SloCheck({"turn_ms": 500})
    plan = plan_sweep("s", ["tiny"], [], "users", [1, 16], step_duration_s=5,
                      find_max_load={"low": 1, "high": 16})  # fmt: skip

    def sigint_at_8(model: str, load: LoadConfig):
        return (RunStatus.INTERRUPTED, signal.SIGINT) if load.users == 8 else completes(model, load)

    log = fake_runs(sigint_at_8)
    first = sla.run_max_load_search(plan, _base(tmp_path), tmp_path / "s", check, low=1, high=16)
    assert [u for _, u, _ in log] == [1, 2, 4, 8]
    assert first.status is RunStatus.INTERRUPTED and first.exit_code == 130
    assert [r["load"] for r in first.probes] == [1, 2, 4]  # the interrupted probe has no verdict

    log2 = fake_runs(completes)
    second = sla.run_max_load_search(plan, _base(tmp_path), tmp_path / "s", check, low=1, high=16)
    assert [u for _, u, _ in log2] == [8, 6, 5]  # 1, 2, 4 come from their folders
    assert [(r["load"], r["replayed"]) for r in second.probes] == [
        (1, True), (2, True), (4, True), (8, False), (6, False), (5, False)]  # fmt: skip
    assert second.answers[0]["max_users"] == 5 and second.exit_code == 0
