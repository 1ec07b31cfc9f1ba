"""--processes auto: load processes sized from the CPU one LLM call costs the client, the cores,
and the load asked for; the capacity line and the warning when the load is above it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.cli.app import app, main
from bench.evalset import load_evalset
from bench.runner import client_capacity as cc
from bench.runner import inputs as inputs_mod
from bench.runner import run as run_mod
from bench.runner.run import RunResult
from bench.schemas.config import RunConfig
from bench.schemas.run_dir import RunDir
from bench.schemas.status import RunStatus, Stop

runner = CliRunner()
CASES = list(load_evalset("weather_time").cases)


def _plan(**kw: Any) -> cc.Capacity:
    args: dict[str, Any] = dict(requested=None, users=4, session_rate=None, think_time_s=0.0,
                                cases=CASES, attached=True, gpu=False, n_cores=8)  # fmt: skip
    return cc.plan(**{**args, **kw})


def test_calls_per_session_counts_a_second_call_for_turns_expecting_tools() -> None:
    expected = sum(sum(1 + bool(cc_calls(t)) for t in case.conversation) for case in CASES) / len(
        CASES
    )
    assert cc.calls_per_session(CASES) == pytest.approx(expected)
    assert expected > cc.turns_per_session(CASES)  # weather_time has tool-calling turns


def cc_calls(turn: Any) -> list[Any]:
    from google.adk.evaluation.eval_case import get_all_tool_calls

    return get_all_tool_calls(turn.intermediate_data)


def test_auto_picks_more_processes_when_the_load_needs_them() -> None:
    # 100 ms CPU per call: one process drives 7 calls/s.
    one = _plan(session_rate=0.5, cpu_per_call=(0.100, "test"))
    calls = cc.calls_per_session(CASES)
    assert one.processes == 1  # 0.5 sessions/s x calls is under 7 calls/s
    rate = 20 / calls  # 20 calls/s: three processes of 7
    assert _plan(session_rate=rate, cpu_per_call=(0.100, "test")).processes == 3
    assert _plan(users=40, cpu_per_call=(0.100, "test")).processes > 1  # closed loop too
    # the same loads at 1 ms per call need one process
    assert _plan(session_rate=rate, cpu_per_call=(0.001, "test")).processes == 1


def test_auto_leaves_cores_for_a_server_on_the_same_machine() -> None:
    heavy = {"session_rate": 1000.0, "cpu_per_call": (0.100, "test")}
    assert _plan(**heavy).processes == 8  # attached: every core
    assert _plan(**heavy, attached=False, gpu=True).processes == 7  # one for a GPU server
    assert _plan(**heavy, attached=False, gpu=False).processes == 4  # half for a CPU vLLM
    assert _plan(**heavy, n_cores=1, attached=False).processes == 1  # at least one


def test_an_explicit_count_and_master_mode_are_kept() -> None:
    assert _plan(requested=3, session_rate=1000.0, cpu_per_call=(0.1, "t")).processes == 3
    assert _plan(master=True, session_rate=1000.0, cpu_per_call=(0.1, "t")).processes == 1


def test_the_capacity_and_the_warning_follow_the_per_call_cost() -> None:
    cap = _plan(requested=2, cpu_per_call=(0.035, "test"))
    assert cap.calls_per_s == pytest.approx(2 * 0.70 / 0.035)  # 40 calls/s
    assert cap.sessions_per_s == pytest.approx(40 / cap.calls_per_session)
    assert cap.warnings(users=1, session_rate=cap.sessions_per_s * 0.9) == []
    [warning] = cap.warnings(users=1, session_rate=cap.sessions_per_s * 1.1)
    assert "above the client capacity" in warning and "--processes" in warning
    assert cap.warnings(users=int(cap.users), session_rate=None) == []
    assert cap.warnings(users=int(cap.users) + 1, session_rate=None)


def test_the_per_call_cost_env_var_wins_and_a_bad_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(cc.CLIENT_CPU_MS_ENV, "12.5")
    assert cc.cpu_per_call_s(tmp_path) == (0.0125, cc.CLIENT_CPU_MS_ENV)
    monkeypatch.setenv(cc.CLIENT_CPU_MS_ENV, "fast")
    with pytest.raises(cc.BenchError, match=cc.CLIENT_CPU_MS_ENV):
        cc.cpu_per_call_s(tmp_path)


def test_a_failed_measurement_falls_back_to_the_constant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(cc.CLIENT_CPU_MS_ENV)
    monkeypatch.setattr(cc, "_measure", lambda: 1 / 0)
    assert cc.cpu_per_call_s(tmp_path) == (cc.FALLBACK_CPU_PER_CALL_S, "fallback")
    monkeypatch.setattr(cc, "_measure", lambda: 0.02)
    assert cc.cpu_per_call_s(tmp_path) == (0.02, "measured")
    monkeypatch.setattr(cc, "_measure", lambda: 1 / 0)
    assert cc.cpu_per_call_s(tmp_path) == (0.02, "cached")  # written by the measurement


def test_a_given_count_of_processes_measures_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--processes N`: the figure only informs the capacity line, so no calibration runs."""
    monkeypatch.delenv(cc.CLIENT_CPU_MS_ENV)
    monkeypatch.setattr(cc, "_measure", lambda: pytest.fail("measured"))
    assert cc.cpu_per_call_s(tmp_path, measure=False) == (cc.FALLBACK_CPU_PER_CALL_S, "fallback")


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    box: dict[str, Any] = {}

    def fake_run_benchmark(
        cfg: RunConfig, on_progress: Any = None, on_notice: Any = None, inputs: Any = None
    ) -> RunResult:
        box["cfg"] = cfg
        return RunResult(RunDir(tmp_path / "run"), Stop(RunStatus.COMPLETED))

    monkeypatch.setattr(run_mod, "run_benchmark", fake_run_benchmark)
    monkeypatch.setattr(inputs_mod, "check_inputs", lambda cfg: None)  # no eval set, agent, model
    monkeypatch.setattr(cc, "cores", lambda: 4)
    return box


