"""open_run and Run.step with the server session faked: folders, manifests, signals, failures."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.cli.config_flags import run_config_from_flags
from bench.runner import run as run_mod
from bench.runner.inputs import RunInputs
from bench.runner.load_step import StepResult
from bench.runner.preflight import PreflightVerdict
from bench.runner.tables import Built
from bench.schemas.config import LoadConfig, RunConfig
from bench.schemas.errors import RunFailed
from bench.schemas.manifest import read_manifest
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus, Stop


class FakeSession:
    """Each step completes; the one at `signal_at` gets a SIGTERM while it runs."""

    def __init__(self, signal_at: int | None = None):
        self.endpoint = SimpleNamespace(served_model_name="served-tiny")
        self.signal_at = signal_at
        self.ran: list[RunDir] = []

    def run_step(self, load: LoadConfig, step_dir: RunDir, on_progress: Any = None) -> StepResult:
        self.ran.append(step_dir)
        if len(self.ran) - 1 == self.signal_at:
            os.kill(os.getpid(), signal.SIGTERM)  # recorded by the run's handler, not fatal
        return StepResult(step_dir, load, Stop(RunStatus.COMPLETED))


@pytest.fixture
def faked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    state: dict[str, Any] = {"session": FakeSession(), "start_error": None, "built": []}
    evalset = SimpleNamespace(eval_set_id="es", files=[tmp_path / "es.json"], content_sha256="x",
                              criteria={"tool_trajectory_avg_score": 1.0})  # fmt: skip
    monkeypatch.setattr(run_mod, "check_inputs",
                        lambda cfg: RunInputs(evalset, tmp_path, None, ["get_weather"]))  # type: ignore[arg-type]  # fmt: skip

    @contextlib.contextmanager
    def fake_server_session(cfg: RunConfig, plan: Any, run_dir: RunDir, **kw: Any) -> Iterator[Any]:
        if state["start_error"] is not None:
            raise state["start_error"]
        yield state["session"]

    def fake_build(run_dir: RunDir, steps: list[StepResult], stepped: bool) -> Built:
        state["built"].append((len(steps), stepped))
        return Built({"turns": 1}, 0, {"run_id": "x"}, [{} for _ in steps])

    monkeypatch.setattr(run_mod, "server_session", fake_server_session)
    monkeypatch.setattr(run_mod, "build_tables", fake_build)
    # The preflight plays real agent sessions against the server; there is none here.
    monkeypatch.setattr(run_mod, "preflight_check", lambda *args: PreflightVerdict(ok=True))
    return state


def _cfg(tmp_path: Path, **flags: Any) -> RunConfig:
    return run_config_from_flags({"results_dir": tmp_path / "results", "run_id": "r", **flags})


def test_steps_get_folders_and_manifests(tmp_path: Path, faked: dict[str, Any]) -> None:
    result = run_mod.run_benchmark(_cfg(tmp_path, users="1,2,4", step_duration="5s"))
    assert result.status is RunStatus.COMPLETED and result.exit_code == 0
    names = [d.path.name for d in faked["session"].ran]
    assert names == ["step-00-users-1", "step-01-users-2", "step-02-users-4"]
    step = read_manifest(faked["session"].ran[1])
    assert (step.run_id, step.step, step.summary_info.users, step.status) == (
        "r/step-01-users-2", 1, 2, RunStatus.COMPLETED)  # fmt: skip
    parent = read_manifest(result.run_dir)
    assert parent.status is RunStatus.COMPLETED and parent.known_tools == ["get_weather"]
    assert parent.summary_info.served_model_name == "served-tiny" and parent.counts == {"turns": 1}
    assert faked["built"] == [(3, True)]


def test_a_signal_during_a_step_starts_no_further_step(
    tmp_path: Path, faked: dict[str, Any]
) -> None:
    faked["session"] = FakeSession(signal_at=1)
    result = run_mod.run_benchmark(_cfg(tmp_path, users="1,2,4", step_duration="5s"))
    assert len(faked["session"].ran) == 2  # the third step never started
    assert result.status is RunStatus.INTERRUPTED and result.exit_code == 143
    assert result.message == "stopped by SIGTERM"
    assert read_manifest(result.run_dir).status is RunStatus.INTERRUPTED
    assert faked["built"] == [(2, True)]  # the steps that ran are still built
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_a_signal_after_the_last_step_still_interrupts(
    tmp_path: Path, faked: dict[str, Any]
) -> None:
    faked["session"] = FakeSession(signal_at=0)
    result = run_mod.run_benchmark(_cfg(tmp_path))  # one flat step
    assert result.status is RunStatus.INTERRUPTED and result.exit_code == 143
    assert faked["built"] == [(1, False)]


def test_server_that_does_not_start(tmp_path: Path, faked: dict[str, Any]) -> None:
    faked["start_error"] = RunFailed("server_failed", "vLLM exited (code 1)")
    with pytest.raises(RunFailed) as info:
        run_mod.run_benchmark(_cfg(tmp_path))
    result = info.value.result  # type: ignore[attr-defined]
    assert result.status is RunStatus.SERVER_FAILED and result.exit_code == 1
    manifest = read_manifest(result.run_dir)
    assert manifest.status is RunStatus.SERVER_FAILED and manifest.message == "vLLM exited (code 1)"
    assert manifest.ended_at is not None and faked["built"] == [(0, False)]


def test_an_unexpected_error_marks_the_run_failed(tmp_path: Path, faked: dict[str, Any]) -> None:
    faked["start_error"] = ValueError("boom")
    with pytest.raises(ValueError):
        run_mod.run_benchmark(_cfg(tmp_path))
    manifest = read_manifest(RunDir(tmp_path / "results" / "r"))
    assert manifest.status is RunStatus.FAILED and manifest.message == "boom"
