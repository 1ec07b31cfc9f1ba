"""RunConfig parses what users type: durations, lists, TOML files, and the rules tying flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import constants
from bench.cli.config_flags import run_config_from_flags, server_config_from_flags
from bench.schemas.config import LoadConfig, RunConfig, ServerConfig
from bench.schemas.errors import BenchError
from bench.schemas.flags import duration_s, number_list

pytestmark = pytest.mark.bad_input


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("5m", 300.0), ("1h", 3600.0), ("250ms", 0.25), ("45", 45.0), (" 2.5s ", 2.5),
     (30, 30.0), (0.5, 0.5)],
)  # fmt: skip
def test_durations(text: object, seconds: float) -> None:
    assert duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5x", "", "s", "-1s", "0", -1, True, "1d"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        duration_s(text)


def test_lists() -> None:
    assert number_list("1,4,16", int) == [1, 4, 16]
    assert number_list([1, 4], int) == [1, 4]
    assert number_list(8, int) == [8]
    assert number_list("0.5, 1.5", float) == [0.5, 1.5]
    with pytest.raises(ValueError, match="greater than 0"):
        number_list("1,0", int)
    with pytest.raises(ValueError, match="not a number"):
        number_list("1,x", int)


def test_flags_parse_into_the_nested_config() -> None:
    cfg = run_config_from_flags(
        {"users": "1,4,16", "duration": "90s", "step_duration": "5m", "think_time": "2s",
         "warmup": "10s", "request_timeout": "30s", "metrics_interval": "500ms",
         "max_num_seqs": 8, "engine_arg": ["swap-space=4"], "gpus": "0,1",
         "slo": "ttft_ms=500,turn_ms=3000", "judge": True, "judge_samples": 3},
        passthrough=["--enforce-eager"],
    )  # fmt: skip
    load = cfg.load
    assert (load.users, load.user_steps, load.duration_s, load.step_duration_s) == (
        1,
        [1, 4, 16],
        90,
        300,
    )
    assert (load.think_time_s, load.warmup_s, load.request_timeout_s, load.metrics_interval_s) == (
        2,
        10,
        30,
        0.5,
    )
    assert [s.users for s in load.steps()] == [1, 4, 16]
    assert all(s.duration_s == 300 for s in load.steps())
    assert cfg.server.engine.max_num_seqs == 8 and cfg.server.gpus == [0, 1]
    assert cfg.server.engine.extra_args == ["--swap-space", "4", "--enforce-eager"]
    assert cfg.slo == {"ttft_ms": 500, "turn_ms": 3000}
    assert cfg.judge is not None and cfg.judge.samples == 3


def test_defaults_when_no_flag_is_given() -> None:
    cfg = run_config_from_flags({})
    assert cfg == RunConfig()
    assert cfg.load.duration_s == constants.DEFAULT_DURATION_S and cfg.judge is None
    # A session count or the web UI ends the load, not a default duration.
    assert run_config_from_flags({"sessions": 5}).load.duration_s is None
    assert run_config_from_flags({"web": True}).load.duration_s is None
    assert run_config_from_flags({"web": True, "duration": "2m"}).load.duration_s == 120


def test_open_loop_rate_steps() -> None:
    load = run_config_from_flags({"session_rate": "0.5,1,2", "step_duration": "30s"}).load
    assert [s.session_rate for s in load.steps()] == [0.5, 1.0, 2.0]
    assert [s.step_label() for s in load.steps()] == ["rate-0.5", "rate-1", "rate-2"]


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        ({"duration": "5x"}, "--duration: '5x' is not a duration like 30s, 5m or 1h"),
        ({"step_duration": "soon"}, "--step-duration: 'soon' is not a duration"),
        ({"think_time": "-1"}, "--think-time: '-1' is not a duration"),
        ({"users": "0"}, "--users: every value must be greater than 0"),
        ({"users": "1,x"}, "--users: '1,x' is not a number"),
        ({"session_rate": "0"}, "--session-rate: every value must be greater than 0"),
        ({"duration": "1m", "sessions": 3}, "--duration and --sessions: give one of them"),
        ({"users": "1,2", "session_rate": "1,2"}, "--users and --session-rate: step one of them, not both"),
        ({"users": "1,2", "sessions": 3}, "--sessions: load steps end by time; use --step-duration"),
        ({"arrival": "burst"}, "--arrival: 'burst' is not poisson or constant"),
        ({"max_num_seqs": 0}, "--max-num-seqs: Input should be greater than 0"),
        ({"gpu_memory_utilization": 1.5}, "--gpu-memory-utilization: Input should be less than or equal to 1"),
        ({"port": 0}, "--port: Input should be greater than or equal to 1"),
        ({"gpus": "a"}, "--gpus: 'a' is not a comma-separated list of GPU indices"),
        ({"endpoint": "http://h", "max_num_seqs": 8}, "--endpoint attaches to a running server; it cannot take engine flags"),
        ({"endpoint": "http://h", "gpus": "0", "port": 9000}, "--endpoint attaches to a running server; it cannot take --gpus, --port"),
        ({"judge_model": "m"}, "--judge-model: needs --judge"),
        ({"judge_endpoint": "http://j"}, "--judge-endpoint: needs --judge"),
        ({"judge": True, "judge_api_key_env": "NO_SUCH_VAR_X"}, "--judge-api-key-env: environment variable NO_SUCH_VAR_X is not set"),
        ({"judge": True, "judge_samples": 0}, "--judge-samples: Input should be greater than 0"),
        ({"slo": "p99=5"}, "--slo: 'p99=5' is not one of"),
        ({"engine_arg": ["bad key=1"]}, "--engine-arg: 'bad key=1' is not KEY=VALUE"),
        ({"trials": 0}, "--trials: Input should be greater than 0"),
    ],
)  # fmt: skip
def test_each_rule_is_one_line_naming_the_flag(flags: dict[str, object], error: str) -> None:
    with pytest.raises(BenchError) as info:
        run_config_from_flags(flags)
    message = str(info.value)
    assert message.startswith(error) and "\n" not in message


def test_toml_fills_what_the_command_line_did_not_set(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('users = [1, 4]\nstep-duration = "2m"\nmax_num_seqs = 16\nevalset = "x"\n')
    flags = {"users": "8", "evalset": "weather_time", "step_duration": None, "max_num_seqs": None}
    # --users given on the command line wins; the rest comes from the file.
    cfg = run_config_from_flags(flags, config_file=path, given={"users"})
    assert (cfg.load.users, cfg.load.user_steps) == (8, None)
    assert cfg.load.step_duration_s == 120 and cfg.server.engine.max_num_seqs == 16
    assert cfg.evalset == "x"


@pytest.mark.parametrize(
    ("text", "error"),
    [('colour = "red"\n', "--config: {path}: unknown option 'colour'"),
     ('web_auth = "u:p"\n', "--config: {path}: unknown option 'web_auth'"),
     ("users = \n", "--config: {path}: invalid TOML"),
     ('duration = "soon"\n', "--duration: 'soon' is not a duration")],
)  # fmt: skip
def test_bad_toml_files(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(BenchError) as info:
        run_config_from_flags({}, config_file=path, given=set())
    assert str(info.value).startswith(error.format(path=path))
    with pytest.raises(BenchError, match="does not exist"):
        run_config_from_flags({}, config_file=tmp_path / "missing.toml")


def test_resolved_config_round_trips() -> None:
    """config.resolved.toml holds the nested config; it validates back to the same config."""
    cfg = run_config_from_flags({"users": "1,2", "step_duration": "30s", "sessions": None})
    again = RunConfig.model_validate(cfg.model_dump(mode="json", exclude_none=True))
    assert again == cfg
    assert LoadConfig(sessions=5).duration_s is None  # no default duration with a count


def test_server_config_from_serve_flags() -> None:
    cfg = server_config_from_flags({"model": "m", "max_num_seqs": 4, "enforce_eager": False,
                                    "header": ["X-A: b"]}, ["--swap-space", "4"])  # fmt: skip
    assert isinstance(cfg, ServerConfig) and cfg.engine.max_num_seqs == 4
    assert cfg.engine.enforce_eager is False and cfg.engine.extra_args == ["--swap-space", "4"]
    assert cfg.headers == ["X-A: b"] and "headers" not in cfg.model_dump()  # never written


def test_open_loop_cap_is_its_own_flag_with_a_high_default() -> None:
    """Issue 12: an open loop is not capped at --users; the cap is per load process."""
    open_loop = LoadConfig(session_rate=2.0, users=4, processes=1)
    assert open_loop.sessions_in_flight_cap == constants.DEFAULT_MAX_SESSIONS_IN_FLIGHT == 1000
    assert LoadConfig(session_rate=2.0, max_sessions_in_flight=8).sessions_in_flight_cap == 8
    assert LoadConfig(session_rate=2.0, users=1, processes=3).users_effective == 3  # dispatchers
    assert LoadConfig(users=4).sessions_in_flight_cap is None
    with pytest.raises(ValueError, match="--max-sessions-in-flight: only with --session-rate"):
        LoadConfig(max_sessions_in_flight=8)
