"""`bench run`, `bench serve` and `bench sweep` with the runner mocked: the flags reach the
config, and the exit code follows how the run ended."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.cli.app import app, main
from bench.runner import inputs as inputs_mod
from bench.runner import run as run_mod
from bench.runner import sweep as sweep_mod
from bench.runner.run import RunResult
from bench.runner.sweep import SweepResult
from bench.schemas.config import RunConfig
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus, Stop

runner = CliRunner()


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """run_benchmark replaced: it records the config and ends as `outcome` says."""
    seen: dict[str, Any] = {"outcome": (RunStatus.COMPLETED, None)}

    def fake_run_benchmark(
        cfg: RunConfig, on_progress: Any = None, on_notice: Any = None, inputs: Any = None
    ) -> RunResult:
        seen["cfg"] = cfg
        status, signum = seen["outcome"]
        return RunResult(RunDir(tmp_path / "run"), Stop(status, "why", signum))

    monkeypatch.setattr(run_mod, "run_benchmark", fake_run_benchmark)
    monkeypatch.setattr(inputs_mod, "check_inputs", lambda cfg: None)  # no eval set, agent, model
    return seen


def test_flags_reach_the_run_config(fake_runner: dict[str, Any], tmp_path: Path) -> None:
    args = ["run", "--model", "qwen", "--users", "1,4", "--step-duration", "30s",
            "--think-time", "2s", "--max-num-seqs", "8", "--no-enforce-eager",
            "--engine-arg", "swap-space=4", "--slo", "ttft_ms=500", "--judge",
            "--judge-samples", "2", "--results-dir", str(tmp_path), "--no-stream",
            "--", "--block-size", "16"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    cfg: RunConfig = fake_runner["cfg"]
    assert cfg.server.model == "qwen" and cfg.results_dir == tmp_path
    assert (cfg.load.user_steps, cfg.load.step_duration_s, cfg.load.think_time_s) == ([1, 4], 30, 2)
    assert cfg.load.stream is False
    assert cfg.server.engine.max_num_seqs == 8 and cfg.server.engine.enforce_eager is False
    assert cfg.server.engine.extra_args == ["--swap-space", "4", "--block-size", "16"]
    assert cfg.slo == {"ttft_ms": 500} and cfg.judge is not None and cfg.judge.samples == 2


def test_config_file_fills_unset_flags(fake_runner: dict[str, Any], tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text('users = 8\nduration = "2m"\nmax-num-seqs = 4\nspawn_rate = 2.0\n')
    result = runner.invoke(app, ["run", "--config", str(toml), "--users", "3"])
    assert result.exit_code == 0, result.output
    cfg: RunConfig = fake_runner["cfg"]
    assert cfg.load.users == 3  # the command line wins
    assert (cfg.load.duration_s, cfg.server.engine.max_num_seqs, cfg.load.spawn_rate) == (120, 4, 2)


def test_defaults_are_the_documented_ones(fake_runner: dict[str, Any]) -> None:
    assert runner.invoke(app, ["run"]).exit_code == 0
    cfg: RunConfig = fake_runner["cfg"]
    default = RunConfig()
    sized = {"processes", "processes_auto"}  # --processes auto (bench.runner.client_capacity)
    assert cfg.load.model_dump(exclude=sized) == default.load.model_dump(exclude=sized)
    assert cfg.load.processes_auto
    assert cfg.server == default.server and cfg.evalset == default.evalset


@pytest.mark.parametrize(
    ("status", "signum", "code"),
    [(RunStatus.COMPLETED, None, 0), (RunStatus.INTERRUPTED, signal.SIGINT, 130),
     (RunStatus.INTERRUPTED, signal.SIGTERM, 143), (RunStatus.LOAD_FAILED, None, 1),
     (RunStatus.DISK_FULL, None, 1)],
)  # fmt: skip
def test_exit_code_follows_the_result(
    fake_runner: dict[str, Any], status: RunStatus, signum: int | None, code: int
) -> None:
    fake_runner["outcome"] = (status, signum)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == code, result.output


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("args", "error"),
    [(["run", "--duration", "5x"], "error: --duration: '5x' is not a duration like 30s, 5m or 1h"),
     (["run", "--endpoint", "http://h", "--max-num-seqs", "4"],
      "error: --endpoint attaches to a running server; it cannot take engine flags"),
     (["run", "--judge-model", "m"], "error: --judge-model: needs --judge"),
     (["sweep", "--users", "1", "--session-rate", "1"],
      "error: --users and --session-rate: sweep one of them")],
)  # fmt: skip
def test_bad_flags_are_one_line_and_exit_2(
    fake_runner: dict[str, Any], capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(error) and "\n" not in err and "cfg" not in fake_runner


def test_serve_flags_reach_the_server_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.cli import serve as serve_cmd

    class Stop(Exception):
        pass

    def fake_plan(cfg: Any) -> Any:
        fake_plan.cfg = cfg  # type: ignore[attr-defined]
        raise Stop

    monkeypatch.setattr(serve_cmd, "plan_server", fake_plan)
    result = runner.invoke(app, ["serve", "--model", "m", "--max-num-seqs", "2", "--gpus", "0",
                                 "--", "--swap-space", "4"])  # fmt: skip
    assert isinstance(result.exception, Stop)
    cfg = fake_plan.cfg  # type: ignore[attr-defined]
    assert (cfg.model, cfg.engine.max_num_seqs, cfg.gpus) == ("m", 2, [0])
    assert cfg.engine.extra_args == ["--swap-space", "4"]


def test_sweep_builds_one_base_config_and_exits_by_signal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def fake_run_sweep(plan: Any, base: RunConfig, sweep_dir: Path, **kw: Any) -> SweepResult:
        seen.update(plan=plan, base=base)
        return SweepResult(sweep_dir, Stop(RunStatus.INTERRUPTED, "stopped", signal.SIGTERM))

    monkeypatch.setattr(sweep_mod, "run_sweep", fake_run_sweep)
    result = runner.invoke(app, ["sweep", "--results-dir", str(tmp_path), "--sweep-id", "s",
                                 "--users", "2,4", "--step-duration", "20s",
                                 "--engine-arg", "max-num-seqs=8,16", "--engine-arg", "dtype=half",
                                 "--think-time", "1s", "--no-stream"])  # fmt: skip
    assert result.exit_code == 143, result.output
    base: RunConfig = seen["base"]
    assert (base.load.users, base.load.duration_s, base.load.think_time_s) == (2, 20, 1)
    assert base.load.stream is False and base.results_dir == tmp_path
    assert base.server.engine.extra_args == ["--dtype", "half"]  # fixed; the swept ones per combo
    assert [c.flags for c in seen["plan"].combos] == [{"max-num-seqs": "8"}, {"max-num-seqs": "16"}]
    assert RunDir(tmp_path / "s").sweep_plan.exists()


def test_sweep_dry_run_starts_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sweep_mod, "run_sweep", lambda *a, **k: pytest.fail("ran"))
    result = runner.invoke(app, ["sweep", "--results-dir", str(tmp_path), "--users", "1,2",
                                 "--engine-arg", "max-num-seqs=8,16", "--dry-run"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 combination(s) = 2 server start(s); 4 point(s)" in result.output
    assert not any(tmp_path.iterdir())


@pytest.mark.bad_input
def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """typer's own copy of click raises these; they are usage errors (2), not tracebacks."""
    with pytest.raises(SystemExit) as info:
        main(["run", "--no-such-flag"])
    assert info.value.code == 2
    assert "No such option: --no-such-flag" in capsys.readouterr().err