def test_bench_run_sizes_prints_the_capacity_and_warns(
    seen: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cc.CLIENT_CPU_MS_ENV, "100")  # 7 calls/s per process
    rate = 20 / cc.calls_per_session(CASES)
    args = ["run", "--endpoint", "http://127.0.0.1:9/v1", "--model", "fake", "--no-preflight"]
    result = runner.invoke(app, [*args, "--session-rate", f"{rate:.4f}"])
    assert result.exit_code == 0, result.output
    assert seen["cfg"].load.processes == 3
    assert "client capacity: ~21 LLM calls/s with 3 load process(es)" in result.output
    assert "warning" not in result.output
    result = runner.invoke(app, [*args, "--session-rate", "100"])  # 4 cores: 28 calls/s at most
    assert seen["cfg"].load.processes == 4
    assert "warning: 100 sessions/s is above the client capacity" in result.output
    result = runner.invoke(app, [*args, "--session-rate", "100", "--processes", "1"])
    assert seen["cfg"].load.processes == 1 and "with 1 load process(es)" in result.output


@pytest.mark.bad_input
@pytest.mark.parametrize("value", ["0", "two", "1.5", "-1"])
def test_a_bad_processes_value_is_one_line_and_exit_2(
    seen: dict[str, Any], capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--processes", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --processes:") and "\n" not in err
    assert "cfg" not in seen  # nothing ran


def test_the_measurement_plays_real_agent_calls_and_leaves_the_process_as_it_was() -> None:
    import sys

    from litellm.litellm_core_utils.litellm_logging import Logging

    from bench.compat import a2a_import

    handler, pricer = Logging.async_success_handler, Logging.response_cost_calculator
    cpu_s = cc.calibrate()
    assert cpu_s is not None and 0.001 < cpu_s < 1.0  # ms of Python per call, not seconds
    assert Logging.async_success_handler is handler
    assert Logging.response_cost_calculator is pricer
    assert sys.modules.get(a2a_import.A2A_MODULE, "gone") == "gone"


@pytest.mark.bad_input
def test_bench_worker_refuses_a_bad_processes_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["worker", "--processes", "none"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --processes:") and "\n" not in err
